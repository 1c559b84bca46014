package notify

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
)

// The emails themselves are package mail's templates (text and HTML parts,
// escaping, times in the property's zone); this file only maps store data
// onto them.

// AcceptInvitationPath is the console page where an invited manager sets a
// password; the email links to it with ?token=.
const AcceptInvitationPath = "/invite/accept"

// APIDocsPath is the API's description, linked instead while no console
// page takes invitations (the email then relies on its API fallback).
const APIDocsPath = "/api/v1/openapi.json"

// InvitationPage picks the page the manager invitation links to: the
// console's set-password page when mux serves it, else the API description.
func InvitationPage(mux *http.ServeMux) string {
	r, err := http.NewRequest(http.MethodGet, AcceptInvitationPath, nil)
	if err != nil {
		return APIDocsPath
	}
	if _, pattern := mux.Handler(r); pattern == "" || pattern == "/" {
		return APIDocsPath
	}
	return AcceptInvitationPath
}

// AcceptInvitationAPIPath is the API endpoint taking the same token with a
// password, named in the email for scripts and as a fallback.
const AcceptInvitationAPIPath = "/api/v1/auth/accept-invitation"

func roleName(r domain.Role) string {
	switch r {
	case domain.RolePortfolioManager:
		return "Portfolio Manager"
	case domain.RolePropertyManager:
		return "Property Manager"
	}
	return string(r)
}

func (w *Worker) managerInvitation(d store.ManagerMail, token, invitedBy string) (mail.Message, error) {
	m := d.Manager
	return mail.ManagerInvitation(mail.ManagerInvitationData{
		To:        mail.Address{Name: m.FirstName + " " + m.LastName, Email: m.Email},
		FirstName: m.FirstName, Organisation: d.Organisation, Role: roleName(m.Role), InvitedBy: invitedBy,
		SetPasswordURL: w.link(w.invitationPage() + "?token=" + url.QueryEscape(token)),
		AcceptAPIURL:   w.link(AcceptInvitationAPIPath), Token: token,
		LinkExpiresAt: d.LinkExpiresAt,
	})
}

func loginCode(d store.MailData, email, code string) (mail.Message, error) {
	return mail.LoginCode(mail.LoginCodeData{To: mail.Address{Name: d.Person.Name(), Email: email}, FirstName: d.Person.FirstName,
		Code: code, ValidFor: store.LoginCodeTTL, Organisation: d.Organisation})
}

func to(p domain.Person) mail.Address { return mail.Address{Name: p.Name(), Email: p.Email} }

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// allDoors lists the door names of every key once, in key order.
func allDoors(keys []store.MailKey) []string {
	var out []string
	for _, k := range keys {
		for _, d := range k.Doors {
			if !slices.Contains(out, d) {
				out = append(out, d)
			}
		}
	}
	return out
}

// welcome is the email of an invite: a guest's invitation when a resident
// invited them, else the welcome email. skip reports that there is nothing
// to tell yet (a doorcode-only person without a code: no key provides one).
func (w *Worker) welcome(d store.MailData, invitedBy string) (msg mail.Message, skip bool, err error) {
	p, loc := d.Person, d.Property.Location()
	if d.Host != nil {
		msg, err = mail.GuestInvitation(mail.GuestInvitationData{To: to(p), FirstName: p.FirstName, ResidentName: d.Host.Name(),
			Property: d.Property.Name, Location: loc, Kind: mail.GuestApp, ServerURL: w.publicURL(), AppURL: w.appURL(p.Email), Doors: allDoors(d.Keys),
			StartsAt: p.StartsAt, ExpiresAt: orZero(p.ExpiresAt), Now: w.Store.Now()})
		return msg, false, err
	}
	wd := mail.WelcomeData{To: to(p), FirstName: p.FirstName, Property: d.Property.Name, Location: loc,
		Doorcode: d.Doorcode, StartsAt: p.StartsAt, ExpiresAt: orZero(p.ExpiresAt), InvitedBy: invitedBy,
		Organisation: d.Organisation, Now: w.Store.Now()}
	if p.Access == domain.AccessDoorcode {
		if d.Doorcode == "" {
			return msg, true, nil
		}
		wd.Access, wd.Doors = mail.AccessDoorcode, d.DoorcodeDoors
	} else {
		wd.Access, wd.ServerURL, wd.DoorcodeDoors = mail.AccessApp, w.publicURL(), d.DoorcodeDoors
		wd.AppURL = w.appURL(p.Email)
		for _, k := range d.Keys {
			ka := mail.KeyAccess{Name: k.Name, Doors: k.Doors}
			// A key's own window is shown only where it differs from the person's.
			if !k.StartsAt.Equal(p.StartsAt) {
				ka.StartsAt = k.StartsAt
			}
			if k.ExpiresAt != nil && (p.ExpiresAt == nil || !k.ExpiresAt.Equal(*p.ExpiresAt)) {
				ka.ExpiresAt = *k.ExpiresAt
			}
			wd.Keys = append(wd.Keys, ka)
		}
	}
	msg, err = mail.Welcome(wd)
	return msg, false, err
}

// guestCode is a code guest's email: their code, its day and doors; changed
// marks a new code replacing an earlier one.
func guestCode(d store.MailData, invitedBy string, changed bool, now time.Time) (mail.Message, error) {
	g, p := d.GuestCode, d.Person
	host := invitedBy
	if d.Host != nil {
		host = d.Host.Name()
	}
	gd := mail.GuestInvitationData{To: to(p), FirstName: p.FirstName, ResidentName: host, Property: d.Property.Name,
		Location: d.Property.Location(), Kind: mail.GuestDayCode, Doorcode: g.Code, Doors: g.Doors, StartsAt: g.ValidFrom,
		Changed: changed, Now: now}
	if g.Kind == domain.GuestQuarterHourCode {
		gd.Kind, gd.ExpiresAt = mail.GuestFifteenMinuteCode, g.ValidTo
	}
	return mail.GuestInvitation(gd)
}

func (w *Worker) publicURL() string {
	if w.PublicURL == "" {
		return DefaultPublicURL
	}
	return strings.TrimRight(w.PublicURL, "/")
}

func (w *Worker) invitationPage() string {
	if w.InvitationPage == "" {
		return AcceptInvitationPath
	}
	return w.InvitationPage
}

func (w *Worker) link(path string) string { return w.publicURL() + path }

// appURL opens the resident web app's sign-in (package residentweb) with
// the email filled in.
func (w *Worker) appURL(email string) string {
	return w.link("/app/?email=" + url.QueryEscape(email))
}

// keycard is the email of a keycard activated or deactivated for a person;
// p is the outbox payload (serial, deactivated, secure, at).
func keycard(d store.MailData, p map[string]string) (mail.Message, error) {
	at, err := time.Parse(time.RFC3339, p["at"])
	if err != nil {
		return mail.Message{}, permanent("keycard email: bad time %q", p["at"])
	}
	kd := mail.KeycardData{To: to(d.Person), FirstName: d.Person.FirstName, Property: d.Property.Name, Serial: p["serial"],
		Deactivated: p["deactivated"] == "true", Secure: p["secure"] == "true", At: at, Location: d.Property.Location(),
		Organisation: d.Organisation}
	if !kd.Deactivated {
		kd.Doors = allDoors(d.Keys)
	}
	return mail.Keycard(kd)
}
