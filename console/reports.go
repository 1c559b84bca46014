package console

import (
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/report"
)

// reportRoutes registers the Reports page and its CSV downloads: the same
// files as GET /api/v1/properties/{p}/reports/{name}.csv, written by package
// report with the session's permissions.
func (c *Console) reportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/reports", c.inProperty(c.reportsPage))
	mux.Handle("GET /p/{p}/reports/{file}", c.inProperty(c.reportDownload))
}

func (c *Console) reportsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := report.Allowed(rq.Actor, rq.Property.ID); err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "reports", "Reports", "reports", report.All)
	return nil
}

func (c *Console) reportDownload(w http.ResponseWriter, r *http.Request, rq *request) error {
	name, ok := strings.CutSuffix(r.PathValue("file"), ".csv")
	if !ok {
		return domain.Errorf(domain.ENotFound, "no report %q", r.PathValue("file"))
	}
	return report.Write(w, r, c.store, c.log, rq.Actor, rq.Property.ID, name)
}
