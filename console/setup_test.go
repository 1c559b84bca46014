package console_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// freshEnv is a console on a migrated database with no organisation: a
// brand-new install.
func freshEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	mux := http.NewServeMux()
	console.New(st, nil, nil, console.Options{}).Routes(mux)
	e := &env{t: t, st: st, srv: httptest.NewServer(mux)}
	t.Cleanup(e.srv.Close)
	return e
}

// words is a page's HTML with entities decoded, to look for messages.
func words(r *resp) string { return html.UnescapeString(r.Body) }

func setupForm(over map[string]string) url.Values {
	f := url.Values{"org": {"Acme Homes"}, "first_name": {"Pat"}, "last_name": {"Lee"}, "email": {"pat@example.com"},
		"password": {storetest.PMPassword}, "password2": {storetest.PMPassword}}
	for k, v := range over {
		f.Set(k, v)
	}
	return f
}

func initialized(t *testing.T, st *store.Store) bool {
	t.Helper()
	ok, err := st.Initialized(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

// TestFirstRun: a fresh install sends every visitor to the first-run page;
// each wrong field is refused beside the field, in words, with nothing
// written; the right form creates the organisation, logs the manager in
// and leads to creating a property. Then the page is gone.
func TestFirstRun(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := freshEnv(t, st)
		c := e.anon()
		if r := c.get("/"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Fatalf("GET / on a fresh install: %d %s", r.Status, r.Header.Get("Location"))
		}
		if r := c.get("/login"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/setup" {
			t.Fatalf("GET /login on a fresh install: %d %s, want /setup", r.Status, r.Header.Get("Location"))
		}
		r := c.get("/setup")
		if r.Status != http.StatusOK {
			t.Fatalf("GET /setup: %d", r.Status)
		}
		mustContain(t, r.Body, "Set up DOOR OS", `id="org"`, `id="password2"`)
		late := e.anon() // a second browser with the page open
		lateCSRF := csrfOf(late.get("/setup").Body)

		// No CSRF token: refused, nothing written.
		if r := c.post("/setup", setupForm(nil)); r.Status != http.StatusForbidden || initialized(t, st) {
			t.Fatalf("setup without CSRF: %d, initialized %v", r.Status, initialized(t, st))
		}
		for _, tc := range []struct {
			name  string
			over  map[string]string
			field string
			msg   string
		}{
			{"no organisation", map[string]string{"org": ""}, "org", "Organisation is required"},
			{"bad email", map[string]string{"email": "pat.example.com"}, "email", "Email "},
			{"no first name", map[string]string{"first_name": " "}, "first_name", "First name "},
			{"short password", map[string]string{"password": "short", "password2": "short"}, "password", "Password must be at least 10 characters"},
			{"passwords differ", map[string]string{"password2": storetest.PMPassword + "x"}, "password2", "Password again does not match the password"},
		} {
			f := setupForm(tc.over)
			f.Set("csrf", csrfOf(c.get("/setup").Body))
			r := c.post("/setup", f)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: status %d", tc.name, r.Status)
			}
			body := words(r)
			mustContain(t, body, `id="err-`+tc.field+`"`, tc.msg)
			mustNotContain(t, body, tc.field+": ")
			if initialized(t, st) {
				t.Fatalf("%s: the organisation was created", tc.name)
			}
		}

		f := setupForm(nil)
		f.Set("csrf", csrfOf(c.get("/setup").Body))
		r = c.post("/setup", f)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/properties/new" {
			t.Fatalf("setup: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
		}
		r = c.get("/properties/new")
		if r.Status != http.StatusOK {
			t.Fatalf("after setup, /properties/new: %d", r.Status)
		}
		mustContain(t, words(r), "New property", "Welcome to DOOR OS. Create your first property.", "Pat Lee · Portfolio Manager")

		// The page is gone: GET goes to the login page, the second
		// browser's POST is refused and writes nothing.
		if r := late.get("/setup"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Fatalf("GET /setup after setup: %d %s", r.Status, r.Header.Get("Location"))
		}
		f = setupForm(map[string]string{"email": "mallory@example.com", "org": "Other"})
		f.Set("csrf", lateCSRF)
		if r := late.post("/setup", f); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
			t.Fatalf("late POST /setup: %d %s", r.Status, r.Header.Get("Location"))
		}
		if _, _, err := st.Login(context.Background(), "mallory@example.com", storetest.PMPassword, store.TokenKindSession); domain.ErrorCode(err) != domain.EUnauthenticated {
			t.Fatalf("the late setup made a manager: %v", err)
		}
		if org, _ := st.Organisation(context.Background()); org.Name != "Acme Homes" {
			t.Fatalf("organisation is %q", org.Name)
		}
		if r := late.get("/login"); r.Status != http.StatusOK {
			t.Fatalf("login page after setup: %d", r.Status)
		}
	})
}

// pmAfterSetup is a fresh install set up through the page, with its
// Portfolio Manager's browser.
func pmAfterSetup(t *testing.T, st *store.Store) (*env, *client) {
	t.Helper()
	e := freshEnv(t, st)
	c := e.anon()
	f := setupForm(nil)
	f.Set("csrf", csrfOf(c.get("/setup").Body))
	if r := c.post("/setup", f); r.Status != http.StatusSeeOther {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	c.get("/")
	return e, c
}

// TestPropertySetupPages: a Portfolio Manager creates a property, its
// door and unit from the console; wrong input is refused beside the
// field, with its label, and writes nothing.
func TestPropertySetupPages(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e, c := pmAfterSetup(t, st)
		r := c.get("/")
		if r.Status != http.StatusOK {
			t.Fatalf("landing: %d", r.Status)
		}
		mustContain(t, r.Body, `id="no-properties"`, `href="/properties/new"`)
		mustNotContain(t, r.Body, "You are not assigned to any property")

		tok, _, err := st.Login(ctx, "pat@example.com", storetest.PMPassword, store.TokenKindAPI)
		if err != nil {
			t.Fatal(err)
		}
		pm, err := st.Authenticate(ctx, tok, store.TokenKindAPI)
		if err != nil {
			t.Fatal(err)
		}
		props := func() []domain.Property {
			ps, err := st.ListProperties(ctx, pm)
			if err != nil {
				t.Fatal(err)
			}
			return ps
		}
		good := url.Values{"name": {"Harbor View"}, "time_zone": {"America/New_York"}, "doorcode_length": {"6"}, "credential_lifetime_hours": {"24"}}
		for _, tc := range []struct{ field, value, msg string }{
			{"name", "", "Name "},
			{"time_zone", "Mars/Base", `Time zone "Mars/Base" is not an IANA time zone`},
			{"time_zone", "", "Time zone is required"},
			{"doorcode_length", "abc", `Doorcode length "abc" is not a whole number`},
			{"doorcode_length", "12", "Doorcode length must be between 4 and 9"},
			{"credential_lifetime_hours", "9999", "Credential lifetime must be between 1 and 168"},
		} {
			f := url.Values{}
			for k, v := range good {
				f[k] = v
			}
			f.Set(tc.field, tc.value)
			r := c.submit("/properties/new", f)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s=%q: status %d", tc.field, tc.value, r.Status)
			}
			mustContain(t, words(r), `id="err-`+tc.field+`"`, tc.msg)
			mustNotContain(t, words(r), tc.field+": ")
			if n := len(props()); n != 0 {
				t.Fatalf("%s=%q: %d properties written", tc.field, tc.value, n)
			}
		}
		r = c.submit("/properties/new", good)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("create property: %d %s", r.Status, r.Body)
		}
		ps := props()
		if len(ps) != 1 || ps[0].Name != "Harbor View" || ps[0].TimeZone != "America/New_York" || ps[0].DoorcodeLength != 6 {
			t.Fatalf("properties %+v", ps)
		}
		p := ps[0]
		pp := "/p/" + p.ID
		if loc := r.Header.Get("Location"); loc != pp+"/settings" {
			t.Fatalf("after create: %s", loc)
		}
		r = c.get(pp + "/settings")
		mustContain(t, words(r), "Property Harbor View created. Next: add its doors.", `id="setup-steps"`, `id="step-door"`, `id="nav-settings"`)

		// Edit: an emptied field is pointed at, not taken as "no change".
		r = c.submit(pp+"/settings", url.Values{"name": {"Harbor View"}, "time_zone": {""}, "doorcode_length": {"6"}, "credential_lifetime_hours": {"24"}})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("settings without zone: %d", r.Status)
		}
		mustContain(t, words(r), `id="err-time_zone"`, "Time zone is required")
		r = c.submit(pp+"/settings", url.Values{"name": {"Harbor View East"}, "time_zone": {"Europe/London"}, "doorcode_length": {"7"}, "credential_lifetime_hours": {"12"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("settings: %d %s", r.Status, r.Body)
		}
		if got, _ := st.Property(ctx, pm, p.ID); got.Name != "Harbor View East" || got.TimeZone != "Europe/London" || got.DoorcodeLength != 7 || got.CredentialLifetimeHours != 12 {
			t.Fatalf("after settings: %+v", got)
		}

		// Units, then a door of a unit.
		r = c.submit(pp+"/units", url.Values{"name": {"101"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("add unit: %d %s", r.Status, r.Body)
		}
		r = c.submit(pp+"/units", url.Values{"name": {"101"}})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("duplicate unit: %d", r.Status)
		}
		mustContain(t, words(r), `id="err-name"`, `Unit name "101" is already used in this property`)
		units, _ := st.ListUnits(ctx, pm, p.ID)
		if len(units) != 1 {
			t.Fatalf("units %+v", units)
		}
		doors := func() []domain.Door {
			ds, err := st.ListDoors(ctx, pm, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			return ds
		}
		for _, tc := range []struct{ field, value, msg string }{
			{"name", "", "Name "},
			{"type", "garage", `Type "garage" is not one of`},
			{"connectivity", "wifi", `Connectivity "wifi" is not one of`},
			{"unit_id", "unt_nope", "Unit "},
		} {
			f := url.Values{"name": {"Unit 101"}, "type": {"residence"}, "connectivity": {"offline"}}
			f.Set(tc.field, tc.value)
			r := c.submit(pp+"/doors/new", f)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("door %s=%q: %d", tc.field, tc.value, r.Status)
			}
			mustContain(t, words(r), `id="err-`+tc.field+`"`, tc.msg)
			if n := len(doors()); n != 0 {
				t.Fatalf("door %s=%q: %d doors written", tc.field, tc.value, n)
			}
		}
		r = c.submit(pp+"/doors/new", url.Values{"name": {"Unit 101"}, "type": {"residence"}, "connectivity": {"offline"}, "unit_id": {units[0].ID}})
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != pp+"/doors" {
			t.Fatalf("add door: %d %s", r.Status, r.Header.Get("Location"))
		}
		ds := doors()
		if len(ds) != 1 || ds[0].Type != domain.DoorResidence || ds[0].UnitID != units[0].ID {
			t.Fatalf("doors %+v", ds)
		}
		mustContain(t, words(c.get(pp+"/doors")), "Door Unit 101 added.", `id="add-door"`)

		// A Property Manager, even with full Key Management, does not set
		// properties up: refused, nothing written.
		storetest.Manager(t, st, pm, "kim@example.com", &domain.Assignment{PropertyID: p.ID, KeyManagement: domain.KeyManagementFull})
		k := e.login("kim@example.com")
		r = k.get("/")
		mustNotContain(t, r.Body, `id="nav-settings"`, `/properties/new`)
		if r := k.get("/properties/new"); r.Status != http.StatusForbidden {
			t.Fatalf("PM GET /properties/new: %d", r.Status)
		}
		k.get(pp + "/doors")
		for path, f := range map[string]url.Values{
			"/properties/new": {"name": {"Sneaky"}, "time_zone": {"UTC"}},
			pp + "/settings":  {"name": {"Sneaky"}, "time_zone": {"UTC"}, "doorcode_length": {"6"}, "credential_lifetime_hours": {"24"}},
			pp + "/doors/new": {"name": {"Sneaky"}, "type": {"entrance"}, "connectivity": {"offline"}},
		} {
			if r := k.submit(path, f); r.Status != http.StatusForbidden {
				t.Errorf("Property Manager POST %s: %d, want 403", path, r.Status)
			}
		}
		if got, _ := st.Property(ctx, pm, p.ID); got.Name != "Harbor View East" || len(props()) != 1 || len(doors()) != 1 {
			t.Fatalf("a Property Manager changed the setup: %+v", got)
		}
		if r := k.get(pp + "/settings"); r.Status != http.StatusForbidden {
			t.Errorf("Property Manager GET settings: %d", r.Status)
		}
	})
}

// TestHeaderNamesRoleOnce: `dooros init` without names makes "Portfolio
// Manager"; the header says it once.
func TestHeaderNamesRoleOnce(t *testing.T) {
	st := storetest.OpenSQLite(t)
	if _, err := st.Init(context.Background(), "Acme", domain.ManagerInput{Email: "pm@example.com", Password: storetest.PMPassword, FirstName: "Portfolio", LastName: "Manager"}); err != nil {
		t.Fatal(err)
	}
	e := freshEnv(t, st)
	r := e.login("pm@example.com").get("/")
	mustContain(t, r.Body, "Portfolio Manager")
	mustNotContain(t, r.Body, "Portfolio Manager · Portfolio Manager")
}
