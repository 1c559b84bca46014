package store

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// Resident login (the DOOR App). A login is an email plus a device key. The
// email identifies a person per property, so one login covers every person
// record with that email and app access, at every property of the
// organisation: the app shows all of them, and each record gets its own
// device row (a manager removing the phone at one property leaves the
// others). Resident tokens live in their own table and never authenticate
// manager endpoints, nor manager tokens resident ones.
const (
	LoginCodeTTL       = 10 * time.Minute
	LoginCodeDigits    = 6
	MaxLoginAttempts   = 5 // wrong codes before the code is burnt
	MaxLoginCodes      = 5 // codes per email per LoginCodeWindow
	LoginCodeWindow    = time.Hour
	ResidentTokenTTL   = 30 * 24 * time.Hour
	MaxDevicesPerLogin = 20
)

// Outbox topics of the resident flow.
const (
	TopicLoginCode = "email.login_code"
	TopicGuestCode = "email.guest_code"
)

// Activity kinds of the resident flow.
const (
	EventLoginRefused      = "resident.login_refused"
	EventDeviceEnrolled    = "device.enrolled"
	EventDeviceRemoved     = "device.removed"
	EventCredentialIssued  = "credential.issued"
	EventCredentialRefused = "credential.refused"
	EventGuestRevoked      = "guest.revoked"
	EventEmailFailed       = "email.failed"
)

// Sealer encrypts secrets at rest; *keyring.Keyring implements it. aad binds
// a sealed value to where it is stored.
type Sealer interface {
	Seal(plain []byte, aad string) (string, error)
	Open(sealed, aad string) ([]byte, error)
}

// Resident is an authenticated app user: the login's email and device key,
// and every person record the device is enrolled for (deleted, revoked and
// expired ones included, so their requests can be refused and logged).
type Resident struct {
	Email     string
	DeviceKey []byte
	People    []ResidentPerson
}

// ResidentPerson is one person record of a login and the device row that
// enrolls the calling phone for it.
type ResidentPerson struct {
	domain.Person
	DeviceID string
}

// Person returns the login's record at a property.
func (r Resident) Person(propertyID string) (ResidentPerson, bool) {
	for _, p := range r.People {
		if p.PropertyID == propertyID {
			return p, true
		}
	}
	return ResidentPerson{}, false
}

// residentActor records a resident's own actions in Activity under their
// name, in the organisation of their property.
func residentActor(ctx context.Context, db rowQuerier, p domain.Person) (domain.Actor, error) {
	org, err := orgOf(ctx, db, p.PropertyID)
	if err != nil {
		return domain.Actor{}, err
	}
	a := domain.System(org, p.Name()+" (resident)")
	a.ManagerID = p.ID
	return a, nil
}

// residentActor is the package's residentActor inside a transaction.
func (t *Tx) residentActor(ctx context.Context, p domain.Person) (domain.Actor, error) {
	return residentActor(ctx, t, p)
}

func residentEvent(p domain.Person, kind, detail string) domain.Event {
	return domain.Event{PropertyID: p.PropertyID, Kind: kind, ActorID: p.ID, Actor: p.Name() + " (resident)",
		PersonID: p.ID, PersonName: p.Name(), Detail: detail}
}

func loginCodeHash(email, code string) string { return domain.HashToken("login:" + email + ":" + code) }

func newLoginCode() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// LoginCodeAAD binds a sealed login code in the outbox to its row.
func LoginCodeAAD(outboxEmail string) string { return "outbox/login_code/" + outboxEmail }

// StartResidentLogin emails a one-time code to email when it belongs to
// anyone with app access. It answers the same way whether or not the email
// exists; only an invalid address or too many codes for this email (counted
// for unknown emails too) are errors. The code is stored hashed; the
// outbox row carries it sealed under the master key.
func (s *Store) StartResidentLogin(ctx context.Context, sealer Sealer, email string) error {
	email, err := domain.NormalizeEmail("email", email)
	if err != nil {
		return err
	}
	code, err := newLoginCode()
	if err != nil {
		return err
	}
	sealed, err := sealer.Seal([]byte(code), LoginCodeAAD(email))
	if err != nil {
		return err
	}
	return s.inTx(ctx, "resident_login_start", func(t *Tx) error {
		now := s.Now()
		var windowStart int64
		var sends int
		err := t.queryRow(ctx, `SELECT window_start, sends FROM resident_login_codes WHERE email = ?`+t.forUpdate(), email).Scan(&windowStart, &sends)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if errors.Is(err, sql.ErrNoRows) || !now.Before(fromMicros(windowStart).Add(LoginCodeWindow)) {
			windowStart, sends = micros(now), 0
		}
		if sends >= MaxLoginCodes {
			return domain.Errorf(domain.ERateLimited, "too many login codes for this email; wait up to an hour and try again")
		}
		if _, err := t.exec(ctx, `INSERT INTO resident_login_codes (email, code_hash, created_at, expires_at, attempts, used_at, window_start, sends)
			VALUES (?,?,?,?,0,NULL,?,?)
			ON CONFLICT (email) DO UPDATE SET code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,
				attempts = 0, used_at = NULL, window_start = excluded.window_start, sends = excluded.sends`,
			email, loginCodeHash(email, code), micros(now), micros(now.Add(LoginCodeTTL)), windowStart, sends+1); err != nil {
			return err
		}
		var personID string
		err = t.queryRow(ctx, `SELECT id FROM people WHERE email = ? AND access = ? AND deleted_at IS NULL ORDER BY created_at, id LIMIT 1`,
			email, domain.AccessApp).Scan(&personID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nobody to mail; the answer is the same
		}
		if err != nil {
			return err
		}
		return t.enqueue(ctx, TopicLoginCode, personID, map[string]string{"email": email, "person_id": personID, "code_sealed": sealed}, now)
	})
}

// ResidentLoginInput finishes a login and enrolls the phone.
type ResidentLoginInput struct {
	Email           string `json:"email"`
	Code            string `json:"code"`
	DevicePublicKey string `json:"device_public_key"`
	DeviceName      string `json:"device_name"`
}

// ResidentSession is a resident token and the person records it covers.
type ResidentSession struct {
	Token      string             `json:"token"`
	ExpiresAt  time.Time          `json:"expires_at"`
	Properties []ResidentProperty `json:"properties"`
}

// ResidentProperty is one person record a login covers.
type ResidentProperty struct {
	PropertyID   string        `json:"property_id"`
	PropertyName string        `json:"property_name"`
	TimeZone     string        `json:"time_zone"`
	PersonID     string        `json:"person_id"`
	Status       domain.Status `json:"status"`
	DeviceID     string        `json:"device_id,omitempty"`
}

// ParseDeviceKey decodes a base64 device public key: a 32-byte Ed25519
// key, or an ECDSA P-256 key as the 65-byte uncompressed SEC1 point
// (WebCrypto "raw") or SPKI DER (WebCrypto "spki"). A P-256 key is returned
// as the SEC1 point, the form credentials carry (lockproto/devicekey.go);
// a point not on the curve is refused.
func ParseDeviceKey(field, v string) ([]byte, error) {
	if v == "" {
		return nil, domain.FieldError(field, "is required (base64 Ed25519 or P-256 public key of the phone)")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b, err := enc.DecodeString(v)
		if err != nil {
			continue
		}
		switch {
		case len(b) == lockproto.Ed25519DeviceKeySize:
			return b, nil
		case len(b) == lockproto.P256DeviceKeySize:
			if lockproto.ValidDeviceKey(b) != nil {
				return nil, domain.FieldError(field, "is not a valid P-256 public key (point not on the curve)")
			}
			return b, nil
		case len(b) > lockproto.P256DeviceKeySize && b[0] == 0x30:
			pub, err := x509.ParsePKIXPublicKey(b)
			if err != nil {
				return nil, domain.FieldError(field, "is not a valid SPKI public key: %v", err)
			}
			ec, ok := pub.(*ecdsa.PublicKey)
			if !ok {
				return nil, domain.FieldError(field, "SPKI key must be ECDSA P-256")
			}
			raw, err := lockproto.P256DeviceKey(ec)
			if err != nil {
				return nil, domain.FieldError(field, "SPKI key must be ECDSA P-256")
			}
			return raw, nil
		}
		return nil, domain.FieldError(field, "must be a %d-byte Ed25519 public key or a %d-byte uncompressed P-256 point (or P-256 SPKI), got %d bytes", lockproto.Ed25519DeviceKeySize, lockproto.P256DeviceKeySize, len(b))
	}
	return nil, domain.FieldError(field, "must be base64")
}

func encodeKey(k []byte) string { return base64.StdEncoding.EncodeToString(k) }

// errWrongLoginCode is the one answer to a login code that does not log in
// (never requested, used, expired or wrong).
func errWrongLoginCode() error {
	return &domain.Error{Code: domain.EUnauthenticated, Field: "code", Message: fmt.Sprintf("wrong or expired code; codes work once, for %d minutes: use the latest email or request a new code", int(LoginCodeTTL/time.Minute))}
}

// VerifyResidentLogin checks the emailed code and, when it matches, enrolls
// the phone's public key for every active or pending person record with
// that email and app access, and returns a resident token. A wrong code
// counts against the code (MaxLoginAttempts, then it is burnt: 429); an
// expired or used code is refused; people who are revoked or expired are
// refused with a clear error and the refusal is recorded in Activity.
func (s *Store) VerifyResidentLogin(ctx context.Context, in ResidentLoginInput) (ResidentSession, error) {
	var out ResidentSession
	email, err := domain.NormalizeEmail("email", in.Email)
	if err != nil {
		return out, err
	}
	in.Code = strings.TrimSpace(in.Code)
	if len(in.Code) != LoginCodeDigits || strings.Trim(in.Code, "0123456789") != "" {
		return out, domain.FieldError("code", "must be the %d digits from the email", LoginCodeDigits)
	}
	key, err := ParseDeviceKey("device_public_key", in.DevicePublicKey)
	if err != nil {
		return out, err
	}
	name := strings.TrimSpace(in.DeviceName)
	if name == "" {
		name = "Phone"
	}
	if utf8.RuneCountInString(name) > domain.MaxNameLen || strings.ContainsAny(name, "\x00\r\n") {
		return out, domain.FieldError("device_name", "must be one line of at most %d characters", domain.MaxNameLen)
	}
	token, tokenHash, err := domain.NewToken()
	if err != nil {
		return out, err
	}
	// Some refusals must still commit (a wrong attempt counted, a refusal
	// logged): the transaction returns nil and refusal carries the answer.
	var refusal error
	err = s.inTx(ctx, "resident_login_verify", func(t *Tx) error {
		refusal = nil
		now := s.Now()
		var hash string
		var expires int64
		var attempts int
		var used sql.NullInt64
		err := t.queryRow(ctx, `SELECT code_hash, expires_at, attempts, used_at FROM resident_login_codes WHERE email = ?`+t.forUpdate(), email).
			Scan(&hash, &expires, &attempts, &used)
		// An email that never asked for a code, a used, expired or wrong
		// code all get the same answer: telling them apart would tell a
		// stranger which emails are residents and when they last logged in.
		switch {
		case errors.Is(err, sql.ErrNoRows), used.Valid:
			return errWrongLoginCode()
		case err != nil:
			return err
		case attempts >= MaxLoginAttempts:
			return domain.Errorf(domain.ERateLimited, "too many wrong codes; request a new code")
		case !now.Before(fromMicros(expires)):
			return errWrongLoginCode()
		}
		if subtle.ConstantTimeCompare([]byte(hash), []byte(loginCodeHash(email, in.Code))) != 1 {
			if _, err := t.exec(ctx, `UPDATE resident_login_codes SET attempts = attempts + 1 WHERE email = ?`, email); err != nil {
				return err
			}
			refusal = errWrongLoginCode()
			if attempts+1 >= MaxLoginAttempts {
				refusal = domain.Errorf(domain.ERateLimited, "too many wrong codes; request a new code")
			}
			return nil
		}
		if _, err := t.exec(ctx, `UPDATE resident_login_codes SET used_at = ? WHERE email = ?`, micros(now), email); err != nil {
			return err
		}
		people, err := t.appPeople(ctx, email)
		if err != nil {
			return err
		}
		var ok []domain.Person
		var refused []string
		for _, p := range people {
			if st := p.Status(now); st.HoldsAccess() {
				ok = append(ok, p)
			} else {
				refused = append(refused, string(st))
				if err := t.addEvent(ctx, residentEvent(p, EventLoginRefused, fmt.Sprintf("app login refused: access is %s", st))); err != nil {
					return err
				}
			}
		}
		if len(ok) == 0 {
			if len(refused) == 0 {
				refusal = domain.Errorf(domain.EForbidden, "this email has no DOOR App access; ask your property manager")
			} else {
				refusal = domain.Errorf(domain.EForbidden, "your access has been %s; ask your property manager", strings.Join(refused, ", "))
			}
			return nil
		}
		enc := encodeKey(key)
		out = ResidentSession{Token: token, ExpiresAt: now.Add(ResidentTokenTTL), Properties: []ResidentProperty{}}
		for _, p := range ok {
			var n int
			if err := t.queryRow(ctx, `SELECT COUNT(*) FROM resident_devices WHERE person_id = ?`, p.ID).Scan(&n); err != nil {
				return err
			}
			devID := domain.NewID("dev")
			res, err := t.exec(ctx, `INSERT INTO resident_devices (id, person_id, property_id, public_key, name, created_at) VALUES (?,?,?,?,?,?)
				ON CONFLICT (person_id, public_key) DO NOTHING`, devID, p.ID, p.PropertyID, enc, name, micros(now))
			if err != nil {
				return err
			}
			if added, _ := res.RowsAffected(); added > 0 {
				if n >= MaxDevicesPerLogin {
					return domain.Errorf(domain.EConflict, "%s already has %d phones; remove one first", p.Name(), n)
				}
				if err := t.addEvent(ctx, residentEvent(p, EventDeviceEnrolled, fmt.Sprintf("enrolled phone %q", name))); err != nil {
					return err
				}
			} else if err := t.queryRow(ctx, `SELECT id FROM resident_devices WHERE person_id = ? AND public_key = ?`, p.ID, enc).Scan(&devID); err != nil {
				return err
			}
			prop, err := t.propertyByID(ctx, p.PropertyID)
			if err != nil {
				return err
			}
			out.Properties = append(out.Properties, ResidentProperty{PropertyID: prop.ID, PropertyName: prop.Name, TimeZone: prop.TimeZone,
				PersonID: p.ID, Status: p.Status(now), DeviceID: devID})
		}
		_, err = t.exec(ctx, `INSERT INTO resident_tokens (token_hash, email, public_key, created_at, expires_at) VALUES (?,?,?,?,?)`,
			tokenHash, email, enc, micros(now), micros(out.ExpiresAt))
		return err
	})
	if err != nil {
		return ResidentSession{}, err
	}
	if refusal != nil {
		return ResidentSession{}, refusal
	}
	return out, nil
}

// appPeople lists the not deleted person records with app access for email.
func (t *Tx) appPeople(ctx context.Context, email string) ([]domain.Person, error) {
	return t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE email = ? AND access = ? AND deleted_at IS NULL ORDER BY property_id, id`,
		email, domain.AccessApp)
}

var errResidentToken = domain.Errorf(domain.EUnauthenticated, "missing, unknown or expired app token; log in again with doorapp login")

// AuthenticateResident resolves a resident token to the login and the
// person records its phone is enrolled for. A phone removed from every
// record no longer authenticates.
func (s *Store) AuthenticateResident(ctx context.Context, token string) (Resident, error) {
	var r Resident
	var enc string
	var exp int64
	err := s.queryRow(ctx, `SELECT email, public_key, expires_at FROM resident_tokens WHERE token_hash = ?`, domain.HashToken(token)).Scan(&r.Email, &enc, &exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.Now().Before(fromMicros(exp))) {
		return r, errResidentToken
	}
	if err != nil {
		return r, err
	}
	r.DeviceKey, _ = base64.StdEncoding.DecodeString(enc)
	rows, err := s.query(ctx, `SELECT p.id, p.property_id, p.first_name, p.last_name, p.email, p.phone, p.access, p.resident, COALESCE(p.unit_id, ''),
			p.starts_at, p.expires_at, COALESCE(p.invited_by, ''), p.revoked_at, p.deleted_at, p.created_at, p.updated_at, d.id
		FROM resident_devices d JOIN people p ON p.id = d.person_id
		WHERE d.public_key = ? AND p.email = ? ORDER BY p.property_id, p.id`, enc, r.Email)
	r.People, err = collect(rows, err, func(sc rowScanner) (ResidentPerson, error) {
		var rp ResidentPerson
		p, err := scanPerson(sc, &rp.DeviceID)
		rp.Person = p
		return rp, err
	})
	if err != nil {
		return r, err
	}
	if len(r.People) == 0 {
		return r, domain.Errorf(domain.EUnauthenticated, "this phone was removed from your access; log in again with doorapp login")
	}
	return r, nil
}

// ResidentLogout deletes a resident token.
func (s *Store) ResidentLogout(ctx context.Context, token string) error {
	return s.inTx(ctx, "resident_logout", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM resident_tokens WHERE token_hash = ?`, domain.HashToken(token))
		return err
	})
}

// Device is an enrolled phone of a person.
type Device struct {
	ID         string     `json:"id"`
	PersonID   string     `json:"person_id"`
	PropertyID string     `json:"property_id"`
	Name       string     `json:"name"`
	PublicKey  string     `json:"public_key"`
	CreatedAt  time.Time  `json:"created_at"`
	LastSeenAt *time.Time `json:"last_seen_at"`
	// Current marks the phone making the request (resident API only).
	Current bool `json:"current"`
}

func (t *Tx) devices(ctx context.Context, personIDs ...string) ([]Device, error) {
	out := []Device{}
	if len(personIDs) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT id, person_id, property_id, name, public_key, created_at, last_seen_at FROM resident_devices
		WHERE person_id IN (`+placeholders(len(personIDs))+`) ORDER BY created_at, id`, anySlice(personIDs)...)
	return collect(rows, err, func(sc rowScanner) (Device, error) {
		var d Device
		var created int64
		var seen sql.NullInt64
		err := sc.Scan(&d.ID, &d.PersonID, &d.PropertyID, &d.Name, &d.PublicKey, &created, &seen)
		d.CreatedAt, d.LastSeenAt = fromMicros(created), timePtr(seen)
		return d, err
	})
}

// PersonDevices lists a person's phones (managers with Key Management).
func (s *Store) PersonDevices(ctx context.Context, a domain.Actor, propertyID, personID string) (out []Device, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		if _, err := t.person(ctx, propertyID, personID, false); err != nil {
			return err
		}
		out, err = t.devices(ctx, personID)
		return err
	})
	return out, err
}

// RemoveDevice removes a manager-chosen phone of a person. Credentials
// issued to it may still be on the phone, so it is a revocation at every
// door the person can open (DESIGN.md §4.4).
func (s *Store) RemoveDevice(ctx context.Context, a domain.Actor, propertyID, personID, deviceID string) error {
	return s.inTx(ctx, "remove_device", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, personID, true)
		if err != nil {
			return err
		}
		// Removing a phone revokes at every door of the person: it takes
		// every key they hold, as Revoke All Keys does.
		held, err := t.accessKeys(ctx, p.ID)
		if err != nil {
			return err
		}
		if err := a.CanRevokePerson(propertyID, held); err != nil {
			return err
		}
		return t.removeDevice(ctx, a, p, deviceID, "removed phone")
	})
}

// removeDevice deletes the device row and revokes the person's credentials
// at each of their doors.
func (t *Tx) removeDevice(ctx context.Context, a domain.Actor, p domain.Person, deviceID, what string) error {
	var name string
	err := t.queryRow(ctx, `SELECT name FROM resident_devices WHERE id = ? AND person_id = ?`, deviceID, p.ID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Errorf(domain.ENotFound, "device %s not found", deviceID)
	}
	if err != nil {
		return err
	}
	return t.removeDevices(ctx, a, p, []Device{{ID: deviceID, Name: name}}, what)
}

// removeDevices deletes device rows of p and revokes p's phone credentials
// at each of their doors: one revocation for all of them, since a
// revocation refuses every credential of the person issued before it.
func (t *Tx) removeDevices(ctx context.Context, a domain.Actor, p domain.Person, devs []Device, what string) error {
	if len(devs) == 0 {
		return nil
	}
	for _, d := range devs {
		if _, err := t.exec(ctx, `DELETE FROM resident_devices WHERE id = ?`, d.ID); err != nil {
			return err
		}
	}
	gs, keys, err := t.personKeys(ctx, p.PropertyID, p.ID)
	if err != nil {
		return err
	}
	doors := domain.GrantDoors(keys, gs)
	reason := "phone of " + p.Name() + " removed"
	if len(devs) > 1 {
		reason = "phones of " + p.Name() + " removed"
	}
	if err := t.bumpDoors(ctx, domain.Changes(doors, reason, p.ID)); err != nil {
		return err
	}
	for _, d := range devs {
		if err := t.addEvent(ctx, adminEvent(a, p.PropertyID, EventDeviceRemoved, &p, fmt.Sprintf("%s %q", what, d.Name), doors)); err != nil {
			return err
		}
	}
	return nil
}

// endAppLogin ends what the email a person had gives in the DOOR App: the
// person's phones (and so every credential issued to them: a revocation
// at their doors, through removeDevices) and the resident tokens of that
// email that no longer cover any record. Tokens that still cover records
// at other properties stay: those records are not this person's.
func (t *Tx) endAppLogin(ctx context.Context, a domain.Actor, p domain.Person, oldEmail string) error {
	devs, err := t.devices(ctx, p.ID)
	if err != nil {
		return err
	}
	if err := t.removeDevices(ctx, a, p, devs, "email changed from "+oldEmail+": removed phone"); err != nil {
		return err
	}
	_, err = t.exec(ctx, `DELETE FROM resident_tokens WHERE email = ? AND NOT EXISTS (SELECT 1 FROM resident_devices d JOIN people p ON p.id = d.person_id
		WHERE d.public_key = resident_tokens.public_key AND p.email = resident_tokens.email)`, oldEmail)
	return err
}

// RemoveMyDevice removes one of the resident's own phones (any of them,
// including the calling one).
func (s *Store) RemoveMyDevice(ctx context.Context, r Resident, deviceID string) error {
	return s.inTx(ctx, "remove_my_device", func(t *Tx) error {
		var personID string
		err := t.queryRow(ctx, `SELECT person_id FROM resident_devices WHERE id = ?`, deviceID).Scan(&personID)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "device %s not found", deviceID)
		}
		if err != nil {
			return err
		}
		for _, p := range r.People {
			if p.ID == personID {
				ra, err := t.residentActor(ctx, p.Person)
				if err != nil {
					return err
				}
				return t.removeDevice(ctx, ra, p.Person, deviceID, "resident removed phone")
			}
		}
		return domain.Errorf(domain.ENotFound, "device %s not found", deviceID)
	})
}

// MyDevices lists the phones enrolled for the resident's person records.
func (s *Store) MyDevices(ctx context.Context, r Resident) (out []Device, err error) {
	ids := make([]string, len(r.People))
	for i, p := range r.People {
		ids[i] = p.ID
	}
	err = s.read(ctx, func(t *Tx) error {
		out, err = t.devices(ctx, ids...)
		return err
	})
	for i := range out {
		out[i].Current = out[i].PublicKey == encodeKey(r.DeviceKey)
	}
	return out, err
}
