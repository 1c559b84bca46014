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
}

type zwaveData struct {
	Locks      []store.ZWaveLock
	CanDevices bool
	Connected  bool // this server drives the locks (Lock/Unlock now works)
}

func (c *Console) zwavePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	locks, err := c.store.ListZWaveLocks(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := zwaveData{Locks: locks, CanDevices: rq.Actor.Can(rq.Property.ID, domain.PermDevices) == nil, Connected: c.opts.ZWave != nil}
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
