package domain

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on free text, so a form or CSV cannot store megabytes in a name.
const (
	MaxNameLen  = 100
	MaxEmailLen = 254
	MaxPhoneLen = 32

	MinDoorcodeLength     = 4
	MaxDoorcodeLength     = 9
	DefaultDoorcodeLength = 7

	DefaultCredentialLifetimeHours = 24
	MaxCredentialLifetimeHours     = 24 * 7

	// MaxGuestLeadTime is how far ahead a guest's access may start.
	MaxGuestLeadTime = 366 * 24 * time.Hour
)

func checkName(field, v string, required bool) error {
	if strings.TrimSpace(v) == "" {
		if required {
			return FieldError(field, "is required")
		}
		return nil
	}
	if utf8.RuneCountInString(v) > MaxNameLen {
		return FieldError(field, "must be at most %d characters", MaxNameLen)
	}
	if strings.ContainsAny(v, "\x00\r\n") {
		return FieldError(field, "must be a single line")
	}
	return nil
}

// NormalizeEmail lower-cases and trims an email and checks it is one plain
// address; email is the identity used across CSV, PMS and login.
func NormalizeEmail(field, v string) (string, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		return "", FieldError(field, "is required")
	}
	if len(v) > MaxEmailLen {
		return "", FieldError(field, "must be at most %d characters", MaxEmailLen)
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || !strings.Contains(v[strings.LastIndex(v, "@")+1:], ".") {
		return "", FieldError(field, "%q is not a valid email address", v)
	}
	return v, nil
}

func checkPhone(field, v string) error {
	if len(v) > MaxPhoneLen {
		return FieldError(field, "must be at most %d characters", MaxPhoneLen)
	}
	for _, r := range v {
		if !strings.ContainsRune("0123456789+-() .", r) {
			return FieldError(field, "may contain only digits, spaces and + - ( ) .")
		}
	}
	return nil
}

// PropertyInput creates or changes a property.
type PropertyInput struct {
	Name                    string `json:"name"`
	TimeZone                string `json:"time_zone"`
	DoorcodeLength          int    `json:"doorcode_length"`
	CredentialLifetimeHours int    `json:"credential_lifetime_hours"`
}

// Normalize applies defaults and validates.
func (in *PropertyInput) Normalize() error {
	in.Name = strings.TrimSpace(in.Name)
	if err := checkName("name", in.Name, true); err != nil {
		return err
	}
	if in.TimeZone == "" {
		return FieldError("time_zone", "is required (an IANA zone such as America/New_York)")
	}
	if _, err := time.LoadLocation(in.TimeZone); err != nil || in.TimeZone == "Local" {
		return FieldError("time_zone", "%q is not an IANA time zone", in.TimeZone)
	}
	if in.DoorcodeLength == 0 {
		in.DoorcodeLength = DefaultDoorcodeLength
	}
	if in.DoorcodeLength < MinDoorcodeLength || in.DoorcodeLength > MaxDoorcodeLength {
		return FieldError("doorcode_length", "must be between %d and %d", MinDoorcodeLength, MaxDoorcodeLength)
	}
	if in.CredentialLifetimeHours == 0 {
		in.CredentialLifetimeHours = DefaultCredentialLifetimeHours
	}
	if in.CredentialLifetimeHours < 1 || in.CredentialLifetimeHours > MaxCredentialLifetimeHours {
		return FieldError("credential_lifetime_hours", "must be between 1 and %d", MaxCredentialLifetimeHours)
	}
	return nil
}

// DoorInput creates a door.
type DoorInput struct {
	Name         string       `json:"name"`
	Type         DoorType     `json:"type"`
	Connectivity Connectivity `json:"connectivity"`
	UnitID       string       `json:"unit_id"`
}

func (in *DoorInput) Normalize() error {
	in.Name = strings.TrimSpace(in.Name)
	if err := checkName("name", in.Name, true); err != nil {
		return err
	}
	switch in.Type {
	case DoorEntrance, DoorResidence, DoorService, DoorCommunal:
	case "":
		return FieldError("type", "is required (entrance, residence, service or communal)")
	default:
		return FieldError("type", "%q is not one of entrance, residence, service, communal", in.Type)
	}
	switch in.Connectivity {
	case Online, Offline:
	case "":
		return FieldError("connectivity", "is required (online or offline)")
	default:
		return FieldError("connectivity", "%q is not one of online, offline", in.Connectivity)
	}
	return nil
}

// UnitInput creates a unit.
type UnitInput struct {
	Name string `json:"name"`
}

func (in *UnitInput) Normalize() error {
	in.Name = strings.TrimSpace(in.Name)
	return checkName("name", in.Name, true)
}

// KeyInput creates or replaces a key.
type KeyInput struct {
	Name  string    `json:"name"`
	Doors []KeyDoor `json:"doors"`
}

func (in *KeyInput) Normalize() error {
	in.Name = strings.TrimSpace(in.Name)
	if err := checkName("name", in.Name, true); err != nil {
		return err
	}
	if len(in.Doors) == 0 {
		return FieldError("doors", "a key needs at least one door")
	}
	if len(in.Doors) > 500 {
		return FieldError("doors", "at most 500 doors per key")
	}
	seen := map[string]bool{}
	for i, d := range in.Doors {
		if d.DoorID == "" {
			return FieldError("doors", "door %d has no door_id", i)
		}
		if seen[d.DoorID] {
			return FieldError("doors", "door %s is listed twice", d.DoorID)
		}
		seen[d.DoorID] = true
		if err := d.Schedule.Validate("doors.schedule"); err != nil {
			return err
		}
	}
	return nil
}

// GrantInput is one key in an invite.
type GrantInput struct {
	KeyID    string `json:"key_id"`
	MayShare bool   `json:"may_share"`
}

// InviteInput invites a person (or, with InvitedBy, a guest of a person).
type InviteInput struct {
	FirstName string       `json:"first_name"`
	LastName  string       `json:"last_name"`
	Email     string       `json:"email"`
	Phone     string       `json:"phone"`
	Access    AccessMode   `json:"access"`
	Resident  bool         `json:"resident"`
	UnitID    string       `json:"unit_id"`
	Keys      []GrantInput `json:"keys"`
	StartsAt  *time.Time   `json:"starts_at"`
	ExpiresAt *time.Time   `json:"expires_at"`
	InvitedBy string       `json:"invited_by"`
}

// Normalize validates the invite on its own (what needs no stored data) and
// fills the start time with now when absent.
func (in *InviteInput) Normalize(now time.Time) error {
	in.FirstName, in.LastName, in.Phone = strings.TrimSpace(in.FirstName), strings.TrimSpace(in.LastName), strings.TrimSpace(in.Phone)
	if err := checkName("first_name", in.FirstName, true); err != nil {
		return err
	}
	if err := checkName("last_name", in.LastName, true); err != nil {
		return err
	}
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	if err := checkPhone("phone", in.Phone); err != nil {
		return err
	}
	switch in.Access {
	case AccessApp, AccessDoorcode:
	case "":
		return FieldError("access", "is required (app or doorcode)")
	default:
		return FieldError("access", "%q is not one of app, doorcode", in.Access)
	}
	startNote := ""
	if in.StartsAt == nil {
		t := now
		in.StartsAt = &t
		startNote = "now, as starts_at was not given"
	}
	// With starts_at sent, an invite may record a window that is already
	// over (a past tenant imported with their history); without it, the
	// access starts now and its end must be in the future.
	check := CheckExpiry
	if startNote == "" {
		check = checkEndAfterStart
	}
	if err := check(*in.StartsAt, startNote, in.ExpiresAt, now); err != nil {
		return err
	}
	if len(in.Keys) > 200 {
		return FieldError("keys", "at most 200 keys per person")
	}
	seen := map[string]bool{}
	for _, k := range in.Keys {
		if k.KeyID == "" {
			return FieldError("keys", "every key needs a key_id")
		}
		if seen[k.KeyID] {
			return FieldError("keys", "key %s is listed twice", k.KeyID)
		}
		seen[k.KeyID] = true
	}
	return nil
}

// PersonPatch changes contact details and the access window. Nil fields stay
// as they are; ExpiresAtSet with a nil ExpiresAt removes the expiration.
type PersonPatch struct {
	FirstName    *string
	LastName     *string
	Email        *string
	Phone        *string
	Resident     *bool
	UnitID       *string
	StartsAt     *time.Time
	ExpiresAtSet bool
	ExpiresAt    *time.Time
}

// Apply validates the patch against p at now and returns the changed
// person and whether the change narrows access (a revocation at the
// person's doors). A patch that moves the window is held to CheckExpiry.
func (pp PersonPatch) Apply(p Person, now time.Time) (Person, bool, error) {
	out := p
	if pp.FirstName != nil {
		v := strings.TrimSpace(*pp.FirstName)
		if err := checkName("first_name", v, true); err != nil {
			return p, false, err
		}
		out.FirstName = v
	}
	if pp.LastName != nil {
		v := strings.TrimSpace(*pp.LastName)
		if err := checkName("last_name", v, true); err != nil {
			return p, false, err
		}
		out.LastName = v
	}
	if pp.Email != nil {
		v, err := NormalizeEmail("email", *pp.Email)
		if err != nil {
			return p, false, err
		}
		out.Email = v
	}
	if pp.Phone != nil {
		v := strings.TrimSpace(*pp.Phone)
		if err := checkPhone("phone", v); err != nil {
			return p, false, err
		}
		out.Phone = v
	}
	if pp.Resident != nil {
		out.Resident = *pp.Resident
	}
	if pp.UnitID != nil {
		out.UnitID = *pp.UnitID
	}
	if pp.StartsAt != nil {
		out.StartsAt = *pp.StartsAt
	}
	if pp.ExpiresAtSet {
		out.ExpiresAt = pp.ExpiresAt
	}
	if pp.StartsAt != nil || pp.ExpiresAtSet {
		note := ""
		if pp.StartsAt == nil {
			note = "the person's starts_at"
		}
		if err := CheckExpiry(out.StartsAt, note, out.ExpiresAt, now); err != nil {
			return p, false, err
		}
	} else if out.ExpiresAt != nil && !out.ExpiresAt.After(out.StartsAt) {
		return p, false, FieldError("expires_at", "must be after starts_at")
	}
	return out, narrows(p.Window(), out.Window()), nil
}

// narrows reports whether next takes away any time that prev allowed.
func narrows(prev, next Window) bool {
	if next.Start.After(prev.Start) {
		return true
	}
	if next.End != nil && (prev.End == nil || next.End.Before(*prev.End)) {
		return true
	}
	return false
}

// GrantChange is the body of "give one key".
type GrantChange struct {
	MayShare  bool       `json:"may_share"`
	StartsAt  *time.Time `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// Validate checks what needs no person: an expiry after the start sent.
func (g GrantChange) Validate() error {
	if g.StartsAt != nil && g.ExpiresAt != nil && !g.ExpiresAt.After(*g.StartsAt) {
		return FieldError("expires_at", "must be after starts_at")
	}
	return nil
}

// Check validates giving the key to p at now: the grant's expiry must end
// a non-empty window — after its effective start (the later of starts_at
// and the person's own start) — and lie in the future (CheckExpiry).
func (g GrantChange) Check(p Person, now time.Time) error {
	if err := g.Validate(); err != nil {
		return err
	}
	start, note := p.StartsAt, "the person's starts_at"
	if g.StartsAt != nil && !g.StartsAt.Before(p.StartsAt) {
		start, note = *g.StartsAt, ""
	}
	return CheckExpiry(start, note, g.ExpiresAt, now)
}

// CheckExpiry is the one rule for the end of an access window, whether it
// is a person's (invite, edit) or one grant's (give a key): it must come
// after the start of access, and not be over already — an expiry in the
// past would hand out access that never works. startNote says where start
// came from when the request did not send starts_at ("" when it did).
func CheckExpiry(start time.Time, startNote string, end *time.Time, now time.Time) error {
	if err := checkEndAfterStart(start, startNote, end, now); err != nil || end == nil {
		return err
	}
	if !end.After(now) {
		return FieldError("expires_at", "must be in the future (%s has passed)", end.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkEndAfterStart is the first half of CheckExpiry: a non-empty window.
func checkEndAfterStart(start time.Time, startNote string, end *time.Time, now time.Time) error {
	if end == nil {
		return nil
	}
	if !end.After(start) {
		switch {
		case startNote == "":
			return FieldError("expires_at", "must be after starts_at")
		case !start.After(now):
			return FieldError("expires_at", "must be in the future")
		default:
			return FieldError("expires_at", "must be after the start of access, %s (%s)", start.UTC().Format(time.RFC3339), startNote)
		}
	}
	return nil
}
