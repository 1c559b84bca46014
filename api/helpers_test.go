package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// person is the API's person shape as the tests read it.
type person struct {
	ID        string     `json:"id"`
	FirstName string     `json:"first_name"`
	LastName  string     `json:"last_name"`
	Email     string     `json:"email"`
	Phone     string     `json:"phone"`
	Access    string     `json:"access"`
	Resident  bool       `json:"resident"`
	UnitID    string     `json:"unit_id"`
	Status    string     `json:"status"`
	StartsAt  time.Time  `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	InvitedBy string     `json:"invited_by"`
	UpdatedAt time.Time  `json:"updated_at"`
	Doorcode  string     `json:"doorcode"`
	Keys      []grant    `json:"keys"`
	Guests    []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	} `json:"guests"`
}

type grant struct {
	KeyID     string     `json:"key_id"`
	Name      string     `json:"name"`
	MayShare  bool       `json:"may_share"`
	StartsAt  time.Time  `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func (p person) keyIDs() []string {
	out := []string{}
	for _, k := range p.Keys {
		out = append(out, k.KeyID)
	}
	return out
}

type event struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	Actor      string    `json:"actor"`
	PersonID   string    `json:"person_id"`
	PersonName string    `json:"person_name"`
	DoorID     string    `json:"door_id"`
	Detail     string    `json:"detail"`
}

type syncTask struct {
	DoorID             string     `json:"door_id"`
	DoorName           string     `json:"door_name"`
	PendingChanges     int        `json:"pending_changes"`
	OldestChangeAt     time.Time  `json:"oldest_change_at"`
	IncludesRevocation bool       `json:"includes_revocation"`
	LastSyncedAt       *time.Time `json:"last_synced_at"`
}

type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// env wraps apitest.Env with paths and shortcuts used across the tests.
type env struct {
	*apitest.Env
	t    *testing.T
	prop string // /api/v1/properties/{p}
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	e := apitest.New(t, st)
	return &env{Env: e, t: t, prop: "/api/v1/properties/" + e.F.Property.ID}
}

// want fails the test unless the response has the status; it returns the
// response for chaining.
func (e *env) want(res *apitest.Response, status int) *apitest.Response {
	e.t.Helper()
	if res.Status != status {
		e.t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	return res
}

// ok sends a request as the Portfolio Manager and wants status.
func (e *env) ok(method, path string, body any, status int) *apitest.Response {
	e.t.Helper()
	return e.want(e.Do(method, path, e.PMToken, body), status)
}

func (e *env) invite(body map[string]any) person {
	e.t.Helper()
	var p person
	e.ok("POST", e.prop+"/people", body, 201).Decode(e.t, &p)
	return p
}

func (e *env) person(id string) person {
	e.t.Helper()
	var p person
	e.ok("GET", e.prop+"/people/"+id, nil, 200).Decode(e.t, &p)
	return p
}

func (e *env) people(query string) []person {
	e.t.Helper()
	var l list[person]
	e.ok("GET", e.prop+"/people"+query, nil, 200).Decode(e.t, &l)
	return l.Items
}

func (e *env) activity(query string) []event {
	e.t.Helper()
	var l list[event]
	e.ok("GET", e.prop+"/activity"+query, nil, 200).Decode(e.t, &l)
	return l.Items
}

func (e *env) syncTasks() map[string]syncTask {
	e.t.Helper()
	var l list[syncTask]
	e.ok("GET", e.prop+"/sync-tasks", nil, 200).Decode(e.t, &l)
	out := map[string]syncTask{}
	for _, s := range l.Items {
		out[s.DoorID] = s
	}
	return out
}

// ackAll makes every door's lock acknowledge its latest version, so the
// next change starts with no sync tasks.
func (e *env) ackAll() {
	e.t.Helper()
	rows, err := e.Store.DB().Query(`SELECT id, version FROM doors`)
	if err != nil {
		e.t.Fatal(err)
	}
	type dv struct {
		id string
		v  int64
	}
	var ds []dv
	for rows.Next() {
		var d dv
		if err := rows.Scan(&d.id, &d.v); err != nil {
			e.t.Fatal(err)
		}
		ds = append(ds, d)
	}
	rows.Close()
	for _, d := range ds {
		if err := e.Store.AckDoor(context.Background(), d.id, d.v); err != nil {
			e.t.Fatal(err)
		}
	}
}

// moveClock moves the store's clock by d and logs the Portfolio Manager in
// again (tokens expire with the clock).
func (e *env) moveClock(d time.Duration) {
	e.t.Helper()
	now := e.Store.Now()
	e.Store.Now = func() time.Time { return now.Add(d) }
	e.PMToken = storetest.Token(e.t, e.Store, storetest.PMEmail)
}

// counted are the tables a refused request must not write to.
var counted = []string{"properties", "doors", "units", "access_keys", "key_doors", "people", "grants", "doorcodes",
	"events", "outbox", "door_changes", "managers", "manager_properties"}

// counts snapshots row counts plus the sum of door versions.
func (e *env) counts() string {
	e.t.Helper()
	var b strings.Builder
	for _, tbl := range counted {
		var n int
		if err := e.Store.DB().QueryRow(`SELECT COUNT(*) FROM ` + tbl).Scan(&n); err != nil {
			e.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s=%d ", tbl, n)
	}
	var v int64
	if err := e.Store.DB().QueryRow(`SELECT COALESCE(SUM(version), 0) FROM doors`).Scan(&v); err != nil {
		e.t.Fatal(err)
	}
	fmt.Fprintf(&b, "door_versions=%d", v)
	return b.String()
}

// countWhere counts rows of a table matching a condition with one argument.
func (e *env) countWhere(table, cond string, arg any) int {
	e.t.Helper()
	q := `SELECT COUNT(*) FROM ` + table + ` WHERE ` + cond
	if e.Store.Dialect() == store.Postgres {
		q = strings.Replace(q, "?", "$1", 1)
	}
	var n int
	if err := e.Store.DB().QueryRow(q, arg).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// managerToken creates a Property Manager with an assignment (nil: none)
// and returns an API token for them.
func (e *env) managerToken(email string, as *domain.Assignment) string {
	e.t.Helper()
	storetest.Manager(e.t, e.Store, e.F.PM, email, as)
	return storetest.Token(e.t, e.Store, email)
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func hasKind(evs []event, kind, personID string) bool {
	for _, ev := range evs {
		if ev.Kind == kind && (personID == "" || ev.PersonID == personID) {
			return true
		}
	}
	return false
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
