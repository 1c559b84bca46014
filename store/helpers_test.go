package store_test

import (
	"context"
	"crypto/ed25519"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var ctx = context.Background()

// clock is a movable test clock for store.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a seeded store with a movable clock.
type env struct {
	t     *testing.T
	st    *store.Store
	f     storetest.Fixture
	clock *clock
}

// t0 is a Monday noon in UTC.
var t0 = time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	c := &clock{t: t0}
	st.Now = c.Now
	return &env{t: t, st: st, f: storetest.Seed(t, st), clock: c}
}

func (e *env) prop() string { return e.f.Property.ID }

type inviteOpt func(*domain.InviteInput)

func withKeys(keys ...domain.GrantInput) inviteOpt {
	return func(in *domain.InviteInput) { in.Keys = keys }
}
func access(m domain.AccessMode) inviteOpt { return func(in *domain.InviteInput) { in.Access = m } }
func guestOf(id string) inviteOpt          { return func(in *domain.InviteInput) { in.InvitedBy = id } }
func window(start time.Time, end *time.Time) inviteOpt {
	return func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = &start, end }
}
func key(id string, share bool) domain.GrantInput {
	return domain.GrantInput{KeyID: id, MayShare: share}
}

// invite invites first last <email> with the fixture's Building key unless
// options say otherwise, and fails the test on error.
func (e *env) invite(first, last, email string, opts ...inviteOpt) domain.PersonView {
	e.t.Helper()
	in := domain.InviteInput{FirstName: first, LastName: last, Email: email, Access: domain.AccessApp, Resident: true,
		Keys: []domain.GrantInput{key(e.f.Building.ID, false)}}
	for _, o := range opts {
		o(&in)
	}
	v, err := e.st.Invite(ctx, e.f.PM, e.prop(), in)
	if err != nil {
		e.t.Fatalf("invite %s: %v", email, err)
	}
	return v
}

// person loads a person as the Portfolio Manager.
func (e *env) person(id string) domain.PersonView {
	e.t.Helper()
	v, err := e.st.Person(ctx, e.f.PM, e.prop(), id)
	if err != nil {
		e.t.Fatalf("person %s: %v", id, err)
	}
	return v
}

// sql rewrites "?" placeholders for PostgreSQL.
func (e *env) sql(q string) string {
	if e.st.Dialect() != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// count runs a SELECT COUNT(*) … query against the raw database.
func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.DB().QueryRowContext(ctx, e.sql(q), args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// doorcode returns a person's stored code, "" when they have none.
func (e *env) doorcode(personID string) string {
	e.t.Helper()
	rows, err := e.st.DB().QueryContext(ctx, e.sql(`SELECT code FROM doorcodes WHERE person_id = ?`), personID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	code := ""
	for rows.Next() {
		if err := rows.Scan(&code); err != nil {
			e.t.Fatal(err)
		}
	}
	return code
}

// people lists the People tab (every page).
func (e *env) people(f domain.PeopleFilter) []domain.PersonView {
	e.t.Helper()
	var out []domain.PersonView
	for {
		page, next, err := e.st.ListPeople(ctx, e.f.PM, e.prop(), f)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Cursor = next
	}
}

func ids(vs []domain.PersonView) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.ID
	}
	return out
}

func contains(vs []domain.PersonView, id string) bool {
	for _, v := range vs {
		if v.ID == id {
			return true
		}
	}
	return false
}

func wantCode(t *testing.T, err error, code domain.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", code)
	}
	if got := domain.ErrorCode(err); got != code {
		t.Fatalf("error %v has code %s, want %s", err, got, code)
	}
}

func ptr[T any](v T) *T { return &v }

// lockBundle builds the door's next bundle for its lock prov (provisioned
// with keys under the property key pub, storetest.ProvisionLocks) and
// opens it as the lock would.
func (e *env) lockBundle(keys *keyring.Keyring, pub ed25519.PublicKey, prov store.ProvisionedLock, doorID string) *lockproto.Bundle {
	e.t.Helper()
	db, err := e.st.BuildDoorBundle(ctx, keys, keys, doorID)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := lockproto.OpenBundle(pub, prov.LockID, prov.Provisioning.LockSymmetricKey, db.Sealed)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}
