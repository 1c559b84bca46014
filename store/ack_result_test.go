package store_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// RecordLockAck says where the door stands after the ack — its
// acknowledged version, and whether it still has something to deliver —
// exactly as a read of the door afterwards does, whatever the ack asked
// for.
func TestRecordLockAckResultMatchesTheDoor(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f, keys, p := lobbyWithLock(t, st)
		door := p.DoorID
		check := func(step string, status lockproto.AckStatus, version int64, bundle []byte, wantPending bool) {
			t.Helper()
			got, err := st.RecordLockAck(ctx, door, p.Generation, &lockproto.Ack{LockID: door, Status: status, Version: uint64(version), Bundle: bundle, LockTime: time.Now()}, "test")
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			v, acked, _, err := st.DoorVersion(ctx, door)
			if err != nil {
				t.Fatal(err)
			}
			if got.AckedVersion != acked || got.Pending != wantPending || got.Version != version {
				t.Fatalf("%s: ack result %+v; the door is at %d, acknowledged %d; want pending %v", step, got, v, acked, wantPending)
			}
		}
		b, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		// The lock applied the bundle: acknowledged, nothing pending.
		check("applied", lockproto.AckApplied, b.Version, lockproto.BundleDigest(b.Sealed), false)
		// The same lock, at that version, asks for a snapshot: still
		// acknowledged there, but a snapshot to deliver.
		check("need snapshot at the acknowledged version", lockproto.AckNeedSnapshot, b.Version, nil, true)
		check("need snapshot again", lockproto.AckNeedSnapshot, b.Version, nil, true)
		// A stale ack of an older version changes nothing: still pending.
		check("stale", lockproto.AckStale, 0, nil, true)
		// The snapshot applied: nothing pending any more.
		snap, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		check("snapshot applied", lockproto.AckApplied, snap.Version, lockproto.BundleDigest(snap.Sealed), false)

		// The lock's "applied" entries show in its door's Activity through
		// the event's own door, with no event_doors row (migration 00029
		// keeps that table for events at several doors).
		evs, _, err := st.ListActivity(ctx, f.PM, f.Property.ID, store.ActivityFilter{DoorID: door, Kind: store.EventLockAcked})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Fatalf("the door's Activity has %d door.synced entries, want the 2 applied acks", len(evs))
		}
		for _, ev := range evs {
			var rows int
			if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_doors WHERE event_id = `+param(st, 1), ev.ID).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 0 {
				t.Fatalf("the ack's entry %s wrote %d event_doors rows, want none", ev.ID, rows)
			}
		}
	})
}

// A lock's acknowledged state is read through the bundle its ack named
// (door_locks.acked_bundle, migration 00030), not copied into its row: the
// next bundle is a delta from it. A row acknowledged before the migration
// keeps its copied state, and the next bundle is a delta from that; a row
// whose bundle is gone reads no state, and the lock gets a snapshot.
func TestAckedStateReadThroughItsBundle(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f, keys, prov := lobbyWithLock(t, st)
		door := prov.DoorID
		p := func(n int) string { return param(st, n) }
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := st.DB().ExecContext(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		first, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordLockAck(ctx, door, prov.Generation, &lockproto.Ack{LockID: door, Status: lockproto.AckApplied, Version: uint64(first.Version),
			Bundle: lockproto.BundleDigest(first.Sealed), LockTime: time.Now()}, "test"); err != nil {
			t.Fatal(err)
		}
		var copied, named string
		if err := st.DB().QueryRowContext(ctx, `SELECT acked_state, acked_bundle FROM door_locks WHERE door_id = `+p(1), door).Scan(&copied, &named); err != nil {
			t.Fatal(err)
		}
		if copied != "" || named != hex.EncodeToString(lockproto.BundleDigest(first.Sealed)) {
			t.Fatalf("the lock's row after the ack: %d bytes of state, bundle %q; want no copy, the bundle %s", len(copied), named, first.Digest)
		}
		if _, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Dee", LastName: "Elta", Email: "dee@example.com",
			Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}}); err != nil {
			t.Fatal(err)
		}
		next := func(step string, wantSnapshot bool) {
			t.Helper()
			b, err := st.BuildDoorBundle(ctx, keys, keys, door)
			if err != nil {
				t.Fatal(err)
			}
			if b.Snapshot != wantSnapshot || (!wantSnapshot && b.Base != first.Version) {
				t.Fatalf("%s: bundle of version %d from base %d (snapshot %v); want snapshot %v, else from %d", step, b.Version, b.Base, b.Snapshot, wantSnapshot, first.Version)
			}
		}
		next("state read through the bundle", false)
		// As a row acknowledged before migration 00030 holds it.
		exec(`UPDATE door_locks SET acked_state = (SELECT state FROM door_bundles WHERE digest = acked_bundle), acked_bundle = '' WHERE door_id = `+p(1), door)
		next("state copied into the row", false)
		// The acknowledged bundle gone: no state known, a snapshot.
		exec(`UPDATE door_locks SET acked_state = '', acked_bundle = `+p(1)+` WHERE door_id = `+p(2), named, door)
		exec(`DELETE FROM door_bundles WHERE digest = `+p(1), named)
		next("bundle gone", true)
	})
}

// lobbyWithLock seeds the fixture property and provisions the Lobby's lock.
func lobbyWithLock(t *testing.T, st *store.Store) (storetest.Fixture, *keyring.Keyring, store.ProvisionedLock) {
	t.Helper()
	f := storetest.Seed(t, st)
	keys := storetest.Keyring(t, st)
	_, provs := storetest.ProvisionLocks(t, st, keys, f.PM, f.Property.ID, f.Lobby.ID)
	return f, keys, provs[0]
}

// param is the n-th placeholder of st's SQL for st.DB() (the driver's own).
func param(st *store.Store, n int) string {
	if st.Dialect() == store.Postgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}
