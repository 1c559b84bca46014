package doorsync_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// shiftedClock is the host clock moved forward by a shared offset: the
// store and the lock read the same one, so a test can jump hours ahead.
type shiftedClock struct{ offset *atomic.Int64 }

func (c shiftedClock) Now() time.Time {
	return time.Now().UTC().Truncate(time.Microsecond).Add(time.Duration(c.offset.Load()))
}

// TestDoorSync_DisjointGrantsLeaveNoGap: a person holds the Lobby through
// two keys whose windows do not touch (now → +1 h, +3 h → +5 h). The lock
// must refuse their card between the windows, and take it again in the
// second one — the door gets a new version when the first window ends.
func TestDoorSync_DisjointGrantsLeaveNoGap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		var offset atomic.Int64
		clock := shiftedClock{&offset}
		st.Now = clock.Now
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby", clock)
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)

		now := clock.Now()
		at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
		var keys []domain.Key
		for _, name := range []string{"Early", "Late"} {
			k, err := st.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: name, Doors: []domain.KeyDoor{{DoorID: lobby.id}}})
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, k)
		}
		r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Gap", "last_name": "Tester",
			"email": "gap@example.com", "access": "app", "resident": true, "keys": []map[string]any{{"key_id": keys[0].ID}}})
		if r.Status != 201 {
			t.Fatalf("invite = %d: %s", r.Status, r.Body)
		}
		var p domain.PersonView
		r.Decode(t, &p)
		if _, err := st.GiveKey(e.ctx, e.F.PM, e.prop(), p.ID, keys[0].ID, domain.GrantChange{ExpiresAt: at(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GiveKey(e.ctx, e.F.PM, e.prop(), p.ID, keys[1].ID, domain.GrantChange{StartsAt: at(3 * time.Hour), ExpiresAt: at(5 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
		const serial = "04:AA:BB:CC"
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+p.ID+"/keycard", e.PMToken, map[string]string{"serial": serial}); r.Status != 200 {
			t.Fatalf("activate = %d: %s", r.Status, r.Body)
		}
		tap := func() bool { d, _ := lobby.TapCard(serial); return d.Granted }
		eventually(t, 10*time.Second, "the card opens the Lobby in the first window", tap)

		// Every version from here on comes from moving the clock past the
		// first window (nothing else changes the door now).
		before, _, _, err := st.DoorVersion(e.ctx, lobby.id)
		if err != nil {
			t.Fatal(err)
		}
		offset.Store(int64(2 * time.Hour))
		if tap() {
			t.Fatal("the card opens the Lobby in the gap between the two grants")
		}
		// The first window has ended: the door gets a new version carrying
		// the second one (its change record goes once the lock acknowledged
		// it, store.Tx.doorAcked), and the lock still refuses in the
		// gap.
		eventually(t, 10*time.Second, "a new version after the first window", func() bool {
			v, a, _, _ := st.DoorVersion(e.ctx, lobby.id)
			return v > before && a >= v && lobby.Status().Version >= uint64(v)
		})
		if tap() {
			t.Fatal("the card opens the Lobby in the gap after the refresh")
		}
		offset.Store(int64(4 * time.Hour))
		if !tap() {
			t.Fatal("the card does not open the Lobby in the second window")
		}
		offset.Store(int64(6 * time.Hour))
		if tap() {
			t.Fatal("the card opens the Lobby after both windows")
		}
	})
}

func placeholder(e *env, n int) string {
	if e.Store.Dialect() == store.Postgres {
		return "$" + string(rune('0'+n))
	}
	return "?"
}
