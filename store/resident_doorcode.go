package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"time"

	"github.com/dooros/dooros/domain"
)

// EventDoorcodeReset is the Activity kind of a resident's own Reset
// Doorcode.
const EventDoorcodeReset = "doorcode.reset"

// MaxDoorcodeResets is how many times a resident may reset a doorcode in
// DoorcodeResetWindow. Each reset bumps every door the code opens (a
// bundle per lock, a revocation notice per online lock), so an app stuck
// in a loop, or a resident hammering the button, would keep the whole
// building's locks busy; a leaked code needs one reset.
const (
	MaxDoorcodeResets   = 5
	DoorcodeResetWindow = time.Hour
)

// ResetMyDoorcode gives the resident a new doorcode at a property (the
// app's "Reset Doorcode"): a fresh code of the property's length, unique in
// the property, in one transaction that bumps every door the code opens so
// the locks drop the old code at their next bundle (online doors within
// seconds, offline doors when a phone relays it). propertyID may be empty
// when the login covers one property.
func (s *Store) ResetMyDoorcode(ctx context.Context, r Resident, propertyID string) (ResidentDoorcode, error) {
	var rp ResidentPerson
	switch {
	case propertyID != "":
		p, ok := r.Person(propertyID)
		if !ok {
			return ResidentDoorcode{}, domain.Errorf(domain.ENotFound, "you have no access at property %s", propertyID)
		}
		rp = p
	case len(r.People) == 1:
		rp = r.People[0]
	default:
		return ResidentDoorcode{}, domain.FieldError("property_id", "your login covers several properties: say which")
	}
	var out ResidentDoorcode
	err := s.inTx(ctx, "reset_my_doorcode", func(t *Tx) error {
		p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`+t.forUpdate(), rp.ID))
		if err != nil {
			return err
		}
		if st := p.Status(s.Now()); !st.HoldsAccess() {
			return domain.Errorf(domain.EForbidden, "your access is %s", st)
		}
		var resets int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM events WHERE property_id = ? AND person_id = ? AND kind = ? AND at >= ?`,
			p.PropertyID, p.ID, EventDoorcodeReset, micros(s.Now().Add(-DoorcodeResetWindow))).Scan(&resets); err != nil {
			return err
		}
		if resets >= MaxDoorcodeResets {
			return domain.Errorf(domain.ERateLimited, "you reset your doorcode %d times in the last hour; wait a while and try again", resets)
		}
		var old string
		err = t.queryRow(ctx, `SELECT code FROM doorcodes WHERE person_id = ?`, p.ID).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "you have no doorcode at this property")
		}
		if err != nil {
			return err
		}
		prop, err := t.propertyByID(ctx, p.PropertyID)
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM doorcodes WHERE person_id = ?`, p.ID); err != nil {
			return err
		}
		code, err := t.freeDoorcode(ctx, p.PropertyID, prop.DoorcodeLength)
		if err != nil {
			return err
		}
		if code == old {
			// Unlikely but possible: the freed code drawn again.
			if code, err = t.freeDoorcode(ctx, p.PropertyID, prop.DoorcodeLength); err != nil {
				return err
			}
		}
		if _, err := t.exec(ctx, `INSERT INTO doorcodes (person_id, property_id, code, created_at) VALUES (?,?,?,?)`, p.ID, p.PropertyID, code, micros(s.Now())); err != nil {
			return err
		}
		gs, keys, err := t.personKeys(ctx, p.PropertyID, p.ID)
		if err != nil {
			return err
		}
		doors, err := t.doorsByID(ctx, p.PropertyID)
		if err != nil {
			return err
		}
		var changes []domain.DoorChange
		names := []string{}
		for _, id := range domain.DoorcodeDoors(keys, gs) {
			// The old code must stop working: a narrowing, not anyone's
			// credentials revoked (a revocation notice names the
			// resident's doorcodes only).
			changes = append(changes, domain.DoorChange{DoorID: id, Reason: "doorcode reset by " + p.Name(), Revocation: true, Doorcodes: []string{p.ID}})
			names = append(names, doors[id].Name)
		}
		sort.Strings(names)
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		e := residentEvent(p, EventDoorcodeReset, "reset their doorcode")
		e.Doors = domain.DoorcodeDoors(keys, gs)
		if err := t.addEvent(ctx, e); err != nil {
			return err
		}
		out = ResidentDoorcode{PropertyID: prop.ID, PropertyName: prop.Name, PersonID: p.ID, Code: code, Doors: names}
		return nil
	})
	return out, err
}
