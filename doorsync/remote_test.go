package doorsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestRemoteUnlock_EndToEnd: a resident unlocks the online Lobby from the
// API; the command travels over MQTT to a lock run by locksim, which
// decides it and answers with a signed result. After Revoke All Keys the
// cloud signs nothing more, and a command it signed before the revocation
// is refused by the lock once the revocation reached it.
func TestRemoteUnlock_EndToEnd(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		e.API.RemoteUnlockWait = 5 * time.Second
		lobby, lp := e.provision("lobby")
		go locksim.RunMQTT(e.ctx, e.url, lp.MQTTPassword, lobby.Lock, nil)
		e.provision("bike")
		ana := e.invite("ana@example.com")
		phone := e.login("ana@example.com")
		eventually(t, 10*time.Second, "the lobby's lock is up to date", func() bool {
			v, _, _, err := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && int64(lobby.Status().Version) == v
		})

		path := "/api/v1/me/doors/" + lobby.id + "/unlock"
		began := time.Now()
		e.Do("GET", "/api/v1/me/doorcode", phone.token, nil)
		t.Logf("floor: GET /api/v1/me/doorcode answered in %v", time.Since(began))
		began = time.Now()
		r := e.Do("POST", path, phone.token, nil)
		t.Logf("remote unlock answered in %v (sign, MQTT to the lock, decision, signed result back)", time.Since(began))
		if r.Status != 200 {
			t.Fatalf("remote unlock = %d: %s", r.Status, r.Body)
		}
		var res doorsync.RemoteResult
		r.Decode(t, &res)
		if !res.Granted || res.Reason != lock.ReasonOK || res.DoorID != lobby.id || res.Counter == 0 {
			t.Fatalf("remote unlock: %+v, want granted", res)
		}
		eventually(t, 10*time.Second, "the lock's log shows the remote unlock in Activity", func() bool {
			a := e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?door_id="+lobby.id, e.PMToken, nil)
			return a.Status == 200 && strings.Contains(string(a.Body), "unlocked with remote")
		})

		// Wrong callers and wrong doors: clear errors, nothing sent.
		before := lobby.Status().LogNext
		for _, tc := range []struct {
			name, token, path string
			status            int
		}{
			{"no token", "", path, 401},
			{"a manager's token", e.PMToken, path, 401},
			{"unknown door", phone.token, "/api/v1/me/doors/door_nope/unlock", 404},
			{"offline door", phone.token, "/api/v1/me/doors/" + e.doors["bike"].ID + "/unlock", 409},
		} {
			if r := e.Do("POST", tc.path, tc.token, nil); r.Status != tc.status {
				t.Errorf("%s: %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
			}
		}

		// A command signed now, delivered late (held back by an attacker on
		// the network) after the revocation reached the lock.
		sess, err := st.AuthenticateResident(e.ctx, phone.token)
		if err != nil {
			t.Fatal(err)
		}
		held, err := st.IssueRemoteUnlock(e.ctx, e.keys, sess, lobby.id)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // the revocation takes effect a second later than the command's issue time
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+ana.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		if r := e.Do("POST", path, phone.token, nil); r.Status != 401 && r.Status != 403 {
			t.Fatalf("remote unlock after Revoke All Keys = %d, want 401 or 403: %s", r.Status, r.Body)
		}
		eventually(t, 10*time.Second, "the revocation reaches the lobby", func() bool {
			return lobby.Status().Revoked > 0
		})
		_, d, err := lobby.RemoteUnlock(held.Command)
		if err != nil {
			t.Fatal(err)
		}
		if d.Granted || d.Reason != lock.ReasonRevoked {
			t.Fatalf("held-back command after revocation: granted=%v reason=%q, want revoked", d.Granted, d.Reason)
		}
		if lobby.Status().LogNext <= before {
			t.Fatal("the lock did not log the refused command")
		}
	})
}

// TestRemoteUnlock_LockDoesNotAnswer: an online door whose lock is not
// connected gives 504 with a clear message once the wait runs out.
func TestRemoteUnlock_LockDoesNotAnswer(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		e.API.RemoteUnlockWait = 300 * time.Millisecond
		lobby, _ := e.provision("lobby")
		e.invite("ana@example.com")
		phone := e.login("ana@example.com")
		r := e.Do("POST", "/api/v1/me/doors/"+lobby.id+"/unlock", phone.token, nil)
		if r.Status != 504 || !strings.Contains(string(r.Body), "did not answer") {
			t.Fatalf("remote unlock to a silent lock = %d: %s", r.Status, r.Body)
		}
	})
}

// TestResetDoorcode_OldCodeRefusedAtLock: the app's Reset Doorcode gives a
// new code; the online lock refuses the old one and opens for the new one
// once Door Sync pushed the change. Bad requests change nothing.
func TestResetDoorcode_OldCodeRefusedAtLock(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		go locksim.RunMQTT(e.ctx, e.url, lp.MQTTPassword, lobby.Lock, nil)
		e.invite("ana@example.com")
		phone := e.login("ana@example.com")
		code := func() string {
			r := e.Do("GET", "/api/v1/me/doorcode", phone.token, nil)
			var out struct{ Items []store.ResidentDoorcode }
			r.Decode(t, &out)
			if len(out.Items) != 1 {
				t.Fatalf("doorcodes: %s", r.Body)
			}
			return out.Items[0].Code
		}
		old := code()
		synced := func() bool {
			v, _, _, err := st.DoorVersion(e.ctx, lobby.id)
			return err == nil && int64(lobby.Status().Version) == v
		}
		eventually(t, 10*time.Second, "the lobby gets Ana's doorcode", synced)
		if d, _ := lobby.EnterCode(old); !d.Granted {
			t.Fatalf("the doorcode before the reset: %s", d.Reason)
		}
		for _, tc := range []struct {
			name, token, body string
			status            int
		}{
			{"no token", "", `{}`, 401},
			{"unknown field", phone.token, `{"code":"123456"}`, 400},
			{"another property", phone.token, `{"property_id":"prp_other"}`, 404},
			{"not JSON", phone.token, `code`, 400},
		} {
			if r := e.DoRaw("POST", "/api/v1/me/doorcode/reset", tc.token, "application/json", []byte(tc.body)); r.Status != tc.status {
				t.Errorf("%s: %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
			}
		}
		if code() != old {
			t.Fatal("a refused reset changed the doorcode")
		}
		r := e.Do("POST", "/api/v1/me/doorcode/reset", phone.token, map[string]any{})
		if r.Status != 200 {
			t.Fatalf("reset = %d: %s", r.Status, r.Body)
		}
		var out store.ResidentDoorcode
		r.Decode(t, &out)
		if out.Code == old || out.Code != code() || len(out.Doors) == 0 {
			t.Fatalf("reset gave %+v (old %s, now %s)", out, old, code())
		}
		// Polled by version, not by typing codes: wrong codes count
		// towards the keypad lockout.
		eventually(t, 10*time.Second, "the reset reaches the lobby", synced)
		if d, _ := lobby.EnterCode(old); d.Granted {
			t.Fatal("the old doorcode still opens the lobby after the reset")
		}
		if d, _ := lobby.EnterCode(out.Code); !d.Granted {
			t.Fatalf("the new doorcode at the lobby: %s", d.Reason)
		}
		// Resets are limited per resident: each bumps every door the code
		// opens. The one above and four more pass; the next is refused
		// with 429 and a Retry-After, and changes nothing.
		for i := 2; i <= store.MaxDoorcodeResets; i++ {
			if r := e.Do("POST", "/api/v1/me/doorcode/reset", phone.token, map[string]any{}); r.Status != 200 {
				t.Fatalf("reset %d = %d: %s", i, r.Status, r.Body)
			}
		}
		last := code()
		r = e.Do("POST", "/api/v1/me/doorcode/reset", phone.token, map[string]any{})
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.Body), "rate_limited") {
			t.Fatalf("reset %d = %d (Retry-After %q): %s", store.MaxDoorcodeResets+1, r.Status, r.Header.Get("Retry-After"), r.Body)
		}
		if code() != last {
			t.Fatal("a refused reset changed the doorcode")
		}
	})
}
