package console

import "net/http"

// personDeviceRemove removes one of the person's phones (a revocation at
// each of their doors).
func (c *Console) personDeviceRemove(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	if err := c.store.RemoveDevice(r.Context(), rq.Actor, rq.Property.ID, id, r.PathValue("d")); err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id), "Removed the phone. Offline doors need a Door Sync before it stops working there.")
}
