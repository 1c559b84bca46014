package api_test

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPeopleFlows walks the seed article through the API: invite app and
// doorcode people, a future start, edit keys and expiration, guests, Door
// Sync tasks, Revoke All Keys, re-grant on the same record, Delete Person.
func TestPeopleFlows(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f := e.F
		now := st.Now()
		lease := now.Add(365 * 24 * time.Hour)
		e.ackAll()

		var unit struct{ ID string }
		e.ok("POST", e.prop+"/units", map[string]any{"name": "101"}, 201).Decode(t, &unit)

		// Invite: app access, resident, two keys, may share the building key.
		alice := e.invite(map[string]any{"first_name": "Alice", "last_name": "Archer", "email": "Alice@Example.com", "phone": "+1 212 555 0100",
			"access": "app", "resident": true, "unit_id": unit.ID, "expires_at": ts(lease),
			"keys": []map[string]any{{"key_id": f.Building.ID, "may_share": true}, {"key_id": f.Home.ID}}})
		t.Run("invite app person", func(t *testing.T) {
			if alice.Status != "active" || alice.Access != "app" || !alice.Resident || alice.UnitID != unit.ID {
				t.Errorf("alice = %+v", alice)
			}
			if alice.Email != "alice@example.com" {
				t.Errorf("email %q, want normalised lower case", alice.Email)
			}
			if got := alice.keyIDs(); !slices.Contains(got, f.Building.ID) || !slices.Contains(got, f.Home.ID) || len(got) != 2 {
				t.Errorf("keys %v", got)
			}
			if len(alice.Doorcode) != f.Property.DoorcodeLength {
				t.Errorf("doorcode %q, want %d digits (keys provide doorcodes)", alice.Doorcode, f.Property.DoorcodeLength)
			}
			if alice.ExpiresAt == nil || !alice.ExpiresAt.Equal(lease) {
				t.Errorf("expires_at %v, want %v", alice.ExpiresAt, lease)
			}
			if n := e.countWhere("outbox", "subject_id = ?", alice.ID); n != 1 {
				t.Errorf("%d welcome emails queued, want 1", n)
			}
		})

		bob := e.invite(map[string]any{"first_name": "Bob", "last_name": "Baker", "email": "bob@example.com", "access": "doorcode",
			"keys": []map[string]any{{"key_id": f.Building.ID}}})
		t.Run("invite doorcode person", func(t *testing.T) {
			if bob.Access != "doorcode" || bob.Status != "active" || len(bob.Doorcode) != 7 || bob.Doorcode == alice.Doorcode {
				t.Errorf("bob = %+v (alice's code %s)", bob, alice.Doorcode)
			}
			if bob.ExpiresAt != nil {
				t.Errorf("expires_at %v, want null", bob.ExpiresAt)
			}
		})

		start := now.Add(48 * time.Hour)
		carol := e.invite(map[string]any{"first_name": "Carol", "last_name": "Cole", "email": "carol@example.com", "access": "app",
			"starts_at": ts(start), "keys": []map[string]any{{"key_id": f.Building.ID}}})
		t.Run("future start is pending but the welcome email goes now", func(t *testing.T) {
			if carol.Status != "pending" {
				t.Errorf("status %q, want pending", carol.Status)
			}
			if n := e.countWhere("outbox", "subject_id = ? AND topic = 'email.welcome' AND available_at <= "+itoa(st.Now().UnixMicro()), carol.ID); n != 1 {
				t.Errorf("%d welcome emails due now, want 1", n)
			}
			if !hasKind(e.activity("?person_id="+carol.ID), domain.EventPersonInvited, carol.ID) {
				t.Error("no person.invited event for carol")
			}
		})

		t.Run("sync tasks after invites", func(t *testing.T) {
			tasks := e.syncTasks()
			if _, ok := tasks[f.Lobby.ID]; ok {
				t.Error("online Lobby listed as a sync task")
			}
			gym, ok := tasks[f.Gym.ID]
			if !ok || gym.PendingChanges != 3 || gym.IncludesRevocation || gym.DoorName != "Gym" || gym.LastSyncedAt == nil {
				t.Errorf("gym task = %+v (present %v), want 3 pending, no revocation", gym, ok)
			}
			if u, ok := tasks[f.Unit101.ID]; !ok || u.PendingChanges != 1 {
				t.Errorf("unit 101 task = %+v (present %v), want 1 pending", u, ok)
			}
			e.ackAll()
			if got := e.syncTasks(); len(got) != 0 {
				t.Errorf("after acknowledgement: %d tasks, want 0", len(got))
			}
		})

		t.Run("give and take keys", func(t *testing.T) {
			var p person
			e.ok("PUT", e.prop+"/people/"+bob.ID+"/keys/"+f.Home.ID, nil, 200).Decode(t, &p)
			if len(p.Keys) != 2 || p.Doorcode != bob.Doorcode {
				t.Errorf("after give: keys %v doorcode %q (was %q)", p.keyIDs(), p.Doorcode, bob.Doorcode)
			}
			p = person{}
			e.ok("DELETE", e.prop+"/people/"+bob.ID+"/keys/"+f.Building.ID, nil, 200).Decode(t, &p)
			if got := p.keyIDs(); len(got) != 1 || got[0] != f.Home.ID || p.Doorcode != bob.Doorcode {
				t.Errorf("after take: keys %v doorcode %q", got, p.Doorcode)
			}
			gym := e.syncTasks()[f.Gym.ID]
			if !gym.IncludesRevocation {
				t.Errorf("taking the Building key: gym task %+v, want a revocation", gym)
			}
			// The last key providing a doorcode goes: so does the code.
			p = person{}
			e.ok("PUT", e.prop+"/people/"+carol.ID+"/keys/"+f.Home.ID, map[string]any{"may_share": false, "expires_at": ts(start.Add(time.Hour))}, 200).Decode(t, &p)
			if k := p.Keys[slices.IndexFunc(p.Keys, func(k grant) bool { return k.KeyID == f.Home.ID })]; k.ExpiresAt == nil || !k.ExpiresAt.Equal(start.Add(time.Hour)) || !k.StartsAt.Equal(start) {
				t.Errorf("grant window %v..%v, want %v..%v", k.StartsAt, k.ExpiresAt, start, start.Add(time.Hour))
			}
			e.ok("DELETE", e.prop+"/people/"+carol.ID+"/keys/"+f.Home.ID, nil, 200)
			var none person
			e.ok("DELETE", e.prop+"/people/"+carol.ID+"/keys/"+f.Building.ID, nil, 200).Decode(t, &none)
			if len(none.Keys) != 0 || none.Doorcode != "" {
				t.Errorf("carol without keys: keys %v doorcode %q, want none", none.keyIDs(), none.Doorcode)
			}
			// An expiry in the past, or at or before the start of access,
			// is refused as PATCH refuses it (domain.CheckExpiry).
			for _, tc := range []struct {
				name, id string
				body     map[string]any
				msg      string
			}{
				{"ErrExpiryInThePast", bob.ID, map[string]any{"expires_at": "2020-01-01T00:00:00Z"}, "expires_at: must be in the future"},
				{"ErrExpiryBeforeStartsAt", bob.ID, map[string]any{"starts_at": ts(now.Add(2 * time.Hour)), "expires_at": ts(now.Add(time.Hour))}, "expires_at: must be after starts_at"},
				{"ErrExpiryBeforePersonsStart", carol.ID, map[string]any{"expires_at": ts(now.Add(time.Hour))}, "must be after the start of access, " + start.UTC().Format(time.RFC3339) + " (the person's starts_at)"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					r := e.ok("PUT", e.prop+"/people/"+tc.id+"/keys/"+f.Building.ID, tc.body, 400)
					if !strings.Contains(string(r.Body), tc.msg) {
						t.Errorf("body %s, want %q", r.Body, tc.msg)
					}
				})
			}
			e.ok("PATCH", e.prop+"/people/"+bob.ID, map[string]any{"expires_at": "2020-01-01T00:00:00Z"}, 400)
			evs := e.activity("?person_id=" + bob.ID)
			if !hasKind(evs, domain.EventKeyGiven, bob.ID) || !hasKind(evs, domain.EventKeyTaken, bob.ID) {
				t.Errorf("activity of bob lacks key_given/key_taken: %+v", evs)
			}
		})

		var guest person
		t.Run("guests", func(t *testing.T) {
			guestEnd := now.Add(72 * time.Hour)
			res := e.Do("POST", e.prop+"/people", e.PMToken, map[string]any{"first_name": "Gina", "last_name": "Guest", "email": "gina@example.com",
				"access": "app", "invited_by": alice.ID, "expires_at": ts(guestEnd), "keys": []map[string]any{{"key_id": f.Home.ID}}})
			if res.Status != 403 {
				t.Errorf("guest on a key the host may not share: %d, want 403: %s", res.Status, res.Body)
			}
			res = e.Do("POST", e.prop+"/people", e.PMToken, map[string]any{"first_name": "Gina", "last_name": "Guest", "email": "gina@example.com",
				"access": "app", "invited_by": alice.ID, "expires_at": ts(lease.Add(time.Hour)), "keys": []map[string]any{{"key_id": f.Building.ID}}})
			if res.Status != 400 || fieldOf(res.Body) != "expires_at" {
				t.Errorf("guest outliving host: %d %s, want 400 on expires_at", res.Status, res.Body)
			}
			res = e.Do("POST", e.prop+"/people", e.PMToken, map[string]any{"first_name": "Gina", "last_name": "Guest", "email": "gina@example.com",
				"access": "app", "invited_by": bob.ID, "keys": []map[string]any{{"key_id": f.Home.ID}}})
			if res.Status != 403 {
				t.Errorf("guest of bob who may not share: %d, want 403: %s", res.Status, res.Body)
			}
			guest = e.invite(map[string]any{"first_name": "Gina", "last_name": "Guest", "email": "gina@example.com", "access": "app",
				"invited_by": alice.ID, "expires_at": ts(guestEnd), "keys": []map[string]any{{"key_id": f.Building.ID, "may_share": true}}})
			if guest.InvitedBy != alice.ID || guest.Status != "active" || len(guest.Keys) != 1 || guest.Keys[0].MayShare || guest.Resident {
				t.Errorf("guest = %+v, want invited_by alice, one key, not shareable", guest)
			}
			host := e.person(alice.ID)
			if len(host.Guests) != 1 || host.Guests[0].ID != guest.ID {
				t.Errorf("alice's guests %+v, want gina", host.Guests)
			}
			res = e.Do("POST", e.prop+"/people", e.PMToken, map[string]any{"first_name": "Gus", "last_name": "Guest", "email": "gus@example.com",
				"access": "app", "invited_by": guest.ID, "expires_at": ts(guestEnd), "keys": []map[string]any{{"key_id": f.Building.ID}}})
			if res.Status != 400 || fieldOf(res.Body) != "invited_by" {
				t.Errorf("guest of a guest: %d %s, want 400 on invited_by", res.Status, res.Body)
			}
		})

		t.Run("change expiration", func(t *testing.T) {
			e.ackAll()
			earlier := now.Add(30 * 24 * time.Hour)
			var p person
			e.ok("PATCH", e.prop+"/people/"+alice.ID, map[string]any{"expires_at": ts(earlier)}, 200).Decode(t, &p)
			if p.ExpiresAt == nil || !p.ExpiresAt.Equal(earlier) {
				t.Errorf("expires_at %v, want %v", p.ExpiresAt, earlier)
			}
			for _, k := range p.Keys {
				if k.ExpiresAt == nil || !k.ExpiresAt.Equal(earlier) {
					t.Errorf("key %s expires %v, want %v", k.Name, k.ExpiresAt, earlier)
				}
			}
			tasks := e.syncTasks()
			for _, d := range []domain.Door{f.Gym, f.Unit101} {
				if !tasks[d.ID].IncludesRevocation {
					t.Errorf("%s: task %+v, want a revocation (expiration moved earlier)", d.Name, tasks[d.ID])
				}
			}
			// Removing the expiration widens access: no revocation.
			e.ackAll()
			p = person{}
			e.ok("PATCH", e.prop+"/people/"+alice.ID, map[string]any{"expires_at": nil}, 200).Decode(t, &p)
			if p.ExpiresAt != nil {
				t.Errorf("expires_at %v, want null", p.ExpiresAt)
			}
			if tk := e.syncTasks()[f.Unit101.ID]; tk.PendingChanges != 1 || tk.IncludesRevocation {
				t.Errorf("unit 101 task %+v, want 1 pending change without revocation", tk)
			}
		})

		t.Run("revoke all keys", func(t *testing.T) {
			e.ackAll()
			var p person
			e.ok("POST", e.prop+"/people/"+alice.ID+"/revoke", nil, 200).Decode(t, &p)
			if p.Status != "revoked" || len(p.Keys) != 0 || p.Doorcode != "" {
				t.Errorf("after revoke: %+v", p)
			}
			if g := e.person(guest.ID); g.Status != "revoked" || len(g.Keys) != 0 {
				t.Errorf("guest after host revoked: %+v", g)
			}
			for _, x := range e.people("") {
				if x.ID == alice.ID || x.ID == guest.ID {
					t.Errorf("%s listed without include_expired", x.Email)
				}
			}
			shown := map[string]string{}
			for _, x := range e.people("?include_expired=true") {
				shown[x.ID] = x.Status
			}
			if shown[alice.ID] != "revoked" || shown[guest.ID] != "revoked" {
				t.Errorf("include_expired shows %v, want alice and gina revoked", shown)
			}
			tasks := e.syncTasks()
			for _, d := range []domain.Door{f.Gym, f.Unit101} {
				if !tasks[d.ID].IncludesRevocation {
					t.Errorf("%s: %+v, want a pending revocation", d.Name, tasks[d.ID])
				}
			}
			evs := e.activity("?kind=person.revoked")
			if !hasKind(evs, domain.EventPersonRevoked, alice.ID) || !hasKind(evs, domain.EventPersonRevoked, guest.ID) {
				t.Errorf("revocation events %+v, want alice and gina", evs)
			}
			t.Run("again changes nothing", func(t *testing.T) {
				before, was := e.counts(), e.person(alice.ID)
				var again person
				e.ok("POST", e.prop+"/people/"+alice.ID+"/revoke", nil, 200).Decode(t, &again)
				if after := e.counts(); after != before {
					t.Errorf("a second Revoke All Keys wrote something:\n before %s\n after  %s", before, after)
				}
				if again.Status != "revoked" || !again.UpdatedAt.Equal(was.UpdatedAt) {
					t.Errorf("second revoke answered %+v, want the unchanged revoked person (updated_at %v)", again, was.UpdatedAt)
				}
			})
		})

		t.Run("re-grant on the same record", func(t *testing.T) {
			var p person
			e.ok("PUT", e.prop+"/people/"+alice.ID+"/keys/"+f.Home.ID, map[string]any{"may_share": true}, 200).Decode(t, &p)
			if p.ID != alice.ID || p.Status != "active" || len(p.Keys) != 1 || len(p.Doorcode) != 7 {
				t.Errorf("after re-grant: %+v", p)
			}
			if !slices.ContainsFunc(e.people(""), func(x person) bool { return x.ID == alice.ID }) {
				t.Error("re-granted alice missing from People")
			}
		})

		t.Run("delete person", func(t *testing.T) {
			g2 := e.invite(map[string]any{"first_name": "Hal", "last_name": "Guest", "email": "hal@example.com", "access": "app",
				"invited_by": alice.ID, "expires_at": ts(now.Add(24 * time.Hour)), "keys": []map[string]any{{"key_id": f.Home.ID}}})
			e.ok("DELETE", e.prop+"/people/"+alice.ID, nil, 204)
			e.ok("GET", e.prop+"/people/"+alice.ID, nil, 404)
			e.ok("GET", e.prop+"/people/"+g2.ID, nil, 404)
			for _, x := range e.people("?include_expired=true") {
				if x.ID == alice.ID || x.ID == g2.ID {
					t.Errorf("deleted %s still on People", x.Email)
				}
			}
			evs := e.activity("?person_id=" + alice.ID)
			if !hasKind(evs, domain.EventPersonDeleted, alice.ID) || !hasKind(evs, domain.EventPersonInvited, alice.ID) {
				t.Errorf("alice's activity after deletion %+v, want invited and deleted", evs)
			}
			for _, ev := range evs {
				if ev.PersonName != "Alice Archer" {
					t.Errorf("event %s person_name %q, want the snapshot Alice Archer", ev.Kind, ev.PersonName)
				}
			}
			if !hasKind(e.activity("?person_id="+g2.ID), domain.EventPersonDeleted, g2.ID) {
				t.Error("guest deletion not in activity")
			}
			// Coming back means a new invitation: the email is free again.
			again := e.invite(map[string]any{"first_name": "Alice", "last_name": "Archer", "email": "alice@example.com", "access": "app"})
			if again.ID == alice.ID {
				t.Error("re-invitation reused the deleted record")
			}
		})

		t.Run("future start activates by itself", func(t *testing.T) {
			dave := e.invite(map[string]any{"first_name": "Dave", "last_name": "Dunn", "email": "dave@example.com", "access": "app",
				"starts_at": ts(now.Add(time.Hour)), "expires_at": ts(now.Add(3 * time.Hour)), "keys": []map[string]any{{"key_id": f.Building.ID}}})
			if dave.Status != "pending" {
				t.Fatalf("status %q, want pending", dave.Status)
			}
			e.moveClock(2 * time.Hour)
			if got := e.person(dave.ID).Status; got != "active" {
				t.Errorf("after start: %q, want active", got)
			}
			e.moveClock(4 * time.Hour)
			if got := e.person(dave.ID).Status; got != "expired" {
				t.Errorf("after expiry: %q, want expired", got)
			}
			if slices.ContainsFunc(e.people(""), func(x person) bool { return x.ID == dave.ID }) {
				t.Error("expired dave listed without include_expired")
			}
		})
	})
}

// TestDoorcodesOnlyForFullKeyManagement: codes are never in lists and only
// managers with full Key Management see them on a person.
func TestDoorcodesOnlyForFullKeyManagement(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		p := e.invite(map[string]any{"first_name": "Ann", "last_name": "Code", "email": "ann@example.com", "access": "doorcode",
			"keys": []map[string]any{{"key_id": e.F.Home.ID}}})
		if p.Doorcode == "" {
			t.Fatal("Portfolio Manager sees no doorcode")
		}
		for _, x := range e.people("") {
			if x.Doorcode != "" {
				t.Errorf("doorcode %q shown in the People list", x.Doorcode)
			}
		}
		for _, km := range []domain.KeyManagement{domain.KeyManagementFull, domain.KeyManagementLimited, domain.KeyManagementSpecific} {
			as := &domain.Assignment{PropertyID: e.F.Property.ID, KeyManagement: km}
			if km == domain.KeyManagementSpecific {
				as.Keys = []string{e.F.Home.ID}
			}
			token := e.managerToken(string(km)+"@example.com", as)
			var got person
			e.want(e.Do("GET", e.prop+"/people/"+p.ID, token, nil), 200).Decode(t, &got)
			if want := km == domain.KeyManagementFull; (got.Doorcode != "") != want {
				t.Errorf("%s key management: doorcode %q shown=%v, want shown=%v", km, got.Doorcode, got.Doorcode != "", want)
			}
		}
	})
}

// TestChangingDoorcodeLengthRegeneratesCodes: a new length gives every
// holder a new code of that length, and the doors get a revocation.
func TestChangingDoorcodeLengthRegeneratesCodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		p := e.invite(map[string]any{"first_name": "Ann", "last_name": "Code", "email": "ann@example.com", "access": "doorcode",
			"keys": []map[string]any{{"key_id": e.F.Home.ID}}})
		e.ackAll()
		var prop struct {
			DoorcodeLength int `json:"doorcode_length"`
		}
		e.ok("PATCH", e.prop, map[string]any{"doorcode_length": 5}, 200).Decode(t, &prop)
		if prop.DoorcodeLength != 5 {
			t.Errorf("doorcode_length %d, want 5", prop.DoorcodeLength)
		}
		if got := e.person(p.ID).Doorcode; len(got) != 5 {
			t.Errorf("code %q after length change, want 5 digits (was %q)", got, p.Doorcode)
		}
		if tk := e.syncTasks()[e.F.Unit101.ID]; !tk.IncludesRevocation {
			t.Errorf("unit 101 %+v, want a revocation (old codes stop working)", tk)
		}
	})
}

// TestConcurrentEditsKeepBothChanges: two managers changing different
// fields of one person at the same moment both keep their change.
func TestConcurrentEditsKeepBothChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		other := e.managerToken("full@example.com", &domain.Assignment{PropertyID: e.F.Property.ID, KeyManagement: domain.KeyManagementFull})
		for i := 0; i < 5; i++ {
			p := e.invite(map[string]any{"first_name": "Ann", "last_name": "Edit", "email": "ann" + itoa(int64(i)) + "@example.com", "access": "app"})
			var wg sync.WaitGroup
			wg.Add(2)
			var s1, s2 int
			go func() {
				defer wg.Done()
				s1 = e.Do("PATCH", e.prop+"/people/"+p.ID, e.PMToken, map[string]any{"phone": "555 0199"}).Status
			}()
			go func() {
				defer wg.Done()
				s2 = e.Do("PATCH", e.prop+"/people/"+p.ID, other, map[string]any{"last_name": "Edited"}).Status
			}()
			wg.Wait()
			if s1 != 200 || s2 != 200 {
				t.Fatalf("statuses %d, %d", s1, s2)
			}
			got := e.person(p.ID)
			if got.Phone != "555 0199" || got.LastName != "Edited" {
				t.Errorf("round %d: phone %q last name %q, want both changes kept", i, got.Phone, got.LastName)
			}
		}
	})
}

// TestPeopleSearchAndPaging: q searches names and email; cursors page
// through everyone exactly once.
func TestPeopleSearchAndPaging(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for i := 0; i < 7; i++ {
			e.invite(map[string]any{"first_name": "Pat" + string(rune('a'+i)), "last_name": "Page", "email": "pat" + itoa(int64(i)) + "@example.com", "access": "app"})
		}
		e.invite(map[string]any{"first_name": "Zed", "last_name": "Other", "email": "zed@elsewhere.org", "access": "app"})
		seen := map[string]bool{}
		cursor, pages := "", 0
		for {
			var l list[person]
			q := "?limit=3"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			e.ok("GET", e.prop+"/people"+q, nil, 200).Decode(t, &l)
			pages++
			for _, p := range l.Items {
				if seen[p.ID] {
					t.Errorf("%s listed twice", p.Email)
				}
				seen[p.ID] = true
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		if len(seen) != 8 || pages != 3 {
			t.Errorf("%d people in %d pages, want 8 in 3", len(seen), pages)
		}
		for q, want := range map[string]int{"zed@": 1, "ZED": 1, "page": 7, "patc": 1, "patc%20page": 1, "other%20zed": 1, "nobody": 0} {
			if got := len(e.people("?q=" + q)); got != want {
				t.Errorf("q=%s: %d people, want %d", q, got, want)
			}
		}
	})
}

// TestPeopleSort: sort=unit|expires|status orders the list (ties by
// name), desc reverses it, paging by position walks everyone once, and an
// unknown column, a bad desc or a cursor of another sort is a 400.
func TestPeopleSort(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		unit := map[string]string{}
		for _, n := range []string{"305", "101", "210"} {
			var u struct{ ID string }
			e.ok("POST", e.prop+"/units", map[string]any{"name": n}, 201).Decode(t, &u)
			unit[n] = u.ID
		}
		now := st.Now()
		in := func(first, u string, days int) {
			body := map[string]any{"first_name": first, "last_name": "Sort", "email": strings.ToLower(first) + "@example.com", "access": "app"}
			if u != "" {
				body["unit_id"] = unit[u]
			}
			if days > 0 {
				body["expires_at"] = ts(now.Add(time.Duration(days) * 24 * time.Hour))
			}
			e.invite(body)
		}
		in("Cora", "305", 30)
		in("Abe", "101", 0)
		in("Dina", "", 10)
		in("Bea", "210", 20)
		in("Eli", "101", 5)
		names := func(query string) []string {
			t.Helper()
			var got []string
			cursor := ""
			for range 10 {
				q := query + "&limit=2"
				if cursor != "" {
					q += "&cursor=" + cursor
				}
				var l list[person]
				e.ok("GET", e.prop+"/people"+q, nil, 200).Decode(t, &l)
				for _, p := range l.Items {
					got = append(got, p.FirstName)
				}
				if cursor = l.NextCursor; cursor == "" {
					return got
				}
			}
			t.Fatalf("%s: paging does not end", query)
			return nil
		}
		for query, want := range map[string][]string{
			"?sort=name":              {"Abe", "Bea", "Cora", "Dina", "Eli"},
			"?sort=unit":              {"Abe", "Eli", "Bea", "Cora", "Dina"},
			"?sort=unit&desc=true":    {"Dina", "Cora", "Bea", "Eli", "Abe"},
			"?sort=expires":           {"Eli", "Dina", "Bea", "Cora", "Abe"},
			"?sort=expires&desc=true": {"Abe", "Cora", "Bea", "Dina", "Eli"},
			"?sort=status":            {"Abe", "Bea", "Cora", "Dina", "Eli"},
		} {
			if got := names(query); !slices.Equal(got, want) {
				t.Errorf("%s: %v, want %v", query, got, want)
			}
		}

		var first list[person]
		e.ok("GET", e.prop+"/people?sort=unit&limit=2", nil, 200).Decode(t, &first)
		for query, field := range map[string]string{
			"?sort=floor":           "sort",
			"?sort=UNIT":            "sort",
			"?sort=unit&desc=maybe": "desc",
			"?sort=expires&cursor=" + first.NextCursor: "cursor",
		} {
			res := e.want(e.Do("GET", e.prop+"/people"+query, e.PMToken, nil), 400)
			if got := fieldOf(res.Body); got != field {
				t.Errorf("%s: error field %q, want %q (%s)", query, got, field, res.Body)
			}
		}
	})
}

func fieldOf(body []byte) string {
	var e apiError
	_ = jsonUnmarshal(body, &e)
	return e.Error.Field
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
