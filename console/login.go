package console

import (
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

type loginData struct {
	Email   string
	Next    string
	Message string
	// Notice is a one-time message from the page before (password set).
	Notice string
	CSRF   string
}

// loginForm shows the login page. The form carries a double-submit token
// (cookie + hidden field), so another site cannot log a browser into an
// account of its choosing.
func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	// A fresh install has nobody to log in: the first-run page comes first.
	if done, err := c.store.Initialized(r.Context()); err == nil && !done {
		http.Redirect(w, r, "/setup", http.StatusSeeOther)
		return
	}
	c.showLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next")), Notice: takeFlash(w, r)})
}

func (c *Console) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	tok := randomToken()
	setCookie(w, c.secureCookies(r), loginCSRFCookie, tok, 0)
	d.CSRF = tok
	c.render(w, r, nil, status, "login", "Log in", "", d)
}

func (c *Console) loginSubmit(w http.ResponseWriter, r *http.Request) {
	d := loginData{Email: r.PostFormValue("email"), Next: safeNext(r.PostFormValue("next"))}
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || ck.Value == "" || ck.Value != r.PostFormValue(csrfField) {
		http.Error(w, "This login form is out of date (CSRF check failed). Reload the login page and try again.", http.StatusForbidden)
		return
	}
	email, _ := domain.NormalizeEmail("email", d.Email)
	acct, addr := email, c.opts.Limiter.ClientIP(r)
	if c.opts.Limiter.Blocked(acct, addr) {
		d.Message = "Too many failed logins. Wait a minute and try again."
		c.showLogin(w, r, http.StatusTooManyRequests, d)
		return
	}
	token, exp, err := c.store.Login(r.Context(), d.Email, r.PostFormValue("password"), store.TokenKindSession)
	if err != nil {
		status := http.StatusInternalServerError
		d.Message = "Internal error."
		if domain.ErrorCode(err) == domain.EUnauthenticated {
			c.opts.Limiter.Fail(acct, addr)
			status, d.Message = http.StatusUnauthorized, "Wrong email or password."
		} else {
			c.log.Error("console login", "err", err)
		}
		c.showLogin(w, r, status, d)
		return
	}
	c.opts.Limiter.Reset(acct)
	setCookie(w, c.secureCookies(r), loginCSRFCookie, "", -1)
	ck2 := &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: c.secureCookies(r), SameSite: http.SameSiteLaxMode, Expires: exp}
	http.SetCookie(w, ck2)
	next := d.Next
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.store.Logout(r.Context(), rq.Token); err != nil {
		return err
	}
	setCookie(w, c.secureCookies(r), sessionCookie, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// safeNext keeps only a path on this site, so the login page cannot be
// used to send someone elsewhere. Browsers read a Location leniently: they
// drop tabs and newlines anywhere, strip leading and trailing control
// characters and spaces, and take a backslash for a slash, so
// "/\t/evil.example" or "/\\evil.example" is the scheme-relative
// "//evil.example". Anything a browser could read differently from a plain
// path is refused rather than repaired: control characters, spaces at the
// ends, backslashes (also percent-encoded, in case a proxy or a later
// redirect decodes them), and a second leading slash in any form. What is
// kept is re-encoded from the parsed URL, so the Location header carries
// exactly the path that was checked.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || hasBrowserTrap(next) {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	// The decoded path must be just as plain: "/%2F%2Fevil.example" or
	// "/%5Cevil.example" turn into a host for anything that decodes once.
	if hasBrowserTrap(u.Path) || strings.HasPrefix(u.Path, "//") || strings.HasPrefix(u.Path, "/api/") {
		return ""
	}
	out := u.EscapedPath()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return ""
	}
	if u.RawQuery != "" {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	// path.Clean in http.Redirect must not turn it into something else
	// ("/./" collapses, but never into "//": checked on the result).
	if hasBrowserTrap(out) {
		return ""
	}
	return out
}

// hasBrowserTrap reports a second leading slash or backslash, any
// backslash, or any character a browser drops or trims from a URL
// (C0 controls, DEL, and spaces at the ends), also in Unicode spaces and
// C1 controls, which some parsers treat the same.
func hasBrowserTrap(s string) bool {
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return true
	}
	if strings.TrimSpace(s) != s {
		return true
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\\' || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError || (unicode.IsSpace(r) && r != ' ') {
			return true
		}
	}
	return false
}
