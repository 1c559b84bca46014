package console

import (
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

type syncData struct {
	Tasks []domain.SyncTask
	// Exposed are the tasks with a pending revocation: until these doors
	// sync, someone whose access was taken away may still open them.
	Exposed []domain.SyncTask
	// LowBattery: Z-Wave locks whose battery is low (console/zwave.go).
	LowBattery []store.ZWaveLock
	// Couriers says who can sync each task's door (by door id).
	Couriers map[string]store.DoorCouriers
}

// syncTasks lists the Door Sync tasks: offline doors whose lock has not
// acknowledged the latest version of its desired state.
func (c *Console) syncTasks(w http.ResponseWriter, r *http.Request, rq *request) error {
	tasks, err := c.store.ListSyncTasks(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := syncData{Tasks: tasks, LowBattery: c.lowBatteries(r.Context(), rq)}
	var ids []string
	for _, t := range tasks {
		ids = append(ids, t.DoorID)
	}
	if d.Couriers, err = c.store.SyncCouriers(r.Context(), rq.Actor, rq.Property.ID, ids); err != nil {
		return err
	}
	for _, t := range tasks {
		if t.IncludesRevocation {
			d.Exposed = append(d.Exposed, t)
		}
	}
	c.render(w, r, rq, http.StatusOK, "sync", "Door Sync tasks", "sync", d)
	return nil
}

// syncAsk emails the residents who can sync a task's door (the "Who can
// sync" column) asking them to open the DOOR App near it; once per door
// per hour (store.RequestResidentSync).
func (c *Console) syncAsk(w http.ResponseWriter, r *http.Request, rq *request) error {
	asked, err := c.store.RequestResidentSync(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("d"))
	if err != nil {
		return err
	}
	names := make([]string, len(asked))
	for i, u := range asked {
		names[i] = u.Name
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "sync"), "Asked "+strings.Join(names, ", ")+" by email to open the DOOR App near the door.")
}
