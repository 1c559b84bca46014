package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

// personEdit changes contact details and the access window. Only fields
// that differ from the stored person go into the patch, so a form that
// shows times to the minute does not move a start by its seconds (which
// would count as narrowing access).
func (c *Console) personEdit(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	cur, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	// Permission before validation, as the store does it.
	keys, err := c.store.PersonAccessKeys(ctx, rq.Actor, rq.Property.ID, cur.ID)
	if err != nil {
		return err
	}
	if err := rq.Actor.CanEditPerson(rq.Property.ID, keys); err != nil {
		return err
	}
	old := formOf(cur, rq.Property)
	f := personForm{FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"), Email: r.PostFormValue("email"),
		Phone: r.PostFormValue("phone"), UnitID: r.PostFormValue("unit_id"), Resident: r.PostFormValue("resident") == "on",
		StartsAt: r.PostFormValue("starts_at"), ExpiresAt: r.PostFormValue("expires_at")}
	patch, err := f.patch(old, rq.Property)
	if err == nil {
		_, err = c.store.UpdatePerson(ctx, rq.Actor, rq.Property.ID, cur.ID, patch)
		if err == nil {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "people", cur.ID), "Saved. Doors that are not internet-connected need a Door Sync for a changed access window.")
		}
	}
	if fe, ok := toFormError(err); ok {
		return c.showPerson(w, r, rq, http.StatusBadRequest, cur, f, personErrors{Edit: fe})
	}
	return err
}

func (f personForm) patch(old personForm, prop domain.Property) (domain.PersonPatch, error) {
	var pp domain.PersonPatch
	str := func(next, prev string) *string {
		if next == prev {
			return nil
		}
		return &next
	}
	pp.FirstName, pp.LastName, pp.Email, pp.Phone, pp.UnitID = str(f.FirstName, old.FirstName), str(f.LastName, old.LastName),
		str(f.Email, old.Email), str(f.Phone, old.Phone), str(f.UnitID, old.UnitID)
	if f.Resident != old.Resident {
		pp.Resident = &f.Resident
	}
	loc := prop.Location()
	if f.StartsAt != old.StartsAt {
		t, err := parseFormTime("starts_at", f.StartsAt, loc)
		if err != nil {
			return pp, err
		}
		if t == nil {
			return pp, domain.FieldError("starts_at", "is required")
		}
		pp.StartsAt = t
	}
	if f.ExpiresAt != old.ExpiresAt {
		t, err := parseFormTime("expires_at", f.ExpiresAt, loc)
		if err != nil {
			return pp, err
		}
		pp.ExpiresAtSet, pp.ExpiresAt = true, t
	}
	return pp, nil
}
