package store_test

import (
	"context"
	"errors"
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
