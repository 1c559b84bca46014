package console

import (
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// activityKinds are offered in the Kind filter; a value ending in "."
// selects the whole family.
var activityKinds = []struct{ Value, Label string }{
	{"", "All kinds"},
	{"person.", "People: all changes"},
	{domain.EventPersonInvited, "Invited"},
	{domain.EventGuestInvited, "Guest invited"},
	{domain.EventKeyGiven, "Key given"},
	{domain.EventKeyTaken, "Key taken"},
	{domain.EventPersonUpdated, "Person edited"},
	{domain.EventPersonRevoked, "Revoke All Keys"},
	{domain.EventPersonDeleted, "Person deleted"},
	{"door.", "Doors: unlocks, denials, syncs"},
	{domain.EventDoorUnlocked, "Unlocked"},
	{domain.EventDoorDenied, "Denied"},
	{domain.EventDoorSynced, "Synced"},
	{"key.", "Keys"},
	{"manager.", "Managers"},
}

// activityPage is how many entries the Activity page shows at a time.
const activityPage = 50

type activityData struct {
	PersonID   string
	PersonName string
	DoorID     string
	Kind       string
	From       string
	To         string
	Cursor     string
	Next       string
	// Partial: the page stopped at the store's scan budget before it
	// filled (a door filter, or a manager scoped to some doors, on a long
	// history); older entries may match.
	Partial bool
	Events  []domain.Event
	Rows    []activityRow
	// System: Door Sync's bookkeeping is shown too.
	System    bool
	Doors     []domain.Door
	Kinds     any
	Error     string
	ExportURL string
}

// activityFilter reads the filter of the Activity page and its CSV export.
// From and To are dates in the property's time zone; To is inclusive.
// Door Sync's bookkeeping is left out unless system=1 or its kind is asked
// for by name.
func activityFilter(q url.Values, loc *time.Location) (store.ActivityFilter, error) {
	f := store.ActivityFilter{PersonID: q.Get("person_id"), DoorID: q.Get("door_id"), Kind: q.Get("kind"), Cursor: q.Get("cursor")}
	if q.Get("system") != "1" && !slices.Contains(systemKinds, f.Kind) {
		f.ExcludeKinds = systemKinds
	}
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation(formDate, v, loc)
		if err != nil {
			return f, domain.FieldError("from", "%q is not a date (YYYY-MM-DD)", v)
		}
		t = t.UTC()
		f.Since = &t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.ParseInLocation(formDate, v, loc)
		if err != nil {
			return f, domain.FieldError("to", "%q is not a date (YYYY-MM-DD)", v)
		}
		t = t.AddDate(0, 0, 1).UTC()
		f.Until = &t
	}
	return f, nil
}

func (c *Console) activityList(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	d := activityData{PersonID: q.Get("person_id"), DoorID: q.Get("door_id"), Kind: q.Get("kind"), From: q.Get("from"), To: q.Get("to"),
		Cursor: q.Get("cursor"), Kinds: activityKinds, System: q.Get("system") == "1"}
	doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	byID := make(map[string]domain.Door, len(doors))
	for _, door := range doors {
		byID[door.ID] = door
	}
	// The door filter offers the doors whose entries this manager sees
	// ("specific": the doors of his keys).
	_, seen, err := c.store.Scope(r.Context(), rq.Actor, rq.Property.ID, domain.PermActivity)
	if err != nil {
		return err
	}
	for _, door := range doors {
		if seen == nil || seen[door.ID] {
			d.Doors = append(d.Doors, door)
		}
	}
	export := url.Values{}
	for _, k := range []string{"person_id", "door_id", "kind", "from", "to", "system"} {
		if v := q.Get(k); v != "" {
			export.Set(k, v)
		}
	}
	d.ExportURL = propertyURL(rq.Property.ID, "activity.csv")
	if len(export) > 0 {
		d.ExportURL += "?" + export.Encode()
	}
	status := http.StatusOK
	f, err := activityFilter(q, rq.Property.Location())
	if err == nil {
		f.Limit = activityPage
		d.Events, d.Next, err = c.store.ListActivity(r.Context(), rq.Actor, rq.Property.ID, f)
		d.Partial = d.Next != "" && len(d.Events) < activityPage
	}
	if err != nil {
		if _, ok := toFormError(err); !ok {
			return err
		}
		d.Error, status = domain.ErrorMessage(err), http.StatusBadRequest
	}
	d.Rows = activityRows(d.Events, byID, rq.Property.Location())
	for _, e := range d.Events {
		if e.PersonID == d.PersonID && e.PersonName != "" {
			d.PersonName = e.PersonName
			break
		}
	}
	c.render(w, r, rq, status, "activity", "Activity", "activity", d)
	return nil
}
