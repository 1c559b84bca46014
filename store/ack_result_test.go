package store_test

import (
	"context"
	"testing"
	"time"

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
		f := storetest.Seed(t, st)
		keys := storetest.Keyring(t, st)
		door := f.Lobby.ID
		_, provs := storetest.ProvisionLocks(t, st, keys, f.PM, f.Property.ID, door)
		p := provs[0]
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
		param := "?"
		if st.Dialect() == store.Postgres {
			param = "$1"
		}
		for _, ev := range evs {
			var rows int
			if err := st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM event_doors WHERE event_id = `+param, ev.ID).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 0 {
				t.Fatalf("the ack's entry %s wrote %d event_doors rows, want none", ev.ID, rows)
			}
		}
	})
}
