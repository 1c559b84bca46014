package store_test

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// Every commit that queues a door push runs the registered hooks — the
// Revoke use case too, which no adapter wakes Door Sync for — and a commit
// that queues none, or a rolled-back transaction, does not.
func TestOnDoorStateQueued(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var n atomic.Int32
		remove := st.OnDoorStateQueued(func() { n.Add(1) })
		p := e.invite("Ana", "Lopez", "ana@example.com") // grants the Building key: its doors get a version
		if n.Load() == 0 {
			t.Fatal("an invite that changed doors ran no hook")
		}
		n.Store(0)
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p.ID); err != nil {
			t.Fatal(err)
		}
		if n.Load() != 1 {
			t.Fatalf("revoke ran the hook %d times, want 1", n.Load())
		}
		n.Store(0)
		// No door changes: no hook.
		if _, err := st.CreateDoor(ctx, e.f.PM, e.prop(), domain.DoorInput{Name: "Attic", Type: domain.DoorCommunal, Connectivity: domain.Offline}); err != nil {
			t.Fatal(err)
		}
		// Refused: nothing committed, no hook.
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), "nobody"); err == nil {
			t.Fatal("revoked a person who does not exist")
		}
		if n.Load() != 0 {
			t.Fatalf("hook ran %d times without a queued door push", n.Load())
		}
		remove()
		e.invite("Ben", "Ode", "ben@example.com")
		if n.Load() != 0 {
			t.Fatal("a removed hook still ran")
		}
	})
}

// Every commit that narrows someone's access tells the OnRevocation hooks
// which doors, at which new version, for whom — after the commit, so a
// notice never refuses anyone for a change that rolled back — and a
// widening, a refused revoke or a rolled-back group member tells nothing.
func TestOnRevocation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var calls [][]store.RevokedDoor
		remove := st.OnRevocation(func(d []store.RevokedDoor) { calls = append(calls, d) })
		defer remove()
		p := e.invite("Ana", "Lopez", "ana@example.com")
		if len(calls) != 0 {
			t.Fatalf("an invite (a widening) told the hooks %v", calls)
		}
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p.ID); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 1 {
			t.Fatalf("revoke told the hooks %d times, want 1", len(calls))
		}
		doors := map[string]bool{}
		for _, d := range calls[0] {
			doors[d.DoorID] = true
			var version int64
			if err := st.DB().QueryRow(`SELECT version FROM doors WHERE id = $1`, d.DoorID).Scan(&version); err != nil {
				t.Fatal(err)
			}
			if d.Version != version || len(d.PersonIDs) != 1 || d.PersonIDs[0] != p.ID {
				t.Errorf("door %s: version %d (door at %d), people %v; want the door's version and [%s]", d.DoorID, d.Version, version, d.PersonIDs, p.ID)
			}
		}
		if !doors[e.f.Lobby.ID] || !doors[e.f.Gym.ID] {
			t.Errorf("revoked doors %v lack the Building key's Lobby and Gym", doors)
		}
		calls = nil
		// Refused: nothing committed.
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), "nobody"); err == nil {
			t.Fatal("revoked a person who does not exist")
		}
		// Rolled back inside a group: the member's revocation is gone.
		ben := e.invite("Ben", "Ode", "ben@example.com")
		boom := errors.New("boom")
		errs := st.Group(ctx, "test_group", 1, func(ctx context.Context, _ int) error {
			if _, err := st.Revoke(ctx, e.f.PM, e.prop(), ben.ID); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(errs[0], boom) {
			t.Fatalf("group: %v", errs)
		}
		if len(calls) != 0 {
			t.Fatalf("a refused or rolled-back revoke told the hooks %v", calls)
		}
	})
}

// Group records many use cases in one transaction; a failing one rolls
// back only what it wrote, and its error is its own.
func TestGroup(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var ops []string
		st.Observe = func(op string, _ time.Duration) { ops = append(ops, op) }
		boom := errors.New("boom")
		names := []string{"G0", "G1", "G2", "G3"}
		errs := st.Group(ctx, "test_group", len(names), func(ctx context.Context, i int) error {
			in := domain.DoorInput{Name: names[i], Type: domain.DoorCommunal, Connectivity: domain.Offline}
			if i == 2 {
				in.Name = "" // refused by the rules
			}
			if _, err := st.CreateDoor(ctx, e.f.PM, e.prop(), in); err != nil {
				return err
			}
			if i == 1 {
				return boom // after writing: its door must go
			}
			return nil
		})
		st.Observe = nil
		if errs[0] != nil || !errors.Is(errs[1], boom) || domain.ErrorCode(errs[2]) != domain.EInvalid || errs[3] != nil {
			t.Fatalf("errors %v", errs)
		}
		if strings.Join(ops, ",") != "test_group" {
			t.Fatalf("transactions %v, want one test_group", ops)
		}
		for name, want := range map[string]int{"G0": 1, "G1": 0, "G2": 0, "G3": 1} {
			if n := e.count(`SELECT COUNT(*) FROM doors WHERE name = ?`, name); n != want {
				t.Errorf("%d doors named %s, want %d", n, name, want)
			}
		}

		t.Run("ErrWholeGroupFails", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			errs := st.Group(cctx, "test_group", 2, func(ctx context.Context, i int) error {
				if _, err := st.CreateDoor(ctx, e.f.PM, e.prop(), domain.DoorInput{Name: "H" + names[i], Type: domain.DoorCommunal, Connectivity: domain.Offline}); err != nil {
					return err
				}
				cancel()
				return ctx.Err()
			})
			if errs[0] == nil || errs[1] == nil {
				t.Fatalf("errors %v", errs)
			}
			if n := e.count(`SELECT COUNT(*) FROM doors WHERE name LIKE 'H%'`); n != 0 {
				t.Fatalf("%d doors written by a failed group", n)
			}
		})
	})
}

// TestOnRevocationNamesBeyondPeople: narrowings that take no person's whole
// access tell the hooks what they took, for the revocation notices — a
// code guest's end names the key whose day secret rotated (and the guest);
// a card deactivated or replaced names its serial (one made secure names
// nothing: until its bundle the lock could not tell the card from a
// clone); a doorcode reset names the resident's doorcodes. Each reaches
// the doors it narrowed and no person is named for the card or the reset.
func TestOnRevocationNamesBeyondPeople(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		var calls [][]store.RevokedDoor
		remove := st.OnRevocation(func(d []store.RevokedDoor) { calls = append(calls, d) })
		defer remove()
		// last is the one call since the previous step, checked for door.
		last := func(what, door string) store.RevokedDoor {
			t.Helper()
			if len(calls) != 1 {
				t.Fatalf("%s told the hooks %d times, want 1", what, len(calls))
			}
			for _, d := range calls[0] {
				if d.DoorID == door {
					calls = nil
					return d
				}
			}
			t.Fatalf("%s: door %s not among %+v", what, door, calls[0])
			return store.RevokedDoor{}
		}
		host := e.host.People[0].Person
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		calls = nil
		if err := st.RevokeMyGuest(ctx, e.host, g.ID); err != nil {
			t.Fatal(err)
		}
		if d := last("ending a guest code", e.f.Lobby.ID); !reflect.DeepEqual(d.DayKeys, []string{e.f.Building.ID}) || !reflect.DeepEqual(d.PersonIDs, []string{g.ID}) {
			t.Fatalf("ending a guest code: %+v", d)
		}

		if _, err := st.ActivateKeycard(ctx, e.f.PM, e.prop(), host.ID, "CARD-1"); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 0 {
			t.Fatalf("activating a first card (a widening) told the hooks %v", calls)
		}
		if _, err := st.ActivateKeycard(ctx, e.f.PM, e.prop(), host.ID, "CARD-2"); err != nil {
			t.Fatal(err)
		}
		if d := last("replacing a card", e.f.Lobby.ID); !reflect.DeepEqual(d.Cards, []string{"CARD-1"}) || len(d.PersonIDs) != 0 {
			t.Fatalf("replacing a card: %+v", d)
		}
		if _, err := st.ActivateSecureKeycard(ctx, e.f.PM, e.keys, e.prop(), host.ID, "CARD-2"); err != nil {
			t.Fatal(err)
		}
		if len(calls) != 0 {
			t.Fatalf("making a card secure told the hooks %+v", calls)
		}
		if _, err := st.DeactivateKeycard(ctx, e.f.PM, e.prop(), host.ID); err != nil {
			t.Fatal(err)
		}
		if d := last("deactivating a card", e.f.Gym.ID); !reflect.DeepEqual(d.Cards, []string{"CARD-2"}) || len(d.PersonIDs) != 0 {
			t.Fatalf("deactivating a card: %+v", d)
		}

		if _, err := st.ResetMyDoorcode(ctx, e.host, ""); err != nil {
			t.Fatal(err)
		}
		if d := last("resetting a doorcode", e.f.Unit101.ID); !reflect.DeepEqual(d.Doorcodes, []string{host.ID}) || len(d.PersonIDs) != 0 || len(d.Cards) != 0 {
			t.Fatalf("resetting a doorcode: %+v", d)
		}

		// A key that stops opening its doorcode door names itself there
		// (its guests' codes), beside its holders.
		if _, err := st.UpdateKey(ctx, e.f.PM, e.prop(), e.f.Building.ID, domain.KeyInput{Name: "Building", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}}); err != nil {
			t.Fatal(err)
		}
		if d := last("a key leaving its doorcode door", e.f.Lobby.ID); !reflect.DeepEqual(d.DayKeys, []string{e.f.Building.ID}) || !slices.Contains(d.PersonIDs, host.ID) {
			t.Fatalf("a key leaving its doorcode door: %+v", d)
		}
	})
}
