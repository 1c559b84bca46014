package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func TestSyncTasks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		tasks := func() map[string]domain.SyncTask {
			t.Helper()
			ts, err := st.ListSyncTasks(ctx, e.f.PM, e.prop())
			if err != nil {
				t.Fatal(err)
			}
			out := map[string]domain.SyncTask{}
			for _, tk := range ts {
				out[tk.DoorID] = tk
			}
			return out
		}
		if n := len(tasks()); n != 0 {
			t.Fatalf("%d sync tasks before any access change", n)
		}
		first := e.clock.Now()
		p := e.invite("Ana", "Lopez", "ana@example.com") // Building: Lobby (online) + Gym (offline)
		ts := tasks()
		if _, ok := ts[e.f.Lobby.ID]; ok {
			t.Fatal("an online door is listed as a Door Sync task")
		}
		gym, ok := ts[e.f.Gym.ID]
		if !ok || len(ts) != 1 {
			t.Fatalf("tasks %v, want the Gym only", ts)
		}
		if gym.PendingChanges != 1 || gym.IncludesRevocation || !gym.OldestChangeAt.Equal(first) || gym.LastSyncedAt != nil || gym.DoorName != "Gym" {
			t.Fatalf("gym task after invite: %+v", gym)
		}
		e.clock.Add(time.Minute)
		if _, err := st.TakeKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Building.ID); err != nil {
			t.Fatal(err)
		}
		gym = tasks()[e.f.Gym.ID]
		if gym.PendingChanges != 2 || !gym.IncludesRevocation || !gym.OldestChangeAt.Equal(first) || gym.Version != 2 {
			t.Fatalf("gym task after take: %+v", gym)
		}

		t.Run("ErrAckFutureVersion", func(t *testing.T) {
			wantCode(t, st.AckDoor(ctx, e.f.Gym.ID, gym.Version+1), domain.EInvalid)
			wantCode(t, st.AckDoor(ctx, e.f.Gym.ID, -1), domain.EInvalid)
			if tasks()[e.f.Gym.ID].AckedVersion != 0 {
				t.Fatal("a refused ack moved the acknowledged version")
			}
		})
		t.Run("ErrAckUnknownDoor", func(t *testing.T) {
			wantCode(t, st.AckDoor(ctx, "dor_nope", 1), domain.ENotFound)
		})
		t.Run("PartialAck", func(t *testing.T) {
			if err := st.AckDoor(ctx, e.f.Gym.ID, 1); err != nil {
				t.Fatal(err)
			}
			g := tasks()[e.f.Gym.ID]
			if g.PendingChanges != 1 || !g.IncludesRevocation || g.AckedVersion != 1 || g.LastSyncedAt == nil {
				t.Fatalf("after ack of 1: %+v", g)
			}
		})
		t.Run("AckClosesTask", func(t *testing.T) {
			e.clock.Add(time.Minute)
			if err := st.AckDoor(ctx, e.f.Gym.ID, 2); err != nil {
				t.Fatal(err)
			}
			if _, ok := tasks()[e.f.Gym.ID]; ok {
				t.Fatal("task still listed after the lock acknowledged the latest version")
			}
		})
		t.Run("AckNeverMovesBack", func(t *testing.T) {
			if err := st.AckDoor(ctx, e.f.Gym.ID, 1); err != nil {
				t.Fatal(err)
			}
			if n := e.count(`SELECT acked_version FROM doors WHERE id = ?`, e.f.Gym.ID); n != 2 {
				t.Fatalf("acked version moved back to %d", n)
			}
			if _, ok := tasks()[e.f.Gym.ID]; ok {
				t.Fatal("an old ack reopened the task")
			}
		})
		t.Run("NewChangeOpensTaskAgain", func(t *testing.T) {
			e.clock.Add(time.Minute)
			at := e.clock.Now()
			if _, err := st.GiveKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Building.ID, domain.GrantChange{}); err != nil {
				t.Fatal(err)
			}
			g := tasks()[e.f.Gym.ID]
			if g.PendingChanges != 1 || g.IncludesRevocation || !g.OldestChangeAt.Equal(at) || g.LastSyncedAt == nil {
				t.Fatalf("after a new grant: %+v", g)
			}
		})
		t.Run("OneBumpPerDoorPerRequest", func(t *testing.T) {
			before := e.count(`SELECT version FROM doors WHERE id = ?`, e.f.Lobby.ID)
			// Home + Building share no door, Building has two; a revoke
			// touching the Lobby once must bump it once.
			if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p.ID); err != nil {
				t.Fatal(err)
			}
			if after := e.count(`SELECT version FROM doors WHERE id = ?`, e.f.Lobby.ID); after != before+1 {
				t.Fatalf("lobby version %d → %d, want one bump", before, after)
			}
			// And every bump queued a push for the Door Sync workers.
			if n := e.count(`SELECT COUNT(*) FROM outbox WHERE topic = ? AND subject_id = ?`, store.TopicDoorState, e.f.Lobby.ID); n != before+1 {
				t.Fatalf("%d door.state outbox rows for the lobby, want %d", n, before+1)
			}
		})
	})
}
