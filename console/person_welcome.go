package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

// personWelcome sends the person's welcome email again (store.ResendWelcome);
// when none is due the person page says why.
func (c *Console) personWelcome(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	back := propertyURL(rq.Property.ID, "people", id)
	email, err := c.store.ResendWelcome(r.Context(), rq.Actor, rq.Property.ID, id)
	if domain.ErrorCode(err) == domain.EConflict {
		return c.redirect(w, r, back, domain.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	return c.redirect(w, r, back, "The welcome email goes out again to "+email+".")
}
