package store_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// resEnv is a store with a keyring and a resident host who may share both
// fixture keys.
type resEnv struct {
	*env
	keys *keyring.Keyring
	host store.Resident
}

func newResEnv(t *testing.T, st *store.Store) *resEnv {
	t.Helper()
	e := &resEnv{env: newEnv(t, st)}
	e.keys = storetest.Keyring(t, st)
	e.host = e.resident("Rita", "rita@example.com")
	return e
}

// resident invites an app resident who may share Building and Home and
// returns their login as InviteGuest sees it.
func (e *resEnv) resident(first, email string) store.Resident {
	e.t.Helper()
	v := e.invite(first, "Resident", email, withKeys(key(e.f.Building.ID, true), key(e.f.Home.ID, true)))
	return store.Resident{Email: v.Email, People: []store.ResidentPerson{{Person: v.Person}}}
}

func (e *resEnv) codeGuest(host store.Resident, email, keyID, day string) store.ResidentGuest {
	e.t.Helper()
	g, err := e.st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestDayCode, FirstName: "Gus", LastName: "Guest",
		Email: email, Keys: []string{keyID}, Day: day})
	if err != nil {
		e.t.Fatalf("code guest %s: %v", email, err)
	}
	return g
}

func (e *resEnv) appGuest(host store.Resident, email string, keyIDs ...string) (store.ResidentGuest, error) {
	end := e.clock.Now().Add(48 * time.Hour)
	return e.st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestApp, FirstName: "Ann", LastName: "Guest",
		Email: email, Keys: keyIDs, ExpiresAt: &end})
}

func (e *resEnv) status(id string) domain.Status {
	e.t.Helper()
	d, err := e.st.MailPerson(ctx, nil, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Status
}

// generation is a key's day-secret generation (0: none yet).
func (e *resEnv) generation(keyID string) int {
	return e.count(`SELECT COALESCE(MAX(generation), 0) FROM key_day_secrets WHERE key_id = ?`, keyID)
}

// changedCodeMails counts "your code changed" emails waiting for a person.
func (e *resEnv) changedCodeMails(personID string) int {
	e.t.Helper()
	rows, err := e.st.DB().QueryContext(ctx, e.sql(`SELECT payload FROM outbox WHERE subject_id = ? AND topic = ?`), personID, store.TopicGuestCode)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var payload string
		var p map[string]string
		if err := rows.Scan(&payload); err != nil {
			e.t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(payload), &p); err != nil {
			e.t.Fatal(err)
		}
		if p["changed"] == "true" {
			n++
		}
	}
	return n
}

func (e *resEnv) revokedAt(doorID, personID string) bool {
	return e.count(`SELECT COUNT(*) FROM door_revocations WHERE door_id = ? AND person_id = ?`, doorID, personID) > 0
}

// TestCodeGuestCascades: taking a key from a host or narrowing the host's
// window ends their code guests on that key, as Revoke does: the code is
// released, the key's day secret rotated, the doors get a revocation and
// the key's other code guests get their new code by email.
func TestCodeGuestCascades(t *testing.T) {
	resCase(t, "TakeKeyEndsCodeGuestsOnThatKey", func(t *testing.T, e *resEnv) {
		onBuilding := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		onHome := e.codeGuest(e.host, "hal@example.com", e.f.Home.ID, "")
		other := e.resident("Olga", "olga@example.com")
		othersGuest := e.codeGuest(other, "oz@example.com", e.f.Building.ID, "")
		gen := e.generation(e.f.Building.ID)

		if _, err := e.st.TakeKey(ctx, e.f.PM, e.prop(), e.host.People[0].ID, e.f.Building.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.status(onBuilding.ID); got != domain.StatusRevoked {
			t.Errorf("guest on the taken key is %s, want revoked", got)
		}
		if n := e.count(`SELECT COUNT(*) FROM guest_codes WHERE person_id = ? AND released_at IS NULL`, onBuilding.ID); n != 0 {
			t.Errorf("code of the guest on the taken key still held")
		}
		if got := e.generation(e.f.Building.ID); got != gen+1 {
			t.Errorf("day secret generation = %d, want %d (rotated)", got, gen+1)
		}
		if !e.revokedAt(e.f.Lobby.ID, onBuilding.ID) {
			t.Errorf("no revocation of the guest at the key's doorcode door")
		}
		if got := e.status(onHome.ID); got != domain.StatusActive {
			t.Errorf("guest on another key is %s, want active", got)
		}
		if n := e.changedCodeMails(othersGuest.ID); n != 1 {
			t.Errorf("another host's guest on the key got %d new-code emails, want 1", n)
		}
		if e.count(`SELECT COUNT(*) FROM events WHERE person_id = ? AND kind = ?`, onBuilding.ID, domain.EventPersonRevoked) != 1 {
			t.Errorf("no person.revoked entry for the ended guest")
		}
	})
	resCase(t, "NoLongerShareableEndsCodeGuests", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Home.ID, "")
		if _, err := e.st.GiveKey(ctx, e.f.PM, e.prop(), e.host.People[0].ID, e.f.Home.ID, domain.GrantChange{MayShare: false}); err != nil {
			t.Fatal(err)
		}
		if got := e.status(g.ID); got != domain.StatusRevoked {
			t.Errorf("guest is %s, want revoked", got)
		}
	})
	resCase(t, "NarrowedHostEndsCodeGuestsOutsideTheWindow", func(t *testing.T, e *resEnv) {
		loc := e.f.Property.Location()
		today := e.clock.Now().In(loc)
		day := func(n int) string { return today.AddDate(0, 0, n).Format("2006-01-02") }
		inside := e.codeGuest(e.host, "in@example.com", e.f.Building.ID, day(1))
		outside := e.codeGuest(e.host, "out@example.com", e.f.Building.ID, day(3))
		gen := e.generation(e.f.Building.ID)
		// The host's access now ends at the end of tomorrow.
		end := time.Date(today.Year(), today.Month(), today.Day()+2, 0, 0, 0, 0, loc)
		if _, err := e.st.UpdatePerson(ctx, e.f.PM, e.prop(), e.host.People[0].ID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: &end}); err != nil {
			t.Fatal(err)
		}
		if got := e.status(outside.ID); got != domain.StatusRevoked {
			t.Errorf("guest after the host's new end is %s, want revoked", got)
		}
		if got := e.status(inside.ID); got != domain.StatusPending {
			t.Errorf("guest inside the host's new window is %s, want pending", got)
		}
		if got := e.generation(e.f.Building.ID); got != gen+1 {
			t.Errorf("day secret generation = %d, want %d (rotated)", got, gen+1)
		}
		if n := e.changedCodeMails(inside.ID); n != 1 {
			t.Errorf("remaining guest got %d new-code emails, want 1", n)
		}
		if !e.revokedAt(e.f.Lobby.ID, outside.ID) {
			t.Errorf("no revocation of the ended guest at the doorcode door")
		}
	})
	resCase(t, "WideningKeepsCodeGuests", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		gen := e.generation(e.f.Building.ID)
		end := e.clock.Now().Add(30 * 24 * time.Hour)
		if _, err := e.st.UpdatePerson(ctx, e.f.PM, e.prop(), e.host.People[0].ID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: &end}); err != nil {
			t.Fatal(err)
		}
		if got := e.status(g.ID); got != domain.StatusActive {
			t.Errorf("guest is %s, want active", got)
		}
		if got := e.generation(e.f.Building.ID); got != gen {
			t.Errorf("day secret rotated without need")
		}
	})
}

// TestDoorcodeLengthReissuesGuestCodes: guest codes are computed with the
// property's doorcode length, so a new length re-emails code guests whose
// code still works, with a code of the new length.
func TestDoorcodeLengthReissuesGuestCodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		if len(g.Code) != e.f.Property.DoorcodeLength {
			t.Fatalf("code %q, want %d digits", g.Code, e.f.Property.DoorcodeLength)
		}
		if _, err := e.st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{DoorcodeLength: 9}); err != nil {
			t.Fatal(err)
		}
		if n := e.changedCodeMails(g.ID); n != 1 {
			t.Errorf("guest got %d new-code emails, want 1", n)
		}
		d, err := e.st.MailPerson(ctx, e.keys, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.GuestCode == nil || len(d.GuestCode.Code) != 9 {
			t.Errorf("emailed code %+v, want 9 digits", d.GuestCode)
		}
		// A code whose day is over is not re-sent.
		e.clock.Add(48 * time.Hour)
		if _, err := e.st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{DoorcodeLength: 8}); err != nil {
			t.Fatal(err)
		}
		if n := e.changedCodeMails(g.ID); n != 1 {
			t.Errorf("guest of a past day got %d new-code emails, want still 1", n)
		}
	})
}

// TestReinviteGuest: a host invites a guest whose access is over again, on
// the same record; anyone else's record with that email stays a conflict.
func TestReinviteGuest(t *testing.T) {
	resCase(t, "OKRevokedAppGuestAgain", func(t *testing.T, e *resEnv) {
		g, err := e.appGuest(e.host, "ann@example.com", e.f.Building.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.RevokeMyGuest(ctx, e.host, g.ID); err != nil {
			t.Fatal(err)
		}
		again, err := e.appGuest(e.host, "ANN@example.com", e.f.Home.ID)
		if err != nil {
			t.Fatalf("re-invite: %v", err)
		}
		if again.ID != g.ID || again.Status != domain.StatusActive || len(again.Keys) != 1 || again.Keys[0] != e.f.Home.ID {
			t.Errorf("re-invited guest %+v, want record %s active with Home only", again, g.ID)
		}
		if v := e.person(g.ID); v.RevokedAt != nil || v.InvitedBy != e.host.People[0].ID {
			t.Errorf("record after re-invite: revoked %v, invited by %q", v.RevokedAt, v.InvitedBy)
		}
		if n := e.count(`SELECT COUNT(*) FROM outbox WHERE subject_id = ? AND topic = ?`, g.ID, store.TopicWelcomeEmail); n != 2 {
			t.Errorf("%d welcome emails, want 2", n)
		}
		t.Run("ErrWhileActive", func(t *testing.T) {
			_, err := e.appGuest(e.host, "ann@example.com", e.f.Home.ID)
			wantCode(t, err, domain.EConflict)
		})
	})
	resCase(t, "OKExpiredCodeGuestAgainAsCodeGuest", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		e.clock.Add(48 * time.Hour)
		if got := e.status(g.ID); got != domain.StatusExpired {
			t.Fatalf("guest is %s, want expired", got)
		}
		again := e.codeGuest(e.host, "gus@example.com", e.f.Home.ID, "")
		if again.ID != g.ID || again.Code == "" || again.Keys[0] != e.f.Home.ID || again.Status != domain.StatusActive {
			t.Errorf("re-invited code guest %+v, want record %s active with a Home code", again, g.ID)
		}
		if n := e.count(`SELECT COUNT(*) FROM guest_codes WHERE person_id = ?`, g.ID); n != 1 {
			t.Errorf("%d guest code rows, want 1", n)
		}
	})
	resCase(t, "OKRevokedCodeGuestAgainAsAppGuest", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		if err := e.st.RevokeMyGuest(ctx, e.host, g.ID); err != nil {
			t.Fatal(err)
		}
		again, err := e.appGuest(e.host, "gus@example.com", e.f.Building.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.ID != g.ID || again.Kind != domain.GuestApp || again.Code != "" {
			t.Errorf("re-invited guest %+v, want record %s as an app guest", again, g.ID)
		}
		if v := e.person(g.ID); v.Access != domain.AccessApp {
			t.Errorf("access = %s, want app", v.Access)
		}
	})
	resCase(t, "ErrAnotherHostsRevokedGuest", func(t *testing.T, e *resEnv) {
		g, err := e.appGuest(e.host, "ann@example.com", e.f.Building.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.RevokeMyGuest(ctx, e.host, g.ID); err != nil {
			t.Fatal(err)
		}
		other := e.resident("Olga", "olga@example.com")
		_, err = e.appGuest(other, "ann@example.com", e.f.Building.ID)
		wantCode(t, err, domain.EConflict)
		if got := e.status(g.ID); got != domain.StatusRevoked {
			t.Errorf("record is %s, want still revoked", got)
		}
	})
	resCase(t, "ErrRevokedResident", func(t *testing.T, e *resEnv) {
		v := e.invite("Rob", "Resident", "rob@example.com")
		if _, err := e.st.Revoke(ctx, e.f.PM, e.prop(), v.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.appGuest(e.host, "rob@example.com", e.f.Building.ID)
		wantCode(t, err, domain.EConflict)
		e.codeGuestErr(e.host, "rob@example.com", domain.EConflict)
	})
	resCase(t, "ErrBadInputLeavesTheRecordRevoked", func(t *testing.T, e *resEnv) {
		g, err := e.appGuest(e.host, "ann@example.com", e.f.Building.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.RevokeMyGuest(ctx, e.host, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.TakeKey(ctx, e.f.PM, e.prop(), e.host.People[0].ID, e.f.Home.ID); err != nil {
			t.Fatal(err)
		}
		_, err = e.appGuest(e.host, "ann@example.com", e.f.Home.ID) // host no longer holds Home
		wantCode(t, err, domain.EInvalid)
		if got := e.status(g.ID); got != domain.StatusRevoked {
			t.Errorf("record is %s, want still revoked", got)
		}
	})
}

func (e *resEnv) codeGuestErr(host store.Resident, email string, code domain.Code) {
	e.t.Helper()
	_, err := e.st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestDayCode, FirstName: "Gus", LastName: "Guest",
		Email: email, Keys: []string{e.f.Building.ID}})
	wantCode(e.t, err, code)
}

// resCase runs fn on a fresh store (each backend) as subtest name.
func resCase(t *testing.T, name string, fn func(t *testing.T, e *resEnv)) {
	t.Run(name, func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, st *store.Store) { fn(t, newResEnv(t, st)) })
	})
}
