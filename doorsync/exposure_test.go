package doorsync_test

import (
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestExposure_NarrowedAccess: exposure lists everyone whose access a door's
// lock has not yet seen narrowed — a key taken from an active person as
// much as Revoke All Keys — and never a door without a lock (it admits
// nobody).
func TestExposure_NarrowedAccess(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike") // the online Lobby gets no lock
		serveBLE(e.ctx, t, bike)
		ana := e.invite("ana@example.com")
		ben := e.invite("ben@example.com")
		e.invite("cy@example.com")
		anaPhone, cyPhone := e.login("ana@example.com"), e.login("cy@example.com")
		if !anaPhone.unlockBLE(bike) { // syncs the bike room: it holds Ana's and Ben's doorcodes
			t.Fatal("Ana at the bike room: refused")
		}
		exposure := func() map[string]store.Exposure {
			t.Helper()
			var exp struct{ Items []store.Exposure }
			r := e.Do("GET", "/api/v1/properties/"+e.prop()+"/exposure", e.PMToken, nil)
			if r.Status != 200 {
				t.Fatalf("exposure = %d: %s", r.Status, r.Body)
			}
			r.Decode(t, &exp)
			out := map[string]store.Exposure{}
			for _, it := range exp.Items {
				if it.DoorID == e.doors["lobby"].ID {
					t.Errorf("the Lobby has no lock but is listed: %+v", it)
				}
				out[it.PersonID+"@"+it.DoorID] = it
			}
			return out
		}
		if got := exposure(); len(got) != 0 {
			t.Fatalf("exposure before any change = %+v, want none", got)
		}

		if r := e.Do("DELETE", "/api/v1/properties/"+e.prop()+"/people/"+ana.ID+"/keys/"+e.key.ID, e.PMToken, nil); r.Status != 200 {
			t.Fatalf("take key = %d: %s", r.Status, r.Body)
		}
		t.Run("KeyTakenIsListed", func(t *testing.T) {
			got := exposure()
			it, ok := got[ana.ID+"@"+bike.id]
			if !ok || len(got) != 1 {
				t.Fatalf("exposure = %+v, want Ana at the bike room only", got)
			}
			if it.Status != "active" || it.Until != nil || it.Connectivity != "offline" {
				t.Errorf("Ana's exposure = %+v, want active, until the lock syncs", it)
			}
			kinds := map[string]int{}
			for _, w := range it.Ways {
				kinds[w.Kind] = w.Count
			}
			if kinds["credential"] != 1 || kinds["doorcode"] != 1 || len(kinds) != 2 {
				t.Errorf("ways = %+v, want one credential and one doorcode", it.Ways)
			}
		})

		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+ben.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		t.Run("RevokedIsListedAtLockedDoorsOnly", func(t *testing.T) {
			got := exposure()
			if _, ok := got[ben.ID+"@"+bike.id]; !ok || len(got) != 2 {
				t.Fatalf("exposure = %+v, want Ana and Ben at the bike room, not the Lobby", got)
			}
		})

		if !cyPhone.unlockBLE(bike) { // relays both revocations
			t.Fatal("Cy at the bike room: refused")
		}
		if anaPhone.unlockBLE(bike) {
			t.Error("Ana's old credential still opens the bike room after the sync")
		}
		t.Run("SyncedDoorLeaves", func(t *testing.T) {
			if got := exposure(); len(got) != 0 {
				t.Fatalf("exposure after the bike room synced = %+v, want none", got)
			}
		})
	})
}
