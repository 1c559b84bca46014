// Package storetest opens real stores for tests: SQLite always, and
// PostgreSQL when DOOROS_TEST_POSTGRES_URL is set (CI sets it). Each
// PostgreSQL test gets its own schema, so tests run in parallel and leave
// nothing behind.
package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/internal/pgschema"
)

// Backend names a database a test runs on.
type Backend struct {
	Name string
	Open func(t testing.TB) *store.Store
}

// Backends returns SQLite and, when configured, PostgreSQL.
func Backends(t testing.TB) []Backend {
	bs := []Backend{{Name: "sqlite", Open: OpenSQLite}}
	if os.Getenv("DOOROS_TEST_POSTGRES_URL") != "" {
		bs = append(bs, Backend{Name: "postgres", Open: OpenPostgres})
	} else if !testing.Short() {
		t.Log("DOOROS_TEST_POSTGRES_URL not set: PostgreSQL variants skipped (CI sets it)")
	}
	return bs
}

// Run runs fn as a subtest on every backend.
func Run(t *testing.T, fn func(t *testing.T, st *store.Store)) {
	for _, b := range Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b.Open(t)) })
	}
}

// OpenSQLite opens a migrated SQLite store in a temporary directory.
func OpenSQLite(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// PostgresURL makes a fresh schema in the database named by
// DOOROS_TEST_POSTGRES_URL (or skips the test), drops it afterwards, and
// returns a URL whose connections use it.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return pgschema.URL(t)
}

// OpenPostgres opens a migrated store in a fresh schema of the database
// named by DOOROS_TEST_POSTGRES_URL, and drops the schema afterwards.
func OpenPostgres(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), PostgresURL(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// Fixture is an initialised organisation with one property, doors and keys.
type Fixture struct {
	PM       domain.Actor
	Property domain.Property
	Lobby    domain.Door // entrance, online
	Gym      domain.Door // communal, offline
	Unit101  domain.Door // residence, offline
	Building domain.Key  // Lobby (doorcodes) + Gym
	Home     domain.Key  // Unit101 (doorcodes)
}

// PMEmail and PMPassword log in as the fixture's Portfolio Manager.
const (
	PMEmail    = "pm@example.com"
	PMPassword = "correct horse battery"
)

// Seed initialises st with the fixture.
func Seed(t testing.TB, st *store.Store) Fixture {
	t.Helper()
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Init(ctx, "Acme Residential", domain.ManagerInput{Email: PMEmail, Password: PMPassword, FirstName: "Pat", LastName: "Portfolio"}); err != nil {
		t.Fatal(err)
	}
	token, _, err := st.Login(ctx, PMEmail, PMPassword, store.TokenKindAPI)
	must(err)
	pm, err := st.Authenticate(ctx, token, store.TokenKindAPI)
	must(err)
	var f Fixture
	f.PM = pm
	f.Property, err = st.CreateProperty(ctx, pm, domain.PropertyInput{Name: "Elm Court", TimeZone: "America/New_York"})
	must(err)
	door := func(name string, typ domain.DoorType, c domain.Connectivity) domain.Door {
		d, err := st.CreateDoor(ctx, pm, f.Property.ID, domain.DoorInput{Name: name, Type: typ, Connectivity: c})
		must(err)
		return d
	}
	f.Lobby = door("Lobby", domain.DoorEntrance, domain.Online)
	f.Gym = door("Gym", domain.DoorCommunal, domain.Offline)
	f.Unit101 = door("Unit 101", domain.DoorResidence, domain.Offline)
	f.Building, err = st.CreateKey(ctx, pm, f.Property.ID, domain.KeyInput{Name: "Building", Doors: []domain.KeyDoor{
		{DoorID: f.Lobby.ID, Doorcodes: true}, {DoorID: f.Gym.ID, Schedule: domain.Schedule{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "06:00", End: "22:00"}}}}})
	must(err)
	f.Home, err = st.CreateKey(ctx, pm, f.Property.ID, domain.KeyInput{Name: "Home 101", Doors: []domain.KeyDoor{{DoorID: f.Unit101.ID, Doorcodes: true}}})
	must(err)
	return f
}

// Manager creates a Property Manager with the given assignment and returns
// their actor.
func Manager(t testing.TB, st *store.Store, pm domain.Actor, email string, as *domain.Assignment) domain.Actor {
	t.Helper()
	ctx := context.Background()
	m, err := st.CreateManager(ctx, pm, domain.ManagerInput{Email: email, FirstName: "Prop", LastName: "Manager", Role: domain.RolePropertyManager, Password: PMPassword})
	if err != nil {
		t.Fatal(err)
	}
	if as != nil {
		if _, err := st.SetAssignment(ctx, pm, m.ID, *as); err != nil {
			t.Fatal(err)
		}
	}
	token, _, err := st.Login(ctx, email, PMPassword, store.TokenKindAPI)
	if err != nil {
		t.Fatal(err)
	}
	a, err := st.Authenticate(ctx, token, store.TokenKindAPI)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Token logs in and returns an API token.
func Token(t testing.TB, st *store.Store, email string) string {
	t.Helper()
	token, _, err := st.Login(context.Background(), email, PMPassword, store.TokenKindAPI)
	if err != nil {
		t.Fatal(fmt.Errorf("login %s: %w", email, err))
	}
	return token
}

// Keyring returns a keyring under a random master key, its keys kept in st.
func Keyring(t testing.TB, st *store.Store) *keyring.Keyring {
	t.Helper()
	master := make([]byte, keyring.MasterKeySize)
	rand.Read(master)
	keys, err := keyring.New(master, st)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// ProvisionLocks gives each door a lock trusting the property's key in
// keys, as the console's provisioning does, and returns the property's
// public key and each door's provisioning in the doors' order.
func ProvisionLocks(t testing.TB, st *store.Store, keys *keyring.Keyring, pm domain.Actor, propertyID string, doorIDs ...string) (ed25519.PublicKey, []store.ProvisionedLock) {
	t.Helper()
	ctx := context.Background()
	pub, err := keys.PropertyPublicKey(ctx, propertyID)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]store.ProvisionedLock, len(doorIDs))
	for i, d := range doorIDs {
		if out[i], err = st.ProvisionLock(ctx, pm, keys, pub, propertyID, d, "pw", "hash"); err != nil {
			t.Fatalf("provision the lock of %s: %v", d, err)
		}
	}
	return pub, out
}

// YearsAhead is the year n years after the current one: a fixture date
// in it (an expiry, a lease end) stays in the future whenever the tests
// run, where a fixed year would start failing once it passed.
func YearsAhead(n int) int { return time.Now().Year() + n }

// AwayFromMidnight waits out the property's midnight when it is less than
// margin away or passed less than 5 s ago (a lock's clock may lag by a
// second), so a test that issues a day's guest code and then uses it on
// the real clock does not see the day change in between (a code is for
// one day; the test would fail only when run at that moment).
func AwayFromMidnight(t testing.TB, loc *time.Location, margin time.Duration) {
	t.Helper()
	if wait := MidnightWait(time.Now(), loc, margin); wait > 0 {
		t.Logf("waiting %v for midnight in %s to pass", wait.Round(time.Second), loc)
		time.Sleep(wait)
	}
}

// MidnightWait is how long AwayFromMidnight waits at now.
func MidnightWait(now time.Time, loc *time.Location, margin time.Duration) time.Duration {
	const after = 5 * time.Second
	y, m, d := now.In(loc).Date()
	last, next := time.Date(y, m, d, 0, 0, 0, 0, loc), time.Date(y, m, d+1, 0, 0, 0, 0, loc)
	switch {
	case next.Sub(now) < margin:
		return next.Sub(now) + after
	case now.Sub(last) < after:
		return after - now.Sub(last)
	}
	return 0
}
