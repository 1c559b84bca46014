package mail

import (
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

type linkView struct{ URL, Label string }

var (
	textTemplates = texttemplate.Must(texttemplate.New("").ParseFS(templateFS, "templates/*.txt.tmpl"))
	htmlTemplates = htmltemplate.Must(htmltemplate.New("").Funcs(htmltemplate.FuncMap{
		"link": func(u, label string) linkView { return linkView{u, label} },
	}).ParseFS(templateFS, "templates/*.html.tmpl"))
)

// Access modes of WelcomeData.Access (DESIGN §2: chosen at invite).
const (
	AccessApp      = "app"
	AccessDoorcode = "doorcode"
)

// Guest kinds of GuestInvitationData.Kind.
const (
	GuestApp               = "app"
	GuestDayCode           = "day_code"
	GuestFifteenMinuteCode = "fifteen_minute_code"
)

// Values of the X-DoorOS-Kind header set by the templates, for filtering in
// the console.
const (
	KindWelcome           = "welcome"
	KindLoginCode         = "login-code"
	KindManagerInvitation = "manager-invitation"
	KindGuestInvitation   = "guest-invitation"
	KindKeycard           = "keycard"
	KindSyncRequest       = "sync-request"
)

// KindHeader names the header carrying the Kind* values.
const KindHeader = "X-DoorOS-Kind"

// WelcomeData is the welcome email sent on every invite, at once, even when
// access starts later.
type WelcomeData struct {
	To        Address
	FirstName string
	Property  string
	// Location is the property's time zone; nil means UTC.
	Location *time.Location
	// Access is AccessApp or AccessDoorcode.
	Access string
	// AppURL is where to get or open the DOOR app; optional.
	AppURL string
	// Doorcode is required for AccessDoorcode; for AccessApp it is shown
	// when a key provides one.
	Doorcode string
	// Doors are the names of the doors the access opens.
	Doors []string
	// Keys, when set, list the access key by key (an app user's keys with
	// their doors and, where a key has its own, its window).
	Keys []KeyAccess
	// DoorcodeDoors are the doors where Doorcode works, when they differ
	// from Doors (an app user's code opens only the doorcode doors).
	DoorcodeDoors []string
	// ServerURL, when set, is the DOOR OS server the app logs in to; the
	// email shows the command-line app's login with it.
	ServerURL string
	// StartsAt after Now means access starts later; the email says when.
	StartsAt time.Time
	// ExpiresAt is when access ends; zero means no expiration.
	ExpiresAt time.Time
	// InvitedBy is the inviting manager's name, Organisation theirs; both
	// optional.
	InvitedBy    string
	Organisation string
	// Now is the time of writing; zero means time.Now().
	Now time.Time
}

// KeyAccess is one key in a welcome email.
type KeyAccess struct {
	Name  string
	Doors []string
	// StartsAt and ExpiresAt are the key's own window when it differs from
	// the person's; zero: as the person's access.
	StartsAt  time.Time
	ExpiresAt time.Time
}

// LoginCodeData is the email carrying a one-time app login code.
type LoginCodeData struct {
	To        Address
	FirstName string // optional
	Code      string
	// ValidFor is the code's lifetime, shown in whole minutes.
	ValidFor     time.Duration
	Organisation string // optional, for the footer
}

// ManagerInvitationData invites a manager added without a password.
type ManagerInvitationData struct {
	To           Address
	FirstName    string
	Organisation string
	// Role is shown as is, e.g. "Property Manager".
	Role      string
	InvitedBy string // optional
	// SetPasswordURL is the one-time link to set a password (http or https).
	SetPasswordURL string
	// AcceptAPIURL, when set, is the API endpoint that takes the token with
	// a password (POST {"token", "password"}), shown for scripts and as a
	// fallback; Token is then required.
	AcceptAPIURL string
	Token        string
	// LinkExpiresAt is when the link stops working; zero: not shown.
	LinkExpiresAt time.Time
	// Location formats LinkExpiresAt; nil means UTC.
	Location *time.Location
}

// GuestInvitationData is the email to a guest invited by a resident.
type GuestInvitationData struct {
	To           Address
	FirstName    string
	ResidentName string // the inviting resident
	Property     string
	Location     *time.Location // property time zone; nil means UTC
	// Kind is GuestApp, GuestDayCode or GuestFifteenMinuteCode.
	Kind   string
	AppURL string // GuestApp: optional
	// ServerURL (GuestApp, optional) is the DOOR OS server the app logs in
	// to; the email shows the command-line app's login with it.
	ServerURL string
	// Changed marks a code kind's new code replacing one sent earlier (the
	// key's codes changed); the email says to use this one instead.
	Changed bool
	// Doorcode is required for the code kinds.
	Doorcode string
	Doors    []string
	// GuestApp: the access window (ExpiresAt zero: no end).
	// GuestDayCode: the day of StartsAt in Location, midnight to midnight.
	// GuestFifteenMinuteCode: the window for the first use; both optional.
	StartsAt  time.Time
	ExpiresAt time.Time
	Now       time.Time // zero means time.Now()
}

// common is what the layout shows around every email.
type common struct {
	Subject string
	Place   string // header line, e.g. the property
	Footer  string
}

// Welcome writes the welcome email; the caller sets Message.ID.
func Welcome(d WelcomeData) (Message, error) {
	if err := need("welcome", d.To, map[string]string{"FirstName": d.FirstName, "Property": d.Property}); err != nil {
		return Message{}, err
	}
	switch d.Access {
	case AccessApp:
	case AccessDoorcode:
		if d.Doorcode == "" {
			return Message{}, permanent("%w: welcome: Doorcode is required for access %q", ErrInvalidMessage, d.Access)
		}
	default:
		return Message{}, permanent("%w: welcome: Access %q is not %q or %q", ErrInvalidMessage, d.Access, AccessApp, AccessDoorcode)
	}
	if err := checkURL("welcome", "AppURL", d.AppURL, false); err != nil {
		return Message{}, err
	}
	if err := checkURL("welcome", "ServerURL", d.ServerURL, false); err != nil {
		return Message{}, err
	}
	now := nowOr(d.Now)
	type keyView struct{ Name, Doors, Window string }
	var keys []keyView
	for _, k := range d.Keys {
		keys = append(keys, keyView{Name: k.Name, Doors: strings.Join(k.Doors, ", "),
			Window: keyWindow(formatTime(k.StartsAt, d.Location), formatTime(k.ExpiresAt, d.Location))})
	}
	v := struct {
		common
		FirstName, Property, Inviter, Email, AppURL, Doorcode, ServerURL string
		App, StartsLater                                                 bool
		Starts, Expires, TimeZone, DoorcodeDoors                         string
		Doors                                                            []string
		Keys                                                             []keyView
	}{
		common:    common{Place: d.Property, Footer: footer(d.Organisation)},
		FirstName: d.FirstName, Property: d.Property, Email: d.To.Email,
		Inviter: inviter(d.InvitedBy, d.Organisation),
		App:     d.Access == AccessApp, AppURL: d.AppURL, Doorcode: d.Doorcode,
		StartsLater: d.StartsAt.After(now),
		Starts:      formatTime(d.StartsAt, d.Location),
		Expires:     formatTime(d.ExpiresAt, d.Location),
		TimeZone:    zoneName(d.Location),
		Doors:       d.Doors,
		Keys:        keys, DoorcodeDoors: strings.Join(d.DoorcodeDoors, ", "), ServerURL: d.ServerURL,
	}
	return execute("welcome", KindWelcome, d.To, &v.common, &v)
}

// LoginCode writes the email with a one-time login code; the caller sets
// Message.ID.
func LoginCode(d LoginCodeData) (Message, error) {
	if err := need("login code", d.To, map[string]string{"Code": d.Code}); err != nil {
		return Message{}, err
	}
	if d.ValidFor < time.Minute {
		return Message{}, permanent("%w: login code: ValidFor %v is under a minute", ErrInvalidMessage, d.ValidFor)
	}
	v := struct {
		common
		FirstName, Code string
		Minutes         int
	}{
		common:    common{Footer: footer(d.Organisation)},
		FirstName: d.FirstName, Code: d.Code, Minutes: int(d.ValidFor / time.Minute),
	}
	return execute("login_code", KindLoginCode, d.To, &v.common, &v)
}

// KeycardData tells a resident that a keycard was activated or
// deactivated for them.
type KeycardData struct {
	To        Address
	FirstName string
	Property  string
	// Serial is the card's serial number, as printed or read from it.
	Serial string
	// Deactivated: the card no longer opens doors (some may still accept it
	// until their lock syncs).
	Deactivated bool
	// Secure: a card the locks challenge at every tap (not cloneable).
	Secure       bool
	Doors        []string // the doors the card opens (activation)
	At           time.Time
	Location     *time.Location // nil means UTC
	Organisation string         // optional, for the footer
}

// Keycard writes the keycard activation or deactivation email; the caller
// sets Message.ID.
func Keycard(d KeycardData) (Message, error) {
	if err := need("keycard", d.To, map[string]string{"FirstName": d.FirstName, "Property": d.Property, "Serial": d.Serial}); err != nil {
		return Message{}, err
	}
	loc := d.Location
	if loc == nil {
		loc = time.UTC
	}
	v := struct {
		common
		FirstName, Property, Serial, When string
		Deactivated, Secure               bool
		Doors                             []string
	}{
		common:    common{Place: d.Property, Footer: footer(d.Organisation)},
		FirstName: d.FirstName, Property: d.Property, Serial: d.Serial, Deactivated: d.Deactivated, Secure: d.Secure,
		Doors: d.Doors, When: d.At.In(loc).Format("2 January 2006, 15:04 MST"),
	}
	return execute("keycard", KindKeycard, d.To, &v.common, &v)
}

// SyncRequestData asks a resident to open the DOOR app near an offline
// door so that it passes the door's pending update (Door Sync).
type SyncRequestData struct {
	To           Address
	FirstName    string
	Property     string
	Door         string
	RequestedBy  string // the manager's name; optional
	Organisation string // optional, for the footer
}

// SyncRequest writes that email; the caller sets Message.ID.
func SyncRequest(d SyncRequestData) (Message, error) {
	if err := need("sync request", d.To, map[string]string{"FirstName": d.FirstName, "Property": d.Property, "Door": d.Door}); err != nil {
		return Message{}, err
	}
	by := d.RequestedBy
	if by == "" {
		by = "Your property manager"
	}
	v := struct {
		common
		FirstName, Property, Door, RequestedBy string
	}{
		common:    common{Place: d.Property, Footer: footer(d.Organisation)},
		FirstName: d.FirstName, Property: d.Property, Door: d.Door, RequestedBy: by,
	}
	return execute("sync_request", KindSyncRequest, d.To, &v.common, &v)
}

// ManagerInvitation writes the invitation for a manager added without a
// password; the caller sets Message.ID.
func ManagerInvitation(d ManagerInvitationData) (Message, error) {
	if err := need("manager invitation", d.To, map[string]string{
		"FirstName": d.FirstName, "Organisation": d.Organisation, "Role": d.Role, "SetPasswordURL": d.SetPasswordURL,
	}); err != nil {
		return Message{}, err
	}
	if err := checkURL("manager invitation", "SetPasswordURL", d.SetPasswordURL, true); err != nil {
		return Message{}, err
	}
	if err := checkURL("manager invitation", "AcceptAPIURL", d.AcceptAPIURL, false); err != nil {
		return Message{}, err
	}
	if d.AcceptAPIURL != "" && d.Token == "" {
		return Message{}, permanent("%w: manager invitation: Token is required with AcceptAPIURL", ErrInvalidMessage)
	}
	v := struct {
		common
		FirstName, Organisation, Role, Inviter, InvitedBy, URL, Expires string
		APIURL, Token                                                   string
	}{
		common:    common{Place: d.Organisation, Footer: footer(d.Organisation)},
		FirstName: d.FirstName, Organisation: d.Organisation, Role: d.Role,
		Inviter: inviter(d.InvitedBy, ""), InvitedBy: d.InvitedBy,
		URL: d.SetPasswordURL, Expires: formatTime(d.LinkExpiresAt, d.Location),
		APIURL: d.AcceptAPIURL, Token: d.Token,
	}
	return execute("manager_invitation", KindManagerInvitation, d.To, &v.common, &v)
}

// GuestInvitation writes the email to a guest invited by a resident; the
// caller sets Message.ID.
func GuestInvitation(d GuestInvitationData) (Message, error) {
	if err := need("guest invitation", d.To, map[string]string{
		"FirstName": d.FirstName, "ResidentName": d.ResidentName, "Property": d.Property,
	}); err != nil {
		return Message{}, err
	}
	if err := checkURL("guest invitation", "AppURL", d.AppURL, false); err != nil {
		return Message{}, err
	}
	if err := checkURL("guest invitation", "ServerURL", d.ServerURL, false); err != nil {
		return Message{}, err
	}
	if d.Changed && d.Kind == GuestApp {
		return Message{}, permanent("%w: guest invitation: Changed is for the code kinds", ErrInvalidMessage)
	}
	now := nowOr(d.Now)
	starts, expires := formatTime(d.StartsAt, d.Location), formatTime(d.ExpiresAt, d.Location)
	var window, day string
	switch d.Kind {
	case GuestApp:
		switch {
		case d.StartsAt.After(now) && expires != "":
			window = "from " + starts + " until " + expires
		case d.StartsAt.After(now):
			window = "from " + starts + ", with no end date"
		case expires != "":
			window = "from now until " + expires
		default:
			window = "from now, with no end date"
		}
	case GuestDayCode, GuestFifteenMinuteCode:
		if d.Doorcode == "" {
			return Message{}, permanent("%w: guest invitation: Doorcode is required for kind %q", ErrInvalidMessage, d.Kind)
		}
		if d.Kind == GuestDayCode {
			if d.StartsAt.IsZero() {
				return Message{}, permanent("%w: guest invitation: StartsAt (the day) is required for kind %q", ErrInvalidMessage, d.Kind)
			}
			day = d.StartsAt.In(location(d.Location)).Format("Monday 2 January 2006")
			break
		}
		switch {
		case d.StartsAt.After(now) && expires != "":
			window = "between " + starts + " and " + expires
		case d.StartsAt.After(now):
			window = "from " + starts
		case expires != "":
			window = "before " + expires
		}
	default:
		return Message{}, permanent("%w: guest invitation: Kind %q is not %q, %q or %q",
			ErrInvalidMessage, d.Kind, GuestApp, GuestDayCode, GuestFifteenMinuteCode)
	}
	v := struct {
		common
		FirstName, ResidentName, Property, Email, AppURL, Doorcode, ServerURL string
		App, DayCode, Changed                                                 bool
		Window, Day, TimeZone                                                 string
		Doors                                                                 []string
	}{
		common:    common{Place: d.Property, Footer: footer("")},
		FirstName: d.FirstName, ResidentName: d.ResidentName, Property: d.Property, Email: d.To.Email,
		AppURL: d.AppURL, Doorcode: d.Doorcode,
		App: d.Kind == GuestApp, DayCode: d.Kind == GuestDayCode, Changed: d.Changed, ServerURL: d.ServerURL,
		Window: window, Day: day, TimeZone: zoneName(d.Location), Doors: d.Doors,
	}
	return execute("guest_invitation", KindGuestInvitation, d.To, &v.common, &v)
}

// execute renders the subject, text and HTML of one email. c points into
// view so the subject, once rendered, also titles the HTML page.
func execute(name, kind string, to Address, c *common, view any) (Message, error) {
	var subject, text, html strings.Builder
	if err := textTemplates.ExecuteTemplate(&subject, name+".subject", view); err != nil {
		return Message{}, fmt.Errorf("mail: %s subject: %w", name, err)
	}
	c.Subject = strings.Join(strings.Fields(subject.String()), " ")
	if err := textTemplates.ExecuteTemplate(&text, name+".text", view); err != nil {
		return Message{}, fmt.Errorf("mail: %s text: %w", name, err)
	}
	if err := htmlTemplates.ExecuteTemplate(&html, name+".html", view); err != nil {
		return Message{}, fmt.Errorf("mail: %s html: %w", name, err)
	}
	return Message{
		To:      to,
		Subject: c.Subject,
		Text:    strings.TrimLeft(text.String(), "\n"),
		HTML:    html.String(),
		Headers: map[string]string{KindHeader: kind},
	}, nil
}

func need(what string, to Address, fields map[string]string) error {
	if err := checkAddress(to); err != nil {
		return permanent("%w: %s: To %q: %v", ErrInvalidAddress, what, to.Email, err)
	}
	for name, v := range fields {
		if strings.TrimSpace(v) == "" {
			return permanent("%w: %s: %s is required", ErrInvalidMessage, what, name)
		}
	}
	return nil
}

// checkURL accepts absolute http(s) URLs: anything else in an email link is
// a bug or an attack.
func checkURL(what, field, raw string, required bool) error {
	if raw == "" && !required {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return permanent("%w: %s: %s %q is not an http(s) URL", ErrInvalidMessage, what, field, raw)
	}
	return nil
}

func inviter(name, organisation string) string {
	switch {
	case name != "" && organisation != "":
		return name + " of " + organisation
	case name != "":
		return name
	case organisation != "":
		return organisation
	}
	return "Your property manager"
}

func footer(organisation string) string {
	if organisation != "" {
		return "Sent by DOOR OS on behalf of " + organisation + "."
	}
	return "Sent by DOOR OS."
}

// keyWindow words a key's own window; "" when it has none.
func keyWindow(starts, expires string) string {
	switch {
	case starts != "" && expires != "":
		return "from " + starts + " until " + expires
	case starts != "":
		return "from " + starts
	case expires != "":
		return "until " + expires
	}
	return ""
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func location(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

func zoneName(loc *time.Location) string { return location(loc).String() }

// formatTime writes t in the property's zone, with the zone's abbreviation
// so "14:00" cannot be read in the reader's own zone; "" for zero.
func formatTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(location(loc)).Format("Monday 2 January 2006 at 15:04 MST")
}
