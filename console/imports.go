package console

import (
	"io"
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
)

// importRoutes registers the CSV import pages: upload (with the template
// to download) and the job report.
func (c *Console) importRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/imports", c.inProperty(c.importsPage))
	mux.Handle("POST /p/{p}/imports", c.inProperty(c.importsUpload))
	mux.Handle("GET /p/{p}/imports/template.csv", c.inProperty(c.importTemplate))
	mux.Handle("GET /p/{p}/imports/{id}", c.inProperty(c.importShow))
}

type importsData struct {
	Jobs  []store.ImportJob
	Error *formError
}

func (c *Console) importsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderImports(w, r, rq, http.StatusOK, nil)
}

func (c *Console) renderImports(w http.ResponseWriter, r *http.Request, rq *request, status int, fe *formError) error {
	jobs, _, err := c.store.ListImports(r.Context(), rq.Actor, rq.Property.ID, "", 20)
	if err != nil {
		return err
	}
	c.render(w, r, rq, status, "imports", "CSV import", "imports", importsData{Jobs: jobs, Error: fe})
	return nil
}

// importsUpload queues the uploaded file as an import job and shows its
// report page, which follows the job until it is done.
func (c *Console) importsUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	f, hdr, err := r.FormFile("file")
	if err != nil {
		return c.renderImports(w, r, rq, http.StatusBadRequest, &formError{Field: "file", Message: "Choose a CSV file to upload."})
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, imports.MaxFileSize+1))
	if err != nil {
		return err
	}
	job, err := imports.Submit(r.Context(), c.store, rq.Actor, rq.Property.ID, hdr.Filename, content, r.FormValue("dry_run") != "")
	if err != nil {
		if fe, ok := toFormError(err); ok {
			return c.renderImports(w, r, rq, http.StatusBadRequest, fe)
		}
		return err
	}
	flash := "Import queued: it runs in the background."
	if job.DryRun {
		flash = "Dry run queued: nothing will be changed."
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "imports", job.ID), flash)
}

type importShowData struct {
	Job     store.ImportJob
	Rows    []store.ImportRowResult
	More    bool
	Outcome string
	Percent int
	Live    bool
}

// importShow is the job report: progress while it runs (the page reloads
// itself), then the row-by-row results.
func (c *Console) importShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	job, err := c.store.Import(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	outcome := r.URL.Query().Get("outcome")
	rows, next, err := c.store.ImportRows(r.Context(), rq.Actor, rq.Property.ID, job.ID, outcome, "", 1000)
	if err != nil {
		if domain.ErrorCode(err) == domain.EInvalid {
			outcome = ""
			rows, next, err = c.store.ImportRows(r.Context(), rq.Actor, rq.Property.ID, job.ID, "", "", 1000)
		}
		if err != nil {
			return err
		}
	}
	live := job.Status == store.ImportQueued || job.Status == store.ImportRunning
	c.render(w, r, rq, http.StatusOK, "imports_show", "Import "+job.FileName, "imports",
		importShowData{Job: job, Rows: rows, More: next != "", Outcome: outcome, Percent: int(job.Progress * 100), Live: live})
	return nil
}
