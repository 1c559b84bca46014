package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// GuestInput is a resident's guest invitation from the app.
type GuestInput struct {
	// PropertyID picks the person record when the login covers several.
	PropertyID string           `json:"property_id"`
	Kind       domain.GuestKind `json:"kind"`
	FirstName  string           `json:"first_name"`
	LastName   string           `json:"last_name"`
	Email      string           `json:"email"`
	Phone      string           `json:"phone"`
	// Keys are the host's shareable keys to give; a code guest gets exactly one.
	Keys []string `json:"keys"`
	// StartsAt/ExpiresAt bound an app guest.
	StartsAt  *time.Time `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// Day (YYYY-MM-DD, property time zone) is a code guest's day; default today.
	Day string `json:"day"`
}

// ResidentGuest is a guest as their host sees them.
type ResidentGuest struct {
	ID         string           `json:"id"`
	PropertyID string           `json:"property_id"`
	HostID     string           `json:"host_id"`
	Kind       domain.GuestKind `json:"kind"`
	FirstName  string           `json:"first_name"`
	LastName   string           `json:"last_name"`
	Email      string           `json:"email"`
	Status     domain.Status    `json:"status"`
	StartsAt   time.Time        `json:"starts_at"`
	ExpiresAt  *time.Time       `json:"expires_at"`
	Keys       []string         `json:"keys"`
	// Code and Day are set for code guests; the code only while it is usable.
	Code string `json:"code,omitempty"`
	Day  string `json:"day,omitempty"`
}

// guestCode is a stored computed code.
type guestCode struct {
	PersonID string
	KeyID    string
	Kind     domain.GuestKind
	Day      int64
	Slot     int
}

func (t *Tx) guestCodeOf(ctx context.Context, personID string) (*guestCode, error) {
	g := guestCode{PersonID: personID}
	err := t.queryRow(ctx, `SELECT key_id, kind, day, slot FROM guest_codes WHERE person_id = ? AND released_at IS NULL`, personID).
		Scan(&g.KeyID, &g.Kind, &g.Day, &g.Slot)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return &g, err
}

func daySecretAAD(keyID string, generation int) string {
	return fmt.Sprintf("key_day_secrets/%s/%d", keyID, generation)
}

// daySecret returns a key's day-code secret, creating it (or its next
// generation after a rotation) on first use.
func (t *Tx) daySecret(ctx context.Context, sealer Sealer, keyID string) ([]byte, int, error) {
	for range 3 {
		var sealed string
		var gen, slots int
		err := t.queryRow(ctx, `SELECT secret, generation, slots FROM key_day_secrets WHERE key_id = ?`, keyID).Scan(&sealed, &gen, &slots)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			fresh, err := newDaySecret(sealer, keyID, 1)
			if err != nil {
				return nil, 0, err
			}
			if _, err := t.exec(ctx, `INSERT INTO key_day_secrets (key_id, secret, generation, slots, created_at) VALUES (?,?,1,?,?) ON CONFLICT (key_id) DO NOTHING`,
				keyID, fresh, domain.DayCodeSlots, micros(t.s.Now())); err != nil {
				return nil, 0, err
			}
			continue
		case err != nil:
			return nil, 0, err
		case sealed == "":
			// Rotated: a code guest lost access before their day was over.
			fresh, err := newDaySecret(sealer, keyID, gen)
			if err != nil {
				return nil, 0, err
			}
			if _, err := t.exec(ctx, `UPDATE key_day_secrets SET secret = ?, created_at = ? WHERE key_id = ? AND generation = ? AND secret = ''`,
				fresh, micros(t.s.Now()), keyID, gen); err != nil {
				return nil, 0, err
			}
			continue
		}
		secret, err := sealer.Open(sealed, daySecretAAD(keyID, gen))
		return secret, slots, err
	}
	return nil, 0, fmt.Errorf("store: day secret of key %s changed during read", keyID)
}

func newDaySecret(sealer Sealer, keyID string, gen int) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return sealer.Seal(b, daySecretAAD(keyID, gen))
}

// computeGuestCode is the code the locks compute for g today.
func (t *Tx) computeGuestCode(ctx context.Context, sealer Sealer, g *guestCode, digits int) (string, error) {
	secret, _, err := t.daySecret(ctx, sealer, g.KeyID)
	if err != nil {
		return "", err
	}
	return lockproto.GuestCode(secret, g.Kind.LockKind(), g.Day, uint16(g.Slot), digits), nil
}

// DayKey is a key's day-code secret as a door's lock needs it.
type DayKey = lockproto.DayKey

// DayKeysForDoor returns the day-code secrets of every key that provides
// doorcodes at door, for its lock bundle (Door Sync). Only locks of a key's
// doorcode doors may hold its secret. Digits is the property's doorcode
// length; Schedule is the key's schedule at that door.
func (s *Store) DayKeysForDoor(ctx context.Context, sealer Sealer, doorID string) ([]lockproto.DayKey, error) {
	var out []lockproto.DayKey
	err := s.inTx(ctx, "day_keys_for_door", func(t *Tx) error {
		out = nil
		var digits int
		if err := t.queryRow(ctx, `SELECT p.doorcode_length FROM doors d JOIN properties p ON p.id = d.property_id WHERE d.id = ?`, doorID).Scan(&digits); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return domain.Errorf(domain.ENotFound, "door %s not found", doorID)
			}
			return err
		}
		rows, err := t.query(ctx, `SELECT key_id, schedule FROM key_doors WHERE door_id = ? AND doorcodes ORDER BY key_id`, doorID)
		if err != nil {
			return err
		}
		type kd struct{ id, sched string }
		kds, err := collect(rows, nil, func(sc rowScanner) (kd, error) {
			var k kd
			err := sc.Scan(&k.id, &k.sched)
			return k, err
		})
		if err != nil {
			return err
		}
		for _, k := range kds {
			secret, slots, err := t.daySecret(ctx, sealer, k.id)
			if err != nil {
				return err
			}
			var sch domain.Schedule
			if err := json.Unmarshal([]byte(k.sched), &sch); err != nil {
				return err
			}
			ls, err := sch.ToLock()
			if err != nil {
				return err
			}
			out = append(out, lockproto.DayKey{KeyID: k.id, Secret: secret, Digits: uint8(digits), Slots: uint16(slots), Schedule: ls})
		}
		return nil
	})
	return out, err
}

// hostFor picks the login's person record a guest request acts for.
func hostFor(r Resident, propertyID string) (ResidentPerson, error) {
	var live []ResidentPerson
	for _, p := range r.People {
		if p.DeletedAt == nil {
			live = append(live, p)
		}
	}
	if propertyID == "" {
		if len(live) == 1 {
			return live[0], nil
		}
		return ResidentPerson{}, domain.FieldError("property_id", "your login covers several properties; name one")
	}
	for _, p := range live {
		if p.PropertyID == propertyID {
			return p, nil
		}
	}
	return ResidentPerson{}, domain.Errorf(domain.ENotFound, "property %s not found", propertyID)
}

// InviteGuest is a resident inviting a guest on keys they may share. App
// guests go through Invite (the domain's CheckGuest keeps them inside the
// host's keys and window); code guests get a slot of the key's day codes.
// An email that already has a record at the property is invited again on
// that record when it is this host's guest whose access is over
// (domain.ReinviteGuest), as a manager gives a revoked person keys again.
func (s *Store) InviteGuest(ctx context.Context, sealer Sealer, r Resident, in GuestInput) (ResidentGuest, error) {
	host, err := hostFor(r, in.PropertyID)
	if err != nil {
		return ResidentGuest{}, err
	}
	if err := domain.CheckInviter(host.Person); err != nil {
		return ResidentGuest{}, err
	}
	if err := in.Kind.CheckRequest(in.Day, in.StartsAt, in.ExpiresAt, len(in.Keys)); err != nil {
		return ResidentGuest{}, err
	}
	actor, err := residentActor(ctx, s, host.Person)
	if err != nil {
		return ResidentGuest{}, err
	}
	grants := make([]domain.GrantInput, len(in.Keys))
	for i, k := range in.Keys {
		grants[i] = domain.GrantInput{KeyID: k}
	}
	inv := domain.InviteInput{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone,
		Keys: grants, StartsAt: in.StartsAt, ExpiresAt: in.ExpiresAt, InvitedBy: host.ID}
	prev, err := s.personWithEmail(ctx, host.PropertyID, in.Email)
	if err != nil {
		return ResidentGuest{}, err
	}
	if in.Kind.IsCode() {
		return s.inviteCodeGuest(ctx, sealer, actor, host.Person, in.Kind, in.Day, inv, prev)
	}
	inv.Access = domain.AccessApp
	if prev != "" {
		return s.reinviteAppGuest(ctx, sealer, actor, host.Person, prev, inv)
	}
	v, err := s.Invite(ctx, actor, host.PropertyID, inv)
	if err != nil {
		return ResidentGuest{}, err
	}
	g := ResidentGuest{ID: v.ID, PropertyID: v.PropertyID, HostID: host.ID, Kind: domain.GuestApp, FirstName: v.FirstName, LastName: v.LastName,
		Email: v.Email, Status: v.Status, StartsAt: v.StartsAt, ExpiresAt: v.ExpiresAt, Keys: []string{}}
	for _, k := range v.Keys {
		g.Keys = append(g.Keys, k.KeyID)
	}
	return g, nil
}

// personWithEmail finds the record (not deleted) with email at a property;
// "" when there is none or the email is invalid (the invite reports that).
func (s *Store) personWithEmail(ctx context.Context, propertyID, email string) (string, error) {
	email, err := domain.NormalizeEmail("email", email)
	if err != nil {
		return "", nil
	}
	var id string
	err = s.queryRow(ctx, `SELECT id FROM people WHERE property_id = ? AND email = ? AND deleted_at IS NULL`, propertyID, email).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// reuseGuest prepares host's finished guest record id for a new invitation
// in the same transaction: it must be host's guest whose access is over;
// its old grants and code go (their doors, returned, get a revocation:
// nothing of the old access may come back with the new one) and the record
// takes the new names, access mode and window and is no longer revoked.
func (t *Tx) reuseGuest(ctx context.Context, host domain.Person, id string, inv domain.InviteInput, now time.Time) (domain.Person, []string, error) {
	g, err := t.person(ctx, host.PropertyID, id, true)
	if err != nil {
		return g, nil, err
	}
	if err := domain.ReinviteGuest(g, host.ID, now); err != nil {
		return g, nil, err
	}
	gs, keys, err := t.personKeys(ctx, g.PropertyID, g.ID)
	if err != nil {
		return g, nil, err
	}
	oldDoors := domain.GrantDoors(keys, gs)
	for _, q := range []string{`DELETE FROM grants WHERE person_id = ?`, `DELETE FROM guest_codes WHERE person_id = ?`} {
		if _, err := t.exec(ctx, q, g.ID); err != nil {
			return g, nil, err
		}
	}
	g.FirstName, g.LastName, g.Phone, g.Access = inv.FirstName, inv.LastName, inv.Phone, inv.Access
	g.StartsAt, g.ExpiresAt = inv.StartsAt.UTC().Truncate(time.Microsecond), truncPtr(inv.ExpiresAt)
	g.RevokedAt, g.UpdatedAt = nil, now
	if _, err := t.exec(ctx, `UPDATE people SET first_name = ?, last_name = ?, phone = ?, access = ?, resident = ?, starts_at = ?, expires_at = ?,
		revoked_at = NULL, updated_at = ?, sort_name = ?, first_lc = ?, last_lc = ? WHERE id = ?`,
		g.FirstName, g.LastName, g.Phone, g.Access, false, micros(g.StartsAt), nullMicros(g.ExpiresAt), micros(now),
		sortName(g.FirstName, g.LastName), strings.ToLower(g.FirstName), strings.ToLower(g.LastName), g.ID); err != nil {
		return g, nil, err
	}
	return g, oldDoors, nil
}

// reinviteAppGuest invites host's finished guest again as an app guest, on
// the same record: what Invite does for a new guest (CheckGuest, grants,
// doorcode, sync work, Activity, welcome email).
func (s *Store) reinviteAppGuest(ctx context.Context, sealer Sealer, a domain.Actor, host domain.Person, guestID string, inv domain.InviteInput) (ResidentGuest, error) {
	var out ResidentGuest
	err := s.inTx(ctx, "reinvite_guest", func(t *Tx) error {
		now := s.Now()
		if err := inv.Normalize(now); err != nil {
			return err
		}
		// The host first, as Invite and Revoke lock them.
		hs, err := t.host(ctx, host.PropertyID, host.ID, true)
		if err != nil {
			return err
		}
		h := hs.Person
		if err := domain.CheckGuest(hs, &inv, now); err != nil {
			return err
		}
		keyIDs := make([]string, len(inv.Keys))
		for i, k := range inv.Keys {
			keyIDs[i] = k.KeyID
		}
		keys, err := t.keysByID(ctx, h.PropertyID, keyIDs)
		if err != nil {
			return err
		}
		g, oldDoors, err := t.reuseGuest(ctx, h, guestID, inv, now)
		if err != nil {
			return err
		}
		grants := make([]domain.Grant, len(inv.Keys))
		for i, k := range inv.Keys {
			grants[i] = domain.Grant{PersonID: g.ID, KeyID: k.KeyID, MayShare: k.MayShare}
			if err := t.insertGrant(ctx, grants[i]); err != nil {
				return err
			}
		}
		if err := t.syncDoorcodes(ctx, g.PropertyID, []string{g.ID}); err != nil {
			return err
		}
		doors := domain.GrantDoors(keys, grants)
		changes := domain.Changes(doors, "access given to "+g.Name())
		changes = append(changes, domain.Changes(without(oldDoors, doors), "earlier access of "+g.Name()+" replaced", g.ID)...)
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		detail := fmt.Sprintf("invited %s again as a guest of %s (%s, %d keys)", g.Email, h.Name(), g.Access, len(grants))
		if err := t.addEvent(ctx, adminEvent(a, h.PropertyID, domain.EventGuestInvited, &g, detail, doors)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE people SET welcomed_at = ? WHERE id = ?`, micros(now), g.ID); err != nil {
			return err
		}
		if err := t.enqueue(ctx, TopicWelcomeEmail, g.ID, map[string]string{"person_id": g.ID, "property_id": g.PropertyID, "invited_by": a.Name}, now); err != nil {
			return err
		}
		prop, err := t.propertyByID(ctx, g.PropertyID)
		if err != nil {
			return err
		}
		out, err = t.residentGuest(ctx, sealer, prop, g, now)
		return err
	})
	return out, err
}

// without lists the ids of a that are not in b.
func without(a, b []string) []string {
	var out []string
	for _, id := range a {
		if !slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// inviteCodeGuest gives a guest a slot of the key's guest codes for one
// day; prevID, when set, is a record with the guest's email that is
// invited again (reuseGuest decides whether it may be).
func (s *Store) inviteCodeGuest(ctx context.Context, sealer Sealer, a domain.Actor, host domain.Person, kind domain.GuestKind, dayStr string, inv domain.InviteInput, prevID string) (ResidentGuest, error) {
	var out ResidentGuest
	err := s.inTx(ctx, "invite_code_guest", func(t *Tx) error {
		now := s.Now()
		prop, err := t.propertyByID(ctx, host.PropertyID)
		if err != nil {
			return err
		}
		cd, err := domain.PlanCodeDay(dayStr, now, prop.Location())
		if err != nil {
			return err
		}
		inv.Access = domain.AccessDoorcode
		inv.StartsAt, inv.ExpiresAt = &cd.Start, &cd.DayEnd
		if err := inv.Normalize(now); err != nil {
			return err
		}
		hs, err := t.host(ctx, host.PropertyID, host.ID, true)
		if err != nil {
			return err
		}
		h := hs.Person
		keyID := inv.Keys[0].KeyID
		keys, err := t.keysByID(ctx, h.PropertyID, []string{keyID})
		if err != nil {
			return err
		}
		if err := domain.CheckGuest(hs, &inv, now); err != nil {
			return err
		}
		k := keys[keyID]
		if err := domain.CheckCodeGuestKey(k); err != nil {
			return err
		}
		var p domain.Person
		var oldDoors []string
		if prevID != "" {
			if p, oldDoors, err = t.reuseGuest(ctx, h, prevID, inv, now); err != nil {
				return err
			}
		} else if err := t.emailFree(ctx, h.PropertyID, inv.Email, ""); err != nil {
			return err
		}
		if _, _, err := t.daySecret(ctx, sealer, keyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT slot FROM guest_codes WHERE key_id = ? AND kind = ? AND day = ? AND released_at IS NULL`, keyID, kind, cd.Day)
		if err != nil {
			return err
		}
		taken := map[int]bool{}
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			taken[n] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slot, err := domain.FreeCodeSlot(taken, k.Name)
		if err != nil {
			return err
		}
		if prevID == "" {
			p = domain.Person{ID: domain.NewID("per"), PropertyID: h.PropertyID, FirstName: inv.FirstName, LastName: inv.LastName, Email: inv.Email,
				Phone: inv.Phone, Access: domain.AccessDoorcode, StartsAt: cd.Start.UTC().Truncate(time.Microsecond), ExpiresAt: truncPtr(&cd.DayEnd),
				InvitedBy: h.ID, CreatedAt: now, UpdatedAt: now}
			if _, err := t.exec(ctx, `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, unit_id,
				starts_at, expires_at, invited_by, created_at, updated_at, sort_name, first_lc, last_lc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
				p.ID, p.PropertyID, p.FirstName, p.LastName, p.Email, p.Phone, p.Access, false, nil,
				micros(p.StartsAt), nullMicros(p.ExpiresAt), p.InvitedBy, micros(now), micros(now),
				sortName(p.FirstName, p.LastName), strings.ToLower(p.FirstName), strings.ToLower(p.LastName)); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO guest_codes (person_id, key_id, kind, day, slot, created_at) VALUES (?,?,?,?,?,?)`,
			p.ID, keyID, kind, cd.Day, slot, micros(now)); err != nil {
			return err
		}
		if err := t.syncDoorcodes(ctx, p.PropertyID, []string{p.ID}); err != nil {
			return err // a reused record may still hold a resident-style doorcode
		}
		codeDoors := domain.DoorcodeDoors(keys, []domain.Grant{{KeyID: keyID}})
		// The key's locks accept only allocated slots and a few spares
		// (domain.ActiveCodeSlots): a new desired state refills the spares.
		if err := t.bumpDoors(ctx, domain.Changes(codeDoors, "guest code of key "+k.Name+" handed out")); err != nil {
			return err
		}
		if len(oldDoors) > 0 {
			if err := t.bumpDoors(ctx, domain.Changes(oldDoors, "earlier access of "+p.Name()+" replaced", p.ID)); err != nil {
				return err
			}
		}
		dayText := cd.DayStart.Format("2006-01-02")
		again := ""
		if prevID != "" {
			again = " again"
		}
		detail := fmt.Sprintf("invited %s%s as a guest of %s (%s on %s, key %s)", p.Email, again, h.Name(), kind.Describe(), dayText, k.Name)
		if err := t.addEvent(ctx, adminEvent(a, h.PropertyID, domain.EventGuestInvited, &p, detail, codeDoors)); err != nil {
			return err
		}
		if err := t.enqueue(ctx, TopicGuestCode, p.ID, map[string]string{"person_id": p.ID, "property_id": p.PropertyID, "invited_by": h.Name()}, now); err != nil {
			return err
		}
		g := &guestCode{PersonID: p.ID, KeyID: keyID, Kind: kind, Day: cd.Day, Slot: slot}
		code, err := t.computeGuestCode(ctx, sealer, g, prop.DoorcodeLength)
		if err != nil {
			return err
		}
		out = ResidentGuest{ID: p.ID, PropertyID: p.PropertyID, HostID: h.ID, Kind: kind, FirstName: p.FirstName, LastName: p.LastName,
			Email: p.Email, Status: p.Status(now), StartsAt: p.StartsAt, ExpiresAt: p.ExpiresAt, Keys: []string{keyID}, Code: code, Day: dayText}
		return nil
	})
	return out, err
}

// MyGuests lists the guests the resident invited, at every property of the
// login, with the codes of code guests that can still be used.
func (s *Store) MyGuests(ctx context.Context, sealer Sealer, r Resident) ([]ResidentGuest, error) {
	out := []ResidentGuest{}
	// A write transaction: computing a code may create a rotated secret.
	err := s.inTx(ctx, "my_guests", func(t *Tx) error {
		out = out[:0]
		now := s.Now()
		for _, host := range r.People {
			if host.DeletedAt != nil {
				continue
			}
			prop, err := t.propertyByID(ctx, host.PropertyID)
			if err != nil {
				return err
			}
			guests, err := t.guests(ctx, host.ID)
			if err != nil {
				return err
			}
			for _, g := range guests {
				rg, err := t.residentGuest(ctx, sealer, prop, g, now)
				if err != nil {
					return err
				}
				out = append(out, rg)
			}
		}
		return nil
	})
	return out, err
}

func (t *Tx) residentGuest(ctx context.Context, sealer Sealer, prop domain.Property, g domain.Person, now time.Time) (ResidentGuest, error) {
	rg := ResidentGuest{ID: g.ID, PropertyID: g.PropertyID, HostID: g.InvitedBy, Kind: domain.GuestApp, FirstName: g.FirstName, LastName: g.LastName,
		Email: g.Email, Status: g.Status(now), StartsAt: g.StartsAt, ExpiresAt: g.ExpiresAt, Keys: []string{}}
	gs, err := t.grants(ctx, g.ID)
	if err != nil {
		return rg, err
	}
	for _, gr := range gs {
		rg.Keys = append(rg.Keys, gr.KeyID)
	}
	var kind domain.GuestKind
	var keyID string
	var day int64
	err = t.queryRow(ctx, `SELECT kind, key_id, day FROM guest_codes WHERE person_id = ?`, g.ID).Scan(&kind, &keyID, &day)
	if errors.Is(err, sql.ErrNoRows) {
		return rg, nil
	}
	if err != nil {
		return rg, err
	}
	rg.Kind, rg.Keys, rg.Day = kind, []string{keyID}, lockproto.DayStart(day, prop.Location()).Format("2006-01-02")
	if rg.Status.HoldsAccess() {
		gc, err := t.guestCodeOf(ctx, g.ID)
		if err != nil || gc == nil {
			return rg, err
		}
		rg.Code, err = t.computeGuestCode(ctx, sealer, gc, prop.DoorcodeLength)
		return rg, err
	}
	return rg, nil
}

// RevokeMyGuest is a resident taking a guest's access away: the same
// cascade as Revoke All Keys on the guest, recorded under the resident's name.
func (s *Store) RevokeMyGuest(ctx context.Context, r Resident, guestID string) error {
	return s.inTx(ctx, "revoke_my_guest", func(t *Tx) error {
		var hostID, propertyID string
		err := t.queryRow(ctx, `SELECT COALESCE(invited_by, ''), property_id FROM people WHERE id = ? AND deleted_at IS NULL`, guestID).Scan(&hostID, &propertyID)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "guest %s not found", guestID)
		}
		if err != nil {
			return err
		}
		for _, host := range r.People {
			if host.ID != hostID || host.DeletedAt != nil {
				continue
			}
			g, err := t.person(ctx, propertyID, guestID, true)
			if err != nil {
				return err
			}
			if g.RevokedAt != nil {
				return domain.Errorf(domain.EConflict, "%s's access is already revoked", g.Name())
			}
			ra, err := t.residentActor(ctx, host.Person)
			if err != nil {
				return err
			}
			_, err = t.endAccess(ctx, ra, propertyID, g, false)
			return err
		}
		return domain.Errorf(domain.ENotFound, "guest %s not found", guestID)
	})
}

// endGuestCode ends a code guest's code (part of endAccess): the slot is
// released and, while the code's day is not over, the key's day secret is
// rotated — the locks compute every code of the key from it, so that is the
// only way to refuse this one — and the key's other code guests get their
// new codes by email. It returns the door changes (a revocation at every
// doorcode door of the key).
func (t *Tx) endGuestCode(ctx context.Context, guest domain.Person) ([]domain.DoorChange, error) {
	g, err := t.guestCodeOf(ctx, guest.ID)
	if err != nil || g == nil {
		return nil, err
	}
	now := t.s.Now()
	if _, err := t.exec(ctx, `UPDATE guest_codes SET released_at = ? WHERE person_id = ?`, micros(now), guest.ID); err != nil {
		return nil, err
	}
	prop, err := t.propertyByID(ctx, guest.PropertyID)
	if err != nil {
		return nil, err
	}
	loc := prop.Location()
	if !domain.CodeReissueNeeded(g.Day, now, loc) {
		return nil, nil // the code's day is over: nothing left to refuse
	}
	if _, err := t.exec(ctx, `UPDATE key_day_secrets SET secret = '', generation = generation + 1 WHERE key_id = ?`, g.KeyID); err != nil {
		return nil, err
	}
	k, err := t.key(ctx, guest.PropertyID, g.KeyID)
	if err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT person_id FROM guest_codes WHERE key_id = ? AND released_at IS NULL AND day >= ? ORDER BY person_id`,
		g.KeyID, lockproto.DayNumber(now, loc))
	if err != nil {
		return nil, err
	}
	others, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	for _, id := range others {
		if err := t.enqueue(ctx, TopicGuestCode, id, map[string]string{"person_id": id, "property_id": guest.PropertyID, "changed": "true"}, now); err != nil {
			return nil, err
		}
	}
	changes := domain.Changes(domain.DoorcodeDoors(map[string]domain.Key{k.ID: k}, []domain.Grant{{KeyID: k.ID}}),
		"guest codes of key "+k.Name+" changed", guest.ID)
	for i := range changes {
		// The guest's code is a slot of the key's day secret, not the
		// guest's: a revocation notice names the key, refusing its guest
		// codes until the bundle with the new secret arrives.
		changes[i].DayKeys = []string{k.ID}
	}
	return changes, nil
}

// endCodeGuests ends those of host's guests that hold a guest code and for
// which end(guest, code's key) holds: a code is all a code guest has, so
// the record is revoked as by Revoke All Keys (code released, the key's day
// secret rotated while the day lasts, other guests of the key re-emailed,
// keycard ended) and Activity says why. Guests whose access is already
// over are left alone. It returns the ids ended and the door changes, for
// the caller's bumpDoors.
func (t *Tx) endCodeGuests(ctx context.Context, a domain.Actor, guests []domain.Person, end func(g domain.Person, keyID string) bool, why string) (map[string]bool, []domain.DoorChange, error) {
	now := t.s.Now()
	ended := map[string]bool{}
	var changes []domain.DoorChange
	for _, g := range guests {
		if !g.Status(now).HoldsAccess() {
			continue
		}
		gc, err := t.guestCodeOf(ctx, g.ID)
		if err != nil {
			return nil, nil, err
		}
		if gc == nil || !end(g, gc.KeyID) {
			continue
		}
		codeChanges, err := t.endGuestCode(ctx, g)
		if err != nil {
			return nil, nil, err
		}
		// The guest is named whole (endGuestCode's change): the serials
		// need not be.
		if _, err := t.endKeycards(ctx, a, g.ID); err != nil {
			return nil, nil, err
		}
		if _, err := t.exec(ctx, `UPDATE people SET revoked_at = COALESCE(revoked_at, ?), updated_at = ? WHERE id = ?`, micros(now), micros(now), g.ID); err != nil {
			return nil, nil, err
		}
		if err := t.addEvent(ctx, adminEvent(a, g.PropertyID, domain.EventPersonRevoked, &g, "guest code ended: "+why, changedDoors(codeChanges))); err != nil {
			return nil, nil, err
		}
		ended[g.ID] = true
		changes = append(changes, codeChanges...)
	}
	return ended, changes, nil
}

// endKeyCodeGuests ends every code guest on key k (any host) when k as it
// is now (next; no doors when deleted) leaves them nothing to open
// (domain.KeyEndsCodeGuests), through endCodeGuests; why goes to Activity.
// Call it before the key's doors or row change: the revocations go to the
// key's doorcode doors as they were. It returns the door changes.
func (t *Tx) endKeyCodeGuests(ctx context.Context, a domain.Actor, k, next domain.Key, why string) ([]domain.DoorChange, error) {
	if !domain.KeyEndsCodeGuests(next) {
		return nil, nil
	}
	guests, err := t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE deleted_at IS NULL AND id IN
		(SELECT person_id FROM guest_codes WHERE key_id = ? AND released_at IS NULL) ORDER BY created_at, id`, k.ID)
	if err != nil {
		return nil, err
	}
	_, changes, err := t.endCodeGuests(ctx, a, guests, func(_ domain.Person, keyID string) bool { return keyID == k.ID }, why)
	return changes, err
}

// reissueGuestCodes re-emails every code guest of the property whose code
// still works today or later: their code is computed with the property's
// doorcode length, so a new length changes every guest code (called when
// the length changes, next to the regeneration of resident doorcodes).
func (t *Tx) reissueGuestCodes(ctx context.Context, propertyID string) error {
	prop, err := t.propertyByID(ctx, propertyID)
	if err != nil {
		return err
	}
	now := t.s.Now()
	rows, err := t.query(ctx, `SELECT gc.person_id FROM guest_codes gc JOIN access_keys k ON k.id = gc.key_id
		WHERE k.property_id = ? AND gc.released_at IS NULL AND gc.day >= ? ORDER BY gc.person_id`,
		propertyID, lockproto.DayNumber(now, prop.Location()))
	if err != nil {
		return err
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.enqueue(ctx, TopicGuestCode, id, map[string]string{"person_id": id, "property_id": propertyID, "changed": "true"}, now); err != nil {
			return err
		}
	}
	return nil
}
