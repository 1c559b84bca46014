package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// uploadRoster posts a roster file through the PMS page's upload form.
func (c *client) uploadRoster(path, name string, content []byte, dryRun bool) *resp {
	c.e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrf", c.csrf)
	if dryRun {
		mw.WriteField("dry_run", "1")
	}
	fw, _ := mw.CreateFormFile("roster", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.do(req)
}

// genericRoster writes a generic JSON roster of current residents with a
// lease running from a month ago to a year ahead.
func genericRoster(t *testing.T, now time.Time, residents ...[4]string) []byte {
	t.Helper()
	var rs []map[string]string
	for _, r := range residents { // external id, first, last, email
		rs = append(rs, map[string]string{"external_id": r[0], "first_name": r[1], "last_name": r[2], "email": r[3], "unit": "A-1",
			"lease_start": now.AddDate(0, -1, 0).Format("2006-01-02"), "lease_end": now.AddDate(1, 0, 0).Format("2006-01-02"), "status": "current"})
	}
	b, err := json.Marshal(map[string]any{"residents": rs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var runPathRE = regexp.MustCompile(`/pms/runs/([A-Za-z0-9_]+)$`)

// withSkip adds the lease statuses to skip to a settings form.
func withSkip(v url.Values, skip string) url.Values {
	v.Set("skip_statuses", skip)
	return v
}

func TestPMSPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		unit, err := st.CreateUnit(ctx, e.f.PM, e.f.Property.ID, domain.UnitInput{Name: "101"})
		if err != nil {
			t.Fatal(err)
		}
		ana := e.invite("Ana", "Garcia", "ana@example.com")
		e.manager("limited@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementLimited})
		e.manager("nokm@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone, CardActivation: true})
		c := e.login(storetest.PMEmail)

		t.Run("not set up yet", func(t *testing.T) {
			r := c.get(e.p("pms"))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, `id="nav-pms"`, `id="pms-not-configured"`, `id="pms-settings-form"`, `id="pms-runs-none"`, `id="pms-reviews-none"`)
			mustNotContain(t, r.Body, `id="pms-roster-form"`)
		})
		settings := func(units, interval string) url.Values {
			return url.Values{"provider": {"generic"}, "access": {"approval_required"}, "keys": {e.f.Building.ID},
				"interval_minutes": {interval}, "units": {units}}
		}
		bad := []struct {
			name string
			form url.Values
			want string
		}{
			{"ErrUnknownUnit", settings("A-1 = 999", "60"), "no unit named"},
			{"ErrUnitLine", settings("A-1", "60"), "PMS unit = DOOR OS unit"},
			{"ErrInterval", settings("", "often"), "not a number of minutes"},
			{"ErrIntervalRange", settings("", "1"), "interval_minutes"},
			{"ErrProvider", url.Values{"provider": {"acme"}, "interval_minutes": {"60"}}, "provider"},
			{"ErrSkipPast", withSkip(settings("", "60"), "Model, Moved Out"), "means a past lease"},
			{"ErrSkipDuplicate", withSkip(settings("", "60"), "Month to Month, month-to-month"), "are the same status"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				c.get(e.p("pms"))
				r := c.submit(e.p("pms", "settings"), tc.form)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
				mustContain(t, r.Body, tc.want, `id="pms-settings-form"`)
				if _, err := st.PMSSettings(ctx, e.f.PM, e.f.Property.ID); domain.ErrorCode(err) != domain.ENotFound {
					t.Fatalf("settings saved anyway: %v", err)
				}
			})
		}
		t.Run("settings saved", func(t *testing.T) {
			c.get(e.p("pms"))
			r := c.submit(e.p("pms", "settings"), withSkip(settings("A-1 = 101", "30"), " Model ,Employee,"))
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			set, err := st.PMSSettings(ctx, e.f.PM, e.f.Property.ID)
			if err != nil || set.Provider != "generic" || set.IntervalMinutes != 30 || set.Units["A-1"] != unit.ID || len(set.Keys) != 1 ||
				strings.Join(set.SkipStatuses, "|") != "Model|Employee" {
				t.Fatalf("settings %+v %v", set, err)
			}
			r = c.get(e.p("pms"))
			mustContain(t, r.Body, "PMS User Sync settings saved.", "A-1 = 101", `value="Model, Employee"`, `id="pms-roster-form"`, `id="pms-sync-now"`)
		})

		roster := genericRoster(t, st.Now(), [4]string{"r-1", "Cara", "Diaz", "cara@example.com"}, [4]string{"r-2", "Anna", "Smith", "ana@example.com"})
		t.Run("dry run shows the diff and changes nothing", func(t *testing.T) {
			before := e.countPeople()
			r := c.uploadRoster(e.p("pms", "roster"), "roster.json", roster, true)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, `id="pms-plan"`, "Dry run of roster.json", `data-change="create"`, "cara@example.com",
				`data-change="waits for review"`, "the email belongs to a person with another name", "Nothing was changed")
			mustNotContain(t, r.Body, "name_mismatch")
			if n := e.countPeople(); n != before {
				t.Fatalf("%d people after a dry run, %d before", n, before)
			}
			if runs, _, _ := st.ListPMSRuns(ctx, e.f.PM, e.f.Property.ID, "", 10); len(runs) != 0 {
				t.Fatalf("a dry run recorded %d runs", len(runs))
			}
		})
		t.Run("ErrNotARoster", func(t *testing.T) {
			r := c.uploadRoster(e.p("pms", "roster"), "roster.json", []byte("this is not json"), true)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "not a Generic roster")
		})
		var runID string
		t.Run("upload syncs and shows the run", func(t *testing.T) {
			r := c.uploadRoster(e.p("pms", "roster"), "roster.json", roster, false)
			m := runPathRE.FindStringSubmatch(r.Header.Get("Location"))
			if r.Status != http.StatusSeeOther || m == nil {
				t.Fatalf("status %d location %q: %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			runID = m[1]
			loc := r.Header.Get("Location")
			mustContain(t, c.get(loc).Body, `id="pms-run-progress"`, "Queued: the sync runs in the background")
			if err := (&imports.Runner{Store: st, Pause: -1}).Drain(ctx); err != nil {
				t.Fatal(err)
			}
			r = c.get(loc)
			mustNotContain(t, r.Body, `id="pms-run-progress"`)
			mustContain(t, r.Body, "1 created", `data-action="create"`, "cara@example.com", `data-action="review"`)
			if people, _, _ := st.ListPeople(ctx, e.f.PM, e.f.Property.ID, domain.PeopleFilter{Query: "cara"}); len(people) != 1 || len(people[0].Keys) != 0 || people[0].UnitID != unit.ID {
				t.Fatalf("Cara after the sync: %+v (a contact in unit 101, no keys before approval)", people)
			}
			r = c.get(e.p("pms"))
			mustContain(t, r.Body, `href="`+e.p("pms", "runs", runID)+`"`, "roster")
		})
		reviews := func() map[string]store.PMSReview {
			revs, _, err := st.ListPMSReviews(ctx, e.f.PM, e.f.Property.ID, store.ReviewOpen, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]store.PMSReview{}
			for _, r := range revs {
				out[r.Email+" "+r.Reason] = r
			}
			return out
		}
		t.Run("review queue: approve a grant, reject a name mismatch", func(t *testing.T) {
			open := reviews()
			grant, ok := open["cara@example.com approval_required"]
			mismatch, ok2 := open["ana@example.com name_mismatch"]
			if !ok || !ok2 {
				t.Fatalf("open reviews %v", open)
			}
			r := c.get(e.p("pms"))
			mustContain(t, r.Body, `id="approve-`+grant.ID+`"`, `id="reject-`+mismatch.ID+`"`, "grant Building",
				">changes need your approval (approval required is set)<", ">the email belongs to a person with another name<")
			mustNotContain(t, r.Body, "grant "+e.f.Building.ID)
			if r := c.submit(e.p("pms", "reviews", grant.ID, "approve"), nil); r.Status != http.StatusSeeOther {
				t.Fatalf("approve: %d %s", r.Status, r.Body)
			}
			if r := c.submit(e.p("pms", "reviews", mismatch.ID, "reject"), nil); r.Status != http.StatusSeeOther {
				t.Fatalf("reject: %d %s", r.Status, r.Body)
			}
			people, _, _ := st.ListPeople(ctx, e.f.PM, e.f.Property.ID, domain.PeopleFilter{Query: "cara"})
			if len(people) != 1 || len(people[0].Keys) != 1 || people[0].Keys[0].KeyID != e.f.Building.ID {
				t.Fatalf("Cara after approval: %+v", people)
			}
			if v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, ana.ID); v.FirstName != "Ana" {
				t.Fatalf("a rejected name mismatch renamed Ana to %q", v.FirstName)
			}
			if r := c.submit(e.p("pms", "reviews", grant.ID, "approve"), nil); r.Status != http.StatusConflict {
				t.Fatalf("deciding twice: %d, want 409", r.Status)
			}
		})
		t.Run("Sync Now", func(t *testing.T) {
			c.get(e.p("pms"))
			r := c.submit(e.p("pms", "sync"), nil)
			m := runPathRE.FindStringSubmatch(r.Header.Get("Location"))
			if r.Status != http.StatusSeeOther || m == nil || m[1] == runID {
				t.Fatalf("status %d location %q", r.Status, r.Header.Get("Location"))
			}
			if err := (&imports.Runner{Store: st, Pause: -1}).Drain(ctx); err != nil {
				t.Fatal(err)
			}
			mustContain(t, c.get(r.Header.Get("Location")).Body, "sync_now", "done", "0 created")
			mustContain(t, c.get(e.p("pms", "runs", runID)).Body, "grant Building")
		})
		t.Run("permissions", func(t *testing.T) {
			lim := e.login("limited@example.com")
			r := lim.get(e.p("pms"))
			if r.Status != http.StatusOK {
				t.Fatalf("limited Key Management: %d, want 200 (read only)", r.Status)
			}
			mustNotContain(t, r.Body, `id="nav-pms"`, `id="pms-settings-form"`, `id="pms-roster-form"`, `id="pms-sync-now"`)
			mustContain(t, r.Body, "need full Key Management")
			if r := lim.submit(e.p("pms", "settings"), settings("", "5")); r.Status != http.StatusForbidden {
				t.Errorf("limited saves settings: %d, want 403", r.Status)
			}
			if r := lim.submit(e.p("pms", "sync"), nil); r.Status != http.StatusForbidden {
				t.Errorf("limited Sync Now: %d, want 403", r.Status)
			}
			if r := lim.uploadRoster(e.p("pms", "roster"), "r.json", roster, false); r.Status != http.StatusForbidden {
				t.Errorf("limited uploads a roster: %d, want 403", r.Status)
			}
			if set, _ := st.PMSSettings(ctx, e.f.PM, e.f.Property.ID); set.IntervalMinutes != 30 {
				t.Errorf("settings changed by a limited manager: %+v", set)
			}
			if r := e.login("nokm@example.com").get(e.p("pms")); r.Status != http.StatusForbidden {
				t.Errorf("no Key Management: %d, want 403", r.Status)
			}
			if r := c.post(e.p("pms", "sync"), url.Values{"csrf": {"forged"}}); r.Status != http.StatusForbidden {
				t.Errorf("forged CSRF: %d, want 403", r.Status)
			}
		})
	})
}
