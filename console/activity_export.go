package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/dooros/dooros/csvio"
)

// maxExportRows bounds one CSV export; narrow the dates for more.
const maxExportRows = 200_000

// activityExport writes the filtered Activity as CSV. Cells that a
// spreadsheet would run as a formula (=, +, -, @) are neutralised by
// csvio, since names and details are typed by other people.
func (c *Console) activityExport(w http.ResponseWriter, r *http.Request, rq *request) error {
	loc := rq.Property.Location()
	f, err := activityFilter(r.URL.Query(), loc)
	if err != nil {
		return err
	}
	f.Cursor, f.Limit = "", 1000
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return err
	}
	// The first page is read before any byte is written, so a permission
	// error is still a proper error page.
	events, next, err := c.store.ListActivity(r.Context(), rq.Actor, rq.Property.ID, f)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="activity-%s.csv"`, time.Now().In(loc).Format("2006-01-02")))
	cw := csvio.NewWriter(w)
	cw.Write([]string{"at", "kind", "actor", "person_id", "person_name", "door", "detail"})
	rows := 0
	for {
		for _, e := range events {
			door := ""
			if e.DoorID != "" {
				door = doors[e.DoorID].Name
			}
			if err := cw.Write([]string{e.At.In(loc).Format(time.RFC3339), e.Kind, e.Actor, e.PersonID, e.PersonName, door, e.Detail}); err != nil {
				return nil // the client went away
			}
			rows++
		}
		if next == "" || rows >= maxExportRows {
			break
		}
		f.Cursor = next
		if events, next, err = c.store.ListActivity(r.Context(), rq.Actor, rq.Property.ID, f); err != nil {
			c.log.Error("activity export", "err", err)
			break
		}
	}
	cw.Flush()
	return nil
}
