package doorsync_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/dooros/dooros/domain"
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
			// The acknowledged changes are gone (store.Tx.doorAcked).
			var v, acked, kept int64
			if err := st.DB().QueryRowContext(e.ctx, `SELECT version, acked_version, (SELECT COUNT(*) FROM door_changes WHERE door_id = `+placeholder(e, 1)+` AND version <= acked_version) FROM doors WHERE id = `+placeholder(e, 2),
				bike.id, bike.id).Scan(&v, &acked, &kept); err != nil {
				t.Fatal(err)
			}
			if acked != v || kept != 0 {
				t.Fatalf("the bike room at version %d, acknowledged %d, keeps %d acknowledged changes; want none kept", v, acked, kept)
			}
		})

		// A new lock in the bike room knows no revocation: Ana's credential,
		// issued before her key was taken, would open it, although the old
		// lock had acknowledged that and its change is gone. (Ben holds no
		// credential, and a lock that never synced holds no doorcode.)
		fresh, prov := e.provision("bike")
		t.Run("ReprovisionedLockListsThemAgain", func(t *testing.T) {
			got := exposure()
			it, ok := got[ana.ID+"@"+bike.id]
			if !ok || len(got) != 1 {
				t.Fatalf("exposure after re-provisioning = %+v, want Ana at the bike room", got)
			}
			if len(it.Ways) != 1 || it.Ways[0].Kind != "credential" {
				t.Errorf("Ana's exposure at a lock that never synced = %+v, want her credential", it)
			}
			var tasks struct{ Items []domain.SyncTask }
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/sync-tasks", e.PMToken, nil).Decode(t, &tasks)
			found := false
			for _, it := range tasks.Items {
				if it.DoorID == bike.id {
					found = true
					if !it.IncludesRevocation {
						t.Errorf("the re-provisioned bike room's sync task does not say a revocation waits: %+v", it)
					}
				}
			}
			if !found {
				t.Errorf("no sync task for the re-provisioned bike room: %+v", tasks.Items)
			}
		})
		serveBLE(e.ctx, t, fresh)
		// The phones trust the new lock as a refreshed certificate would
		// tell them.
		newKey := ed25519.NewKeyFromSeed(prov.Provisioning.LockPrivateKey).Public().(ed25519.PublicKey)
		cyPhone.lockKeys[bike.id], anaPhone.lockKeys[bike.id] = newKey, newKey
		if !cyPhone.unlockBLE(fresh) {
			t.Fatal("Cy at the new bike room lock: refused")
		}
		if anaPhone.unlockBLE(fresh) {
			t.Error("Ana's old credential opens the new bike room lock after its first sync")
		}
		if got := exposure(); len(got) != 0 {
			t.Fatalf("exposure after the new lock synced = %+v, want none", got)
		}
	})
}
