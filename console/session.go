package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"time"
)

const (
	sessionCookie   = "dooros_session"
	loginCSRFCookie = "dooros_login"
	flashCookie     = "dooros_flash"
	csrfField       = "csrf"
)

// csrfToken derives the form token of a session: HMAC-SHA256 keyed by the
// session token, which only the browser holding the HttpOnly cookie knows.
// It needs no server state, so several `dooros serve` instances agree.
func csrfToken(session string) string {
	m := hmac.New(sha256.New, []byte(session))
	m.Write([]byte("dooros console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func validCSRF(session, got string) bool {
	if got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(csrfToken(session)), []byte(got)) == 1
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (c *Console) secureCookies(r *http.Request) bool {
	return c.opts.SecureCookies || r.TLS != nil
}

func setCookie(w http.ResponseWriter, secure bool, name, value string, maxAge time.Duration) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge > 0:
		ck.MaxAge = int(maxAge.Seconds())
	case maxAge < 0:
		ck.MaxAge = -1
	}
	http.SetCookie(w, ck)
}

// setFlash keeps a one-time message for the page after a redirect.
func setFlash(w http.ResponseWriter, r *http.Request, secure bool, msg string) {
	if len(msg) > 600 {
		msg = msg[:600]
	}
	setCookie(w, secure, flashCookie, base64.RawURLEncoding.EncodeToString([]byte(msg)), time.Minute)
}

func takeFlash(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	setCookie(w, r.TLS != nil, flashCookie, "", -1)
	if err != nil {
		return ""
	}
	return string(b)
}
