package console

import (
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// The first-run page: on a database without an organisation, anyone who
// opens the console is asked for the organisation and its first Portfolio
// Manager (like the install page of Gitea or Grafana). Once it exists the
// page is gone for good: GET sends to the login page and a late POST (a
// second browser that had the page open) is refused with nothing written.
// Two submitters racing are decided by the database (migration 00017).

type setupData struct {
	Org, FirstName, LastName, Email string
	Error                           *fieldErr
	CSRF                            string
}

var setupLabels = map[string]string{
	"org": "Organisation", "first_name": "First name", "last_name": "Last name",
	"email": "Email", "password": "Password", "password2": "Password again",
}

func (c *Console) setupForm(w http.ResponseWriter, r *http.Request) {
	done, err := c.store.Initialized(r.Context())
	if err != nil {
		c.log.Error("console setup", "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	if done {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	c.showSetup(w, r, http.StatusOK, setupData{})
}

func (c *Console) showSetup(w http.ResponseWriter, r *http.Request, status int, d setupData) {
	tok := randomToken()
	setCookie(w, c.secureCookies(r), loginCSRFCookie, tok, 0)
	d.CSRF = tok
	c.render(w, r, nil, status, "setup", "Set up DOOR OS", "", d)
}

func (c *Console) setupSubmit(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(loginCSRFCookie)
	if err != nil || ck.Value == "" || ck.Value != r.PostFormValue(csrfField) {
		http.Error(w, "This form is out of date (CSRF check failed). Reload the page and try again.", http.StatusForbidden)
		return
	}
	d := setupData{Org: strings.TrimSpace(r.PostFormValue("org")), FirstName: strings.TrimSpace(r.PostFormValue("first_name")),
		LastName: strings.TrimSpace(r.PostFormValue("last_name")), Email: strings.TrimSpace(r.PostFormValue("email"))}
	password := r.PostFormValue("password")
	ctx := r.Context()
	var m domain.Manager
	if password != r.PostFormValue("password2") {
		err = domain.FieldError("password2", "does not match the password")
	} else {
		m, err = c.store.Init(ctx, d.Org, domain.ManagerInput{Email: d.Email, Password: password, FirstName: d.FirstName, LastName: d.LastName})
	}
	if err != nil {
		if domain.ErrorCode(err) == domain.EConflict {
			if done, _ := c.store.Initialized(ctx); done {
				setFlash(w, r, c.secureCookies(r), "DOOR OS is already set up: log in.")
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
		}
		fe, err := labelled(err, setupLabels)
		if err != nil {
			c.log.Error("console setup", "err", err)
			http.Error(w, "Internal error.", http.StatusInternalServerError)
			return
		}
		d.Error = fe
		c.showSetup(w, r, http.StatusBadRequest, d)
		return
	}
	c.log.Info("first run: organisation and Portfolio Manager created", "org", d.Org, "manager", m.ID)
	token, exp, err := c.store.Login(ctx, m.Email, password, store.TokenKindSession)
	if err != nil {
		c.log.Error("console setup login", "err", err)
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	setCookie(w, c.secureCookies(r), loginCSRFCookie, "", -1)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: c.secureCookies(r), SameSite: http.SameSiteLaxMode, Expires: exp})
	setFlash(w, r, c.secureCookies(r), "Welcome to DOOR OS. Create your first property.")
	http.Redirect(w, r, "/properties/new", http.StatusSeeOther)
}
