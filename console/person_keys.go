package console

import (
	"net/http"

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
