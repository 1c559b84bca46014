package doorsync_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorSync_TimeCorrection: the cloud's clock once ran ten years ahead
// and an online lock took that time (a lock never moves its clock far
// back, so every credential and code with an end is dead there for good).
// A Portfolio Manager's time correction starts a new epoch: the lock's
// next bundle brings its clock back to the cloud's time now. A Property
// Manager, even with Device Management, may not.
func TestDoorSync_TimeCorrection(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		var offset atomic.Int64
		clock := shiftedClock{&offset}
		st.Now = clock.Now
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		synced := func(what string) {
			t.Helper()
			eventually(t, 15*time.Second, what, func() bool {
				v, acked, _, err := st.DoorVersion(e.ctx, lobby.id)
				return err == nil && acked == v && int64(lobby.Status().Version) == v
			})
		}
		synced("lobby in sync")
		// Changes made through the store: API tokens would not survive the
		// cloud's clock jumping ahead.
		invite := func(email string) {
			t.Helper()
			if _, err := st.Invite(e.ctx, e.F.PM, e.prop(), domain.InviteInput{FirstName: "Res", LastName: "Ident", Email: email,
				Access: domain.AccessApp, Resident: true, Keys: []domain.GrantInput{{KeyID: e.key.ID}}}); err != nil {
				t.Fatal(err)
			}
		}

		// The cloud's clock jumps ten years ahead for one change.
		ahead := 10 * 365 * 24 * time.Hour
		offset.Store(int64(ahead))
		invite("ahead@example.com")
		synced("bundle with the bad time applied")
		if got := time.Until(lobby.Status().Now); got < ahead-time.Hour {
			t.Fatalf("lock clock %v ahead, want about ten years", got)
		}
		// Fixed clock, ordinary change: the lock keeps its bad time.
		offset.Store(0)
		invite("back@example.com")
		synced("ordinary bundle applied")
		if got := time.Until(lobby.Status().Now); got < ahead-time.Hour {
			t.Fatalf("an ordinary bundle moved the lock clock back to %v ahead", got)
		}

		// A Property Manager with Device Management may not correct time.
		storetest.Manager(t, st, e.F.PM, "devices@example.com", &domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/time-correction", storetest.Token(t, st, "devices@example.com"), nil); r.Status != 403 {
			t.Fatalf("property manager's correction = %d, want 403", r.Status)
		}
		if r := e.Do("POST", "/api/v1/properties/no-such-property/time-correction", e.PMToken, nil); r.Status != 404 {
			t.Fatalf("correction of an unknown property = %d, want 404", r.Status)
		}

		var c store.TimeCorrection
		r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/time-correction", e.PMToken, nil)
		if r.Status != 202 {
			t.Fatalf("time correction = %d: %s", r.Status, r.Body)
		}
		r.Decode(t, &c)
		if c.Epoch != 1 || c.Doors < 1 {
			t.Fatalf("correction %+v, want epoch 1 and the provisioned doors", c)
		}
		synced("correction applied")
		if got := time.Until(lobby.Status().Now); got > time.Minute || got < -time.Minute {
			t.Fatalf("lock clock %v off the cloud's after the correction", got)
		}
		if len(activity(t, e, store.EventTimeCorrected)) != 1 {
			t.Fatal("the correction is not in Activity")
		}
	})
}
