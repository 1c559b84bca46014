package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

// inviteCSRFCookie carries the set-password form's double-submit token:
// there is no session yet, so as on the login page the form proves it came
// from this browser's own page.
const inviteCSRFCookie = "dooros_invite"

type inviteAcceptData struct {
	Token string
	Email string
	// Broken says why the link cannot be used (expired, used); the page
	// then shows no form.
	Broken  string
	Message string
	Field   string
	CSRF    string
}

// inviteAcceptForm is the page the manager invitation email links to
// (notify.AcceptInvitationPath): choose a password, twice. The token is
// checked at once, so an expired or used link says so before anything is
// typed.
func (c *Console) inviteAcceptForm(w http.ResponseWriter, r *http.Request) {
	d := inviteAcceptData{Token: r.URL.Query().Get("token")}
	inv, err := c.store.Invitation(r.Context(), d.Token)
	if err != nil {
		c.showInviteAccept(w, r, brokenStatus(err), c.brokenInvite(r, d, err))
		return
	}
	d.Email = inv.Email
	c.showInviteAccept(w, r, http.StatusOK, d)
}

func (c *Console) inviteAcceptSubmit(w http.ResponseWriter, r *http.Request) {
	ck, err := r.Cookie(inviteCSRFCookie)
	if err != nil || ck.Value == "" || ck.Value != r.PostFormValue(csrfField) {
		http.Error(w, "This form is out of date (CSRF check failed). Open the link from the invitation email again.", http.StatusForbidden)
		return
	}
	d := inviteAcceptData{Token: r.PostFormValue("token")}
	inv, err := c.store.Invitation(r.Context(), d.Token)
	if err != nil {
		c.showInviteAccept(w, r, brokenStatus(err), c.brokenInvite(r, d, err))
		return
	}
	d.Email = inv.Email
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_confirm") {
		d.Message, d.Field = "The two passwords are not the same; type the same password twice.", "password_confirm"
		c.showInviteAccept(w, r, http.StatusBadRequest, d)
		return
	}
	if err := c.store.AcceptInvitation(r.Context(), d.Token, password); err != nil {
		switch domain.ErrorCode(err) {
		case domain.EInvalid:
			d.Message, d.Field = domain.ErrorMessage(err), "password"
			c.showInviteAccept(w, r, http.StatusBadRequest, d)
		case domain.EUnauthenticated: // used in another tab meanwhile
			c.showInviteAccept(w, r, brokenStatus(err), c.brokenInvite(r, d, err))
		default:
			c.log.Error("console accept invitation", "err", err)
			http.Error(w, "Internal error.", http.StatusInternalServerError)
		}
		return
	}
	setCookie(w, c.secureCookies(r), inviteCSRFCookie, "", -1)
	setFlash(w, r, c.secureCookies(r), "Your password is set. Log in with "+inv.Email+" and your new password.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func brokenStatus(err error) int {
	if domain.ErrorCode(err) == domain.EUnauthenticated {
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

func (c *Console) brokenInvite(r *http.Request, d inviteAcceptData, err error) inviteAcceptData {
	if domain.ErrorCode(err) != domain.EUnauthenticated {
		c.log.Error("console invitation", "err", err)
	}
	d.Broken = domain.ErrorMessage(err)
	return d
}

func (c *Console) showInviteAccept(w http.ResponseWriter, r *http.Request, status int, d inviteAcceptData) {
	if d.Broken == "" {
		tok := randomToken()
		setCookie(w, c.secureCookies(r), inviteCSRFCookie, tok, 0)
		d.CSRF = tok
	}
	c.render(w, r, nil, status, "invite_accept", "Set your password", "", d)
}
