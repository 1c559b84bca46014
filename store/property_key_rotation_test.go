package store_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPropertyKeyRotationFinishesOnce: the locks of eight doors acknowledge
// the rotation at the same moment (PostgreSQL: on concurrent
// transactions). An ack of a version from before the rotation counts for
// nothing; the acks at or after it rotate each door, and the one that
// rotates the last door — whichever it is — makes the new key current,
// exactly once.
func TestPropertyKeyRotationFinishesOnce(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		keys := storetest.Keyring(t, st)
		doors := []string{f.Lobby.ID, f.Gym.ID, f.Unit101.ID}
		for i := range 5 {
			d, err := st.CreateDoor(ctx, f.PM, f.Property.ID, domain.DoorInput{Name: fmt.Sprintf("Store %d", i), Type: domain.DoorCommunal, Connectivity: domain.Offline})
			if err != nil {
				t.Fatal(err)
			}
			doors = append(doors, d.ID)
		}
		gens := map[string]int{}
		_, provs := storetest.ProvisionLocks(t, st, keys, f.PM, f.Property.ID, doors...)
		for i, d := range doors {
			gens[d] = provs[i].Generation
		}
		ack := func(door string) error {
			v, _, _, err := st.DoorVersion(ctx, door)
			if err != nil {
				return err
			}
			_, err = st.RecordLockAck(ctx, door, gens[door], &lockproto.Ack{LockID: door, Status: lockproto.AckApplied, Version: uint64(v), LockTime: time.Now()}, "test")
			return err
		}
		// The locks are at the current version: from before the rotation.
		for _, d := range doors {
			if err := ack(d); err != nil {
				t.Fatal(err)
			}
		}
		next, sealed, err := keys.NewPropertyKey(f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		state, err := st.StartPropertyKeyRotation(ctx, f.PM, f.Property.ID, next, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if state.Rotation == nil || state.Rotation.DoorsTotal != len(doors) || state.Rotation.DoorsRotated != 0 {
			t.Fatalf("started: %+v", state.Rotation)
		}
		// An ack of the version the lock held before changes nothing.
		if _, err := st.RecordLockAck(ctx, doors[0], gens[doors[0]], &lockproto.Ack{LockID: doors[0], Status: lockproto.AckStale, Version: 1, LockTime: time.Now()}, "test"); err != nil {
			t.Fatal(err)
		}
		if s, _ := st.PropertyKeyStatus(ctx, f.PM, f.Property.ID); s.Rotation == nil || s.Rotation.DoorsRotated != 0 {
			t.Fatalf("an ack from before the rotation rotated a door: %+v", s.Rotation)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, len(doors))
		for i, d := range doors {
			wg.Go(func() {
				<-start
				errs[i] = ack(d)
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("ack of %s: %v", doors[i], err)
			}
		}
		s, err := st.PropertyKeyStatus(ctx, f.PM, f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Rotation != nil || s.PublicKey != base64.StdEncoding.EncodeToString(next) {
			t.Fatalf("after every lock acknowledged: %+v", s)
		}
		events, _, err := st.ListActivity(ctx, f.PM, f.Property.ID, store.ActivityFilter{Kind: store.EventPropertyKeyRotated})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != 2 {
			t.Fatalf("%d rotation entries, want started and finished once", len(events))
		}
	})
}
