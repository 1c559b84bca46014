package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

type doorsData struct {
	Doors    []doorRow
	HideSync bool
}

type doorRow struct {
	Door domain.Door
	Task *domain.SyncTask
}

// doorsList lists the property's doors with their Door Sync state.
func (c *Console) doorsList(w http.ResponseWriter, r *http.Request, rq *request) error {
	doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	// Sync state needs Device Management or Key Management; without them
	// the doors are listed without it.
	tasks, err := c.store.ListSyncTasks(r.Context(), rq.Actor, rq.Property.ID)
	hideSync := domain.ErrorCode(err) == domain.EForbidden
	if err != nil && !hideSync {
		return err
	}
	byDoor := map[string]*domain.SyncTask{}
	for i := range tasks {
		byDoor[tasks[i].DoorID] = &tasks[i]
	}
	d := doorsData{HideSync: hideSync}
	for _, door := range doors {
		d.Doors = append(d.Doors, doorRow{Door: door, Task: byDoor[door.ID]})
	}
	c.render(w, r, rq, http.StatusOK, "doors", "Doors", "doors", d)
	return nil
}
