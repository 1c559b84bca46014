package store_test

import (
	"errors"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestZWaveSyncAfterRebind: a Z-Wave sync that read its target before
// the door was bound again records nothing afterwards. Before, its
// FinishZWaveSync put the old capacity back, so the new binding's slot
// scan never ran and a code an installer had set at the lock was taken
// for a free slot and overwritten (zwave.TestForeignSlots failed now and
// then under the race detector). The sync's slot records are refused the
// same way, and one that reads its target again syncs as the new binding.
func TestZWaveSyncAfterRebind(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, keys, gw := zwaveLobby(t, st, 3)
		door := e.f.Lobby.ID
		ana := e.invite("Ana", "Test", "ana@example.com")

		// The first sync: the scan found nothing foreign, Ana's code went
		// to slot 2, capacity 2.
		first, err := st.ZWaveTarget(ctx, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if first.Capacity != 0 {
			t.Fatalf("a lock just bound has capacity %d recorded, want 0 (scan first)", first.Capacity)
		}
		if err := st.RecordZWaveForeignSlots(ctx, door, first.Binding, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordZWaveSlot(ctx, door, first.Binding, 2, ana.ID, "digest-ana"); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishZWaveSync(ctx, door, first.Binding, first.Version, 2, 0); err != nil {
			t.Fatal(err)
		}

		// A second sync reads its target; the door is bound again (an
		// installer set a code at the lock) before it records anything.
		stale, err := st.ZWaveTarget(ctx, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if stale.Capacity != 2 || len(stale.Slots) != 1 {
			t.Fatalf("target before re-binding: capacity %d, slots %v; want 2 and Ana's slot", stale.Capacity, stale.Slots)
		}
		if _, err := st.BindZWaveLock(ctx, e.f.PM, e.prop(), door, gw.ID, 3); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"slot written":  st.RecordZWaveSlot(ctx, door, stale.Binding, 1, ana.ID, "digest-ana"),
			"slot cleared":  st.RecordZWaveSlot(ctx, door, stale.Binding, 2, "", ""),
			"foreign slots": st.RecordZWaveForeignSlots(ctx, door, stale.Binding, []int{1}),
			"sync finished": st.FinishZWaveSync(ctx, door, stale.Binding, stale.Version, 2, 0),
		} {
			if !errors.Is(err, store.ErrZWaveRebound) || domain.ErrorCode(err) != domain.EConflict {
				t.Errorf("%s under the old binding: err %v, want ErrZWaveRebound (conflict)", name, err)
			}
		}
		l, err := st.ZWaveLockOf(ctx, e.prop(), door)
		if err != nil {
			t.Fatal(err)
		}
		if l.Capacity != 0 || l.Acked >= l.Version || l.Foreign != 0 {
			t.Fatalf("after the stale sync: %+v; want capacity 0 (the scan still to run), the binding's change unacked, no foreign slot", l)
		}
		fresh, err := st.ZWaveTarget(ctx, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.Binding == stale.Binding || fresh.Capacity != 0 || len(fresh.Slots) != 0 {
			t.Fatalf("target after re-binding: binding %d (was %d), capacity %d, slots %v; want a new binding, 0, none", fresh.Binding, stale.Binding, fresh.Capacity, fresh.Slots)
		}

		// The sync that starts over scans, finds the installer's code and
		// finishes under the new binding.
		if err := st.RecordZWaveForeignSlots(ctx, door, fresh.Binding, []int{1}); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordZWaveSlot(ctx, door, fresh.Binding, 2, ana.ID, "digest-ana"); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishZWaveSync(ctx, door, fresh.Binding, fresh.Version, 2, 0); err != nil {
			t.Fatal(err)
		}
		if l, err = st.ZWaveLockOf(ctx, e.prop(), door); err != nil {
			t.Fatal(err)
		}
		if l.Capacity != 2 || l.Foreign != 1 || l.Acked != l.Version {
			t.Fatalf("after the new sync: %+v; want capacity 2, 1 foreign slot, acked", l)
		}

		// A door with no Z-Wave lock: not found, not a conflict.
		err = st.FinishZWaveSync(ctx, e.f.Gym.ID, fresh.Binding, 1, 2, 0)
		if domain.ErrorCode(err) != domain.ENotFound {
			t.Fatalf("finishing a sync of a door with no Z-Wave lock: %v, want not found", err)
		}
	})
}

// TestZWaveNodeReportsFollowTheBinding: what a node reports (status,
// battery, keypad and lock notifications) goes to the door bound to the
// node when it is recorded. The syncer maps nodes to doors once a round,
// so for up to a round after a door moved to another node it still took
// the old node's reports for the door: a keypad unlock there was put in
// the door's Activity under the person whose code is in that slot number
// of the new node, and the old node's battery and status shown as the
// door's.
func TestZWaveNodeReportsFollowTheBinding(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e, keys, gw := zwaveLobby(t, st, 2)
		door := e.f.Lobby.ID
		ana := e.invite("Ana", "Test", "ana@example.com")
		tgt, err := st.ZWaveTarget(ctx, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RecordZWaveSlot(ctx, door, tgt.Binding, 2, ana.ID, "digest-ana"); err != nil {
			t.Fatal(err)
		}
		node2 := store.ZWaveNode{GatewayID: gw.ID, NodeID: 2}
		node3 := store.ZWaveNode{GatewayID: gw.ID, NodeID: 3}
		unlocks := func(doorID string) []domain.Event {
			t.Helper()
			evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{DoorID: doorID, Kind: domain.EventDoorUnlocked})
			if err != nil {
				t.Fatal(err)
			}
			return evs
		}
		battery := func(n int) *int { return &n }

		// Bound: the node's keypad unlock is Ana's at the Lobby.
		if err := st.RecordZWaveEvent(ctx, node2, store.ZWaveEvent{At: st.Now(), Unlock: true, Via: "keypad", Slot: 2}); err != nil {
			t.Fatal(err)
		}
		if evs := unlocks(door); len(evs) != 1 || evs[0].PersonID != ana.ID {
			t.Fatalf("Lobby unlocks while bound to node 2: %+v; want one, Ana's", evs)
		}
		if err := st.RecordZWaveNode(ctx, node2, "alive", battery(90)); err != nil {
			t.Fatal(err)
		}

		// The Lobby moves to node 3. Node 2's reports belong to no door.
		if _, err := st.BindZWaveLock(ctx, e.f.PM, e.prop(), door, gw.ID, 3); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"keypad unlock": st.RecordZWaveEvent(ctx, node2, store.ZWaveEvent{At: st.Now(), Unlock: true, Via: "keypad", Slot: 2}),
			"status":        st.RecordZWaveNode(ctx, node2, "dead", nil),
			"battery":       st.RecordZWaveNode(ctx, node2, "", battery(5)),
		} {
			if !errors.Is(err, store.ErrZWaveNodeUnbound) || domain.ErrorCode(err) != domain.ENotFound {
				t.Errorf("node 2's %s after the Lobby left it: %v, want ErrZWaveNodeUnbound (not found)", name, err)
			}
		}
		if evs := unlocks(door); len(evs) != 1 {
			t.Fatalf("Lobby unlocks after node 2 reported one it no longer opens: %+v; want only the first", evs)
		}
		l, err := st.ZWaveLockOf(ctx, e.prop(), door)
		if err != nil {
			t.Fatal(err)
		}
		// Binding a node starts its status and battery afresh.
		if l.NodeID != 3 || l.Status != "" || l.Battery != nil {
			t.Fatalf("Lobby's lock after node 2 reported dead at 5 %%: %+v (battery %v); want node 3, no status or battery yet", l, l.Battery)
		}
		evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{Kind: store.EventZWaveBattery})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 0 {
			t.Fatalf("low-battery entries %+v, want none: the low battery was another node's", evs)
		}

		// Node 3's reports are the Lobby's.
		if err := st.RecordZWaveNode(ctx, node3, "alive", battery(70)); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordZWaveEvent(ctx, node3, store.ZWaveEvent{At: st.Now(), Unlock: true, Via: "manual"}); err != nil {
			t.Fatal(err)
		}
		if l, err = st.ZWaveLockOf(ctx, e.prop(), door); err != nil {
			t.Fatal(err)
		}
		if l.Battery == nil || *l.Battery != 70 || l.Status != "alive" {
			t.Fatalf("Lobby's lock after node 3 reported: %+v; want alive at 70 %%", l)
		}
		if evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{DoorID: door, Kind: store.EventLockEvent}); err != nil || len(evs) != 1 {
			t.Fatalf("Lobby's lock events after node 3's manual unlock: %+v %v; want one", evs, err)
		}

		// Node 2 bound to the Pool: its reports are the Pool's.
		pool, err := st.CreateDoor(ctx, e.f.PM, e.prop(), domain.DoorInput{Name: "Pool", Type: domain.DoorCommunal, Connectivity: domain.Online})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.BindZWaveLock(ctx, e.f.PM, e.prop(), pool.ID, gw.ID, 2); err != nil {
			t.Fatal(err)
		}
		if err := st.RecordZWaveEvent(ctx, node2, store.ZWaveEvent{At: st.Now(), Unlock: true, Via: "keypad"}); err != nil {
			t.Fatal(err)
		}
		if evs := unlocks(pool.ID); len(evs) != 1 || evs[0].PersonID != "" {
			t.Fatalf("Pool unlocks after node 2 joined it: %+v; want one, nobody's (slot 0)", evs)
		}
		if evs := unlocks(door); len(evs) != 1 {
			t.Fatalf("Lobby unlocks after node 2 joined the Pool: %+v; want still one", evs)
		}
	})
}

// zwaveLobby seeds a property whose Lobby is bound to node on a Z-Wave
// gateway (nobody listens at its address: the store's side alone).
func zwaveLobby(t *testing.T, st *store.Store, node int) (*env, *keyring.Keyring, store.ZWaveGateway) {
	t.Helper()
	e := newEnv(t, st)
	keys := storetest.Keyring(t, st)
	gw, err := st.AddZWaveGateway(ctx, e.f.PM, keys, e.prop(), store.ZWaveGatewayInput{Name: "Hub", URL: "ws://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.BindZWaveLock(ctx, e.f.PM, e.prop(), e.f.Lobby.ID, gw.ID, node); err != nil {
		t.Fatal(err)
	}
	return e, keys, gw
}
