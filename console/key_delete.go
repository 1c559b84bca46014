package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

type keyDeleteData struct {
	Key          domain.Key
	OfflineDoors []domain.Door
}

func (c *Console) keyDeleteConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermManageKeys); err != nil {
		return err
	}
	k, err := c.store.Key(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("k"))
	if err != nil {
		return err
	}
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return err
	}
	d := keyDeleteData{Key: k}
	for _, kd := range k.Doors {
		if door := doors[kd.DoorID]; door.Connectivity == domain.Offline {
			d.OfflineDoors = append(d.OfflineDoors, door)
		}
	}
	c.render(w, r, rq, http.StatusOK, "key_delete", "Delete key "+k.Name, "keys", d)
	return nil
}

// keyDelete deletes a key; every holder loses it.
func (c *Console) keyDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	k, err := c.store.Key(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("k"))
	if err != nil {
		return err
	}
	if err := c.store.DeleteKey(r.Context(), rq.Actor, rq.Property.ID, k.ID); err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "keys"), "Deleted key "+k.Name+". Everyone who held it lost it; offline doors need a Door Sync.")
}
