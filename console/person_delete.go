package console

import (
	"net/http"
	"net/url"
)

func (c *Console) personDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.CanDeletePerson(rq.Property.ID); err != nil {
		return err
	}
	d, err := c.consequences(r, rq, true)
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "person_confirm", "Delete Person", "people", d)
	return nil
}

// personDelete removes the person from People; their activity stays, so
// the message links to it.
func (c *Console) personDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	p, err := c.store.Person(r.Context(), rq.Actor, rq.Property.ID, id)
	if err != nil {
		return err
	}
	if err := c.store.DeletePerson(r.Context(), rq.Actor, rq.Property.ID, id); err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "activity")+"?person_id="+url.QueryEscape(id),
		"Deleted "+p.Name()+" and removed the access of their guests. Their past activity stays here in Activity. Until the offline doors are synced, their credentials may still work at those locks.")
}
