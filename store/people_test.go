package store_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// hostWithGuests invites a resident holding Building (shareable) and Home,
// and three guests of theirs on Building.
func hostWithGuests(e *env) (domain.PersonView, []domain.PersonView) {
	e.t.Helper()
	end := t0.Add(365 * 24 * time.Hour)
	host := e.invite("Ana", "Lopez", "ana@example.com", withKeys(key(e.f.Building.ID, true), key(e.f.Home.ID, false)), window(t0, &end))
	var guests []domain.PersonView
	for _, name := range []string{"Gus", "Gia", "Gil"} {
		gEnd := t0.Add(48 * time.Hour)
		guests = append(guests, e.invite(name, "Guest", strings.ToLower(name)+"@example.com", guestOf(host.ID),
			withKeys(key(e.f.Building.ID, false)), window(t0, &gEnd)))
	}
	return host, guests
}

func TestRevokeCascadesToGuests(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		host, guests := hostWithGuests(e)
		everyone := append([]domain.PersonView{host}, guests...)
		if got := len(e.person(host.ID).Guests); got != 3 {
			t.Fatalf("host lists %d guests, want 3", got)
		}
		for _, p := range everyone {
			if e.doorcode(p.ID) == "" {
				t.Fatalf("%s has no doorcode before revoke (Building provides doorcodes at the Lobby)", p.FirstName)
			}
		}
		e.clock.Add(time.Minute)
		revokedAt := e.clock.Now()
		v, err := st.Revoke(ctx, e.f.PM, e.prop(), host.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != domain.StatusRevoked || len(v.Keys) != 0 || v.ID != host.ID {
			t.Fatalf("after revoke: status %s, %d keys", v.Status, len(v.Keys))
		}
		for _, g := range v.Guests {
			if g.Status != domain.StatusRevoked {
				t.Fatalf("guest %s is %s on the host's page, want revoked", g.FirstName, g.Status)
			}
		}
		for _, p := range everyone {
			got := e.person(p.ID)
			if got.Status != domain.StatusRevoked || len(got.Keys) != 0 {
				t.Fatalf("%s: status %s with %d keys, want revoked with none", p.FirstName, got.Status, len(got.Keys))
			}
			if n := e.count(`SELECT COUNT(*) FROM grants WHERE person_id = ?`, p.ID); n != 0 {
				t.Fatalf("%s keeps %d grants", p.FirstName, n)
			}
			if code := e.doorcode(p.ID); code != "" {
				t.Fatalf("%s keeps doorcode %s", p.FirstName, code)
			}
			if got.Doorcode != "" {
				t.Fatalf("%s still shows doorcode %s", p.FirstName, got.Doorcode)
			}
		}
		// A revocation effective from the change, at every door each could open.
		wantRev := map[string][]string{host.ID: {e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID}}
		for _, g := range guests {
			wantRev[g.ID] = []string{e.f.Lobby.ID, e.f.Gym.ID}
		}
		for pid, doors := range wantRev {
			for _, d := range doors {
				if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ? AND door_id = ? AND at = ?`, pid, d, revokedAt.UnixMicro()); n != 1 {
					t.Fatalf("no revocation of %s at door %s", pid, d)
				}
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE door_id = ? AND person_id <> ?`, e.f.Unit101.ID, host.ID); n != 0 {
			t.Fatalf("guests got revocations at the host's home door they never had")
		}
		// Hidden from People unless Show Expired Users.
		list := e.people(domain.PeopleFilter{})
		for _, p := range everyone {
			if contains(list, p.ID) {
				t.Fatalf("revoked %s listed on People", p.FirstName)
			}
		}
		all := e.people(domain.PeopleFilter{IncludeExpired: true})
		for _, p := range everyone {
			if !contains(all, p.ID) {
				t.Fatalf("revoked %s missing with include_expired", p.FirstName)
			}
		}
		// Activity: one revoke entry for the host and one per guest.
		evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{Kind: domain.EventPersonRevoked})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 4 {
			t.Fatalf("%d person.revoked events, want 4", len(evs))
		}
		// Each entry names the doors that person lost: the guests never had
		// the host's home door.
		home, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{Kind: domain.EventPersonRevoked, DoorID: e.f.Unit101.ID})
		if err != nil {
			t.Fatal(err)
		}
		if len(home) != 1 || home[0].PersonID != host.ID {
			t.Fatalf("%d revoke entries at the host's home door, want only the host's", len(home))
		}
		// Offline doors now have a pending revocation.
		tasks, err := st.ListSyncTasks(ctx, e.f.PM, e.prop())
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if !tk.IncludesRevocation {
				t.Fatalf("sync task for %s does not flag the revocation", tk.DoorName)
			}
		}
		if len(tasks) != 2 {
			t.Fatalf("%d sync tasks, want Gym and Unit 101", len(tasks))
		}

		t.Run("ReGrantSameRecord", func(t *testing.T) {
			e.clock.Add(time.Minute)
			v, err := st.GiveKey(ctx, e.f.PM, e.prop(), host.ID, e.f.Home.ID, domain.GrantChange{})
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != host.ID || v.Status != domain.StatusActive || len(v.Keys) != 1 || v.Keys[0].KeyID != e.f.Home.ID {
				t.Fatalf("after re-grant: %s %s keys %v", v.ID, v.Status, v.Keys)
			}
			if v.Doorcode == "" || e.doorcode(host.ID) != v.Doorcode {
				t.Fatalf("re-granted doorcode key gave no doorcode")
			}
			if n := e.count(`SELECT COUNT(*) FROM people WHERE email = ?`, "ana@example.com"); n != 1 {
				t.Fatalf("%d records for the host, want the same single one", n)
			}
			for _, g := range guests {
				if s := e.person(g.ID).Status; s != domain.StatusRevoked {
					t.Fatalf("guest %s is %s after the host's re-grant; guests stay revoked", g.FirstName, s)
				}
			}
			if !contains(e.people(domain.PeopleFilter{}), host.ID) {
				t.Fatal("re-granted host not on People")
			}
		})
	})
}

func TestDeletePersonCascadesToGuests(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		host, guests := hostWithGuests(e)
		everyone := append([]domain.PersonView{host}, guests...)
		e.clock.Add(time.Minute)
		if err := st.DeletePerson(ctx, e.f.PM, e.prop(), host.ID); err != nil {
			t.Fatal(err)
		}
		for _, p := range everyone {
			_, err := st.Person(ctx, e.f.PM, e.prop(), p.ID)
			wantCode(t, err, domain.ENotFound)
			if n := e.count(`SELECT COUNT(*) FROM grants WHERE person_id = ?`, p.ID); n != 0 {
				t.Fatalf("%s keeps %d grants", p.FirstName, n)
			}
			if e.doorcode(p.ID) != "" {
				t.Fatalf("%s keeps a doorcode", p.FirstName)
			}
			if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ? AND door_id = ?`, p.ID, e.f.Lobby.ID); n != 1 {
				t.Fatalf("no revocation for %s at the Lobby", p.FirstName)
			}
		}
		all := e.people(domain.PeopleFilter{IncludeExpired: true})
		for _, p := range everyone {
			if contains(all, p.ID) {
				t.Fatalf("deleted %s still on People with include_expired", p.FirstName)
			}
		}
		// Operations on a deleted person answer not found.
		_, err := st.Revoke(ctx, e.f.PM, e.prop(), host.ID)
		wantCode(t, err, domain.ENotFound)
		_, err = st.GiveKey(ctx, e.f.PM, e.prop(), host.ID, e.f.Home.ID, domain.GrantChange{})
		wantCode(t, err, domain.ENotFound)
		_, err = st.UpdatePerson(ctx, e.f.PM, e.prop(), host.ID, domain.PersonPatch{Phone: ptr("1")})
		wantCode(t, err, domain.ENotFound)
		wantCode(t, st.DeletePerson(ctx, e.f.PM, e.prop(), host.ID), domain.ENotFound)

		// Past activity stays, with the name as a snapshot.
		evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{PersonID: host.ID})
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, ev := range evs {
			kinds[ev.Kind] = true
			if ev.PersonName != "Ana Lopez" {
				t.Fatalf("event %s has person_name %q, want the snapshot %q", ev.Kind, ev.PersonName, "Ana Lopez")
			}
		}
		if !kinds[domain.EventPersonInvited] || !kinds[domain.EventPersonDeleted] {
			t.Fatalf("host's activity after delete has kinds %v, want invited and deleted", kinds)
		}
		gev, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{PersonID: guests[0].ID, Kind: domain.EventPersonDeleted})
		if err != nil || len(gev) != 1 || !strings.Contains(gev[0].Detail, "guest of Ana Lopez") {
			t.Fatalf("guest's delete event: %v %+v", err, gev)
		}

		t.Run("ReInviteCreatesNewRecord", func(t *testing.T) {
			again := e.invite("Ana", "Lopez", "ana@example.com")
			if again.ID == host.ID {
				t.Fatal("re-invite reused the deleted record")
			}
			if again.Status != domain.StatusActive || len(again.Guests) != 0 {
				t.Fatalf("re-invited person %s with %d guests", again.Status, len(again.Guests))
			}
			// The guests' emails are free again too.
			e.invite("Gus", "Guest", "gus@example.com")
			// The old record's activity is still its own.
			evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{PersonID: host.ID})
			if err != nil || len(evs) == 0 {
				t.Fatalf("old activity lost: %v", err)
			}
		})
	})
}

func TestInviteRefusalsWriteNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.invite("Ana", "Lopez", "ana@example.com")
		other, err := st.CreateProperty(ctx, e.f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "Europe/London"})
		if err != nil {
			t.Fatal(err)
		}
		door, err := st.CreateDoor(ctx, e.f.PM, other.ID, domain.DoorInput{Name: "Front", Type: domain.DoorEntrance, Connectivity: domain.Online})
		if err != nil {
			t.Fatal(err)
		}
		foreign, err := st.CreateKey(ctx, e.f.PM, other.ID, domain.KeyInput{Name: "Front", Doors: []domain.KeyDoor{{DoorID: door.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		appOnly, err := st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		tables := []string{"people", "grants", "doorcodes", "events", "outbox", "door_changes"}
		snapshot := func() []int {
			var out []int
			for _, tb := range tables {
				out = append(out, e.count(`SELECT COUNT(*) FROM `+tb))
			}
			return out
		}
		before := snapshot()
		base := func() domain.InviteInput {
			return domain.InviteInput{FirstName: "Bo", LastName: "Berg", Email: "bo@example.com", Access: domain.AccessApp,
				Keys: []domain.GrantInput{key(e.f.Building.ID, false)}}
		}
		for _, tc := range []struct {
			name  string
			edit  func(*domain.InviteInput)
			code  domain.Code
			field string
		}{
			{"ErrDuplicateEmail", func(in *domain.InviteInput) { in.Email = "ANA@example.com" }, domain.EConflict, "email"},
			{"ErrForeignKey", func(in *domain.InviteInput) { in.Keys = []domain.GrantInput{key(foreign.ID, false)} }, domain.EInvalid, "keys"},
			{"ErrUnknownKey", func(in *domain.InviteInput) { in.Keys = []domain.GrantInput{key("key_nope", false)} }, domain.EInvalid, "keys"},
			{"ErrDoorcodeOnlyWithoutDoorcodeKey", func(in *domain.InviteInput) {
				in.Access, in.Keys = domain.AccessDoorcode, []domain.GrantInput{key(appOnly.ID, false)}
			}, domain.EInvalid, "keys"},
			{"ErrUnknownUnit", func(in *domain.InviteInput) { in.UnitID = "unt_nope" }, domain.EInvalid, "unit_id"},
			{"ErrUnknownHost", func(in *domain.InviteInput) { in.InvitedBy = "per_nope" }, domain.EInvalid, "invited_by"},
			{"ErrExpiryBeforeStart", func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = ptr(t0), ptr(t0.Add(-time.Hour)) }, domain.EInvalid, "expires_at"},
			{"ErrLongName", func(in *domain.InviteInput) { in.FirstName = strings.Repeat("a", 101) }, domain.EInvalid, "first_name"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				in := base()
				tc.edit(&in)
				_, err := st.Invite(ctx, e.f.PM, e.prop(), in)
				wantCode(t, err, tc.code)
				if f := err.(*domain.Error).Field; f != tc.field {
					t.Fatalf("error names field %q, want %q (%v)", f, tc.field, err)
				}
				if after := snapshot(); !slices.Equal(after, before) {
					t.Fatalf("a refused invite wrote rows: %v → %v (%v)", before, after, tables)
				}
			})
		}
	})
}

func TestStatusFollowsTheClock(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		start, end := t0.Add(24*time.Hour), t0.Add(48*time.Hour)
		p := e.invite("Pia", "Pending", "pia@example.com", window(start, &end))
		if p.Status != domain.StatusPending {
			t.Fatalf("future start: status %s, want pending", p.Status)
		}
		if !contains(e.people(domain.PeopleFilter{}), p.ID) {
			t.Fatal("a pending person must be listed on People")
		}
		// The welcome email goes out now, not at the start.
		items, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
		if err != nil || len(items) != 1 || items[0].SubjectID != p.ID {
			t.Fatalf("welcome email not due at invite: %v %+v", err, items)
		}
		e.clock.Add(24 * time.Hour)
		if s := e.person(p.ID).Status; s != domain.StatusActive {
			t.Fatalf("at start: status %s, want active", s)
		}
		e.clock.Add(24 * time.Hour)
		if s := e.person(p.ID).Status; s != domain.StatusExpired {
			t.Fatalf("at expiry: status %s, want expired", s)
		}
		if contains(e.people(domain.PeopleFilter{}), p.ID) {
			t.Fatal("expired person listed without include_expired")
		}
		all := e.people(domain.PeopleFilter{IncludeExpired: true})
		if !contains(all, p.ID) || all[slices.IndexFunc(all, func(v domain.PersonView) bool { return v.ID == p.ID })].Status != domain.StatusExpired {
			t.Fatal("expired person missing or wrong status with include_expired")
		}
		// Extending the expiration brings them back.
		v, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), p.ID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: ptr(end.Add(72 * time.Hour))})
		if err != nil || v.Status != domain.StatusActive {
			t.Fatalf("after extending: %v %s", err, v.Status)
		}
	})
}

func TestGuestRules(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		host, guests := hostWithGuests(e)
		g := guests[0]
		if g.Resident || g.InvitedBy != host.ID || g.Keys[0].MayShare {
			t.Fatalf("guest %+v: must not be resident, must name the host, must not share", g)
		}
		t.Run("ErrNotShareableKey", func(t *testing.T) {
			_, err := st.Invite(ctx, e.f.PM, e.prop(), domain.InviteInput{FirstName: "X", LastName: "Y", Email: "x@example.com",
				Access: domain.AccessApp, InvitedBy: host.ID, Keys: []domain.GrantInput{key(e.f.Home.ID, false)}, ExpiresAt: ptr(t0.Add(time.Hour))})
			wantCode(t, err, domain.EForbidden)
		})
		t.Run("ErrGuestOfGuest", func(t *testing.T) {
			_, err := st.Invite(ctx, e.f.PM, e.prop(), domain.InviteInput{FirstName: "X", LastName: "Y", Email: "x@example.com",
				Access: domain.AccessApp, InvitedBy: g.ID, Keys: []domain.GrantInput{key(e.f.Building.ID, false)}, ExpiresAt: ptr(t0.Add(time.Hour))})
			wantCode(t, err, domain.EInvalid)
		})
		t.Run("ErrGiveGuestUnshareableKey", func(t *testing.T) {
			_, err := st.GiveKey(ctx, e.f.PM, e.prop(), g.ID, e.f.Home.ID, domain.GrantChange{})
			wantCode(t, err, domain.EForbidden)
		})
		t.Run("ErrGuestBeyondHost", func(t *testing.T) {
			_, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), g.ID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: ptr(t0.Add(400 * 24 * time.Hour))})
			wantCode(t, err, domain.EInvalid)
		})
		t.Run("HostExpiryEarlierClampsGuests", func(t *testing.T) {
			newEnd := t0.Add(24 * time.Hour)
			if _, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), host.ID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: &newEnd}); err != nil {
				t.Fatal(err)
			}
			for _, g := range guests {
				got := e.person(g.ID)
				if got.ExpiresAt == nil || got.ExpiresAt.After(newEnd) {
					t.Fatalf("guest %s expires %v after the host (%v)", g.FirstName, got.ExpiresAt, newEnd)
				}
				if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ?`, g.ID); n == 0 {
					t.Fatalf("guest %s narrowed without a revocation", g.FirstName)
				}
			}
		})
		t.Run("TakeKeyFromHostTakesItFromGuests", func(t *testing.T) {
			if _, err := st.TakeKey(ctx, e.f.PM, e.prop(), host.ID, e.f.Building.ID); err != nil {
				t.Fatal(err)
			}
			for _, g := range guests {
				if got := e.person(g.ID); len(got.Keys) != 0 || e.doorcode(g.ID) != "" {
					t.Fatalf("guest %s keeps %d keys / a doorcode after the host lost the key", g.FirstName, len(got.Keys))
				}
			}
		})
	})
}
