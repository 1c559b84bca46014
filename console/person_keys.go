package console

import (
	"net/http"
	"time"

	"github.com/dooros/dooros/domain"
)

// personKeyGive gives one key (Keys tab). Giving a key to a revoked person
// grants access again on the same record.
func (c *Console) personKeyGive(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	keyID := r.PostFormValue("key_id")
	var err error
	if keyID == "" {
		err = domain.FieldError("key_id", "choose a key")
	}
	var in domain.GrantChange
	if err == nil {
		in.MayShare = r.PostFormValue("may_share") == "on"
		in.ExpiresAt, err = parseFormTime("expires_at", r.PostFormValue("expires_at"), rq.Property.Location())
	}
	if err == nil {
		var v domain.PersonView
		if v, err = c.store.GiveKey(ctx, rq.Actor, rq.Property.ID, id, keyID, in); err == nil {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id)+"#keys", "Gave a key to "+v.Name()+". Doors that are not internet-connected need a Door Sync.")
		}
	}
	if fe, ok := toFormError(err); ok {
		p, perr := c.store.Person(ctx, rq.Actor, rq.Property.ID, id)
		if perr != nil {
			return perr
		}
		return c.showPerson(w, r, rq, http.StatusBadRequest, p, formOf(p, rq.Property), personErrors{Give: fe})
	}
	return err
}

// personKeyTake takes one key from the person and from their guests.
func (c *Console) personKeyTake(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	v, err := c.store.TakeKey(r.Context(), rq.Actor, rq.Property.ID, id, r.PathValue("k"))
	if err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id)+"#keys",
		"Took the key from "+v.Name()+" (and from their guests). Until the offline doors are synced, their old credentials may still work there.")
}

// personKeyEdit changes how a person holds a key they already have (its
// own expiration and may-share), in place, through the same store use case
// as giving it (which bumps the key's doors and clamps guests). A value left
// as the page showed it keeps the key's own bound: an expiration that was
// the person's stays the person's (it follows a later lease change).
func (c *Console) personKeyEdit(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	id, keyID := r.PathValue("id"), r.PathValue("k")
	p, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, id)
	if err != nil {
		return err
	}
	var held *domain.GrantView
	for i := range p.Keys {
		if p.Keys[i].KeyID == keyID {
			held = &p.Keys[i]
		}
	}
	if held == nil {
		return domain.Errorf(domain.ENotFound, "%s does not hold this key; give it with Give key", p.Name())
	}
	loc := rq.Property.Location()
	in := domain.GrantChange{MayShare: r.PostFormValue("may_share") == "on"}
	// The key's own start, if it has one (after the person's).
	if held.StartsAt.After(p.StartsAt) {
		in.StartsAt = &held.StartsAt
	}
	if v := r.PostFormValue("expires_at"); v == formTime(held.ExpiresAt, loc) {
		if held.ExpiresAt != nil && !sameTime(held.ExpiresAt, p.ExpiresAt) {
			in.ExpiresAt = held.ExpiresAt
		}
	} else {
		in.ExpiresAt, err = parseFormTime("expires_at", v, loc)
	}
	if err == nil {
		if _, err = c.store.GiveKey(ctx, rq.Actor, rq.Property.ID, id, keyID, in); err == nil {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id)+"#keys",
				"Saved key "+held.Name+" of "+p.Name()+". Doors that are not internet-connected need a Door Sync.")
		}
	}
	if fe, ok := toFormError(err); ok {
		return c.showPerson(w, r, rq, http.StatusBadRequest, p, formOf(p, rq.Property), personErrors{Give: fe})
	}
	return err
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b)
}
