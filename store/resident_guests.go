package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// GuestKind is how a resident's guest gets in.
type GuestKind string

const (
	// GuestApp: the guest logs in to the DOOR App (start up to a year ahead,
	// optional end).
	GuestApp GuestKind = "app"
	// GuestDayCode: a doorcode valid from midnight to midnight of one day in
	// the property's time zone, computed by the locks (no sync needed).
	GuestDayCode GuestKind = "day_code"
	// GuestQuarterHourCode: a doorcode that may be first used on its day and
	// then works for 15 minutes on that lock.
	GuestQuarterHourCode GuestKind = "quarter_hour_code"
)

// DayCodeSlots is how many guest codes of each kind a key can hand out per
// day. Every slot's code is valid at the lock on every day (the lock cannot
// know which are allocated), so the number trades capacity against the
// chance of guessing a valid code: 2 × DayCodeSlots codes per key per day.
const DayCodeSlots = 20

func (k GuestKind) lockKind() lockproto.GuestCodeKind {
	if k == GuestQuarterHourCode {
		return lockproto.QuarterHourCode
	}
	return lockproto.DayCode
}

// GuestInput is a resident's guest invitation from the app.
type GuestInput struct {
	// PropertyID picks the person record when the login covers several.
	PropertyID string    `json:"property_id"`
	Kind       GuestKind `json:"kind"`
	FirstName  string    `json:"first_name"`
	LastName   string    `json:"last_name"`
	Email      string    `json:"email"`
	Phone      string    `json:"phone"`
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
	ID         string        `json:"id"`
	PropertyID string        `json:"property_id"`
	HostID     string        `json:"host_id"`
	Kind       GuestKind     `json:"kind"`
	FirstName  string        `json:"first_name"`
	LastName   string        `json:"last_name"`
	Email      string        `json:"email"`
	Status     domain.Status `json:"status"`
	StartsAt   time.Time     `json:"starts_at"`
	ExpiresAt  *time.Time    `json:"expires_at"`
	Keys       []string      `json:"keys"`
	// Code and Day are set for code guests; the code only while it is usable.
	Code string `json:"code,omitempty"`
	Day  string `json:"day,omitempty"`
}

// guestCode is a stored computed code.
type guestCode struct {
	PersonID string
	KeyID    string
	Kind     GuestKind
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
				keyID, fresh, DayCodeSlots, micros(t.s.Now())); err != nil {
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
	return lockproto.GuestCode(secret, g.Kind.lockKind(), g.Day, uint16(g.Slot), digits), nil
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
		var kds []kd
		for rows.Next() {
			var k kd
			if err := rows.Scan(&k.id, &k.sched); err != nil {
				rows.Close()
				return err
			}
			kds = append(kds, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
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
			ls, err := ScheduleToLock(sch)
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
func (s *Store) InviteGuest(ctx context.Context, sealer Sealer, r Resident, in GuestInput) (ResidentGuest, error) {
	host, err := hostFor(r, in.PropertyID)
	if err != nil {
		return ResidentGuest{}, err
	}
	if host.Access != domain.AccessApp {
		return ResidentGuest{}, domain.Errorf(domain.EForbidden, "only DOOR App users invite guests")
	}
	var org string
	if err := s.queryRow(ctx, `SELECT org_id FROM properties WHERE id = ?`, host.PropertyID).Scan(&org); err != nil {
		return ResidentGuest{}, err
	}
	actor := residentActor(org, host.Person)
	grants := make([]domain.GrantInput, len(in.Keys))
	for i, k := range in.Keys {
		grants[i] = domain.GrantInput{KeyID: k}
	}
	inv := domain.InviteInput{FirstName: in.FirstName, LastName: in.LastName, Email: in.Email, Phone: in.Phone,
		Keys: grants, StartsAt: in.StartsAt, ExpiresAt: in.ExpiresAt, InvitedBy: host.ID}
	switch in.Kind {
	case GuestApp:
		if in.Day != "" {
			return ResidentGuest{}, domain.FieldError("day", "is for doorcode guests; app guests take starts_at and expires_at")
		}
		inv.Access = domain.AccessApp
		v, err := s.Invite(ctx, actor, host.PropertyID, inv)
		if err != nil {
			return ResidentGuest{}, err
		}
		g := ResidentGuest{ID: v.ID, PropertyID: v.PropertyID, HostID: host.ID, Kind: GuestApp, FirstName: v.FirstName, LastName: v.LastName,
			Email: v.Email, Status: v.Status, StartsAt: v.StartsAt, ExpiresAt: v.ExpiresAt, Keys: []string{}}
		for _, k := range v.Keys {
			g.Keys = append(g.Keys, k.KeyID)
		}
		return g, nil
	case GuestDayCode, GuestQuarterHourCode:
		if in.StartsAt != nil || in.ExpiresAt != nil {
			return ResidentGuest{}, domain.FieldError("starts_at", "doorcode guests take a day (YYYY-MM-DD), not starts_at/expires_at")
		}
		if len(in.Keys) != 1 {
			return ResidentGuest{}, domain.FieldError("keys", "a doorcode guest gets exactly one key")
		}
		return s.inviteCodeGuest(ctx, sealer, actor, host.Person, in.Kind, in.Day, inv)
	case "":
		return ResidentGuest{}, domain.FieldError("kind", "is required (app, day_code or quarter_hour_code)")
	}
	return ResidentGuest{}, domain.FieldError("kind", "%q is not one of app, day_code, quarter_hour_code", in.Kind)
}

func (s *Store) inviteCodeGuest(ctx context.Context, sealer Sealer, a domain.Actor, host domain.Person, kind GuestKind, dayStr string, inv domain.InviteInput) (ResidentGuest, error) {
	var out ResidentGuest
	err := s.inTx(ctx, "invite_code_guest", func(t *Tx) error {
		now := s.Now()
		prop, err := t.propertyByID(ctx, host.PropertyID)
		if err != nil {
			return err
		}
		loc := prop.Location()
		day := lockproto.DayNumber(now, loc)
		if dayStr != "" {
			d, err := time.ParseInLocation("2006-01-02", dayStr, loc)
			if err != nil {
				return domain.FieldError("day", "must be a date like 2026-01-31")
			}
			day = lockproto.DayNumber(d, loc)
		}
		if day < lockproto.DayNumber(now, loc) {
			return domain.FieldError("day", "is in the past")
		}
		dayStart, dayEnd := lockproto.DayStart(day, loc), lockproto.DayStart(day+1, loc)
		// The hours of today that are already over give nothing away.
		start := dayStart
		if start.Before(now) {
			start = now
		}
		inv.Access = domain.AccessDoorcode
		inv.StartsAt, inv.ExpiresAt = &start, &dayEnd
		if err := inv.Normalize(now); err != nil {
			return err
		}
		h, err := t.person(ctx, host.PropertyID, host.ID, true)
		if err != nil {
			return err
		}
		hg, err := t.grants(ctx, h.ID)
		if err != nil {
			return err
		}
		keyID := inv.Keys[0].KeyID
		keys, err := t.keysByID(ctx, h.PropertyID, []string{keyID})
		if err != nil {
			return err
		}
		if err := domain.CheckGuest(domain.Host{Person: h, Grants: hg}, &inv, now); err != nil {
			return err
		}
		k := keys[keyID]
		if !k.ProvidesDoorcodes() {
			return domain.FieldError("keys", "key %s provides no doorcodes, so a doorcode guest could open nothing; invite an app guest instead", k.Name)
		}
		if err := t.emailFree(ctx, h.PropertyID, inv.Email, ""); err != nil {
			return err
		}
		if _, _, err := t.daySecret(ctx, sealer, keyID); err != nil {
			return err
		}
		taken := map[int]bool{}
		rows, err := t.query(ctx, `SELECT slot FROM guest_codes WHERE key_id = ? AND kind = ? AND day = ? AND released_at IS NULL`, keyID, kind, day)
		if err != nil {
			return err
		}
		for rows.Next() {
			var n int
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			taken[n] = true
		}
		rows.Close()
		slot := -1
		for i := range DayCodeSlots {
			if !taken[i] {
				slot = i
				break
			}
		}
		if slot < 0 {
			return domain.Errorf(domain.EConflict, "all %d guest codes of key %s for that day are taken; pick another day or invite an app guest", DayCodeSlots, k.Name)
		}
		p := domain.Person{ID: domain.NewID("per"), PropertyID: h.PropertyID, FirstName: inv.FirstName, LastName: inv.LastName, Email: inv.Email,
			Phone: inv.Phone, Access: domain.AccessDoorcode, StartsAt: start.UTC().Truncate(time.Microsecond), ExpiresAt: truncPtr(&dayEnd),
			InvitedBy: h.ID, CreatedAt: now, UpdatedAt: now}
		if _, err := t.exec(ctx, `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, unit_id,
			starts_at, expires_at, invited_by, created_at, updated_at, sort_name, first_lc, last_lc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.ID, p.PropertyID, p.FirstName, p.LastName, p.Email, p.Phone, p.Access, false, nil,
			micros(p.StartsAt), nullMicros(p.ExpiresAt), p.InvitedBy, micros(now), micros(now),
			sortName(p.FirstName, p.LastName), strings.ToLower(p.FirstName), strings.ToLower(p.LastName)); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO guest_codes (person_id, key_id, kind, day, slot, created_at) VALUES (?,?,?,?,?,?)`,
			p.ID, keyID, kind, day, slot, micros(now)); err != nil {
			return err
		}
		what := "single-day doorcode"
		if kind == GuestQuarterHourCode {
			what = "15-minute doorcode"
		}
		dayText := dayStart.Format("2006-01-02")
		detail := fmt.Sprintf("invited %s as a guest of %s (%s on %s, key %s)", p.Email, h.Name(), what, dayText, k.Name)
		if err := t.addEvent(ctx, adminEvent(a, h.PropertyID, domain.EventGuestInvited, &p, detail, doorcodeDoors(keys, []domain.Grant{{KeyID: keyID}}))); err != nil {
			return err
		}
		if err := t.enqueue(ctx, TopicGuestCode, p.ID, map[string]string{"person_id": p.ID, "property_id": p.PropertyID, "invited_by": h.Name()}, now); err != nil {
			return err
		}
		g := &guestCode{PersonID: p.ID, KeyID: keyID, Kind: kind, Day: day, Slot: slot}
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
	rg := ResidentGuest{ID: g.ID, PropertyID: g.PropertyID, HostID: g.InvitedBy, Kind: GuestApp, FirstName: g.FirstName, LastName: g.LastName,
		Email: g.Email, Status: g.Status(now), StartsAt: g.StartsAt, ExpiresAt: g.ExpiresAt, Keys: []string{}}
	gs, err := t.grants(ctx, g.ID)
	if err != nil {
		return rg, err
	}
	for _, gr := range gs {
		rg.Keys = append(rg.Keys, gr.KeyID)
	}
	var kind GuestKind
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
	if st := rg.Status; st == domain.StatusActive || st == domain.StatusPending {
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
			org, err := t.orgOf(ctx, propertyID)
			if err != nil {
				return err
			}
			_, err = t.endAccess(ctx, residentActor(org, host.Person), propertyID, g, false)
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
	if !now.Before(lockproto.DayStart(g.Day+1, loc)) {
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
	return domain.Changes(doorcodeDoors(map[string]domain.Key{k.ID: k}, []domain.Grant{{KeyID: k.ID}}),
		"guest codes of key "+k.Name+" changed", guest.ID), nil
}
