package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/dooros/dooros/domain"
)

// KeycardRecord is a keycard with its holder, as the console's Keycards
// page and the keycards report list them.
type KeycardRecord struct {
	Keycard
	FirstName     string        `json:"first_name"`
	LastName      string        `json:"last_name"`
	Email         string        `json:"email"`
	PersonStatus  domain.Status `json:"person_status"`
	ActivatedBy   string        `json:"activated_by"`
	DeactivatedBy string        `json:"deactivated_by"`
}

// Name is the holder's display name.
func (k KeycardRecord) Name() string {
	return domain.Person{FirstName: k.FirstName, LastName: k.LastName}.Name()
}

// cardReader may see keycards: Card Activation, or Key Management (which
// sees them on the person page), as PersonKeycard.
func cardReader(a domain.Actor, propertyID string) error {
	if err := a.Can(propertyID, domain.PermCards); err != nil {
		if a.Can(propertyID, domain.PermPeople) == nil {
			return nil
		}
		return err
	}
	return nil
}

// ListKeycards lists every keycard of a property, active and deactivated,
// by holder name then newest first. A deactivated card lists in
// PendingDoors the doors whose lock still holds it (it opens them until
// they sync); the locks' acknowledged states are read once for all cards.
func (s *Store) ListKeycards(ctx context.Context, a domain.Actor, propertyID string) ([]KeycardRecord, error) {
	out := []KeycardRecord{}
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := cardReader(a, propertyID); err != nil {
			return err
		}
		held, err := t.heldKeycards(ctx, propertyID)
		if err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT k.id, k.person_id, k.serial, k.activated_at, k.deactivated_at, k.activated_by, k.deactivated_by, k.secure,
				p.first_name, p.last_name, p.email, p.starts_at, p.expires_at, p.revoked_at, p.deleted_at
			FROM keycards k JOIN people p ON p.id = k.person_id WHERE k.property_id = ?
			ORDER BY p.sort_name, p.id, CASE WHEN k.deactivated_at IS NULL THEN 0 ELSE 1 END, k.activated_at DESC, k.id`, propertyID)
		if err != nil {
			return err
		}
		defer rows.Close()
		now := s.Now()
		active := map[string]bool{}
		for rows.Next() {
			var r KeycardRecord
			var act int64
			var deact sql.NullInt64
			var p domain.Person
			var starts int64
			var expires, revoked, deleted sql.NullInt64
			if err := rows.Scan(&r.ID, &r.PersonID, &r.Serial, &act, &deact, &r.ActivatedBy, &r.DeactivatedBy, &r.Secure,
				&p.FirstName, &p.LastName, &p.Email, &starts, &expires, &revoked, &deleted); err != nil {
				return err
			}
			p.StartsAt, p.ExpiresAt, p.RevokedAt, p.DeletedAt = fromMicros(starts), timePtr(expires), timePtr(revoked), timePtr(deleted)
			r.ActivatedAt, r.DeactivatedAt, r.Active, r.Cloneable = fromMicros(act), timePtr(deact), !deact.Valid, !r.Secure
			r.FirstName, r.LastName, r.Email, r.PersonStatus = p.FirstName, p.LastName, p.Email, p.Status(now)
			r.PendingDoors = []KeycardDoor{}
			if r.Active {
				active[r.Serial] = true
			}
			out = append(out, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			r := &out[i]
			if r.Active || active[r.Serial] {
				continue // a serial active again is no longer "still held"
			}
			for _, d := range held {
				if e, ok := d.cards[r.Serial]; ok && (e.PersonID == "" || e.PersonID == r.PersonID) {
					r.PendingDoors = append(r.PendingDoors, d.door)
				}
			}
			if len(r.PendingDoors) > 0 {
				r.Note = keycardNote(len(r.PendingDoors))
			}
		}
		return nil
	})
	return out, err
}

func keycardNote(doors int) string {
	if doors == 1 {
		return "deactivated, but still works at 1 door until its lock syncs"
	}
	return "deactivated, but still works at " + strconv.Itoa(doors) + " doors until their locks sync"
}

// lockCards is the keycards one door's lock acknowledged holding.
type lockCards struct {
	door  KeycardDoor
	cards map[string]StateEntry
}

// heldKeycards reads the acknowledged state of every provisioned lock of
// the property, by door name.
func (t *Tx) heldKeycards(ctx context.Context, propertyID string) ([]lockCards, error) {
	rows, err := t.query(ctx, `SELECT d.id, d.name, d.connectivity, `+ackedState+` FROM door_locks l JOIN doors d ON d.id = l.door_id`+ackedStateJoin+`
		WHERE d.property_id = ? ORDER BY d.name, d.id`, propertyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lockCards
	for rows.Next() {
		var lc lockCards
		var state string
		if err := rows.Scan(&lc.door.DoorID, &lc.door.DoorName, &lc.door.Connectivity, &state); err != nil {
			return nil, err
		}
		var st LockState
		if state == "" || json.Unmarshal([]byte(state), &st) != nil || len(st.Keycards) == 0 {
			continue
		}
		lc.cards = st.Keycards
		out = append(out, lc)
	}
	return out, rows.Err()
}

// CardHolder is a person as the Keycards page shows them to a manager with
// Card Activation: who they are, whether a card can be activated for
// them, and their current (or last) card.
type CardHolder struct {
	ID        string        `json:"id"`
	FirstName string        `json:"first_name"`
	LastName  string        `json:"last_name"`
	Email     string        `json:"email"`
	Status    domain.Status `json:"status"`
	Card      *Keycard      `json:"card"`
}

// Name is the person's display name.
func (h CardHolder) Name() string {
	return domain.Person{FirstName: h.FirstName, LastName: h.LastName}.Name()
}

// maxCardHolders bounds a Keycards page search.
const maxCardHolders = 20

// FindCardHolders finds people (not deleted) by prefix of email, first
// name, last name or "last first", for activating or deactivating their
// card. It needs only Card Activation (or Key Management): a manager who
// hands out cards must find whom a card is for, without the People tab.
func (s *Store) FindCardHolders(ctx context.Context, a domain.Actor, propertyID, query string) ([]CardHolder, error) {
	out := []CardHolder{}
	term := strings.ToLower(strings.TrimSpace(query))
	if len(term) > 200 {
		return out, domain.FieldError("q", "must be at most 200 characters")
	}
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := cardReader(a, propertyID); err != nil {
			return err
		}
		if term == "" {
			return nil
		}
		hi := term + "\U0010FFFF"
		people, err := t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE property_id = ? AND deleted_at IS NULL
			AND ((email >= ? AND email < ?) OR (first_lc >= ? AND first_lc < ?) OR (last_lc >= ? AND last_lc < ?) OR (sort_name >= ? AND sort_name < ?))
			ORDER BY sort_name, id LIMIT ?`, propertyID, term, hi, term, hi, term, hi, term, hi, maxCardHolders)
		if err != nil {
			return err
		}
		now := s.Now()
		for _, p := range people {
			h := CardHolder{ID: p.ID, FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Status: p.Status(now)}
			k, err := t.lastKeycard(ctx, p.ID)
			switch {
			case err == nil:
				h.Card = &k
			case domain.ErrorCode(err) != domain.ENotFound:
				return err
			}
			out = append(out, h)
		}
		return nil
	})
	return out, err
}
