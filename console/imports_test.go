package console_test

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// upload posts a CSV file through the import form.
func (c *client) upload(path, csv string, dryRun bool) *resp {
	c.e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrf", c.csrf)
	if dryRun {
		mw.WriteField("dry_run", "1")
	}
	fw, _ := mw.CreateFormFile("file", "residents.csv")
	fw.Write([]byte(csv))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

func TestImportPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		page := c.get(e.p("imports"))
		if page.Status != http.StatusOK {
			t.Fatalf("imports page: %d", page.Status)
		}
		mustContain(t, page.Body, e.p("imports", "template.csv"), `enctype="multipart/form-data"`, "No imports yet.")

		t.Run("TemplateExampleRowImports", func(t *testing.T) {
			tpl := c.get(e.p("imports", "template.csv"))
			if tpl.Status != http.StatusOK || !strings.HasPrefix(tpl.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("template: %d %s", tpl.Status, tpl.Header.Get("Content-Type"))
			}
			mustContain(t, tpl.Body, "Building;Home 101", "jane.doe@example.com")
			mustNotContain(t, tpl.Body, "Main Entrance;Gym")
			c.get(e.p("imports"))
			r := c.upload(e.p("imports"), tpl.Body, true)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("upload of the template: %d %s", r.Status, r.Body)
			}
			job := r.Header.Get("Location")
			if _, err := (&imports.Runner{Store: st, Pause: -1}).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			done := c.get(job)
			mustContain(t, done.Body, "jane.doe@example.com", "1 created")
			mustNotContain(t, done.Body, "1 refused")
		})

		t.Run("UploadShowsReport", func(t *testing.T) {
			r := c.upload(e.p("imports"), "First Name,Last Name,Email,Keys\nAnn,Archer,ann@example.com,Building\nBen,Baker,ben@example.com,Nope\n", false)
			if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "/imports/imp_") {
				t.Fatalf("upload: %d %s", r.Status, r.Header.Get("Location"))
			}
			job := r.Header.Get("Location")
			queued := c.get(job)
			mustContain(t, queued.Body, `http-equiv="refresh"`, "queued")
			if _, err := (&imports.Runner{Store: st, Pause: -1}).RunOnce(context.Background()); err != nil {
				t.Fatal(err)
			}
			done := c.get(job)
			mustContain(t, done.Body, "1 created", "1 refused", "ann@example.com", `no key named &#34;Nope&#34;`)
			mustNotContain(t, done.Body, `http-equiv="refresh"`)
			refused := c.get(job + "?outcome=refused")
			mustNotContain(t, refused.Body, "ann@example.com")
			mustContain(t, c.get(e.p("imports")).Body, "residents.csv")
		})
		t.Run("ErrBadFileShownOnForm", func(t *testing.T) {
			c.get(e.p("imports"))
			r := c.upload(e.p("imports"), "First Name,Surname\nAnn,Archer\n", true)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("bad file: %d", r.Status)
			}
			mustContain(t, r.Body, "missing required column")
		})
		t.Run("ErrNoKeyManagement", func(t *testing.T) {
			e.manager("none@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone})
			n := e.login("none@example.com")
			p := n.get(e.p("imports"))
			mustContain(t, p.Body, "needs Key Management")
			mustNotContain(t, p.Body, `id="import-form"`)
			if r := n.upload(e.p("imports"), "First Name,Last Name,Email\nA,B,a@example.com\n", false); r.Status != http.StatusForbidden {
				t.Errorf("upload without Key Management: %d", r.Status)
			}
		})
	})
}
