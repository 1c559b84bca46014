package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// Activity kinds of keycards.
const (
	EventKeycardActivated   = "person.keycard_activated"
	EventKeycardDeactivated = "person.keycard_deactivated"
)

// Keycard is a person's card. A deactivated card keeps opening offline
// doors until they sync: PendingDoors lists the doors whose locks still
// hold it, so the console and the API can say so.
type Keycard struct {
	ID            string     `json:"id"`
	PersonID      string     `json:"person_id"`
	Serial        string     `json:"serial"`
	Active        bool       `json:"active"`
	ActivatedAt   time.Time  `json:"activated_at"`
	DeactivatedAt *time.Time `json:"deactivated_at"`
	// PendingDoors: doors whose lock has not yet received the card's
	// deactivation (for a deactivated card) or activation (for an active one).
	PendingDoors []KeycardDoor `json:"pending_doors"`
	Note         string        `json:"note,omitempty"`
	// Secure: a challenge–response card holding a key diversified from the
	// property's card master key. Otherwise the card is checked by serial
	// alone, and Cloneable says anyone who reads the serial can copy it.
	Secure    bool `json:"secure"`
	Cloneable bool `json:"cloneable"`
	// CardKey is what the card encoder writes to a secure card, given only
	// in the answer that activates it.
	CardKey []byte `json:"card_key,omitempty"`
}

// KeycardDoor is a door a card change has not reached yet.
type KeycardDoor struct {
	DoorID       string              `json:"door_id"`
	DoorName     string              `json:"door_name"`
	Connectivity domain.Connectivity `json:"connectivity"`
}

// checkSerial accepts what card readers print: 1–64 letters, digits, ':' and '-'.
func checkSerial(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "" || len(s) > 64 {
		return "", domain.FieldError("serial", "must be 1 to 64 characters")
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c == ':' || c == '-') {
			return "", domain.FieldError("serial", "may contain only letters, digits, ':' and '-'")
		}
	}
	return s, nil
}

// ActivateKeycard activates a serial-only card for a person (Card
// Activation). A person has one active card: activating another replaces
// it. A serial active for another person is a conflict.
func (s *Store) ActivateKeycard(ctx context.Context, a domain.Actor, propertyID, personID, serial string) (Keycard, error) {
	return s.activateKeycard(ctx, a, nil, propertyID, personID, serial)
}

// ActivateSecureKeycard activates a secure card: its key is diversified
// from the property's card master key (created on first use, sealed by
// sealer) and returned once, in CardKey, for the card encoder. Locks get
// the key in their sealed bundles and challenge the card at every tap.
// Activating a card already active for the person as serial-only makes it
// secure.
func (s *Store) ActivateSecureKeycard(ctx context.Context, a domain.Actor, sealer Sealer, propertyID, personID, serial string) (Keycard, error) {
	return s.activateKeycard(ctx, a, sealer, propertyID, personID, serial)
}

func (s *Store) activateKeycard(ctx context.Context, a domain.Actor, sealer Sealer, propertyID, personID, serial string) (Keycard, error) {
	var out Keycard
	serial, err := checkSerial(serial)
	if err != nil {
		return out, err
	}
	secure := sealer != nil
	err = s.inTx(ctx, "activate_keycard", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermCards); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, personID, true)
		if err != nil {
			return err
		}
		now := s.Now()
		if st := p.Status(now); !st.HoldsAccess() {
			return domain.Errorf(domain.EConflict, "%s's access is %s; give them a key before activating a card", p.Name(), st)
		}
		var cardKey []byte
		if secure {
			master, err := t.cardMasterKey(ctx, sealer, propertyID)
			if err != nil {
				return err
			}
			cardKey = lockproto.CardKey(master, serial)
		}
		var other string
		var wasSecure bool
		err = t.queryRow(ctx, `SELECT person_id, secure FROM keycards WHERE property_id = ? AND serial = ? AND deactivated_at IS NULL`, propertyID, serial).Scan(&other, &wasSecure)
		switch {
		case err == nil && other == personID && (wasSecure || !secure):
			out, err = t.keycard(ctx, personID)
			out.CardKey = cardKey
			return err
		case err == nil && other == personID:
			if _, err := t.exec(ctx, `UPDATE keycards SET secure = TRUE WHERE person_id = ? AND deactivated_at IS NULL`, personID); err != nil {
				return err
			}
			doors, err := t.personDoors(ctx, propertyID, personID)
			if err != nil {
				return err
			}
			// The serial alone stops opening: a narrowing. No revocation
			// notice names the serial: until the bundle brings the card's
			// key the lock could not tell the card from a clone and would
			// refuse its holder too; the serial opens until the bundle,
			// as it did before.
			changes := domain.Changes(doors, "keycard "+serial+" of "+p.Name()+" made secure")
			for i := range changes {
				changes[i].Revocation = true
			}
			if err := t.bumpDoors(ctx, changes); err != nil {
				return err
			}
			if err := t.addEvent(ctx, adminEvent(a, propertyID, EventKeycardActivated, &p, "made keycard "+serial+" secure", doors)); err != nil {
				return err
			}
			out, err = t.keycard(ctx, personID)
			out.CardKey = cardKey
			return err
		case err == nil:
			return &domain.Error{Code: domain.EConflict, Field: "serial", Message: fmt.Sprintf("card %s is active for another person; deactivate it there first", serial)}
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		replaced, err := t.endKeycards(ctx, a, personID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO keycards (id, property_id, person_id, serial, activated_at, activated_by, secure) VALUES (?,?,?,?,?,?,?)`,
			domain.NewID("kcd"), propertyID, personID, serial, micros(now), a.Name, secure); err != nil {
			return err
		}
		doors, err := t.personDoors(ctx, propertyID, personID)
		if err != nil {
			return err
		}
		changes := domain.Changes(doors, "keycard "+serial+" activated for "+p.Name())
		if len(replaced) > 0 {
			// Replacing a card takes the old one away: a narrowing (of the
			// card only, so no person ids: phone credentials stay valid;
			// a revocation notice names the old serial).
			for i := range changes {
				changes[i].Revocation, changes[i].Cards = true, replaced
			}
		}
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		what := "activated keycard " + serial + " (serial only, cloneable)"
		if secure {
			what = "activated secure keycard " + serial
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, EventKeycardActivated, &p, what, doors)); err != nil {
			return err
		}
		if err := t.enqueueKeycardEmail(ctx, p, serial, false, secure); err != nil {
			return err
		}
		out, err = t.keycard(ctx, personID)
		out.CardKey = cardKey
		return err
	})
	return out, err
}

func cardMasterAAD(propertyID string) string { return "property_card_keys/" + propertyID }

// cardMasterKey returns a property's card master key, creating it on first
// use. Two activations racing agree on the first stored key.
func (t *Tx) cardMasterKey(ctx context.Context, sealer Sealer, propertyID string) ([]byte, error) {
	var sealed string
	err := t.queryRow(ctx, `SELECT sealed_key FROM property_card_keys WHERE property_id = ?`, propertyID).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		k, err := lockproto.NewCardMasterKey()
		if err != nil {
			return nil, err
		}
		if sealed, err = sealer.Seal(k, cardMasterAAD(propertyID)); err != nil {
			return nil, err
		}
		if _, err := t.exec(ctx, `INSERT INTO property_card_keys (property_id, sealed_key) VALUES (?,?) ON CONFLICT (property_id) DO NOTHING`, propertyID, sealed); err != nil {
			return nil, err
		}
		err = t.queryRow(ctx, `SELECT sealed_key FROM property_card_keys WHERE property_id = ?`, propertyID).Scan(&sealed)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	return sealer.Open(sealed, cardMasterAAD(propertyID))
}

// DeactivateKeycard deactivates a person's active card. The card keeps
// working at each door until that door's lock syncs; the answer lists them.
func (s *Store) DeactivateKeycard(ctx context.Context, a domain.Actor, propertyID, personID string) (Keycard, error) {
	var out Keycard
	err := s.inTx(ctx, "deactivate_keycard", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermCards); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, personID, true)
		if err != nil {
			return err
		}
		var serial string
		err = t.queryRow(ctx, `SELECT serial FROM keycards WHERE person_id = ? AND deactivated_at IS NULL`, personID).Scan(&serial)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "%s has no active keycard", p.Name())
		}
		if err != nil {
			return err
		}
		doors, err := t.deactivateKeycards(ctx, a, p)
		if err != nil {
			return err
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, EventKeycardDeactivated, &p, "deactivated keycard "+serial, doors)); err != nil {
			return err
		}
		if err := t.enqueueKeycardEmail(ctx, p, serial, true, false); err != nil {
			return err
		}
		out, err = t.lastKeycard(ctx, personID)
		return err
	})
	return out, err
}

// deactivateKeycards ends a person's active card and marks every door it
// opened for a sync that removes it (a revocation: the card works there
// until then). It returns those doors.
func (t *Tx) deactivateKeycards(ctx context.Context, a domain.Actor, p domain.Person) ([]string, error) {
	serials, err := t.endKeycards(ctx, a, p.ID)
	if err != nil || len(serials) == 0 {
		return nil, err
	}
	doors, err := t.personDoors(ctx, p.PropertyID, p.ID)
	if err != nil {
		return nil, err
	}
	changes := make([]domain.DoorChange, len(doors))
	for i, d := range doors {
		// A revocation for the sync tasks, but not of the person's phone
		// credentials: no person ids; a revocation notice names the serial.
		changes[i] = domain.DoorChange{DoorID: d, Reason: "keycard of " + p.Name() + " deactivated", Revocation: true, Cards: serials}
	}
	return doors, t.bumpDoors(ctx, changes)
}

// endKeycards deactivates a person's active cards and returns their
// serials (none when they had none).
func (t *Tx) endKeycards(ctx context.Context, a domain.Actor, personID string) ([]string, error) {
	rows, err := t.query(ctx, `UPDATE keycards SET deactivated_at = ?, deactivated_by = ? WHERE person_id = ? AND deactivated_at IS NULL RETURNING serial`,
		micros(t.s.Now()), a.Name, personID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// personDoors lists the doors a person's keys open.
func (t *Tx) personDoors(ctx context.Context, propertyID, personID string) ([]string, error) {
	gs, keys, err := t.personKeys(ctx, propertyID, personID)
	if err != nil {
		return nil, err
	}
	return domain.GrantDoors(keys, gs), nil
}

func (t *Tx) keycard(ctx context.Context, personID string) (Keycard, error) {
	return t.scanKeycard(ctx, `SELECT id, person_id, serial, activated_at, deactivated_at, secure FROM keycards WHERE person_id = ? AND deactivated_at IS NULL`, personID)
}

func (t *Tx) lastKeycard(ctx context.Context, personID string) (Keycard, error) {
	return t.scanKeycard(ctx, `SELECT id, person_id, serial, activated_at, deactivated_at, secure FROM keycards WHERE person_id = ?
		ORDER BY CASE WHEN deactivated_at IS NULL THEN 1 ELSE 0 END DESC, activated_at DESC, id DESC LIMIT 1`, personID)
}

func (t *Tx) scanKeycard(ctx context.Context, q string, personID string) (Keycard, error) {
	var k Keycard
	var act int64
	var deact sql.NullInt64
	err := t.queryRow(ctx, q, personID).Scan(&k.ID, &k.PersonID, &k.Serial, &act, &deact, &k.Secure)
	if errors.Is(err, sql.ErrNoRows) {
		return k, domain.Errorf(domain.ENotFound, "no keycard")
	}
	if err != nil {
		return k, err
	}
	k.ActivatedAt, k.DeactivatedAt, k.Active, k.Cloneable = fromMicros(act), timePtr(deact), !deact.Valid, !k.Secure
	k.PendingDoors, err = t.cardPendingDoors(ctx, k)
	if err != nil {
		return k, err
	}
	if !k.Active && len(k.PendingDoors) > 0 {
		k.Note = fmt.Sprintf("deactivated, but still works at %d door(s) until their locks sync", len(k.PendingDoors))
	}
	return k, nil
}

// cardPendingDoors lists the doors whose lock's acknowledged state
// disagrees with the card: still holds a deactivated card, or lacks an
// active one.
func (t *Tx) cardPendingDoors(ctx context.Context, k Keycard) ([]KeycardDoor, error) {
	rows, err := t.query(ctx, `SELECT d.id, d.name, d.connectivity, `+ackedState+` FROM door_locks l JOIN doors d ON d.id = l.door_id`+ackedStateJoin+`
		WHERE d.property_id = (SELECT property_id FROM people WHERE id = ?) AND `+ackedState+` LIKE ? ORDER BY d.name`, k.PersonID, "%"+k.Serial+"%")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []KeycardDoor{}
	for rows.Next() {
		var d KeycardDoor
		var state string
		if err := rows.Scan(&d.DoorID, &d.DoorName, &d.Connectivity, &state); err != nil {
			return nil, err
		}
		var st LockState
		if state != "" && json.Unmarshal([]byte(state), &st) == nil {
			if _, held := st.Keycards[k.Serial]; held && !k.Active {
				out = append(out, d)
			}
		}
	}
	return out, rows.Err()
}

// PersonKeycard returns a person's current (or last) keycard.
func (s *Store) PersonKeycard(ctx context.Context, a domain.Actor, propertyID, personID string) (k Keycard, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.Can(propertyID, domain.PermPeople); err != nil {
			if a.Can(propertyID, domain.PermCards) != nil {
				return err
			}
		}
		if _, err := t.person(ctx, propertyID, personID, false); err != nil {
			return err
		}
		k, err = t.lastKeycard(ctx, personID)
		return err
	})
	return k, err
}

// TopicKeycardEmail is the email telling a resident a keycard was activated
// or deactivated for them (package notify sends it).
const TopicKeycardEmail = "email.keycard"

// enqueueKeycardEmail queues that email in the activation's or
// deactivation's transaction, so it goes out exactly when the change
// commits.
func (t *Tx) enqueueKeycardEmail(ctx context.Context, p domain.Person, serial string, deactivated, secure bool) error {
	now := t.s.Now()
	return t.enqueue(ctx, TopicKeycardEmail, p.ID, map[string]string{"person_id": p.ID, "property_id": p.PropertyID,
		"serial": serial, "deactivated": strconv.FormatBool(deactivated), "secure": strconv.FormatBool(secure),
		"at": now.UTC().Format(time.RFC3339)}, now)
}
