package console

import (
	"net"
	"net/http"
	"strings"

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
	acct, addr := email, clientIP(r)
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

// safeNext keeps only a local path, so the login page cannot be used to
// send someone to another site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.HasPrefix(next, "/api/") {
		return ""
	}
	return next
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
