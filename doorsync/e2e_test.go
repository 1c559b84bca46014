package doorsync_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorSync_RevocationReachesEveryDoor is the story of the seed article
// end to end: two residents open an online and an offline door; the first
// is revoked; the online door refuses them within a second, the offline
// door keeps admitting them (and Door Sync and exposure say so) until the
// second resident's unlock relays the revocation.
func TestDoorSync_RevocationReachesEveryDoor(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		bike, bp := e.provision("bike")
		if bp.MQTTPassword != "" || lp.MQTTPassword == "" || lp.MQTTURL == "" {
			t.Fatalf("MQTT credentials: online %q/%q, offline %q", lp.MQTTPassword, lp.MQTTURL, bp.MQTTPassword)
		}
		serveBLE(e.ctx, t, bike)

		ana := e.invite("ana@example.com")
		e.invite("ben@example.com")
		anaPhone, benPhone := e.login("ana@example.com"), e.login("ben@example.com")
		var anaCode string
		if err := st.DB().QueryRow(`SELECT code FROM doorcodes WHERE person_id = '` + ana.ID + `'`).Scan(&anaCode); err != nil {
			t.Fatal(err)
		}

		doorVersion := func(id string) int64 {
			v, _, _, err := st.DoorVersion(e.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		eventually(t, 10*time.Second, "online lock receives the invites", func() bool {
			return int64(lobby.Status().Version) == doorVersion(lobby.id)
		})
		if d := anaPhone.unlockDirect(lobby); !d.Granted {
			t.Fatalf("Ana at the lobby: %s", d.Reason)
		}
		if d, _ := lobby.EnterCode(anaCode); !d.Granted {
			t.Fatalf("Ana's doorcode at the lobby: %s", d.Reason)
		}
		// A new grant opens an offline door at once (phone credential), and
		// the unlock syncs it.
		if !anaPhone.unlockBLE(bike) {
			t.Fatal("Ana at the bike room: refused")
		}
		if got, want := int64(bike.Status().Version), doorVersion(bike.id); got != want {
			t.Fatalf("bike room after Ana's unlock at version %d, want %d", got, want)
		}
		if d, _ := bike.EnterCode(anaCode); !d.Granted {
			t.Fatalf("Ana's doorcode at the bike room after sync: %s", d.Reason)
		}

		r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+ana.ID+"/revoke", e.PMToken, nil)
		if r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		took := eventually(t, 10*time.Second, "online lock refuses Ana", func() bool {
			return !anaPhone.unlockDirect(lobby).Granted
		})
		t.Logf("online lock refused the revoked resident %v after the revoke returned", took)
		if d := anaPhone.unlockDirect(lobby); d.Reason != "revoked" {
			t.Errorf("lobby refusal reason %q, want revoked", d.Reason)
		}
		if d, _ := lobby.EnterCode(anaCode); d.Granted {
			t.Error("Ana's doorcode still opens the lobby")
		}

		eventually(t, 10*time.Second, "the online lock's ack is recorded", func() bool {
			v, acked, _, _ := st.DoorVersion(e.ctx, lobby.id)
			return acked == v
		})

		t.Run("OfflineDoorStillAdmitsUntilSynced", func(t *testing.T) {
			var tasks struct{ Items []domain.SyncTask }
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/sync-tasks", e.PMToken, nil).Decode(t, &tasks)
			if len(tasks.Items) != 1 || tasks.Items[0].DoorID != bike.id || !tasks.Items[0].IncludesRevocation || tasks.Items[0].Connection != "bluetooth" {
				t.Fatalf("sync tasks = %+v, want the bike room with a revocation", tasks.Items)
			}
			var exp struct{ Items []store.Exposure }
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/exposure", e.PMToken, nil).Decode(t, &exp)
			if len(exp.Items) != 1 || exp.Items[0].DoorID != bike.id || exp.Items[0].PersonID != ana.ID || exp.Items[0].Until != nil {
				t.Fatalf("exposure = %+v, want Ana at the bike room until it syncs", exp.Items)
			}
			kinds := map[string]bool{}
			for _, w := range exp.Items[0].Ways {
				kinds[w.Kind] = true
			}
			if !kinds["credential"] || !kinds["doorcode"] {
				t.Errorf("exposure ways = %+v, want credential and doorcode", exp.Items[0].Ways)
			}
			if d, _ := bike.EnterCode(anaCode); !d.Granted {
				t.Errorf("before any sync the offline lock still runs the old state, but refused Ana's code: %s", d.Reason)
			}
		})

		// Ben's unlock relays the revocation.
		if !benPhone.unlockBLE(bike) {
			t.Fatal("Ben at the bike room: refused")
		}
		if !strings.Contains(string(e.Do("GET", "/api/v1/me/mailbox", anaPhone.token, nil).Body), `"items":[]`) &&
			e.Do("GET", "/api/v1/me/mailbox", anaPhone.token, nil).Status == 200 {
			t.Error("a revoked resident's phone still gets bundles")
		}
		if anaPhone.unlockBLE(bike) {
			t.Fatal("Ana still opens the bike room after Ben's unlock relayed the revocation")
		}
		if d, _ := bike.EnterCode(anaCode); d.Granted {
			t.Error("Ana's doorcode still opens the bike room after sync")
		}
		var tasks struct{ Items []domain.SyncTask }
		e.Do("GET", "/api/v1/properties/"+e.prop()+"/sync-tasks", e.PMToken, nil).Decode(t, &tasks)
		if len(tasks.Items) != 0 {
			t.Errorf("sync tasks after the relay = %+v, want none", tasks.Items)
		}
		var exp struct{ Items []store.Exposure }
		e.Do("GET", "/api/v1/properties/"+e.prop()+"/exposure", e.PMToken, nil).Decode(t, &exp)
		if len(exp.Items) != 0 {
			t.Errorf("exposure after the relay = %+v, want none", exp.Items)
		}

		t.Run("ActivityHasTheLocksEvents", func(t *testing.T) {
			var acts struct{ Items []domain.Event }
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?door_id="+bike.id+"&limit=200", e.PMToken, nil).Decode(t, &acts)
			var unlocked, denied, synced int
			for _, a := range acts.Items {
				switch {
				case a.Kind == domain.EventDoorUnlocked && a.PersonID == ana.ID:
					unlocked++
				case a.Kind == domain.EventDoorDenied && a.PersonID == ana.ID:
					denied++
				case a.Kind == domain.EventDoorSynced:
					synced++
				}
			}
			if unlocked < 2 || synced < 2 {
				t.Errorf("bike room activity: %d unlocks by Ana, %d syncs; want ≥2 each:\n%+v", unlocked, synced, acts.Items)
			}
			// Ana's last refusal is uploaded by her own next sync; the lock's
			// log holds it already.
			_ = denied
		})
	})
}
