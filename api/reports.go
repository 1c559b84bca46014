package api

import (
	"fmt"
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
// read as a formula. They need full Key Management.
func (s *Server) reportRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/properties/{p}/reports/admin-actions.csv", s.authed(s.report("admin-actions", s.reportAdminActions)))
	mux.Handle("GET /api/v1/properties/{p}/reports/assigned-access.csv", s.authed(s.report("assigned-access", s.reportAssignedAccess)))
	mux.Handle("GET /api/v1/properties/{p}/reports/keys.csv", s.authed(s.report("keys", s.reportKeys)))
	mux.Handle("GET /api/v1/properties/{p}/reports/devices.csv", s.authed(s.report("devices", s.reportDevices)))
	mux.Handle("GET /api/v1/properties/{p}/reports/keycards.csv", s.authed(s.report("keycards", s.reportKeycards)))
	mux.Handle("GET /api/v1/properties/{p}/reports/people-keys.csv", s.authed(s.report("people-keys", s.reportPeopleKeys)))
}

// reportFunc writes one report's records; it is called after permissions
// are checked and before anything is sent, so an error still becomes a
// JSON error response when it happens before the first record.
type reportFunc func(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error

func (s *Server) report(name string, fn reportFunc) func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
		p, err := s.Store.Property(r.Context(), a, r.PathValue("p"))
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
				w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.csv"`, name, s.Store.Now().In(p.Location()).Format("2006-01-02")))
				cw = csvio.NewExcelWriter(w)
			}
			return cw.Write(rec)
		}
		err = fn(r, a, p, emit)
		if cw == nil {
			return err
		}
		if err != nil {
			// Headers are sent: the truncated file must not pass for a
			// whole one.
			s.Log.Error("report failed midway", "report", name, "property", p.ID, "err", err)
			cw.Write([]string{"REPORT INCOMPLETE: internal error"})
		}
		cw.Flush()
		return nil
	}
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

// reportDevices lists the doors' locks and their Door Sync state.
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
	if err := emit([]string{"Door", "Door Type", "Connectivity", "Lock ID", "Pending Changes", "Pending Since", "Pending Revocation", "Last Synced", "Door ID"}); err != nil {
		return err
	}
	sort.Slice(doors, func(i, j int) bool { return doors[i].Name < doors[j].Name })
	for _, d := range doors {
		t := pending[d.ID]
		since, last := "", reportTimePtr(t.LastSyncedAt, loc)
		if t.PendingChanges > 0 {
			since = reportTime(t.OldestChangeAt, loc)
		}
		if err := emit([]string{d.Name, string(d.Type), string(d.Connectivity), d.LockID, strconv.Itoa(t.PendingChanges), since,
			yesNo(t.IncludesRevocation), last, d.ID}); err != nil {
			return err
		}
	}
	return nil
}

// reportKeycards: keycards are not stored yet (the keycard feature is being
// built), so the report is the header only.
func (s *Server) reportKeycards(r *http.Request, a domain.Actor, p domain.Property, emit func([]string) error) error {
	return emit([]string{"Serial Number", "First Name", "Last Name", "Email", "Status", "Activated", "Deactivated", "Person ID"})
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
