package doorsync_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestExposure_Exact is issue 11's exposure cases, one after the other at
// the offline Bike Room (the online Lobby has no lock: never listed); Cy's
// phone syncs the lock between cases, so each starts from nothing exposed:
//
//   - a day-code guest revoked by her host: listed, guest_code, until the
//     code's day ends;
//   - a 15-minute-code guest ended by her host's revocation: listed beside
//     the host, whose doorcode makes the worst case "until synced";
//   - a keycard deactivated: listed until the lock syncs;
//   - someone invited to start tomorrow whose expiration is moved earlier:
//     never active, no phone — not listed;
//   - a key taken then given again: listed, then not.
func TestExposure_Exact(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		serveBLE(e.ctx, t, bike)
		base := "/api/v1/properties/" + e.prop() + "/people/"
		people := "/api/v1/properties/" + e.prop() + "/people"
		invite := func(body map[string]any) domain.PersonView {
			t.Helper()
			body["access"], body["resident"] = "app", true
			if body["last_name"] == nil {
				body["last_name"] = "Test"
			}
			var v domain.PersonView
			r := e.Do("POST", people, e.PMToken, body)
			if r.Status != 201 {
				t.Fatalf("invite = %d: %s", r.Status, r.Body)
			}
			r.Decode(t, &v)
			return v
		}
		hanaV := invite(map[string]any{"first_name": "Hana", "email": "hana@example.com", "keys": []map[string]any{{"key_id": e.key.ID, "may_share": true}}})
		e.invite("cy@example.com")
		hana, cy := e.login("hana@example.com"), e.login("cy@example.com")
		sync := func() {
			t.Helper()
			if !cy.unlockBLE(bike) {
				t.Fatal("Cy at the bike room: refused")
			}
		}
		exposure := func() (map[string]store.Exposure, store.ExposureSummary) {
			t.Helper()
			var l struct{ Items []store.Exposure }
			if r := e.Do("GET", "/api/v1/properties/"+e.prop()+"/exposure", e.PMToken, nil); r.Status != 200 {
				t.Fatalf("exposure = %d: %s", r.Status, r.Body)
			} else {
				r.Decode(t, &l)
			}
			out := map[string]store.Exposure{}
			for _, it := range l.Items {
				if it.DoorID != bike.id {
					t.Errorf("listed at a door without a lock: %+v", it)
				}
				out[it.PersonID] = it
			}
			var s store.ExposureSummary
			if r := e.Do("GET", "/api/v1/properties/"+e.prop()+"/exposure/summary", e.PMToken, nil); r.Status != 200 {
				t.Fatalf("exposure summary = %d: %s", r.Status, r.Body)
			} else {
				r.Decode(t, &s)
			}
			return out, s
		}
		nothing := func(what string) {
			t.Helper()
			got, s := exposure()
			if len(got) != 0 || s.Worst != nil || s.People != 0 {
				t.Fatalf("%s: exposure %+v, summary %+v, want none", what, got, s)
			}
		}
		ways := func(it store.Exposure) map[string]store.ExposureWay {
			m := map[string]store.ExposureWay{}
			for _, w := range it.Ways {
				m[w.Kind] = w
			}
			return m
		}
		guest := func(kind string) store.ResidentGuest {
			t.Helper()
			var g store.ResidentGuest
			r := e.Do("POST", "/api/v1/me/guests", hana.token, map[string]any{"kind": kind, "first_name": "Gus", "last_name": kind,
				"email": kind + "@example.com", "keys": []string{e.key.ID}})
			if r.Status != 201 {
				t.Fatalf("guest %s = %d: %s", kind, r.Status, r.Body)
			}
			r.Decode(t, &g)
			return g
		}
		loc, _ := time.LoadLocation(e.F.Property.TimeZone)
		storetest.AwayFromMidnight(t, loc, time.Minute)
		endOfToday := lockproto.DayStart(lockproto.DayNumber(time.Now(), loc)+1, loc)
		sync()
		nothing("before any change")

		t.Run("DayCodeGuestRevokedByHost", func(t *testing.T) {
			g := guest("day_code")
			sync() // the lock computes her code
			if r := e.Do("DELETE", "/api/v1/me/guests/"+g.ID, hana.token, nil); r.Status/100 != 2 {
				t.Fatalf("revoke guest = %d: %s", r.Status, r.Body)
			}
			got, s := exposure()
			it, ok := got[g.ID]
			w := ways(it)["guest_code"]
			if !ok || len(got) != 1 || w.Count != 1 || w.Until == nil || !w.Until.Equal(endOfToday) || it.Until == nil || !it.Until.Equal(endOfToday) {
				t.Fatalf("exposure %+v, want the guest's code until %v", got, endOfToday)
			}
			if s.Worst == nil || s.Worst.PersonID != g.ID || s.UntilSynced || s.People != 1 || s.Doors != 1 || s.WorstSeconds <= 0 {
				t.Fatalf("summary %+v", s)
			}
			sync()
			nothing("after the sync")
		})
		t.Run("QuarterHourGuestEndedByHostRevoke", func(t *testing.T) {
			g := guest("quarter_hour_code")
			sync()
			hanaID := hanaV.ID
			if r := e.Do("POST", base+hanaID+"/revoke", e.PMToken, nil); r.Status != 200 {
				t.Fatalf("revoke host = %d: %s", r.Status, r.Body)
			}
			got, s := exposure()
			if w := ways(got[g.ID])["guest_code"]; w.Count != 1 || w.Until == nil {
				t.Fatalf("guest of the revoked host: %+v", got)
			}
			h := ways(got[hanaID])
			if h["doorcode"].Count != 1 || h["credential"].Count != 1 || got[hanaID].Until != nil {
				t.Fatalf("revoked host: %+v", got[hanaID])
			}
			if s.Worst == nil || s.Worst.PersonID != hanaID || !s.UntilSynced || s.People != 2 || s.Doors != 1 {
				t.Fatalf("summary %+v", s)
			}
			sync()
			nothing("after the sync")
		})
		t.Run("KeycardDeactivated", func(t *testing.T) {
			kim := invite(map[string]any{"first_name": "Kim", "email": "kim@example.com", "keys": []map[string]any{{"key_id": e.key.ID}}})
			if r := e.Do("POST", base+kim.ID+"/keycard", e.PMToken, map[string]any{"serial": "04KIM"}); r.Status != 200 {
				t.Fatalf("keycard = %d: %s", r.Status, r.Body)
			}
			sync()
			if r := e.Do("DELETE", base+kim.ID+"/keycard", e.PMToken, nil); r.Status != 200 {
				t.Fatalf("deactivate = %d: %s", r.Status, r.Body)
			}
			got, s := exposure()
			if w := ways(got[kim.ID])["keycard"]; w.Ref != "04KIM" || w.Until != nil || got[kim.ID].Until != nil {
				t.Fatalf("deactivated keycard: %+v", got)
			}
			if !s.UntilSynced || s.Worst.PersonID != kim.ID {
				t.Fatalf("summary %+v", s)
			}
			sync()
			nothing("after the sync")
		})
		t.Run("NeverActiveExpiryMovedEarlier", func(t *testing.T) {
			now := time.Now().UTC()
			dee := invite(map[string]any{"first_name": "Dee", "email": "dee@example.com", "keys": []map[string]any{{"key_id": e.key.ID}},
				"starts_at": now.Add(24 * time.Hour).Format(time.RFC3339), "expires_at": now.Add(5 * 24 * time.Hour).Format(time.RFC3339)})
			sync() // the lock holds her doorcode from tomorrow
			if r := e.Do("PATCH", base+dee.ID, e.PMToken, map[string]any{"expires_at": now.Add(2 * 24 * time.Hour).Format(time.RFC3339)}); r.Status != 200 {
				t.Fatalf("move expiry = %d: %s", r.Status, r.Body)
			}
			nothing("a person who never started, expiry moved earlier")
			sync()
		})
		t.Run("ActiveExpiryMovedEarlier", func(t *testing.T) {
			now := time.Now().UTC()
			fay := invite(map[string]any{"first_name": "Fay", "email": "fay@example.com", "keys": []map[string]any{{"key_id": e.key.ID}},
				"expires_at": now.Add(5 * 24 * time.Hour).Format(time.RFC3339)})
			e.login("fay@example.com") // a phone credential issued now
			sync()                     // the lock holds her doorcode until day 5
			if r := e.Do("PATCH", base+fay.ID, e.PMToken, map[string]any{"expires_at": now.Add(2 * 24 * time.Hour).Format(time.RFC3339)}); r.Status != 200 {
				t.Fatalf("move expiry = %d: %s", r.Status, r.Body)
			}
			// She holds access now: until day 2 the old code opens only
			// what the new one does.
			nothing("an active person, expiry moved earlier, still in the future")
			sync()
		})
		t.Run("KeyTakenThenGivenAgain", func(t *testing.T) {
			eve := invite(map[string]any{"first_name": "Eve", "email": "eve@example.com", "keys": []map[string]any{{"key_id": e.key.ID}}})
			e.login("eve@example.com") // a phone credential issued now
			sync()
			if r := e.Do("DELETE", base+eve.ID+"/keys/"+e.key.ID, e.PMToken, nil); r.Status != 200 {
				t.Fatalf("take key = %d: %s", r.Status, r.Body)
			}
			if got, _ := exposure(); len(ways(got[eve.ID])) == 0 {
				t.Fatalf("key taken: %+v", got)
			}
			if r := e.Do("PUT", base+eve.ID+"/keys/"+e.key.ID, e.PMToken, map[string]any{}); r.Status/100 != 2 {
				t.Fatalf("give key = %d: %s", r.Status, r.Body)
			}
			nothing("the key given again")
		})
	})
}
