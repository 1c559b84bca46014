package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// Reports are CSV exports for spreadsheets (DESIGN.md §2), written through
// csvio's Excel writer: UTF-8 BOM, CRLF, and no cell a spreadsheet could
// read as a formula. They need full Key Management. The console's Reports
// page serves the same files through WriteReport.
func (s *Server) reportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/properties/{p}/reports/admin-actions.csv", s.authed(s.report("admin-actions")))
	mux.Handle("GET /api/v1/properties/{p}/reports/assigned-access.csv", s.authed(s.report("assigned-access")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keys.csv", s.authed(s.report("keys")))
	mux.Handle("GET /api/v1/properties/{p}/reports/devices.csv", s.authed(s.report("devices")))
	mux.Handle("GET /api/v1/properties/{p}/reports/keycards.csv", s.authed(s.report("keycards")))
	mux.Handle("GET /api/v1/properties/{p}/reports/people-keys.csv", s.authed(s.report("people-keys")))
}

func (s *Server) report(name string) func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
		return WriteReport(w, r, s.Store, s.Log, a, r.PathValue("p"), name)
	}
}

// Report is one CSV report.
type Report struct {
	// Name is the file name without ".csv" (and the API path's last part).
	Name  string
	Title string
	// About says in a sentence what the report holds.
	About string
	run   func(s *Server) reportFunc
}

// Reports are the CSV reports, in the order they are offered.
var Reports = []Report{
	{"admin-actions", "Admin actions", "Every change managers and integrations made: who did what to whom, when.",
		func(s *Server) reportFunc { return s.reportAdminActions }},
	{"assigned-access", "Assigned access", "One line per person and key held, with status and the access window.",
		func(s *Server) reportFunc { return s.reportAssignedAccess }},
	{"keys", "Keys", "Each key's doors, with doorcodes and weekly schedules.",
		func(s *Server) reportFunc { return s.reportKeys }},
	{"devices", "Devices", "Each door's lock: provisioning, connection, last seen, and its Door Sync state.",
		func(s *Server) reportFunc { return s.reportDevices }},
	{"keycards", "Keycards", "Every keycard, active and deactivated, and the doors a deactivated card still opens until they sync.",
		func(s *Server) reportFunc { return s.reportKeycards }},
	{"people-keys", "People × keys", "One line per person, one column per key.",
		func(s *Server) reportFunc { return s.reportPeopleKeys }},
}

// WriteReport writes the report named name (see Reports) of a property as
// a CSV download, with a's permissions; errors before the first line are
// returned for the caller to show. Unknown names are not found.
func WriteReport(w http.ResponseWriter, r *http.Request, st *store.Store, log *slog.Logger, a domain.Actor, propertyID, name string) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, rp := range Reports {
		if rp.Name == name {
			return (&Server{Store: st, Log: log}).writeReport(w, r, a, propertyID, rp)
		}
	}
	return domain.Errorf(domain.ENotFound, "no report named %q", name)
}

// reportFunc writes one report's records; it is called after permissions
// are checked and before anything is sent, so an error still becomes a
// JSON error response when it happens before the first record.
type reportFunc func(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error

func (s *Server) writeReport(w http.ResponseWriter, r *http.Request, a domain.Actor, propertyID string, rp Report) error {
	p, err := s.Store.Property(r.Context(), a, propertyID)
	if err != nil {
		return err
	}
	if err := a.Can(p.ID, domain.PermManageKeys); err != nil {
		return err
	}
	var cw *csvio.Writer
	emit := func(rec []string) error {
		if cw == nil {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, rp.Name, s.Store.Now().In(p.Location()).Format("2006-01-02")))
			cw = csvio.NewExcelWriter(w)
		}
		return cw.Write(rec)
	}
	err = rp.run(s)(r, a, p, emit)
	if cw == nil {
		return err
	}
	if err != nil {
		// Headers are sent: the truncated file must not pass for a
		// whole one.
		s.Log.Error("report failed midway", "report", rp.Name, "property", p.ID, "err", err)
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

func (s *Server) reportAdminActions(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	if err := emit([]string{"Time", "Action", "By", "Person", "Person ID", "Detail"}); err != nil {
		return err
	}
	f := store.ActivityFilter{Limit: 1000}
	for {
		evs, next, err := s.Store.ListActivity(r.Context(), a, p.ID, f)
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
func (s *Server) eachPerson(r *http.Request, a domain.Actor, propertyID string, fn func(domain.PersonView) error) error {
	f := domain.PeopleFilter{IncludeExpired: true, Limit: 200}
	for {
		people, next, err := s.Store.ListPeople(r.Context(), a, propertyID, f)
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

func (s *Server) reportAssignedAccess(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	if err := emit([]string{"First Name", "Last Name", "Email", "Status", "Resident", "Access", "Key", "May Share", "Starts", "Expires", "Person ID", "Key ID"}); err != nil {
		return err
	}
	return s.eachPerson(r, a, p.ID, func(v domain.PersonView) error {
		for _, k := range v.Keys {
			if err := emit([]string{v.FirstName, v.LastName, v.Email, string(v.Status), yesNo(v.Resident), string(v.Access),
				k.Name, yesNo(k.MayShare), reportTime(k.StartsAt, loc), reportTimePtr(k.ExpiresAt, loc), v.ID, k.KeyID}); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Server) reportKeys(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	keys, err := s.Store.ListKeys(r.Context(), a, p.ID)
	if err != nil {
		return err
	}
	doors, err := s.Store.ListDoors(r.Context(), a, p.ID)
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

// reportDevices lists the doors' locks (ListDoorDevices: provisioned,
// connection, last heard of) and their Door Sync state.
func (s *Server) reportDevices(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	doors, err := s.Store.ListDoors(r.Context(), a, p.ID)
	if err != nil {
		return err
	}
	tasks, err := s.Store.ListSyncTasks(r.Context(), a, p.ID)
	if err != nil {
		return err
	}
	pending := map[string]domain.SyncTask{}
	for _, t := range tasks {
		pending[t.DoorID] = t
	}
	devices, err := s.Store.ListDoorDevices(r.Context(), a, p.ID)
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

// reportKeycards lists every keycard; a deactivated card names the doors
// whose lock still holds it: it opens them until they sync.
func (s *Server) reportKeycards(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	loc := p.Location()
	cards, err := s.Store.ListKeycards(r.Context(), a, p.ID)
	if err != nil {
		return err
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
		doors := make([]string, len(k.PendingDoors))
		for i, d := range k.PendingDoors {
			doors[i] = d.DoorName + " (" + string(d.Connectivity) + ")"
		}
		if err := emit([]string{k.Serial, k.FirstName, k.LastName, k.Email, string(k.PersonStatus), status, reportTime(k.ActivatedAt, loc), k.ActivatedBy,
			reportTimePtr(k.DeactivatedAt, loc), k.DeactivatedBy, strings.Join(doors, "; "), k.PersonID}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) reportPeopleKeys(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	keys, err := s.Store.ListKeys(r.Context(), a, p.ID)
	if err != nil {
		return err
	}
	head := []string{"First Name", "Last Name", "Email", "Status"}
	for _, k := range keys {
		head = append(head, k.Name)
	}
	if err := emit(head); err != nil {
		return err
	}
	return s.eachPerson(r, a, p.ID, func(v domain.PersonView) error {
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
