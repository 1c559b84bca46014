package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/zwave"
)

// Z-Wave locks in the console (docs/zwave.md): the Z-Wave page lists the
// property's Z-Wave locks with node status, battery and slots, with
// Lock/Unlock now for Device Management; the Doors page shows each Z-Wave
// lock's battery and the Door Sync page alerts on low batteries.
func (c *Console) zwaveRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/zwave", c.inProperty(c.zwavePage))
	mux.Handle("POST /p/{p}/doors/{d}/zwave/lock-now", c.inProperty(c.zwaveLockNow))
	mux.Handle("POST /p/{p}/zwave/gateways", c.inProperty(c.zwaveAddGateway))
	mux.Handle("POST /p/{p}/zwave/bind", c.inProperty(c.zwaveBind))
}

type zwaveData struct {
	Locks      []store.ZWaveLock
	CanDevices bool
	Connected  bool // this server drives the locks (Lock/Unlock now works)
	CanAdd     bool // this server can seal gateway tokens
	Gateways   []store.ZWaveGateway
	Doors      []domain.Door // doors that may be bound (online, none bound yet)
	// The binding form: the nodes Gateway reports now (?gateway=), or why
	// they could not be listed.
	Gateway   string
	Nodes     []zwave.NodeInfo
	Bindable  []zwave.NodeInfo
	NodesErr  string
	DoorNames map[string]string
}

func (c *Console) zwavePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	locks, err := c.store.ListZWaveLocks(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := zwaveData{Locks: locks, CanDevices: rq.Actor.Can(rq.Property.ID, domain.PermDevices) == nil, Connected: c.opts.ZWave != nil,
		CanAdd: c.opts.Keys != nil}
	if d.CanDevices {
		if d.Gateways, err = c.store.ListZWaveGateways(r.Context(), rq.Actor, rq.Property.ID); err != nil {
			return err
		}
		doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
		if err != nil {
			return err
		}
		bound := map[string]bool{}
		for _, l := range locks {
			bound[l.DoorID] = true
		}
		d.DoorNames = map[string]string{}
		for _, door := range doors {
			d.DoorNames[door.ID] = door.Name
			if door.Connectivity == domain.Online && !bound[door.ID] {
				d.Doors = append(d.Doors, door)
			}
		}
		if d.Gateway = r.URL.Query().Get("gateway"); d.Gateway != "" {
			d.Nodes, err = zwave.GatewayNodes(r.Context(), c.store, c.opts.Keys, rq.Actor, rq.Property.ID, d.Gateway)
			var de *domain.Error
			switch {
			case err != nil && errors.As(err, &de):
				d.NodesErr = de.Error()
			case err != nil:
				return err
			}
			for _, n := range d.Nodes {
				if n.Bindable("") {
					d.Bindable = append(d.Bindable, n)
				}
			}
		}
	}
	c.render(w, r, rq, http.StatusOK, "zwave", "Z-Wave locks", "doors", d)
	return nil
}

// zwaveLockNow locks or unlocks a door's Z-Wave lock now (Device
// Management); the store logs it whether the lock confirmed or not.
func (c *Console) zwaveLockNow(w http.ResponseWriter, r *http.Request, rq *request) error {
	var locked bool
	switch r.PostFormValue("locked") {
	case "1":
		locked = true
	case "0":
	default:
		return domain.FieldError("locked", "must be 1 (lock) or 0 (unlock)")
	}
	ctx := r.Context()
	var door string
	err := c.store.LogZWaveLockNow(ctx, rq.Actor, rq.Property.ID, r.PathValue("d"), locked, func(l store.ZWaveLock) error {
		door = l.DoorName
		if c.opts.ZWave == nil {
			return zwave.ErrGatewayDown
		}
		return c.opts.ZWave.SetLocked(ctx, l, locked)
	})
	var de *domain.Error
	if err != nil && errors.As(err, &de) {
		return err
	}
	to := propertyURL(rq.Property.ID, "zwave")
	verb := "unlocked"
	if locked {
		verb = "locked"
	}
	if err != nil {
		return c.redirect(w, r, to, fmt.Sprintf("%s was not %s: %v", door, verb, err))
	}
	return c.redirect(w, r, to, fmt.Sprintf("%s %s.", door, verb))
}

// zwaveView is what the Doors page shows of a door's Z-Wave lock.
type zwaveView struct {
	NodeID  int
	Status  string
	Battery string // "" when not reported
	Low     bool
}

// zwaveByDoor returns the property's Z-Wave locks by door for the Doors
// page (none when the actor may not see them).
func (c *Console) zwaveByDoor(ctx context.Context, rq *request) map[string]*zwaveView {
	locks, err := c.store.ListZWaveLocks(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return nil
	}
	out := map[string]*zwaveView{}
	for _, l := range locks {
		v := &zwaveView{NodeID: l.NodeID, Status: l.Status, Low: l.BatteryLow()}
		if l.Battery != nil {
			v.Battery = strconv.Itoa(*l.Battery) + "%"
		}
		out[l.DoorID] = v
	}
	return out
}

// lowBatteries lists the property's Z-Wave locks with a low battery, for
// the Door Sync page's alert.
func (c *Console) lowBatteries(ctx context.Context, rq *request) []store.ZWaveLock {
	locks, err := c.store.ListZWaveLocks(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return nil
	}
	var out []store.ZWaveLock
	for _, l := range locks {
		if l.BatteryLow() {
			out = append(out, l)
		}
	}
	return out
}

// zwaveAddGateway registers a Z-Wave JS gateway (Device Management), the
// same store use case as POST /properties/{p}/zwave/gateways.
func (c *Console) zwaveAddGateway(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.opts.Keys == nil {
		return domain.Errorf(domain.EConflict, "this server has no keyring to seal gateway tokens")
	}
	g, err := c.store.AddZWaveGateway(r.Context(), rq.Actor, c.opts.Keys, rq.Property.ID, store.ZWaveGatewayInput{
		Name: r.PostFormValue("name"), URL: r.PostFormValue("url"), Token: r.PostFormValue("token")})
	if err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "zwave"), fmt.Sprintf("Gateway %s registered.", g.Name))
}

// zwaveBind makes a gateway's node a door's lock (Device Management), the
// same store use case as PUT /properties/{p}/doors/{d}/zwave.
// The node is chosen from the nodes the gateway reports: one it does not
// report, or that is not a lock, is refused.
func (c *Console) zwaveBind(w http.ResponseWriter, r *http.Request, rq *request) error {
	node, err := strconv.Atoi(r.PostFormValue("node_id"))
	if err != nil {
		return domain.FieldError("node_id", "must be a node number")
	}
	if err := rq.Actor.Can(rq.Property.ID, domain.PermDevices); err != nil {
		return err
	}
	doorID, gatewayID := r.PostFormValue("door_id"), r.PostFormValue("gateway_id")
	nodes, err := zwave.GatewayNodes(r.Context(), c.store, c.opts.Keys, rq.Actor, rq.Property.ID, gatewayID)
	if err != nil {
		return err
	}
	found := false
	for _, n := range nodes {
		if n.NodeID == node {
			found = true
			if !n.IsLock {
				return domain.FieldError("node_id", "node %d is not a keypad lock (it lacks User Code or Door Lock)", node)
			}
		}
	}
	if !found {
		return domain.FieldError("node_id", "the gateway reports no node %d", node)
	}
	l, err := c.store.BindZWaveLock(r.Context(), rq.Actor, rq.Property.ID, doorID, gatewayID, node)
	if err != nil {
		return err
	}
	if c.opts.ZWave != nil {
		c.opts.ZWave.Kick()
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "zwave"), fmt.Sprintf("%s is bound to Z-Wave node %d.", l.DoorName, l.NodeID))
}
