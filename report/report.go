// Package report writes the CSV reports for spreadsheets (DESIGN.md §2)
// through csvio's Excel writer: UTF-8 BOM, CRLF, and no cell a
// spreadsheet could read as a formula. They need Key Management; a
// "specific" manager gets them cut to his keys, their doors and the people
// who hold them (domain.Actor.Scope). The
// API (GET /api/v1/properties/{p}/reports/{name}.csv) and the console's
// Reports page both serve them through Write.
package report

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// Report is one CSV report.
type Report struct {
	// Name is the file name without ".csv" (and the API path's last part).
	Name  string
	Title string
	// About says in a sentence what the report holds.
	About string
	run   func(g gen) writer
}

// All are the CSV reports, in the order they are offered.
var All = []Report{
	{"admin-actions", "Admin actions", "Every change managers and integrations made: who did what to whom, when.",
		func(g gen) writer { return g.adminActions }},
	{"assigned-access", "Assigned access", "One line per person and key held, with status and the access window.",
		func(g gen) writer { return g.assignedAccess }},
	{"keys", "Keys", "Each key's doors, with doorcodes and weekly schedules.",
		func(g gen) writer { return g.keys }},
	{"devices", "Devices", "Each door's lock: provisioning, connection, last seen, and its Door Sync state.",
		func(g gen) writer { return g.devices }},
	{"keycards", "Keycards", "Every keycard, active and deactivated, and the doors a deactivated card still opens until they sync.",
		func(g gen) writer { return g.keycards }},
	{"people-keys", "People × keys", "One line per person, one column per key.",
		func(g gen) writer { return g.peopleKeys }},
}

// Allowed is the permission every report needs: Key Management of the
// property (domain.PermReports).
func Allowed(a domain.Actor, propertyID string) error {
	_, err := a.Scope(propertyID, domain.PermReports)
	return err
}

// Write writes the report named name (see All) of a property as a CSV
// download, with a's permissions; errors before the first line are
// returned for the caller to show. Unknown names are not found.
func Write(w http.ResponseWriter, r *http.Request, st *store.Store, log *slog.Logger, a domain.Actor, propertyID, name string) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, rp := range All {
		if rp.Name == name {
			return write(w, r, gen{st: st}, log, a, propertyID, rp)
		}
	}
	return domain.Errorf(domain.ENotFound, "no report named %q", name)
}

// gen reads what the reports hold, within scope: the keys and doors
// (nil: all) the manager sees.
type gen struct {
	st    *store.Store
	scope domain.Scope
	doors map[string]bool
}

// seesDoor reports whether a door is in the report's scope.
func (g gen) seesDoor(id string) bool { return g.doors == nil || g.doors[id] }

// holder reports whether a person holds a key of the scope: the people a
// "specific" manager's reports list.
func (g gen) holder(v domain.PersonView) bool {
	if g.scope.All {
		return true
	}
	for _, k := range v.Keys {
		if g.scope.HasKey(k.KeyID) {
			return true
		}
	}
	return false
}

// writer writes one report's records; it is called after permissions are
// checked and before anything is sent, so an error still becomes an error
// response when it happens before the first record.
type writer func(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error

func write(w http.ResponseWriter, r *http.Request, g gen, log *slog.Logger, a domain.Actor, propertyID string, rp Report) error {
	p, err := g.st.Property(r.Context(), a, propertyID)
	if err != nil {
		return err
	}
	if g.scope, g.doors, err = g.st.Scope(r.Context(), a, p.ID, domain.PermReports); err != nil {
		return err
	}
	var cw *csvio.Writer
	emit := func(rec []string) error {
		if cw == nil {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, rp.Name, g.st.Now().In(p.Location()).Format("2006-01-02")))
			cw = csvio.NewExcelWriter(w)
		}
		return cw.Write(rec)
	}
	err = rp.run(g)(r.Context(), a, p, emit)
	if cw == nil {
		return err
	}
	if err != nil {
		// Headers are sent: the truncated file must not pass for a
		// whole one.
		log.Error("report failed midway", "report", rp.Name, "property", p.ID, "err", err)
		cw.Write([]string{"REPORT INCOMPLETE: internal error"})
	}
	cw.Flush()
	return nil
}

func reportTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}

func reportTimePtr(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return reportTime(*t, loc)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// lockEvents are reported by locks and phones, not done by anyone: they
// are Activity, not admin actions.
var lockEvents = map[string]bool{domain.EventDoorUnlocked: true, domain.EventDoorDenied: true, domain.EventDoorSynced: true}

func (g gen) adminActions(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	if err := emit([]string{"Time", "Action", "By", "Person", "Person ID", "Detail"}); err != nil {
		return err
	}
	f := store.ActivityFilter{Limit: 1000}
	for {
		evs, next, err := g.st.ListActivity(ctx, a, p.ID, f)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if lockEvents[e.Kind] || strings.HasPrefix(e.Kind, "lock.") {
				continue
			}
			if err := emit([]string{reportTime(e.At, loc), e.Kind, e.Actor, e.PersonName, e.PersonID, e.Detail}); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

// eachPerson pages through People including expired and revoked people.
func (g gen) eachPerson(ctx context.Context, a domain.Actor, propertyID string, fn func(domain.PersonView) error) error {
	f := domain.PeopleFilter{IncludeExpired: true, Limit: 200}
	for {
		people, next, err := g.st.ListPeople(ctx, a, propertyID, f)
		if err != nil {
			return err
		}
		for _, p := range people {
			if err := fn(p); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		f.Cursor = next
	}
}

func (g gen) assignedAccess(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	if err := emit([]string{"First Name", "Last Name", "Email", "Status", "Resident", "Access", "Key", "May Share", "Starts", "Expires", "Person ID", "Key ID"}); err != nil {
		return err
	}
	return g.eachPerson(ctx, a, p.ID, func(v domain.PersonView) error {
		for _, k := range v.Keys {
			if !g.scope.HasKey(k.KeyID) {
				continue
			}
			if err := emit([]string{v.FirstName, v.LastName, v.Email, string(v.Status), yesNo(v.Resident), string(v.Access),
				k.Name, yesNo(k.MayShare), reportTime(k.StartsAt, loc), reportTimePtr(k.ExpiresAt, loc), v.ID, k.KeyID}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (g gen) keys(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	keys, err := g.st.ListKeys(ctx, a, p.ID)
	if err != nil {
		return err
	}
	doors, err := g.st.ListDoors(ctx, a, p.ID)
	if err != nil {
		return err
	}
	byID := map[string]domain.Door{}
	for _, d := range doors {
		byID[d.ID] = d
	}
	if err := emit([]string{"Key", "Door", "Door Type", "Connectivity", "Doorcodes", "Schedule", "Key ID", "Door ID"}); err != nil {
		return err
	}
	for _, k := range keys {
		if !g.scope.HasKey(k.ID) {
			continue
		}
		for _, kd := range k.Doors {
			d := byID[kd.DoorID]
			if err := emit([]string{k.Name, d.Name, string(d.Type), string(d.Connectivity), yesNo(kd.Doorcodes), scheduleText(kd.Schedule), k.ID, kd.DoorID}); err != nil {
				return err
			}
		}
	}
	return nil
}

// scheduleText writes a weekly schedule as "mon tue 06:00-22:00; sat 08:00-12:00"
// (empty: always).
func scheduleText(sc domain.Schedule) string {
	if len(sc) == 0 {
		return "always"
	}
	parts := make([]string, len(sc))
	for i, w := range sc {
		parts[i] = strings.Join(w.Days, " ") + " " + w.Start + "-" + w.End
	}
	return strings.Join(parts, "; ")
}

// devices lists the doors' locks (ListDoorDevices: provisioned,
// connection, last heard of) and their Door Sync state.
func (g gen) devices(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	doors, err := g.st.ListDoors(ctx, a, p.ID)
	if err != nil {
		return err
	}
	tasks, err := g.st.ListSyncTasks(ctx, a, p.ID)
	if err != nil {
		return err
	}
	pending := map[string]domain.SyncTask{}
	for _, t := range tasks {
		pending[t.DoorID] = t
	}
	devices, err := g.st.ListDoorDevices(ctx, a, p.ID)
	if err != nil {
		return err
	}
	locks := map[string]store.DoorDevice{}
	for _, d := range devices {
		locks[d.DoorID] = d
	}
	if err := emit([]string{"Door", "Door Type", "Connectivity", "Lock ID", "Lock Provisioned", "Provisioned At", "Generation", "Connection", "Last Seen",
		"Version", "Lock Version", "Pending Changes", "Pending Since", "Pending Revocation", "Last Synced", "Door ID"}); err != nil {
		return err
	}
	sort.Slice(doors, func(i, j int) bool { return doors[i].Name < doors[j].Name })
	for _, d := range doors {
		if !g.seesDoor(d.ID) {
			continue
		}
		t, l := pending[d.ID], locks[d.ID]
		since, last := "", reportTimePtr(l.LastSyncedAt, loc)
		if t.PendingChanges > 0 {
			since = reportTime(t.OldestChangeAt, loc)
		}
		gen := ""
		if l.Provisioned {
			gen = strconv.Itoa(l.Generation)
		}
		if err := emit([]string{d.Name, string(d.Type), string(d.Connectivity), d.LockID, yesNo(l.Provisioned), reportTimePtr(l.ProvisionedAt, loc), gen,
			l.Connection, reportTimePtr(l.LastSeenAt, loc), strconv.FormatInt(l.Version, 10), strconv.FormatInt(l.AckedVersion, 10),
			strconv.Itoa(t.PendingChanges), since, yesNo(t.IncludesRevocation), last, d.ID}); err != nil {
			return err
		}
	}
	return nil
}

// keycards lists every keycard; a deactivated card names the doors
// whose lock still holds it: it opens them until they sync.
func (g gen) keycards(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	cards, err := g.st.ListKeycards(ctx, a, p.ID)
	if err != nil {
		return err
	}
	// "Specific": the cards of people who hold one of his keys, and cards
	// his doors still hold until they sync.
	var holders map[string]bool
	if !g.scope.All {
		holders = map[string]bool{}
		if err := g.eachPerson(ctx, a, p.ID, func(v domain.PersonView) error {
			if g.holder(v) {
				holders[v.ID] = true
			}
			return nil
		}); err != nil {
			return err
		}
	}
	if err := emit([]string{"Serial Number", "First Name", "Last Name", "Email", "Person Status", "Status", "Activated", "Activated By",
		"Deactivated", "Deactivated By", "Still Works At Until Synced", "Person ID"}); err != nil {
		return err
	}
	for _, k := range cards {
		status := "active"
		if !k.Active {
			status = "deactivated"
		}
		var doors []string
		for _, d := range k.PendingDoors {
			if g.seesDoor(d.DoorID) {
				doors = append(doors, d.DoorName+" ("+string(d.Connectivity)+")")
			}
		}
		if holders != nil && !holders[k.PersonID] && len(doors) == 0 {
			continue
		}
		if err := emit([]string{k.Serial, k.FirstName, k.LastName, k.Email, string(k.PersonStatus), status, reportTime(k.ActivatedAt, loc), k.ActivatedBy,
			reportTimePtr(k.DeactivatedAt, loc), k.DeactivatedBy, strings.Join(doors, "; "), k.PersonID}); err != nil {
			return err
		}
	}
	return nil
}

func (g gen) peopleKeys(ctx context.Context, a domain.Actor, p domain.Property, emit func([]string) error) error {
	keys, err := g.st.ListKeys(ctx, a, p.ID)
	if err != nil {
		return err
	}
	keys = slices.DeleteFunc(keys, func(k domain.Key) bool { return !g.scope.HasKey(k.ID) })
	head := []string{"First Name", "Last Name", "Email", "Status"}
	for _, k := range keys {
		head = append(head, k.Name)
	}
	if err := emit(head); err != nil {
		return err
	}
	return g.eachPerson(ctx, a, p.ID, func(v domain.PersonView) error {
		if !g.holder(v) {
			return nil
		}
		held := map[string]bool{}
		for _, k := range v.Keys {
			held[k.KeyID] = true
		}
		rec := []string{v.FirstName, v.LastName, v.Email, string(v.Status)}
		for _, k := range keys {
			cell := ""
			if held[k.ID] {
				cell = "x"
			}
			rec = append(rec, cell)
		}
		return emit(rec)
	})
}
