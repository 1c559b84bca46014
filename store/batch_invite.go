package store

import (
	"context"
	"strings"

	"github.com/dooros/dooros/domain"
)

const insertPerson = `INSERT INTO people (id, property_id, first_name, last_name, email, phone, access, resident, unit_id,
	starts_at, expires_at, invited_by, created_at, updated_at, sort_name, first_lc, last_lc, welcomed_at) VALUES `

// writeInvites writes planned invites (domain.PlanInvite) of one property:
// the people, their grants and doorcodes with a few multi-row statements
// whatever their number, and their door sync work, Activity entries and
// welcome emails with the transaction's deferred writes (flushDoors). A
// manager's invite writes one plan; a CSV import batch writes all its new
// people at once. The plans' emails must be free (checked by the caller).
// It answers the doorcodes it issued, by person id.
func (t *Tx) writeInvites(ctx context.Context, a domain.Actor, prop domain.Property, plans []domain.InvitePlan) (map[string]string, error) {
	if len(plans) == 0 {
		return nil, nil
	}
	people := make([][]any, len(plans))
	var grants []domain.Grant
	var coded []string
	var changes []domain.DoorChange
	events := make([]domain.Event, len(plans))
	for i, pl := range plans {
		p := pl.Person
		welcomedAt := nullMicros(nil)
		if pl.Welcome {
			welcomedAt = nullMicros(&p.CreatedAt)
		}
		people[i] = []any{p.ID, p.PropertyID, p.FirstName, p.LastName, p.Email, p.Phone, p.Access, p.Resident, nullString(p.UnitID),
			micros(p.StartsAt), nullMicros(p.ExpiresAt), nullString(p.InvitedBy), micros(p.CreatedAt), micros(p.UpdatedAt),
			sortName(p.FirstName, p.LastName), strings.ToLower(p.FirstName), strings.ToLower(p.LastName), welcomedAt}
		grants = append(grants, pl.Grants...)
		if pl.Doorcode {
			// A new person holds no code yet: no need to read what they hold.
			coded = append(coded, p.ID)
		}
		changes = append(changes, pl.DoorChanges()...)
		events[i] = pl.Event
	}
	if err := t.insertRows(ctx, insertPerson, people, ""); err != nil {
		return nil, err
	}
	if len(grants) > 0 {
		if err := t.insertGrants(ctx, grants); err != nil {
			return nil, err
		}
	}
	codes, err := t.issueDoorcodes(ctx, prop.ID, prop.DoorcodeLength, coded)
	if err != nil {
		return nil, err
	}
	if err := t.bumpDoors(ctx, changes); err != nil {
		return nil, err
	}
	if err := t.addEvents(ctx, events); err != nil {
		return nil, err
	}
	for _, pl := range plans {
		if pl.Welcome {
			if err := t.enqueueWelcome(ctx, a, pl.Person); err != nil {
				return nil, err
			}
		}
	}
	return codes, nil
}
