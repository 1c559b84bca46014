package console

import (
	"net/http"
)

// propertyPicker is the start page: a manager with one property goes
// straight to its People tab, one with several picks.
func (c *Console) propertyPicker(w http.ResponseWriter, r *http.Request, rq *request) error {
	props, err := c.store.ListProperties(r.Context(), rq.Actor)
	if err != nil {
		return err
	}
	if len(props) == 1 {
		http.Redirect(w, r, propertyURL(props[0].ID, "people"), http.StatusSeeOther)
		return nil
	}
	c.render(w, r, rq, http.StatusOK, "properties", "Properties", "", props)
	return nil
}

// propertyGo answers the header's property picker form.
func (c *Console) propertyGo(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.URL.Query().Get("p")
	if _, err := c.store.Property(r.Context(), rq.Actor, id); err != nil {
		return err
	}
	http.Redirect(w, r, propertyURL(id, "people"), http.StatusSeeOther)
	return nil
}
