package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// env is a console on a real store, seeded with the storetest fixture,
// served over real HTTP.
type env struct {
	t       testing.TB
	st      *store.Store
	f       storetest.Fixture
	srv     *httptest.Server
	mailbox *mail.Mailbox
}

func newEnv(t testing.TB, st *store.Store) *env {
	t.Helper()
	return newEnvWith(t, st, func(storetest.Fixture) console.Options { return console.Options{} })
}

// newEnvWith is newEnv with console options made for the seeded fixture.
func newEnvWith(t testing.TB, st *store.Store, opts func(storetest.Fixture) console.Options) *env {
	t.Helper()
	e := &env{t: t, st: st, f: storetest.Seed(t, st)}
	mb, err := mail.OpenMailbox(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	e.mailbox = mb
	mux := http.NewServeMux()
	console.New(st, mb, nil, opts(e.f)).Routes(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// manager adds a Property Manager with an assignment (nil: none).
func (e *env) manager(email string, as *domain.Assignment) domain.Actor {
	e.t.Helper()
	return storetest.Manager(e.t, e.st, e.f.PM, email, as)
}

// client is one browser: a cookie jar, redirects not followed.
type client struct {
	e    *env
	hc   *http.Client
	csrf string
}

type resp struct {
	Status int
	Header http.Header
	Body   string
}

func (e *env) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{e: e, hc: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs in through the login form.
func (e *env) login(email string) *client {
	e.t.Helper()
	c := e.anon()
	r := c.get("/login")
	r = c.post("/login", url.Values{"email": {email}, "password": {storetest.PMPassword}, "csrf": {csrfOf(r.Body)}})
	if r.Status != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d: %s", email, r.Status, r.Body)
	}
	// Follow to the first page, which carries the session's CSRF token.
	c.csrf = ""
	for i := 0; i < 3 && r.Status == http.StatusSeeOther; i++ {
		r = c.get(r.Header.Get("Location"))
	}
	return c
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(body string) string {
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (c *client) do(req *http.Request) *resp {
	c.e.t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
	if t := csrfOf(out.Body); t != "" {
		c.csrf = t
	}
	return out
}

func (c *client) get(path string) *resp {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.e.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form as it is (no CSRF token added).
func (c *client) post(path string, form url.Values) *resp {
	c.e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// submit posts a form with the CSRF token of this browser's session.
func (c *client) submit(path string, form url.Values) *resp {
	c.e.t.Helper()
	if c.csrf == "" {
		c.e.t.Fatal("no CSRF token yet: load a page first")
	}
	if form == nil {
		form = url.Values{}
	}
	form.Set("csrf", c.csrf)
	return c.post(path, form)
}

func (e *env) p(rest ...string) string {
	return "/p/" + e.f.Property.ID + "/" + strings.Join(rest, "/")
}

// countPeople counts everyone on the People tab, expired included.
func (e *env) countPeople() int {
	e.t.Helper()
	ps, _, err := e.st.ListPeople(context.Background(), e.f.PM, e.f.Property.ID, domain.PeopleFilter{IncludeExpired: true, Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(ps)
}

func (e *env) invite(first, last, email string, keys ...domain.GrantInput) domain.PersonView {
	e.t.Helper()
	v, err := e.st.Invite(context.Background(), e.f.PM, e.f.Property.ID, domain.InviteInput{FirstName: first, LastName: last, Email: email,
		Access: domain.AccessApp, Resident: true, Keys: keys})
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func mustContain(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page does not contain %q", w)
		}
	}
}

func mustNotContain(t testing.TB, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page contains %q", w)
		}
	}
}
