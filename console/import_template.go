package console

import (
	"net/http"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
)

// importTemplate serves the CSV import template with an example row that
// imports in this property as it is: its own key names and unit, a year
// from today (the API's /api/v1/import-template.csv has a generic one).
func (c *Console) importTemplate(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermPeople); err != nil {
		return err
	}
	ctx := r.Context()
	keys, err := c.store.ListKeys(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	var names []string
	for _, k := range keys {
		if rq.Actor.CanHandleKeys(rq.Property.ID, k.ID) == nil {
			names = append(names, k.Name)
		}
	}
	units, err := c.store.ListUnits(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	unit := ""
	if len(units) > 0 {
		unit = units[0].Name
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="dooros-import-template.csv"`)
	return csvio.WriteTemplateFor(w, names, unit, c.store.Now().In(rq.Property.Location()))
}
