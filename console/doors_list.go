package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

type doorsData struct {
	Doors []doorRow
	// HideSync: without Key or Device Management the doors are listed
	// without their locks' state.
	HideSync bool
	// CanProvision: Device Management on a server that provisions locks.
	CanProvision bool
	// Unprovisioned counts doors without a lock yet.
	Unprovisioned int
	// SigningKey is the property's signing key and the rotation under
	// way, for Portfolio Managers on a server running Door Sync (nil
	// otherwise); NoSigningKey: the property has none yet.
	SigningKey   *store.PropertyKeyState
	NoSigningKey bool
	// ZWave: the doors whose lock is a Z-Wave node (console/zwave.go).
	ZWave map[string]*zwaveView
}

type doorRow struct {
	Door   domain.Door
	Task   *domain.SyncTask
	Device *store.DoorDevice
}

// doorsList lists the property's doors with their lock (provisioned or
// not, connection, last seen) and Door Sync state.
func (c *Console) doorsList(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	doors, err := c.store.ListDoors(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	tasks, err := c.store.ListSyncTasks(ctx, rq.Actor, rq.Property.ID)
	hideSync := domain.ErrorCode(err) == domain.EForbidden
	if err != nil && !hideSync {
		return err
	}
	var devices []store.DoorDevice
	if !hideSync {
		if devices, err = c.store.ListDoorDevices(ctx, rq.Actor, rq.Property.ID); err != nil {
			return err
		}
	}
	byDoor := map[string]*domain.SyncTask{}
	for i := range tasks {
		byDoor[tasks[i].DoorID] = &tasks[i]
	}
	devByDoor := map[string]*store.DoorDevice{}
	for i := range devices {
		devByDoor[devices[i].DoorID] = &devices[i]
	}
	d := doorsData{HideSync: hideSync, CanProvision: c.opts.DoorSync != nil && rq.Actor.Can(rq.Property.ID, domain.PermDevices) == nil,
		ZWave: c.zwaveByDoor(ctx, rq)}
	for _, door := range doors {
		row := doorRow{Door: door, Task: byDoor[door.ID], Device: devByDoor[door.ID]}
		if row.Device != nil && !row.Device.Provisioned {
			d.Unprovisioned++
		}
		d.Doors = append(d.Doors, row)
	}
	if c.opts.DoorSync != nil && rq.Actor.CanRotatePropertyKey() == nil {
		k, err := c.store.PropertyKeyStatus(ctx, rq.Actor, rq.Property.ID)
		switch {
		case err == nil:
			d.SigningKey = &k
		case domain.ErrorCode(err) == domain.ENotFound:
			d.NoSigningKey = true
		default:
			return err
		}
	}
	c.render(w, r, rq, http.StatusOK, "doors", "Doors", "doors", d)
	return nil
}

// signingKeyRotate starts a rotation of the property's signing key
// (Portfolio Managers; see doorsync.Service.RotatePropertyKey).
func (c *Console) signingKeyRotate(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.opts.DoorSync == nil {
		return domain.Errorf(domain.EConflict, "this server does not rotate keys (Door Sync is not running)")
	}
	k, err := c.opts.DoorSync.RotatePropertyKey(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	var flash string
	if k.Rotation == nil {
		flash = "Signing key rotated: the property has no lock, the new key " + k.Fingerprint + " is in force."
	} else {
		flash = "Signing key rotation started: every lock gets the new key " + k.Rotation.NextFingerprint + " with its next Door Sync."
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "doors")+"#signing-key", flash)
}
