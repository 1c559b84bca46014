package domain

import (
	"fmt"
	"time"
)

// InvitePlan is everything inviting one person writes, decided by the
// rules before anything is stored. The store writes one plan for a
// manager's invite and a whole CSV import batch of plans with a few
// multi-row statements; both get their plans from PlanInvite, so the
// rules of an invite live here once.
type InvitePlan struct {
	Person Person
	Grants []Grant
	// Doors are the doors of the person's keys: each gets new sync work,
	// and the Activity entry names them.
	Doors []string
	// Doorcode: a key provides doorcodes, so the person gets a code.
	Doorcode bool
	// Welcome: the welcome email goes out now (WelcomeDue).
	Welcome bool
	// Event is the person.invited (or guest.invited) Activity entry.
	Event Event
}

// DoorChanges is the sync work the invite gives its doors.
func (pl InvitePlan) DoorChanges() []DoorChange {
	return Changes(pl.Doors, "access given to "+pl.Person.Name())
}

// CheckInvite applies the rules of an invite that need no stored data, in
// the order a manager meets them: permission to manage people, the input
// itself (normalized in place; the start defaults to now), permission to
// give each key.
func CheckInvite(a Actor, propertyID string, in *InviteInput, now time.Time) error {
	if err := a.Can(propertyID, PermPeople); err != nil {
		return err
	}
	if err := in.Normalize(now); err != nil {
		return err
	}
	return a.CanHandleKeys(propertyID, in.KeyIDs()...)
}

// KeyIDs lists the keys the invite gives, in its order.
func (in InviteInput) KeyIDs() []string {
	ids := make([]string, len(in.Keys))
	for i, k := range in.Keys {
		ids[i] = k.KeyID
	}
	return ids
}

// PlanInvite decides what inviting in (checked by CheckInvite) writes:
// the person personID, their grants, doorcode, door sync work, Activity
// entry and welcome email. keys holds every key the invite names; host is
// the inviting person of a guest invite (nil otherwise), whose sharing
// rules apply (CheckGuest). It refuses a doorcode-only person whose keys
// provide no doorcode.
func PlanInvite(a Actor, propertyID, personID string, in InviteInput, keys map[string]Key, host *Host, now time.Time) (InvitePlan, error) {
	in.Keys = append([]GrantInput(nil), in.Keys...) // CheckGuest marks the caller's keys otherwise
	if host != nil {
		if err := CheckGuest(*host, &in, now); err != nil {
			return InvitePlan{}, err
		}
	}
	var expires *time.Time
	if in.ExpiresAt != nil {
		e := in.ExpiresAt.UTC().Truncate(time.Microsecond)
		expires = &e
	}
	p := Person{ID: personID, PropertyID: propertyID, FirstName: in.FirstName, LastName: in.LastName,
		Email: in.Email, Phone: in.Phone, Access: in.Access, Resident: in.Resident && host == nil, UnitID: in.UnitID,
		StartsAt: in.StartsAt.UTC().Truncate(time.Microsecond), ExpiresAt: expires, InvitedBy: in.InvitedBy,
		CreatedAt: now, UpdatedAt: now}
	grants := make([]Grant, len(in.Keys))
	for i, k := range in.Keys {
		grants[i] = Grant{PersonID: p.ID, KeyID: k.KeyID, MayShare: k.MayShare}
	}
	if err := CheckAccessMode(p.Access, keys, grants); err != nil {
		return InvitePlan{}, err
	}
	doors := GrantDoors(keys, grants)
	kind, detail := EventPersonInvited, fmt.Sprintf("invited %s (%s, %d keys)", p.Email, p.Access, len(grants))
	if host != nil {
		kind, detail = EventGuestInvited, fmt.Sprintf("invited %s as a guest of %s (%s, %d keys)", p.Email, host.Person.Name(), p.Access, len(grants))
	}
	if p.StartsAt.After(now) {
		detail += ", starting " + p.StartsAt.Format(time.RFC3339)
	}
	return InvitePlan{
		Person:   p,
		Grants:   grants,
		Doors:    doors,
		Doorcode: NeedsDoorcode(keys, grants),
		// The welcome email goes out now even when access starts later, but
		// only once there is access to tell about; a contact without keys
		// gets it with their first key.
		Welcome: WelcomeDue(p.Access, keys, grants, false),
		Event: Event{PropertyID: propertyID, Kind: kind, ActorID: a.ManagerID, Actor: a.Name,
			PersonID: p.ID, PersonName: p.Name(), Detail: detail, Doors: doors},
	}, nil
}
