package console_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dooros/dooros/store/storetest"
)

var nextRE = regexp.MustCompile(`name="next" value="([^"]*)"`)

// browserResolve reads a Location header the way the WHATWG URL parser of
// a browser does: leading and trailing C0 controls and spaces trimmed,
// tabs and newlines dropped anywhere, backslashes taken for slashes.
func browserResolve(t *testing.T, base *url.URL, loc string) *url.URL {
	t.Helper()
	loc = strings.TrimFunc(loc, func(r rune) bool { return r <= ' ' })
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(loc)
	u, err := base.Parse(loc)
	if err != nil {
		t.Fatalf("Location %q does not parse: %v", loc, err)
	}
	return u
}

// TestLoginNextStaysOnSite logs in through the real form with a next
// parameter an attacker chose; after login the browser must land on this
// site, whatever a browser makes of the Location header.
func TestLoginNextStaysOnSite(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	base, _ := url.Parse(e.srv.URL)
	hostile := []string{
		"//evil.example/x",
		"/%09/evil.example/x", // the reported one: a tab the browser drops
		"/\t/evil.example/x",
		"/\n/evil.example/x",
		"/\r\n/evil.example/x",
		"\t//evil.example/x",
		" //evil.example/x",
		"/\\evil.example/x",
		"\\\\evil.example/x",
		"/%5Cevil.example/x",
		"/%5cevil.example/x",
		"/%2F/evil.example/x",
		"/%2f%2fevil.example/x",
		"/\x00/evil.example",
		"/\x0b/evil.example",
		"/\x7f/evil.example",
		"/\u0085/evil.example",
		"/\u00a0/evil.example",
		"/\u3000/evil.example",
		"http://evil.example/x",
		"https:evil.example",
		"javascript:alert(1)",
		"evil.example",
		"///evil.example",
		"/./\t/evil.example",
		"/api/v1/me",
		"%2F%2Fevil.example",
		"/\xff/evil.example",
	}
	for _, next := range hostile {
		t.Run(next, func(t *testing.T) {
			loc := loginWithNext(t, e, next)
			u := browserResolve(t, base, loc)
			if u.Host != base.Host || u.Scheme != base.Scheme {
				t.Fatalf("next=%q sends the browser to %s (Location %q)", next, u, loc)
			}
			if loc != "/" {
				t.Errorf("next=%q: Location %q, want the home page", next, loc)
			}
		})
	}
	kept := map[string]string{
		"/p/x/people":             "/p/x/people",
		"/p/x/people?q=ana+b&x=1": "/p/x/people?q=ana+b&x=1",
		"/p/x/people#top":         "/p/x/people#top",
		"/p/x/people%20list":      "/p/x/people%20list",
		"/p/caf\u00e9":            "/p/caf%C3%A9",
	}
	for next, want := range kept {
		t.Run("kept "+next, func(t *testing.T) {
			if loc := loginWithNext(t, e, next); loc != want {
				t.Errorf("next=%q: Location %q, want %q", next, loc, want)
			}
		})
	}
}

// loginWithNext opens /login?next=…, submits the form it shows and
// returns the Location of the answer. It also posts next directly, as a
// forged form would, and expects the same answer.
func loginWithNext(t *testing.T, e *env, next string) string {
	t.Helper()
	var locs []string
	for _, direct := range []bool{false, true} {
		c := e.anon()
		page := c.get("/login?next=" + url.QueryEscape(next))
		if page.Status != http.StatusOK {
			t.Fatalf("login page: %d", page.Status)
		}
		m := nextRE.FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatal("login page has no next field")
		}
		formNext := html.UnescapeString(m[1])
		if direct {
			formNext = next
		}
		form := url.Values{"email": {storetest.PMEmail}, "password": {storetest.PMPassword}, "csrf": {csrfOf(page.Body)}, "next": {formNext}}
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, ck := range c.hc.Jar.Cookies(req.URL) {
			req.AddCookie(ck)
		}
		// One round trip, not http.Client: the client refuses to parse a
		// Location with control characters, and the raw header is the
		// thing under test.
		res, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", res.StatusCode)
		}
		locs = append(locs, res.Header.Get("Location"))
	}
	if locs[0] != locs[1] {
		t.Errorf("next=%q: the form leads to %q, a forged post to %q", next, locs[0], locs[1])
	}
	return locs[1]
}

// TestBrowserLoginNextStaysOnSite follows the reported link in a real
// chromium: log in from /login?next=/%09/evil.example/x and see where the
// browser lands.
func TestBrowserLoginNextStaysOnSite(t *testing.T) {
	path := chromium(t)
	e := newEnv(t, storetest.OpenSQLite(t))
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	for _, link := range []string{"/login?next=/%09/evil.example/x", "/login?next=/%5C%09evil.example/x", "/login?next=%0A//evil.example/x"} {
		if err := chromedp.Do(bctx, chromedp.Navigate(e.srv.URL+link),
			chromedp.SendKeys(chromedp.CSS("#email"), storetest.PMEmail), chromedp.SendKeys(chromedp.CSS("#password"), storetest.PMPassword),
			chromedp.Click(chromedp.CSS("button[type=submit]"))); err != nil {
			t.Fatal(err)
		}
		var loc string
		for deadline := time.Now().Add(20 * time.Second); ; {
			l, err := chromedp.Run(bctx, chromedp.Location())
			if err == nil && !strings.Contains(l, "/login") {
				loc = l
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: after login the browser did not reach a page of this site (last location %s, %v)", link, l, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.HasPrefix(loc, e.srv.URL+"/") {
			t.Errorf("%s: after login the browser is at %s, not on %s", link, loc, e.srv.URL)
		}
		// Log out for the next link.
		if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(".who button[type=submit]"))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
