package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

type keysData struct {
	Keys  []domain.Key
	Doors map[string]domain.Door
}

// keysList shows the property's keys; managing them needs full Key
// Management (the page says so instead of offering buttons).
func (c *Console) keysList(w http.ResponseWriter, r *http.Request, rq *request) error {
	keys, err := c.store.ListKeys(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "keys", "Keys", "keys", keysData{Keys: keys, Doors: doors})
	return nil
}
