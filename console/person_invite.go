package console

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// inviteForm is the Invite page's values, kept when the form comes back
// with a message.
type inviteForm struct {
	Access    string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	UnitID    string
	Resident  bool
	Keys      []string
	Share     []string
	StartsAt  string
	ExpiresAt string
}

type inviteData struct {
	Form  inviteForm
	Error *formError
	Keys  []domain.Key
	Units []domain.Unit
	Doors map[string]domain.Door
}

// defaultInvite pre-fills an invite: access now, expiring in a year (the
// article recommends an expiration on every invite).
func defaultInvite(now time.Time, loc *time.Location) inviteForm {
	start := now.In(loc).Truncate(time.Minute)
	end := start.AddDate(1, 0, 0)
	return inviteForm{Access: string(domain.AccessApp), Resident: true, StartsAt: start.Format(formDateTime), ExpiresAt: end.Format(formDateTime)}
}

func (c *Console) personInviteForm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermPeople); err != nil {
		return err
	}
	return c.showInvite(w, r, rq, http.StatusOK, defaultInvite(c.store.Now(), rq.Property.Location()), nil)
}

func (c *Console) showInvite(w http.ResponseWriter, r *http.Request, rq *request, status int, f inviteForm, ferr *formError) error {
	keys, err := c.store.ListKeys(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	// Offer only the keys this manager may give ("specific" Key Management).
	var mine []domain.Key
	for _, k := range keys {
		if rq.Actor.CanHandleKeys(rq.Property.ID, k.ID) == nil {
			mine = append(mine, k)
		}
	}
	units, err := c.store.ListUnits(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return err
	}
	c.render(w, r, rq, status, "person_invite", "Invite", "people", inviteData{Form: f, Error: ferr, Keys: mine, Units: units, Doors: doors})
	return nil
}

func (c *Console) personInviteSubmit(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermPeople); err != nil {
		return err
	}
	r.ParseForm()
	f := inviteForm{Access: r.PostFormValue("access"), FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"),
		Email: r.PostFormValue("email"), Phone: r.PostFormValue("phone"), UnitID: r.PostFormValue("unit_id"),
		Resident: r.PostFormValue("resident") == "on", Keys: r.PostForm["key"], Share: r.PostForm["share"],
		StartsAt: r.PostFormValue("starts_at"), ExpiresAt: r.PostFormValue("expires_at")}
	in, err := f.input(rq.Property.Location())
	if err == nil && in.ExpiresAt != nil {
		// The API may record a window already over (a past tenant with
		// history); inviting someone here is giving access, so an access
		// that has ended is refused (the domain's rule for an end).
		now := c.store.Now()
		start := now
		if in.StartsAt != nil {
			start = *in.StartsAt
		}
		err = domain.CheckExpiry(start, "", in.ExpiresAt, now)
	}
	if err == nil {
		var v domain.PersonView
		v, err = c.store.Invite(r.Context(), rq.Actor, rq.Property.ID, in)
		if err == nil {
			msg := fmt.Sprintf("Invited %s. The welcome email goes out now", v.Name())
			if len(in.Keys) == 0 {
				// The welcome email goes with the first key (notify).
				msg = fmt.Sprintf("Invited %s without a key: nothing opens for them yet, and the welcome email goes out when they get their first key.", v.Name())
				return c.redirect(w, r, propertyURL(rq.Property.ID, "people", v.ID), msg)
			}
			if v.Status == domain.StatusPending {
				msg += "; access starts " + v.StartsAt.In(rq.Property.Location()).Format("2006-01-02 15:04")
			}
			msg += ". Doors that are not internet-connected need a Door Sync before the new access reaches them."
			return c.redirect(w, r, propertyURL(rq.Property.ID, "people", v.ID), msg)
		}
	}
	if fe, ok := toFormError(err); ok {
		return c.showInvite(w, r, rq, http.StatusBadRequest, f, fe)
	}
	return err
}

// input turns the form into the use case's input; only decoding happens
// here, every rule is the domain's.
func (f inviteForm) input(loc *time.Location) (domain.InviteInput, error) {
	in := domain.InviteInput{FirstName: f.FirstName, LastName: f.LastName, Email: f.Email, Phone: f.Phone,
		Access: domain.AccessMode(f.Access), Resident: f.Resident, UnitID: f.UnitID}
	var err error
	if in.StartsAt, err = parseFormTime("starts_at", f.StartsAt, loc); err != nil {
		return in, err
	}
	if in.ExpiresAt, err = parseFormTime("expires_at", f.ExpiresAt, loc); err != nil {
		return in, err
	}
	for _, k := range f.Keys {
		in.Keys = append(in.Keys, domain.GrantInput{KeyID: k, MayShare: contains(f.Share, k)})
	}
	return in, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// doorMap indexes the property's doors by id.
func (c *Console) doorMap(r *http.Request, rq *request) (map[string]domain.Door, error) {
	doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]domain.Door, len(doors))
	for _, d := range doors {
		out[d.ID] = d
	}
	return out, nil
}

// keyDoorNames lists a key's doors by name, alphabetically.
func keyDoorNames(k domain.Key, doors map[string]domain.Door) string {
	names := make([]string, 0, len(k.Doors))
	for _, d := range k.Doors {
		if door, ok := doors[d.DoorID]; ok {
			names = append(names, door.Name)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
