package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

type pmsRun struct {
	ID      string         `json:"id"`
	Cause   string         `json:"cause"`
	Status  string         `json:"status"`
	Summary map[string]int `json:"summary"`
	Items   []struct {
		Action   string `json:"action"`
		Status   string `json:"status"`
		PersonID string `json:"person_id"`
		Email    string `json:"email"`
		Detail   string `json:"detail"`
		Error    string `json:"error"`
	} `json:"items"`
}

// counts writes the non-zero summary counts in a fixed order.
func (r pmsRun) counts() string {
	var parts []string
	for _, k := range []string{"linked", "created", "updated", "granted", "revoked", "reviews", "alerts", "warnings", "failed"} {
		if r.Summary[k] != 0 {
			parts = append(parts, k+"="+itoa(int64(r.Summary[k])))
		}
	}
	return strings.Join(parts, " ")
}

type rosterResult struct {
	DryRun bool    `json:"dry_run"`
	Run    *pmsRun `json:"run"`
	Plan   *struct {
		Links   []struct{ Email string } `json:"links"`
		Creates []struct{ Email string } `json:"creates"`
		Updates []struct {
			Field string `json:"field"`
			To    string `json:"to"`
		} `json:"updates"`
		Grants []struct {
			Email     string     `json:"email"`
			StartsAt  time.Time  `json:"starts_at"`
			ExpiresAt *time.Time `json:"expires_at"`
		} `json:"grants"`
		Revokes []struct{ Email string } `json:"revokes"`
		Reviews []struct {
			Reason string `json:"reason"`
			Email  string `json:"email"`
		} `json:"reviews"`
		Alerts []struct {
			Kind  string `json:"kind"`
			Email string `json:"email"`
		} `json:"alerts"`
	} `json:"plan"`
}

type pmsReview struct {
	ID       string         `json:"id"`
	Reason   string         `json:"reason"`
	Email    string         `json:"email"`
	PersonID string         `json:"person_id"`
	Status   string         `json:"status"`
	Proposal map[string]any `json:"proposal"`
}

type resident struct {
	ExternalID string `json:"external_id"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Email      string `json:"email"`
	Unit       string `json:"unit,omitempty"`
	LeaseStart string `json:"lease_start,omitempty"`
	LeaseEnd   string `json:"lease_end,omitempty"`
	Status     string `json:"status"`
}

func rosterJSON(rs ...resident) []byte {
	b, _ := json.Marshal(map[string]any{"provider": "acme", "residents": rs})
	return b
}

func (e *env) postRoster(token, provider, query string, body []byte, status int) rosterResult {
	e.t.Helper()
	var r rosterResult
	e.want(e.DoRaw("POST", e.prop+"/pms/"+provider+"/roster"+query, token, "application/json", body), status).Decode(e.t, &r)
	if status == 202 {
		if r.Run == nil || r.Run.Status != "queued" {
			e.t.Fatalf("roster answered 202 with run %+v, want a queued run", r.Run)
		}
		run := e.runJobs(r.Run.ID)
		r.Run = &run
	}
	return r
}

// runJobs runs the background jobs until none is left, as the server's
// job runner does, and returns the run with this id.
func (e *env) runJobs(runID string) pmsRun {
	e.t.Helper()
	if err := (&imports.Runner{Store: e.Store, Pause: -1}).Drain(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	var r pmsRun
	e.ok("GET", e.prop+"/pms/runs/"+runID, nil, 200).Decode(e.t, &r)
	return r
}

func (e *env) reviews(query string) []pmsReview {
	e.t.Helper()
	var l list[pmsReview]
	e.ok("GET", e.prop+"/pms/reviews"+query, nil, 200).Decode(e.t, &l)
	return l.Items
}

func (e *env) syncNow() pmsRun {
	e.t.Helper()
	var r pmsRun
	e.ok("POST", e.prop+"/pms/sync", nil, 202).Decode(e.t, &r)
	if r.Status != "queued" {
		e.t.Fatalf("Sync Now answered run %+v, want a queued run", r)
	}
	return e.runJobs(r.ID)
}

func (e *env) findPerson(email string) person {
	e.t.Helper()
	ps := e.people("?include_expired=true&q=" + email)
	if len(ps) != 1 {
		e.t.Fatalf("%d people with email %s", len(ps), email)
	}
	return e.person(ps[0].ID)
}

// pmsLeaseYear is the year the leases of pmsRoster end, years ahead.
var pmsLeaseYear = storetest.YearsAhead(5)

// pmsRoster is the roster of TestPMSUserSync: every reconciliation rule
// once.
var pmsRoster = []resident{
	{ExternalID: "r-1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Unit: "a-101", LeaseStart: "2026-01-01", LeaseEnd: fmt.Sprintf("%d-06-30", pmsLeaseYear), Status: "current"},
	{ExternalID: "r-2", FirstName: "Bob", LastName: "Smith", Email: "BOB@example.com", Status: "current"},
	{ExternalID: "r-3", FirstName: "Carol", LastName: "New", Email: "carol@example.com", Unit: "A-101", LeaseEnd: fmt.Sprintf("%d-12-31", pmsLeaseYear), Status: "current"},
	{ExternalID: "r-4", FirstName: "Dave", LastName: "Gone", Email: "dave@example.com", Status: "past"},
	{ExternalID: "r-5", FirstName: "Pat", LastName: "One", Email: "shared@example.com", Status: "current"},
	{ExternalID: "r-6", FirstName: "Sam", LastName: "Two", Email: "Shared@example.com", Status: "current"},
}

func TestPMSUserSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var unit struct{ ID string }
		e.ok("POST", e.prop+"/units", map[string]any{"name": "Apt 101"}, 201).Decode(t, &unit)
		jane := e.invite(map[string]any{"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com", "access": "app", "resident": true})
		robert := e.invite(map[string]any{"first_name": "Robert", "last_name": "Smith", "email": "bob@example.com", "access": "app", "resident": true})
		dave := e.invite(map[string]any{"first_name": "Dave", "last_name": "Gone", "email": "dave@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		eve := e.invite(map[string]any{"first_name": "Eve", "last_name": "Stay", "email": "eve@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		body := rosterJSON(pmsRoster...)

		t.Run("ErrNotSetUp", func(t *testing.T) {
			e.ok("GET", e.prop+"/pms", nil, 404)
			e.postRoster(e.PMToken, "generic", "", body, 404)
		})
		t.Run("ErrBadSettings", func(t *testing.T) {
			for _, in := range []map[string]any{
				{"provider": "sap"},
				{"provider": "generic", "access": "sometimes"},
				{"provider": "generic", "keys": []string{"key_nope"}},
				{"provider": "generic", "units": map[string]string{"A-101": "unt_nope"}},
				{"provider": "generic", "interval_minutes": 1},
				{"provider": "generic", "colour": "red"},
			} {
				e.ok("PUT", e.prop+"/pms", in, 400)
			}
		})
		var set struct {
			Provider string `json:"provider"`
			Access   string `json:"access"`
			Interval int    `json:"interval_minutes"`
		}
		e.ok("PUT", e.prop+"/pms", map[string]any{"provider": "Generic", "access": "automatic", "keys": []string{e.F.Building.ID},
			"units": map[string]string{"A-101": unit.ID}}, 200).Decode(t, &set)
		if set.Provider != "generic" || set.Access != "automatic" || set.Interval != 60 {
			t.Fatalf("settings %+v", set)
		}

		t.Run("DryRunShowsDiffAndWritesNothing", func(t *testing.T) {
			before := e.counts()
			r := e.postRoster(e.PMToken, "generic", "?dry_run=true", body, 200)
			if after := e.counts(); after != before {
				t.Errorf("dry run wrote:\nbefore %s\nafter  %s", before, after)
			}
			p := r.Plan
			if p == nil || !r.DryRun || r.Run != nil {
				t.Fatalf("dry run answer %+v", r)
			}
			if len(p.Links) != 2 || p.Links[1].Email != "jane@example.com" || len(p.Creates) != 1 || p.Creates[0].Email != "carol@example.com" ||
				len(p.Grants) != 2 || len(p.Revokes) != 1 || p.Revokes[0].Email != "dave@example.com" ||
				len(p.Reviews) != 1 || p.Reviews[0].Reason != "name_mismatch" ||
				len(p.Alerts) != 1 || p.Alerts[0].Kind != "duplicate_email" {
				b, _ := json.MarshalIndent(p, "", " ")
				t.Errorf("plan:\n%s", b)
			}
		})

		detected := st.Now()
		res := e.postRoster(e.PMToken, "generic", "", body, 202)
		t.Run("RunRecorded", func(t *testing.T) {
			if res.Run == nil || res.Run.Status != "done" || res.Run.Cause != "roster" {
				t.Fatalf("run %+v", res.Run)
			}
			if got, want := res.Run.counts(), "linked=2 created=1 updated=1 granted=2 revoked=1 reviews=1 alerts=1"; got != want {
				t.Errorf("run: %s, want %s", got, want)
			}
			var one pmsRun
			e.ok("GET", e.prop+"/pms/runs/"+res.Run.ID, nil, 200).Decode(t, &one)
			if len(one.Items) != 9 {
				t.Errorf("run has %d items, want 9", len(one.Items))
			}
			var l list[pmsRun]
			e.ok("GET", e.prop+"/pms/runs", nil, 200).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].ID != res.Run.ID {
				t.Errorf("runs %+v", l.Items)
			}
			e.ok("GET", e.prop+"/pms/runs/run_nope", nil, 404)
		})
		t.Run("LinkOnNameAndEmail", func(t *testing.T) {
			j := e.person(jane.ID)
			if j.UnitID != unit.ID {
				t.Errorf("Jane's unit %q, want the mapped %s", j.UnitID, unit.ID)
			}
			if len(j.Keys) != 1 || j.Keys[0].KeyID != e.F.Building.ID {
				t.Errorf("Jane's keys %+v", j.Keys)
			}
			if n := e.countWhere("pms_links", "person_id = ?", jane.ID); n != 1 {
				t.Errorf("%d links for Jane", n)
			}
		})
		t.Run("NewResidentGrantedFrom15MinutesUntilLeaseEnd", func(t *testing.T) {
			c := e.findPerson("carol@example.com")
			if !c.Resident || c.UnitID != unit.ID || len(c.Keys) != 1 {
				t.Fatalf("Carol %+v", c)
			}
			k := c.Keys[0]
			if start := k.StartsAt.Sub(detected); start < 15*time.Minute || start > 15*time.Minute+30*time.Second {
				t.Errorf("grant starts %v after detection, want 15 minutes", start)
			}
			ny, _ := time.LoadLocation("America/New_York")
			if want := time.Date(pmsLeaseYear+1, 1, 1, 0, 0, 0, 0, ny); k.ExpiresAt == nil || !k.ExpiresAt.Equal(want) {
				t.Errorf("grant ends %v, want %v (end of the lease end date)", k.ExpiresAt, want)
			}
			if c.Status != "active" {
				t.Errorf("Carol is %s", c.Status)
			}
		})
		t.Run("PastLeaseRevoked", func(t *testing.T) {
			if d := e.person(dave.ID); d.Status != "revoked" || len(d.Keys) != 0 {
				t.Errorf("Dave %s with %d keys", d.Status, len(d.Keys))
			}
		})
		t.Run("MissingFromRosterLeftAlone", func(t *testing.T) {
			if v := e.person(eve.ID); v.Status != "active" || len(v.Keys) != 1 {
				t.Errorf("Eve %s with %d keys", v.Status, len(v.Keys))
			}
		})
		t.Run("DuplicateEmailAlertNotImported", func(t *testing.T) {
			if ps := e.people("?include_expired=true&q=shared@"); len(ps) != 0 {
				t.Errorf("%d people imported from a shared email", len(ps))
			}
		})
		t.Run("ActivityNamesTheSync", func(t *testing.T) {
			evs := e.activity("?person_id=" + dave.ID)
			if len(evs) == 0 || evs[0].Kind != domain.EventPersonRevoked || evs[0].Actor != "PMS User Sync (Generic)" {
				t.Errorf("Dave's latest event %+v", evs[0])
			}
		})

		var mismatch pmsReview
		t.Run("NameMismatchWaitsForReview", func(t *testing.T) {
			revs := e.reviews("")
			if len(revs) != 1 || revs[0].Reason != "name_mismatch" || revs[0].PersonID != robert.ID {
				t.Fatalf("reviews %+v", revs)
			}
			mismatch = revs[0]
			if r := e.person(robert.ID); r.FirstName != "Robert" || len(r.Keys) != 0 {
				t.Errorf("Robert changed before review: %+v", r)
			}
		})
		t.Run("SecondSyncChangesNothing", func(t *testing.T) {
			r := e.syncNow()
			if got, want := r.counts(), "reviews=1 alerts=1"; got != want || r.Cause != "sync_now" {
				t.Errorf("Sync Now: %s (%s), want %s", got, r.Cause, want)
			}
			if revs := e.reviews(""); len(revs) != 1 || revs[0].ID != mismatch.ID {
				t.Errorf("review queue after a second sync: %+v", revs)
			}
		})
		t.Run("ApproveNameMismatchLinks", func(t *testing.T) {
			var rv pmsReview
			e.ok("POST", e.prop+"/pms/reviews/"+mismatch.ID+"/approve", nil, 200).Decode(t, &rv)
			if rv.Status != "approved" {
				t.Errorf("review %s", rv.Status)
			}
			e.ok("POST", e.prop+"/pms/reviews/"+mismatch.ID+"/approve", nil, 409)
			r := e.syncNow()
			if got, want := r.counts(), "updated=1 granted=1 alerts=1"; got != want {
				t.Errorf("sync after approval: %s, want %s", got, want)
			}
			if b := e.person(robert.ID); b.FirstName != "Bob" || len(b.Keys) != 1 {
				t.Errorf("Bob after approval and sync: %s with %d keys", b.FirstName, len(b.Keys))
			}
			if revs := e.reviews("?status=approved"); len(revs) != 1 {
				t.Errorf("%d approved reviews", len(revs))
			}
		})

		t.Run("ApprovalRequired", func(t *testing.T) {
			e.ok("PUT", e.prop+"/pms", map[string]any{"provider": "generic", "keys": []string{e.F.Building.ID}, "units": map[string]string{"A-101": unit.ID}}, 200)
			more := append(append([]resident{}, pmsRoster...),
				resident{ExternalID: "r-7", FirstName: "Finn", LastName: "Wait", Email: "finn@example.com", Status: "current"},
				resident{ExternalID: "r-8", FirstName: "Gus", LastName: "No", Email: "gus@example.com", Status: "current"})
			r := e.postRoster(e.PMToken, "generic", "", rosterJSON(more...), 202)
			if got, want := r.Run.counts(), "created=2 reviews=2 alerts=1"; got != want {
				t.Errorf("run: %s, want %s", got, want)
			}
			finn, gus := e.findPerson("finn@example.com"), e.findPerson("gus@example.com")
			if len(finn.Keys)+len(gus.Keys) != 0 {
				t.Fatal("access given before approval")
			}
			byEmail := map[string]pmsReview{}
			for _, rv := range e.reviews("") {
				byEmail[rv.Email] = rv
			}
			if byEmail["finn@example.com"].Reason != "approval_required" || byEmail["finn@example.com"].Proposal["grant"] == nil {
				t.Fatalf("Finn's review %+v", byEmail["finn@example.com"])
			}
			e.ok("POST", e.prop+"/pms/reviews/"+byEmail["finn@example.com"].ID+"/approve", nil, 200)
			if f := e.person(finn.ID); len(f.Keys) != 1 {
				t.Errorf("Finn has %d keys after approval", len(f.Keys))
			}
			if evs := e.activity("?person_id=" + finn.ID); len(evs) == 0 || evs[0].Actor != "Pat Portfolio" {
				t.Errorf("approved grant recorded as %+v", evs)
			}
			e.ok("POST", e.prop+"/pms/reviews/"+byEmail["gus@example.com"].ID+"/reject", nil, 200)
			e.syncNow()
			for _, rv := range e.reviews("") {
				if rv.Email == "gus@example.com" {
					t.Error("a rejected review came back on the next sync")
				}
			}
			e.ok("POST", e.prop+"/pms/reviews/rev_nope/approve", nil, 404)
		})

		t.Run("ScheduledSync", func(t *testing.T) {
			var before list[pmsRun]
			e.ok("GET", e.prop+"/pms/runs?limit=1000", nil, 200).Decode(t, &before)
			s := &imports.Syncer{Store: st}
			if err := s.RunDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			var l list[pmsRun]
			e.ok("GET", e.prop+"/pms/runs?limit=1000", nil, 200).Decode(t, &l)
			if len(l.Items) != len(before.Items) {
				t.Fatal("a sync ran before its interval")
			}
			e.moveClock(61 * time.Minute)
			if err := s.RunDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.ok("GET", e.prop+"/pms/runs?limit=1000", nil, 200).Decode(t, &l)
			if len(l.Items) != len(before.Items)+1 || l.Items[0].Cause != "schedule" {
				t.Errorf("after the interval: %d runs (newest %+v)", len(l.Items), l.Items[0])
			}
		})

		t.Run("ErrBadRoster", func(t *testing.T) {
			e.postRoster(e.PMToken, "generic", "", []byte(`{"residents": [{"email": 5}]}`), 400)
			e.postRoster(e.PMToken, "generic", "", nil, 400)
			e.postRoster(e.PMToken, "yardi", "", []byte("Email,Status\n"), 409)
			e.postRoster(e.PMToken, "sap", "", body, 404)
			e.postRoster(e.PMToken, "generic", "?dry_run=maybe", body, 400)
		})
		t.Run("Permissions", func(t *testing.T) {
			pid := e.F.Property.ID
			limited := e.managerToken("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited})
			e.want(e.Do("PUT", e.prop+"/pms", limited, map[string]any{"provider": "generic"}), 403)
			e.postRoster(limited, "generic", "?dry_run=true", body, 403)
			e.want(e.Do("POST", e.prop+"/pms/sync", limited, nil), 403)
			e.want(e.Do("GET", e.prop+"/pms/reviews", limited, nil), 200)
			e.want(e.Do("GET", e.prop+"/pms", limited, nil), 200)
			none := e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone})
			e.want(e.Do("GET", e.prop+"/pms/reviews", none, nil), 403)
			e.want(e.Do("GET", e.prop+"/pms/runs", none, nil), 403)
			other := e.managerToken("other@example.com", nil)
			e.want(e.Do("GET", e.prop+"/pms", other, nil), 404)
			e.want(e.Do("GET", e.prop+"/pms/runs", "", nil), 401)
		})
	})
}

func TestPMSWatchedFolder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.ok("PUT", e.prop+"/pms", map[string]any{"provider": "yardi", "access": "automatic", "keys": []string{e.F.Building.ID}}, 200)
		dir := t.TempDir()
		provDir := filepath.Join(dir, e.F.Property.ID, "yardi")
		if err := os.MkdirAll(provDir, 0o700); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-time.Minute)
		write := func(name, content string) {
			p := filepath.Join(provDir, name)
			if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			os.Chtimes(p, old, old)
		}
		write("residents.csv", fmt.Sprintf("Tenant Code,First Name,Last Name,Email,Unit,Lease To,Status\r\nt001,Hal,Yard,hal@example.com,101,12/31/%d,Current\r\n", storetest.YearsAhead(5)))
		write("notes.txt", "ignored")
		s := &imports.Syncer{Store: st, Dir: dir, Settle: time.Millisecond}
		n, err := s.ScanFolder(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("scan: %d files, %v", n, err)
		}
		if err := (&imports.Runner{Store: st, Pause: -1}).Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Run("ProcessedOnceAndMoved", func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(provDir, "residents.csv")); !os.IsNotExist(err) {
				t.Error("the file is still in the watched folder")
			}
			moved, _ := filepath.Glob(filepath.Join(provDir, "processed", "*-residents.csv"))
			if len(moved) != 1 {
				t.Errorf("processed/ holds %v", moved)
			}
			if n, _ := s.ScanFolder(context.Background()); n != 0 {
				t.Errorf("second scan handled %d files", n)
			}
			h := e.findPerson("hal@example.com")
			if len(h.Keys) != 1 {
				t.Errorf("Hal has %d keys", len(h.Keys))
			}
			var l list[pmsRun]
			e.ok("GET", e.prop+"/pms/runs", nil, 200).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].Cause != "folder" {
				t.Errorf("runs %+v", l.Items)
			}
		})
		t.Run("BadFileMovedToFailed", func(t *testing.T) {
			write("broken.csv", "no,header,here\n1,2,3\n")
			if n, _ := s.ScanFolder(context.Background()); n != 1 {
				t.Fatalf("scan handled %d files", n)
			}
			failed, _ := filepath.Glob(filepath.Join(provDir, "failed", "*-broken.csv.error.txt"))
			if len(failed) != 1 {
				t.Fatalf("failed/ holds %v", failed)
			}
			msg, _ := os.ReadFile(failed[0])
			if !strings.Contains(string(msg), "Yardi") {
				t.Errorf("error file says %q", msg)
			}
		})
	})
}

// TestPMSLeaseEndAndSkipStatuses covers issue 12 item 8: a lease end
// moves the access of a resident a manager invited with an end of their
// own (not only of people the sync created), and the lease statuses a
// property skips are a validated setting.
func TestPMSLeaseEndAndSkipStatuses(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		t.Run("ErrBadSkipStatuses", func(t *testing.T) {
			long := strings.Repeat("x", 41)
			many := make([]string, 51)
			for i := range many {
				many[i] = "s" + itoa(int64(i))
			}
			for _, skip := range [][]string{{"Moved Out"}, {"past"}, {"Former Resident"}, {"Model", "MODEL"}, {" "}, {"--"}, {long}, many} {
				res := e.want(e.Do("PUT", e.prop+"/pms", e.PMToken, map[string]any{"provider": "generic", "skip_statuses": skip}), 400)
				if !strings.Contains(string(res.Body), "skip_statuses") {
					t.Errorf("%q: %s (no field named)", skip, res.Body)
				}
			}
			e.ok("PUT", e.prop+"/pms", map[string]any{"provider": "generic", "skip_statuses": "Model"}, 400)
			e.ok("GET", e.prop+"/pms", nil, 404) // nothing saved
		})
		var set struct {
			Skip []string `json:"skip_statuses"`
		}
		e.ok("PUT", e.prop+"/pms", map[string]any{"provider": "generic", "access": "automatic", "keys": []string{e.F.Building.ID},
			"skip_statuses": []string{" Future  "}}, 200).Decode(t, &set)
		if len(set.Skip) != 1 || set.Skip[0] != "Future" {
			t.Fatalf("skip_statuses %q", set.Skip)
		}
		end := time.Date(storetest.YearsAhead(5), 12, 31, 0, 0, 0, 0, time.UTC)
		mia := e.invite(map[string]any{"first_name": "Mia", "last_name": "Early", "email": "mia@example.com", "access": "app", "resident": true,
			"expires_at": end.Format(time.RFC3339), "keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		roster := func(miaEnd string) []byte {
			return rosterJSON(
				resident{ExternalID: "m-1", FirstName: "Mia", LastName: "Early", Email: "mia@example.com", LeaseEnd: miaEnd, Status: "current"},
				resident{ExternalID: "f-1", FirstName: "Fay", LastName: "Later", Email: "fay@example.com", Status: "future"},
				resident{ExternalID: "g-1", FirstName: "Gil", LastName: "Now", Email: "gil@example.com", Status: "current"})
		}
		// The move-out is three months from now: a lease end already past
		// would not shorten Mia's key (the test used 2027-03-31).
		moveOut := time.Now().UTC().AddDate(0, 3, 0)
		moveOut = time.Date(moveOut.Year(), moveOut.Month(), moveOut.Day(), 0, 0, 0, 0, time.UTC)
		t.Run("EarlyMoveOutOfInvitedResident", func(t *testing.T) {
			r := e.postRoster(e.PMToken, "generic", "", roster(moveOut.Format("2006-01-02")), 202)
			if got, want := r.Run.counts(), "linked=1 created=1 updated=1 granted=1 warnings=1"; got != want {
				t.Errorf("run: %s, want %s", got, want)
			}
			ps := e.people("?include_expired=true&q=fay@example.com")
			if len(ps) != 0 {
				t.Errorf("a skipped status was imported: %+v", ps)
			}
			m := e.person(mia.ID)
			if len(m.Keys) != 1 || m.Keys[0].ExpiresAt == nil || m.Keys[0].ExpiresAt.Before(moveOut) ||
				m.Keys[0].ExpiresAt.After(moveOut.AddDate(0, 0, 2)) {
				t.Errorf("Mia's key after an early move-out: %+v, want it to end with the lease on %s", m.Keys, moveOut.Format("2006-01-02"))
			}
		})
		t.Run("RenewalPastThePersonsOwnEnd", func(t *testing.T) {
			renewal := storetest.YearsAhead(7)
			e.postRoster(e.PMToken, "generic", "", roster(fmt.Sprintf("%d-06-30", renewal)), 202)
			m := e.person(mia.ID)
			if m.ExpiresAt == nil || m.ExpiresAt.Year() != renewal || len(m.Keys) != 1 || m.Keys[0].ExpiresAt == nil || m.Keys[0].ExpiresAt.Year() != renewal {
				t.Errorf("Mia after renewal: person ends %v, keys %+v; want both in %d", m.ExpiresAt, m.Keys, renewal)
			}
			if got := e.syncNow().counts(); got != "warnings=1" {
				t.Errorf("the next sync: %s, want nothing but the skipped status", got)
			}
		})
	})
}
