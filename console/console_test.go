package console_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func TestLoginRequired(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	person := e.invite("Ana", "Garcia", "ana@example.com")
	c := e.anon()
	pages := []string{"/", e.p("people"), e.p("people", "invite"), e.p("people", person.ID), e.p("people", person.ID, "revoke"),
		e.p("activity"), e.p("activity.csv"), e.p("doors"), e.p("sync"), e.p("exposure"), e.p("keys"), e.p("keys", "new"), "/staff", "/mailbox",
		e.p("imports"), e.p("pms"), e.p("pms", "runs", "run_x"), e.p("reports"), e.p("reports", "keycards.csv"), e.p("keycards")}
	for _, path := range pages {
		t.Run("GET "+path, func(t *testing.T) {
			r := c.get(path)
			if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?next=") {
				t.Fatalf("status %d location %q, want a redirect to the login page", r.Status, r.Header.Get("Location"))
			}
		})
	}
	t.Run("POST without session is refused and writes nothing", func(t *testing.T) {
		r := c.post(e.p("people", person.ID, "revoke"), url.Values{"csrf": {"x"}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.Status)
		}
		v, err := st.Person(context.Background(), e.f.PM, e.f.Property.ID, person.ID)
		if err != nil || v.Status != domain.StatusActive {
			t.Fatalf("person %v %v, want still active", v.Status, err)
		}
	})
	t.Run("login page returns to the page asked for", func(t *testing.T) {
		r := c.get("/login?next=" + url.QueryEscape(e.p("doors")))
		r = c.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {csrfOf(r.Body)}, "next": {e.p("doors")}})
		if got := r.Header.Get("Location"); got != e.p("doors") {
			t.Fatalf("redirect to %q, want %q", got, e.p("doors"))
		}
	})
	t.Run("next pointing elsewhere is ignored", func(t *testing.T) {
		c := e.anon()
		r := c.get("/login")
		r = c.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {csrfOf(r.Body)}, "next": {"//evil.example/x"}})
		if got := r.Header.Get("Location"); got != "/" {
			t.Fatalf("redirect to %q, want /", got)
		}
	})
}

func TestLogin(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	t.Run("wrong password", func(t *testing.T) {
		c := e.anon()
		r := c.get("/login")
		r = c.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {"wrong password!"}, "csrf": {csrfOf(r.Body)}})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", r.Status)
		}
		mustContain(t, r.Body, "Wrong email or password.")
	})
	t.Run("login form without its CSRF token", func(t *testing.T) {
		c := e.anon()
		c.get("/login")
		r := c.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {"forged"}})
		if r.Status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", r.Status)
		}
	})
	t.Run("logout ends the session", func(t *testing.T) {
		c := e.login(storetest.PMEmail)
		if r := c.get(e.p("people")); r.Status != http.StatusOK {
			t.Fatalf("people: %d", r.Status)
		}
		if r := c.submit("/logout", nil); r.Status != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.Status)
		}
		if r := c.get(e.p("people")); r.Status != http.StatusSeeOther {
			t.Fatalf("after logout: %d, want redirect to login", r.Status)
		}
	})
	t.Run("rate limited after five failures", func(t *testing.T) {
		c := newEnv(t, storetest.OpenSQLite(t)).anon()
		var r *resp
		for i := 0; i < 6; i++ {
			r = c.get("/login")
			r = c.post("/login", url.Values{"email": {"victim@example.com"}, "password": {"guess guess " + string(rune('a'+i))}, "csrf": {csrfOf(r.Body)}})
		}
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("6th attempt: status %d, want 429", r.Status)
		}
		mustContain(t, r.Body, "Too many failed logins")
	})
}

func TestSecurityHeaders(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	c := e.login(storetest.PMEmail)
	for _, path := range []string{"/login", e.p("people"), e.p("people", "invite"), "/static/style.css", e.p("people", "nobody")} {
		t.Run(path, func(t *testing.T) {
			r := c.get(path)
			for h, want := range map[string]string{
				"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
			} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("CSP %q lacks %q", csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP allows inline code: %q", csp)
			}
		})
	}
	t.Run("session cookie", func(t *testing.T) {
		c := e.anon()
		r := c.get("/login")
		r = c.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {csrfOf(r.Body)}})
		ck := findCookie(r, "dooros_session")
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Secure {
			t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Lax, not Secure over plain HTTP", ck)
		}
	})
	t.Run("session cookie is Secure over TLS", func(t *testing.T) {
		mux := http.NewServeMux()
		console.New(st, nil, nil, console.Options{}).Routes(mux)
		srv := httptest.NewTLSServer(mux)
		defer srv.Close()
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		tc := &client{e: &env{t: t, srv: srv}, hc: hc}
		r := tc.get("/login")
		r = tc.post("/login", url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {csrfOf(r.Body)}})
		if ck := findCookie(r, "dooros_session"); ck == nil || !ck.Secure {
			t.Fatalf("session cookie %+v, want Secure", ck)
		}
	})
}

func findCookie(r *resp, name string) *http.Cookie {
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func TestCSRF(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		person := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		c := e.login(storetest.PMEmail)
		other := e.login(storetest.PMEmail) // another session: its token must not work here
		other.get(e.p("people"))
		invite := url.Values{"access": {"app"}, "first_name": {"Eve"}, "last_name": {"Intruder"}, "email": {"eve@example.com"}, "key": {e.f.Building.ID}}
		for name, token := range map[string]string{"missing": "", "wrong": "AAAA", "of another session": other.csrf} {
			t.Run("invite with "+name+" token", func(t *testing.T) {
				form := url.Values{}
				for k, v := range invite {
					form[k] = v
				}
				if token != "" {
					form.Set("csrf", token)
				}
				if r := c.post(e.p("people", "invite"), form); r.Status != http.StatusForbidden {
					t.Fatalf("status %d, want 403", r.Status)
				}
				if n := e.countPeople(); n != 1 {
					t.Fatalf("%d people, want 1: nothing written", n)
				}
			})
			t.Run("revoke with "+name+" token", func(t *testing.T) {
				form := url.Values{}
				if token != "" {
					form.Set("csrf", token)
				}
				if r := c.post(e.p("people", person.ID, "revoke"), form); r.Status != http.StatusForbidden {
					t.Fatalf("status %d, want 403", r.Status)
				}
				v, _ := st.Person(context.Background(), e.f.PM, e.f.Property.ID, person.ID)
				if v.Status != domain.StatusActive || len(v.Keys) != 1 {
					t.Fatalf("person %s with %d keys, want active with 1", v.Status, len(v.Keys))
				}
			})
		}
		t.Run("right token works", func(t *testing.T) {
			if r := c.submit(e.p("people", "invite"), invite); r.Status != http.StatusSeeOther {
				t.Fatalf("status %d, want 303: %s", r.Status, r.Body)
			}
			if n := e.countPeople(); n != 2 {
				t.Fatalf("%d people, want 2", n)
			}
		})
	})
}

func TestPermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		person := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		other, err := st.CreateProperty(ctx, e.f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "Europe/Berlin"})
		if err != nil {
			t.Fatal(err)
		}
		e.manager("nokm@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone})
		e.manager("limited@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementLimited})
		e.manager("specific@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.f.Home.ID}})
		invite := url.Values{"access": {"app"}, "first_name": {"Eve"}, "last_name": {"New"}, "email": {"eve@example.com"}, "key": {e.f.Building.ID}}

		t.Run("without Key Management: no Invite button, an explanation naming whom to ask", func(t *testing.T) {
			c := e.login("nokm@example.com")
			r := c.get(e.p("people"))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d", r.Status)
			}
			mustNotContain(t, r.Body, `id="invite-button"`, "ana@example.com")
			mustContain(t, r.Body, "You need Key Management on this property", "Pat Portfolio", storetest.PMEmail)
		})
		t.Run("without Key Management: invite page and POST are 403, nothing written", func(t *testing.T) {
			c := e.login("nokm@example.com")
			if r := c.get(e.p("people", "invite")); r.Status != http.StatusForbidden {
				t.Fatalf("GET invite: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("people", "invite"), invite); r.Status != http.StatusForbidden {
				t.Fatalf("POST invite: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("people", person.ID, "revoke"), nil); r.Status != http.StatusForbidden {
				t.Fatalf("POST revoke: %d, want 403", r.Status)
			}
			if r := c.get(e.p("people", person.ID)); r.Status != http.StatusForbidden {
				t.Fatalf("person page: %d, want 403", r.Status)
			}
			if n := e.countPeople(); n != 1 {
				t.Fatalf("%d people, want 1", n)
			}
		})
		t.Run("without Key or Device Management: doors and keys are visible, activity and sync tasks are not", func(t *testing.T) {
			c := e.login("nokm@example.com")
			for _, p := range []string{e.p("doors"), e.p("keys")} {
				if r := c.get(p); r.Status != http.StatusOK {
					t.Errorf("%s: %d, want 200", p, r.Status)
				}
			}
			// Activity names people and shows their emails.
			for _, p := range []string{e.p("activity"), e.p("activity.csv"), e.p("sync")} {
				if r := c.get(p); r.Status != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", p, r.Status)
				}
			}
			mustNotContain(t, c.get(e.p("doors")).Body, `id="nav-activity"`, "ana@example.com")
			if r := e.login("limited@example.com").get(e.p("activity")); r.Status != http.StatusOK {
				t.Errorf("limited Key Management: activity %d, want 200", r.Status)
			}
			mustContain(t, c.get(e.p("doors")).Body, "needs Key Management or Device Management")
		})
		t.Run("limited Key Management invites but cannot manage keys", func(t *testing.T) {
			c := e.login("limited@example.com")
			r := c.get(e.p("people"))
			mustContain(t, r.Body, `id="invite-button"`, "ana@example.com")
			r = c.get(e.p("keys"))
			mustNotContain(t, r.Body, `id="new-key"`)
			mustContain(t, r.Body, "needs full Key Management")
			if r := c.get(e.p("keys", "new")); r.Status != http.StatusForbidden {
				t.Fatalf("key form: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("keys", e.f.Home.ID, "delete"), nil); r.Status != http.StatusForbidden {
				t.Fatalf("delete key: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("people", "invite"), invite); r.Status != http.StatusSeeOther {
				t.Fatalf("invite: %d, want 303: %s", r.Status, r.Body)
			}
		})
		t.Run("specific Key Management is offered only its keys and refused others", func(t *testing.T) {
			c := e.login("specific@example.com")
			r := c.get(e.p("people", "invite"))
			mustContain(t, r.Body, e.f.Home.ID)
			mustNotContain(t, r.Body, e.f.Building.ID)
			form := url.Values{"access": {"app"}, "first_name": {"Sam"}, "last_name": {"Spec"}, "email": {"sam@example.com"}, "key": {e.f.Building.ID}}
			if r := c.submit(e.p("people", "invite"), form); r.Status != http.StatusForbidden {
				t.Fatalf("invite with a key outside the list: %d, want 403", r.Status)
			}
		})
		// The person page offers only what the store would do (issue 12):
		// changing a record or revoking needs every key the person holds,
		// Delete Person full Key Management.
		t.Run("specific: no edit, revoke, delete or remove on a person holding a key outside the list", func(t *testing.T) {
			c := e.login("specific@example.com")
			r := c.get(e.p("people", person.ID))
			if r.Status != http.StatusOK {
				t.Fatalf("person page: %d", r.Status)
			}
			mustNotContain(t, r.Body, `id="edit-form"`, `id="revoke-link"`, `id="delete-link"`, `aria-label="Remove key`)
			mustContain(t, r.Body, `id="edit-refused"`)
			for _, p := range []string{e.p("people", person.ID, "revoke"), e.p("people", person.ID, "delete")} {
				if r := c.get(p); r.Status != http.StatusForbidden {
					t.Errorf("GET %s: %d, want 403", p, r.Status)
				}
			}
			form := url.Values{"first_name": {"Ana"}, "last_name": {"Garcia"}, "email": {"mallory@example.com"}}
			if r := c.submit(e.p("people", person.ID, "edit"), form); r.Status != http.StatusForbidden {
				t.Errorf("POST edit: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("people", person.ID, "delete"), nil); r.Status != http.StatusForbidden {
				t.Errorf("POST delete: %d, want 403", r.Status)
			}
			if n := e.countPeople(); n < 1 {
				t.Fatal("person gone")
			}
		})
		t.Run("specific: Activity offers and shows the doors of his keys only", func(t *testing.T) {
			c := e.login("specific@example.com")
			r := c.get(e.p("activity"))
			if r.Status != http.StatusOK {
				t.Fatalf("activity: %d", r.Status)
			}
			mustContain(t, r.Body, `<option value="`+e.f.Unit101.ID+`"`)
			mustNotContain(t, r.Body, `<option value="`+e.f.Lobby.ID+`"`, `<option value="`+e.f.Gym.ID+`"`, "ana@example.com", "Ana Garcia")
			mustContain(t, e.login("limited@example.com").get(e.p("activity")).Body, "Ana Garcia", `<option value="`+e.f.Gym.ID+`"`)
		})
		t.Run("limited: edit and revoke, but Delete Person needs full Key Management", func(t *testing.T) {
			c := e.login("limited@example.com")
			r := c.get(e.p("people", person.ID))
			mustContain(t, r.Body, `id="edit-form"`, `id="revoke-link"`, `aria-label="Remove key`)
			mustNotContain(t, r.Body, `id="delete-link"`)
			if r := c.get(e.p("people", person.ID, "delete")); r.Status != http.StatusForbidden {
				t.Errorf("GET delete: %d, want 403", r.Status)
			}
			if r := c.submit(e.p("people", person.ID, "delete"), nil); r.Status != http.StatusForbidden {
				t.Errorf("POST delete: %d, want 403", r.Status)
			}
			mustContain(t, e.login(storetest.PMEmail).get(e.p("people", person.ID)).Body, `id="delete-link"`)
		})
		t.Run("unassigned property is not found", func(t *testing.T) {
			c := e.login("limited@example.com")
			for _, p := range []string{"/p/" + other.ID + "/people", "/p/" + other.ID + "/activity", "/p/" + other.ID + "/sync", "/go?p=" + other.ID} {
				if r := c.get(p); r.Status != http.StatusNotFound {
					t.Errorf("%s: %d, want 404", p, r.Status)
				}
			}
			if r := c.submit("/p/"+other.ID+"/people/invite", invite); r.Status != http.StatusNotFound {
				t.Fatalf("POST: %d, want 404", r.Status)
			}
			r := c.get(e.p("people"))
			mustNotContain(t, r.Body, "Oak House")
		})
		t.Run("Staff and Mailbox are for Portfolio Managers", func(t *testing.T) {
			c := e.login("limited@example.com")
			for _, p := range []string{"/staff", "/mailbox"} {
				if r := c.get(p); r.Status != http.StatusForbidden {
					t.Errorf("%s: %d, want 403", p, r.Status)
				}
			}
			form := url.Values{"email": {"x@example.com"}, "first_name": {"X"}, "last_name": {"Y"}, "role": {"portfolio_manager"}}
			if r := c.submit("/staff", form); r.Status != http.StatusForbidden {
				t.Fatalf("add manager: %d, want 403", r.Status)
			}
			r := c.get(e.p("people"))
			mustNotContain(t, r.Body, `href="/staff"`, `href="/mailbox"`)
		})
	})
}

func TestInviteForm(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		t.Run("pre-filled with a start now and an expiration a year ahead", func(t *testing.T) {
			r := c.get(e.p("people", "invite"))
			loc := e.f.Property.Location()
			next := st.Now().In(loc).AddDate(1, 0, 0).Format("2006-01-02")
			mustContain(t, r.Body, `name="expires_at" type="datetime-local" value="`+next, "receives the welcome email today", "Expiration", "recommended",
				`value="app"`, `value="doorcode"`, `name="resident"`, `name="share"`, "Home 101", "Building")
		})
		valid := func() url.Values {
			return url.Values{"access": {"app"}, "first_name": {"Ana"}, "last_name": {"Garcia"}, "email": {"ana@example.com"}, "phone": {"+1 555 0100"},
				"resident": {"on"}, "key": {e.f.Building.ID, e.f.Home.ID}, "share": {e.f.Home.ID},
				"starts_at": {"2026-01-01T09:00"}, "expires_at": {fmt.Sprintf("%d-01-01T09:00", storetest.YearsAhead(5))}}
		}
		bad := []struct {
			name, field, value, message string
		}{
			{"ErrEmail", "email", "not-an-email", "is not a valid email address"},
			{"ErrFirstNameRequired", "first_name", "", "First name is required"},
			{"ErrExpiresBeforeStart", "expires_at", "2025-01-01T09:00", "Expiration must be after the start"},
			{"ErrBadDate", "starts_at", "next tuesday", "is not a date and time"},
			{"ErrAccess", "access", "carrier-pigeon", "is not one of app, doorcode"},
			{"ErrUnknownKey", "key", "key_nope", "is not a key of this property"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				form := valid()
				form.Set(tc.field, tc.value)
				r := c.submit(e.p("people", "invite"), form)
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
				mustContain(t, r.Body, tc.message, `value="Garcia"`)
				if n := e.countPeople(); n != 0 {
					t.Fatalf("%d people written, want 0", n)
				}
			})
		}
		t.Run("ErrDoorcodeWithoutDoorcodeKey", func(t *testing.T) {
			k, err := st.CreateKey(context.Background(), e.f.PM, e.f.Property.ID, domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			form := valid()
			form.Set("access", "doorcode")
			form["key"] = []string{k.ID}
			r := c.submit(e.p("people", "invite"), form)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "none of these keys provides doorcodes")
		})
		t.Run("OK app", func(t *testing.T) {
			r := c.submit(e.p("people", "invite"), valid())
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d, want 303: %s", r.Status, r.Body)
			}
			r = c.get(r.Header.Get("Location"))
			mustContain(t, r.Body, "Invited Ana Garcia. The welcome email goes out now", "Ana Garcia", "Home 101", "Building", "email.welcome")
			ps, _, _ := st.ListPeople(context.Background(), e.f.PM, e.f.Property.ID, domain.PeopleFilter{})
			if len(ps) != 1 || ps[0].Access != domain.AccessApp || ps[0].ExpiresAt == nil || ps[0].Phone != "+1 555 0100" || !ps[0].Resident {
				t.Fatalf("people %+v", ps)
			}
			loc := e.f.Property.Location()
			if got := ps[0].StartsAt.In(loc).Format("2006-01-02T15:04"); got != "2026-01-01T09:00" {
				t.Fatalf("starts %s, want 2026-01-01T09:00 in the property's zone", got)
			}
			for _, g := range ps[0].Keys {
				if g.MayShare != (g.KeyID == e.f.Home.ID) {
					t.Fatalf("key %s may_share %v", g.Name, g.MayShare)
				}
			}
		})
		t.Run("OK doorcode without expiration", func(t *testing.T) {
			form := valid()
			form.Set("access", "doorcode")
			form.Set("email", "ben@example.com")
			form.Set("expires_at", "")
			r := c.submit(e.p("people", "invite"), form)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			r = c.get(r.Header.Get("Location"))
			mustContain(t, r.Body, "Doorcode only", `id="doorcode"`, "an expiration is recommended")
		})
		t.Run("ErrEmailTaken", func(t *testing.T) {
			r := c.submit(e.p("people", "invite"), valid())
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "is already a person at this property")
		})
	})
}

func TestMailbox(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	if err := e.mailbox.Send(context.Background(), mail.Message{ID: "obx_1", To: mail.Address{Name: "Ana", Email: "ana@example.com"},
		Subject: "Welcome to Elm Court", Text: "Install the DOOR App."}); err != nil {
		t.Fatal(err)
	}
	c := e.login(storetest.PMEmail)
	r := c.get("/mailbox")
	mustContain(t, r.Body, "Welcome to Elm Court", "ana@example.com")
	r = c.get("/mailbox/obx_1")
	mustContain(t, r.Body, "Install the DOOR App.")
	if r := c.get("/mailbox/nope"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown email: %d", r.Status)
	}
	t.Run("hidden with an SMTP relay", func(t *testing.T) {
		mux := http.NewServeMux()
		console.New(st, nil, nil, console.Options{}).Routes(mux)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		c2 := &client{e: &env{t: t, srv: srv}, hc: c.hc}
		if r := c2.get("/mailbox"); r.Status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", r.Status)
		}
		r := c2.get(e.p("people"))
		mustNotContain(t, r.Body, `href="/mailbox"`)
	})
}

func TestPropertyPicker(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	c := e.login(storetest.PMEmail)
	t.Run("one property goes straight to People", func(t *testing.T) {
		if r := c.get("/"); r.Header.Get("Location") != e.p("people") {
			t.Fatalf("status %d location %q", r.Status, r.Header.Get("Location"))
		}
	})
	other, err := st.CreateProperty(context.Background(), e.f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("several properties are listed", func(t *testing.T) {
		r := c.get("/")
		mustContain(t, r.Body, "Choose a property", "Elm Court", "Oak House", `/p/`+other.ID+`/people`)
	})
	t.Run("the header picker switches property", func(t *testing.T) {
		r := c.get(e.p("people"))
		mustContain(t, r.Body, `<option value="`+other.ID+`">Oak House</option>`)
		if r := c.get("/go?p=" + other.ID); r.Header.Get("Location") != "/p/"+other.ID+"/people" {
			t.Fatalf("location %q", r.Header.Get("Location"))
		}
	})
}

// TestUnknownPropertyPage: a mistyped path under a property gets the
// styled 404 page with the console's navigation, not the mux's plain text.
func TestUnknownPropertyPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		for _, path := range []string{e.p("nonsense"), e.p("people", "x", "y", "z"), e.p("keys", "k", "bogus")} {
			r := c.get(path)
			if r.Status != http.StatusNotFound {
				t.Fatalf("%s: %d, want 404", path, r.Status)
			}
			mustContain(t, r.Body, "<h1>Not found</h1>", "there is no page at", `aria-label="Main"`)
		}
		if r := c.get("/p/prp_nope/people"); r.Status != http.StatusNotFound {
			t.Errorf("unknown property: %d, want 404", r.Status)
		}
	})
}
