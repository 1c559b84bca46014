package store

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// ResidentAccess is what a resident holds at one property.
type ResidentAccess struct {
	PropertyID   string        `json:"property_id"`
	PropertyName string        `json:"property_name"`
	TimeZone     string        `json:"time_zone"`
	PersonID     string        `json:"person_id"`
	Status       domain.Status `json:"status"`
	StartsAt     time.Time     `json:"starts_at"`
	ExpiresAt    *time.Time    `json:"expires_at"`
	Keys         []ResidentKey `json:"keys"`
}

// ResidentKey is one key a resident holds, with its effective window.
type ResidentKey struct {
	KeyID     string         `json:"key_id"`
	Name      string         `json:"name"`
	MayShare  bool           `json:"may_share"`
	StartsAt  time.Time      `json:"starts_at"`
	ExpiresAt *time.Time     `json:"expires_at"`
	Doors     []ResidentDoor `json:"doors"`
}

// ResidentDoor is a door of a key as the app shows it; the door id is the
// lock id in credentials.
type ResidentDoor struct {
	DoorID       string              `json:"door_id"`
	Name         string              `json:"name"`
	Type         domain.DoorType     `json:"type"`
	Connectivity domain.Connectivity `json:"connectivity"`
	Doorcodes    bool                `json:"doorcodes"`
	Schedule     domain.Schedule     `json:"schedule"`
}

// MyAccess lists the resident's keys and doors at every property of the
// login. Revoked and expired records are listed with their status and no
// keys; deleted ones are left out.
func (s *Store) MyAccess(ctx context.Context, r Resident) (out []ResidentAccess, err error) {
	out = []ResidentAccess{}
	err = s.read(ctx, func(t *Tx) error {
		now := s.Now()
		for _, rp := range r.People {
			p := rp.Person
			if p.DeletedAt != nil {
				continue
			}
			prop, err := t.propertyByID(ctx, p.PropertyID)
			if err != nil {
				return err
			}
			acc := ResidentAccess{PropertyID: prop.ID, PropertyName: prop.Name, TimeZone: prop.TimeZone, PersonID: p.ID,
				Status: p.Status(now), StartsAt: p.StartsAt, ExpiresAt: p.ExpiresAt, Keys: []ResidentKey{}}
			gs, keys, err := t.personKeys(ctx, p.PropertyID, p.ID)
			if err != nil {
				return err
			}
			doors, err := t.doorsByID(ctx, p.PropertyID)
			if err != nil {
				return err
			}
			for _, g := range gs {
				k := keys[g.KeyID]
				w := g.EffectiveWindow(p)
				rk := ResidentKey{KeyID: k.ID, Name: k.Name, MayShare: g.MayShare, StartsAt: w.Start, ExpiresAt: w.End, Doors: []ResidentDoor{}}
				for _, kd := range k.Doors {
					d := doors[kd.DoorID]
					sch := kd.Schedule
					if sch == nil {
						sch = domain.Schedule{}
					}
					rk.Doors = append(rk.Doors, ResidentDoor{DoorID: d.ID, Name: d.Name, Type: d.Type, Connectivity: d.Connectivity, Doorcodes: kd.Doorcodes, Schedule: sch})
				}
				acc.Keys = append(acc.Keys, rk)
			}
			out = append(out, acc)
		}
		return nil
	})
	return out, err
}

func (t *Tx) doorsByID(ctx context.Context, propertyID string) (map[string]domain.Door, error) {
	rows, err := t.query(ctx, `SELECT id, name, type, connectivity FROM doors WHERE property_id = ?`, propertyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]domain.Door{}
	for rows.Next() {
		d := domain.Door{PropertyID: propertyID}
		if err := rows.Scan(&d.ID, &d.Name, &d.Type, &d.Connectivity); err != nil {
			return nil, err
		}
		out[d.ID] = d
	}
	return out, rows.Err()
}

// ResidentDoorcode is the resident's own doorcode at a property and the
// doors it opens.
type ResidentDoorcode struct {
	PropertyID   string   `json:"property_id"`
	PropertyName string   `json:"property_name"`
	PersonID     string   `json:"person_id"`
	Code         string   `json:"code"`
	Doors        []string `json:"doors"`
}

// MyDoorcodes returns the resident's doorcodes (only the holder sees them).
func (s *Store) MyDoorcodes(ctx context.Context, r Resident) (out []ResidentDoorcode, err error) {
	out = []ResidentDoorcode{}
	err = s.read(ctx, func(t *Tx) error {
		now := s.Now()
		for _, rp := range r.People {
			if !rp.Status(now).HoldsAccess() {
				continue
			}
			var code string
			err := t.queryRow(ctx, `SELECT code FROM doorcodes WHERE person_id = ?`, rp.ID).Scan(&code)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			prop, err := t.propertyByID(ctx, rp.PropertyID)
			if err != nil {
				return err
			}
			gs, keys, err := t.personKeys(ctx, rp.PropertyID, rp.ID)
			if err != nil {
				return err
			}
			doors, err := t.doorsByID(ctx, rp.PropertyID)
			if err != nil {
				return err
			}
			names := []string{}
			for _, id := range domain.DoorcodeDoors(keys, gs) {
				names = append(names, doors[id].Name)
			}
			sort.Strings(names)
			out = append(out, ResidentDoorcode{PropertyID: prop.ID, PropertyName: prop.Name, PersonID: rp.ID, Code: code, Doors: names})
		}
		return nil
	})
	return out, err
}

// PropertySigner hands out a property's signing keys; *keyring.Keyring
// implements it. PropertySigners is the current key and, during a
// property-key rotation, the next one: the store signs for each door with
// the one its lock trusts.
type PropertySigner interface {
	PropertySigner(ctx context.Context, propertyID string) (ed25519.PrivateKey, error)
	PropertySigners(ctx context.Context, propertyID string) ([]ed25519.PrivateKey, error)
}

// IssuedCredential is one signed phone credential (lockproto.Credential as
// COSE_Sign1) for one property.
type IssuedCredential struct {
	PropertyID        string    `json:"property_id"`
	PersonID          string    `json:"person_id"`
	DeviceID          string    `json:"device_id"`
	Serial            string    `json:"serial"`
	Credential        string    `json:"credential"`
	PropertyPublicKey string    `json:"property_public_key"`
	IssuedAt          time.Time `json:"issued_at"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	Doors             []string  `json:"doors"`
	// LockCertificates maps each door whose lock is provisioned to the
	// property-signed certificate of its lock's key (lockproto
	// LockCertificate, base64): the phone opens a channel only to a lock
	// that proves this key.
	LockCertificates map[string]string `json:"lock_certificates"`
	// TimeToken is the cloud's time signed by the property key
	// (lockproto.TimeToken, base64): the phone carries it in every unlock so
	// a lock whose clock was reset trusts its clock again.
	TimeToken string `json:"time_token"`
}

func newSerial() (uint64, error) {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		// BIGINT is signed: keep the serial positive on both databases.
		if v := binary.BigEndian.Uint64(b[:]) & (1<<63 - 1); v != 0 {
			return v, nil
		}
	}
}

// RefreshCredentials issues the calling phone one credential per property
// of the login, bound to its device key. Records that are revoked, deleted
// or expired get none; the refusal is written to Activity, and when nothing
// at all can be issued the answer is 403. Issuing happens inside one
// transaction that locks the person rows, so a credential can never be
// issued after a revocation that the same person's Revoke committed.
func (s *Store) RefreshCredentials(ctx context.Context, signer PropertySigner, r Resident) ([]IssuedCredential, error) {
	keys := map[string][]ed25519.PrivateKey{}
	for _, p := range r.People {
		if p.DeletedAt != nil || p.RevokedAt != nil || keys[p.PropertyID] != nil {
			continue
		}
		k, err := signer.PropertySigners(ctx, p.PropertyID)
		if err != nil {
			return nil, err
		}
		keys[p.PropertyID] = k
	}
	var out []IssuedCredential
	var refusal error
	err := s.inTx(ctx, "refresh_credentials", func(t *Tx) error {
		out, refusal = []IssuedCredential{}, nil
		now := s.Now()
		var refused []string
		for _, rp := range r.People {
			var p domain.Person
			p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`+t.forUpdate(), rp.ID))
			if err != nil {
				return err
			}
			prop, err := t.propertyByID(ctx, p.PropertyID)
			if err != nil {
				return err
			}
			refuse := func(why string) error {
				refused = append(refused, fmt.Sprintf("%s: %s", prop.Name, why))
				e := residentEvent(p, EventCredentialRefused, "phone credential refused: "+why)
				return t.addEvent(ctx, e)
			}
			if st := p.Status(now); !st.HoldsAccess() {
				if err := refuse("access is " + string(st)); err != nil {
					return err
				}
				continue
			}
			if p.Access != domain.AccessApp {
				if err := refuse("access is doorcode only"); err != nil {
					return err
				}
				continue
			}
			propKeys := keys[p.PropertyID]
			if propKeys == nil {
				// Revoked when the request started, re-granted since: the
				// next refresh picks it up.
				continue
			}
			gs, ks, err := t.personKeys(ctx, p.PropertyID, p.ID)
			if err != nil {
				return err
			}
			lifetime := time.Duration(prop.CredentialLifetimeHours) * time.Hour
			plan, err := domain.PlanCredential(p, gs, ks, now, lifetime)
			if errors.Is(err, domain.ErrNothingToIssue) {
				refused = append(refused, prop.Name+": no key opens a door now or within "+lifetime.String())
				continue
			}
			if err != nil {
				return err
			}
			// One credential per property key the doors' locks trust: during
			// a property-key rotation, the old key for locks that did not
			// take the new one yet, the new key for the others.
			trusted, err := t.trustedPropertyKeys(ctx, p.PropertyID, plan.DoorIDs())
			if err != nil {
				return err
			}
			parts := plan.SplitBy(func(door string) string { return trusted[door] })
			// The current key's part first, then the next key's.
			for _, priv := range propKeys {
				pub := encodeKey(priv.Public().(ed25519.PublicKey))
				part, ok := parts[pub]
				if !ok {
					continue
				}
				delete(parts, pub)
				ic, err := t.issueCredential(ctx, priv, p, rp.DeviceID, r.DeviceKey, part, now)
				if err != nil {
					return err
				}
				out = append(out, ic)
			}
			if len(parts) > 0 {
				// A lock trusts a key this request did not fetch (a rotation
				// started or finished meanwhile).
				return domain.Errorf(domain.EConflict, "the property's signing key changed meanwhile; try again")
			}
			if _, err := t.exec(ctx, `UPDATE resident_devices SET last_seen_at = ? WHERE id = ?`, micros(now), rp.DeviceID); err != nil {
				return err
			}
		}
		if len(out) == 0 {
			refusal = domain.Errorf(domain.EForbidden, "no phone credential can be issued (%s); ask your property manager", strings.Join(refused, "; "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	return out, nil
}

// issueCredential signs one phone credential for plan with priv, with the
// certificates of its doors' locks and a time token signed by the same key,
// and records it for revocation lists and exposure reports.
func (t *Tx) issueCredential(ctx context.Context, priv ed25519.PrivateKey, p domain.Person, deviceID string, deviceKey ed25519.PublicKey, plan domain.CredentialPlan, now time.Time) (IssuedCredential, error) {
	serial, err := newSerial()
	if err != nil {
		return IssuedCredential{}, err
	}
	nb, na := plan.NotBefore, plan.NotAfter
	c := lockproto.Credential{Serial: serial, PersonID: p.ID, DeviceKey: deviceKey, Locks: plan.Locks, NotBefore: nb, NotAfter: na, IssuedAt: now}
	signed, err := lockproto.IssueCredential(priv, c)
	if err != nil {
		return IssuedCredential{}, err
	}
	clocks, err := t.propertyClocks(ctx, []string{p.PropertyID})
	if err != nil {
		return IssuedCredential{}, err
	}
	tok, err := clocks[p.PropertyID].timeToken(priv, now)
	if err != nil {
		return IssuedCredential{}, err
	}
	doorIDs := plan.DoorIDs()
	certs, err := t.lockCertificates(ctx, priv, doorIDs)
	if err != nil {
		return IssuedCredential{}, err
	}
	dj, _ := json.Marshal(doorIDs)
	issued := now.Truncate(time.Second)
	if _, err := t.exec(ctx, `INSERT INTO issued_credentials (serial, person_id, property_id, device_id, issued_at, not_before, not_after, door_ids) VALUES (?,?,?,?,?,?,?,?)`,
		int64(serial), p.ID, p.PropertyID, deviceID, micros(issued), micros(nb.Truncate(time.Second)), micros(na.Truncate(time.Second)), string(dj)); err != nil {
		return IssuedCredential{}, err
	}
	return IssuedCredential{PropertyID: p.PropertyID, PersonID: p.ID, DeviceID: deviceID, Serial: fmt.Sprint(serial),
		Credential: base64.StdEncoding.EncodeToString(signed), PropertyPublicKey: encodeKey(priv.Public().(ed25519.PublicKey)),
		IssuedAt: issued, NotBefore: nb.Truncate(time.Second), NotAfter: na.Truncate(time.Second), Doors: doorIDs, LockCertificates: certs,
		TimeToken: base64.StdEncoding.EncodeToString(tok)}, nil
}

// CredentialRecord is a phone credential the cloud issued, for revocation
// lists and exposure reports.
type CredentialRecord struct {
	Serial    uint64
	PersonID  string
	DeviceID  string
	IssuedAt  time.Time
	NotBefore time.Time
	NotAfter  time.Time
	DoorIDs   []string
}

// IssuedCredentials lists the credentials issued to a person that have not
// run out at now (the ones a revocation must still refuse).
func (s *Store) IssuedCredentials(ctx context.Context, personID string, now time.Time) ([]CredentialRecord, error) {
	rows, err := s.query(ctx, `SELECT serial, person_id, device_id, issued_at, not_before, not_after, door_ids FROM issued_credentials
		WHERE person_id = ? AND not_after > ? ORDER BY issued_at, serial`, personID, micros(now))
	return collect(rows, err, func(sc rowScanner) (CredentialRecord, error) {
		var c CredentialRecord
		var serial, issued, nb, na int64
		var doors string
		if err := sc.Scan(&serial, &c.PersonID, &c.DeviceID, &issued, &nb, &na, &doors); err != nil {
			return c, err
		}
		c.Serial, c.IssuedAt, c.NotBefore, c.NotAfter = uint64(serial), fromMicros(issued), fromMicros(nb), fromMicros(na)
		err := json.Unmarshal([]byte(doors), &c.DoorIDs)
		return c, err
	})
}
