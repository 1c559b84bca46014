package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

type personData struct {
	Person    domain.PersonView
	Edit      personForm
	EditError *formError
	GiveError *formError
	CardError *formError
	// Serial is a rejected serial, shown again in the keycard form.
	Serial string
	// Keycard is the person's active or last card (nil: never had one);
	// HideCard: this manager may not see cards.
	Keycard  *store.Keycard
	HideCard bool
	// Exposed counts the doors that may still admit the person beyond the
	// access they hold now (until those doors sync).
	Exposed int
	// Giveable are keys the person does not hold that this manager may give.
	Giveable []domain.Key
	Units    []domain.Unit
	Unit     string
	Host     *domain.PersonView
	Activity []activityRow
	Emails   []store.OutboxStatus
	Devices  []store.Device
	Doors    map[string]domain.Door
	// KeyDoors names the doors of every key of the property.
	KeyDoors map[string]string
	// What this manager may do to the person (domain's rules, so the page
	// offers no button the store would refuse): edit the record, take
	// each key, Revoke All Keys (and remove a phone: a revocation at
	// all their doors too), Delete Person.
	CanEdit, CanRevoke, CanDelete bool
	Takeable                      map[string]bool
}

type personForm struct {
	FirstName string
	LastName  string
	Email     string
	Phone     string
	UnitID    string
	Resident  bool
	StartsAt  string
	ExpiresAt string
}

func formOf(p domain.PersonView, prop domain.Property) personForm {
	loc := prop.Location()
	return personForm{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.Phone, UnitID: p.UnitID, Resident: p.Resident,
		StartsAt: formTime(&p.StartsAt, loc), ExpiresAt: formTime(p.ExpiresAt, loc)}
}

// personShow is the person page: details, Keys tab, guests, devices,
// keycard, emails and activity of this person.
func (c *Console) personShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	p, err := c.store.Person(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.showPerson(w, r, rq, http.StatusOK, p, formOf(p, rq.Property), personErrors{})
}

// personErrors are the rejected forms of a person page shown again.
type personErrors struct {
	Edit, Give, Card *formError
	Serial           string
}

func (c *Console) showPerson(w http.ResponseWriter, r *http.Request, rq *request, status int, p domain.PersonView, edit personForm, errs personErrors) error {
	ctx := r.Context()
	d := personData{Person: p, Edit: edit, EditError: errs.Edit, GiveError: errs.Give, CardError: errs.Card, Serial: errs.Serial, KeyDoors: map[string]string{}}
	keys, err := c.store.ListKeys(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	if d.Doors, err = c.doorMap(r, rq); err != nil {
		return err
	}
	for _, k := range keys {
		d.KeyDoors[k.ID] = keyDoorNames(k, d.Doors)
	}
	held := map[string]bool{}
	d.Takeable = map[string]bool{}
	for _, g := range p.Keys {
		held[g.KeyID] = true
		d.Takeable[g.KeyID] = rq.Actor.CanHandleKeys(rq.Property.ID, g.KeyID) == nil
	}
	access, err := c.store.PersonAccessKeys(ctx, rq.Actor, rq.Property.ID, p.ID)
	if err != nil {
		return err
	}
	d.CanEdit = rq.Actor.CanEditPerson(rq.Property.ID, access) == nil
	d.CanRevoke = rq.Actor.CanRevokePerson(rq.Property.ID, access) == nil
	d.CanDelete = rq.Actor.CanDeletePerson(rq.Property.ID) == nil
	for _, k := range keys {
		if !held[k.ID] && rq.Actor.CanHandleKeys(rq.Property.ID, k.ID) == nil {
			d.Giveable = append(d.Giveable, k)
		}
	}
	if d.Units, err = c.store.ListUnits(ctx, rq.Actor, rq.Property.ID); err != nil {
		return err
	}
	for _, u := range d.Units {
		if u.ID == p.UnitID {
			d.Unit = u.Name
		}
	}
	if p.InvitedBy != "" {
		if h, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, p.InvitedBy); err == nil {
			d.Host = &h
		}
	}
	events, _, err := c.store.ListActivity(ctx, rq.Actor, rq.Property.ID, store.ActivityFilter{PersonID: p.ID, Limit: 20})
	if err != nil {
		return err
	}
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return err
	}
	d.Activity = activityRows(events, doors, rq.Property.Location())
	if d.Emails, err = c.store.PersonEmails(ctx, rq.Actor, rq.Property.ID, p.ID); err != nil {
		return err
	}
	if d.Devices, err = c.store.PersonDevices(ctx, rq.Actor, rq.Property.ID, p.ID); err != nil {
		return err
	}
	switch k, err := c.store.PersonKeycard(ctx, rq.Actor, rq.Property.ID, p.ID); {
	case err == nil:
		d.Keycard = &k
	case domain.ErrorCode(err) == domain.ENotFound:
	case domain.ErrorCode(err) == domain.EForbidden:
		d.HideCard = true
	default:
		return err
	}
	if p.Status != domain.StatusDeleted {
		// Not only after Revoke All Keys: a key taken or an earlier
		// expiration leaves the same exposure at unsynced doors.
		exp, err := c.store.PersonExposure(ctx, rq.Actor, rq.Property.ID, p.ID)
		if err != nil {
			return err
		}
		d.Exposed = len(exp)
	}
	c.render(w, r, rq, status, "person_show", p.Name(), "people", d)
	return nil
}
