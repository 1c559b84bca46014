package console

import (
	"net/http"
	"sort"

	"github.com/dooros/dooros/domain"
)

// consequences is what Revoke All Keys or Delete Person will do, shown on
// the confirmation page before anything changes.
type consequences struct {
	Person       domain.PersonView
	Guests       []domain.GuestSummary
	OfflineDoors []domain.Door
	OnlineDoors  []domain.Door
	Delete       bool
}

func (c *Console) consequences(r *http.Request, rq *request, del bool) (consequences, error) {
	ctx := r.Context()
	p, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return consequences{}, err
	}
	out := consequences{Person: p, Guests: p.Guests, Delete: del}
	keys, err := c.store.ListKeys(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return out, err
	}
	byKey := map[string]domain.Key{}
	for _, k := range keys {
		byKey[k.ID] = k
	}
	doors, err := c.doorMap(r, rq)
	if err != nil {
		return out, err
	}
	// Every door the person or one of their guests can open changes.
	held := map[string]bool{}
	addKeys := func(gs []domain.GrantView) {
		for _, g := range gs {
			for _, kd := range byKey[g.KeyID].Doors {
				held[kd.DoorID] = true
			}
		}
	}
	addKeys(p.Keys)
	for _, g := range p.Guests {
		gv, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, g.ID)
		if err != nil {
			return out, err
		}
		addKeys(gv.Keys)
	}
	for id := range held {
		d, ok := doors[id]
		if !ok {
			continue
		}
		if d.Connectivity == domain.Offline {
			out.OfflineDoors = append(out.OfflineDoors, d)
		} else {
			out.OnlineDoors = append(out.OnlineDoors, d)
		}
	}
	byName := func(ds []domain.Door) {
		sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	}
	byName(out.OfflineDoors)
	byName(out.OnlineDoors)
	return out, nil
}

func (c *Console) personRevokeConfirm(w http.ResponseWriter, r *http.Request, rq *request) error {
	keys, err := c.store.PersonAccessKeys(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := rq.Actor.CanRevokePerson(rq.Property.ID, keys); err != nil {
		return err
	}
	d, err := c.consequences(r, rq, false)
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "person_confirm", "Revoke All Keys", "people", d)
	return nil
}

// personRevoke is Revoke All Keys: the record stays (Show Expired Users).
func (c *Console) personRevoke(w http.ResponseWriter, r *http.Request, rq *request) error {
	v, err := c.store.Revoke(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "people", v.ID),
		"Revoked all keys of "+v.Name()+" and of their guests. Until the offline doors are synced, their old credentials may still work at those locks. The record stays visible under Show Expired Users.")
}
