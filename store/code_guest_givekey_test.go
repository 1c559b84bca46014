package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// myGuest is guest id as the host's guest list (MyGuests) shows them.
func (e *resEnv) myGuest(host store.Resident, id string) store.ResidentGuest {
	e.t.Helper()
	gs, err := e.st.MyGuests(ctx, e.keys, host)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range gs {
		if g.ID == id {
			return g
		}
	}
	e.t.Fatalf("guest %s not in the host's list", id)
	return store.ResidentGuest{}
}

// grantWindow is a person's effective window on a key as the API shows it.
func (e *resEnv) grantWindow(personID, keyID string) domain.GrantView {
	e.t.Helper()
	v, err := e.st.Person(ctx, e.f.PM, e.prop(), personID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, g := range v.Keys {
		if g.KeyID == keyID {
			return g
		}
	}
	e.t.Fatalf("%s does not hold key %s", personID, keyID)
	return domain.GrantView{}
}

// TestGiveKeyNarrowsHostsGuests: giving a host the same key again with a
// narrower window narrows their guests on that key as narrowing the
// host's own window does: app guests' grants are clamped, code guests on
// the key whose day no longer fits end (code released, day secret
// rotated, revocation, the others re-emailed).
func TestGiveKeyNarrowsHostsGuests(t *testing.T) {
	resCase(t, "NarrowedKeyWindowEndsAndClampsGuests", func(t *testing.T, e *resEnv) {
		loc := e.f.Property.Location()
		today := e.clock.Now().In(loc)
		day := func(n int) string { return today.AddDate(0, 0, n).Format("2006-01-02") }
		inside := e.codeGuest(e.host, "in@example.com", e.f.Building.ID, day(1))
		outside := e.codeGuest(e.host, "out@example.com", e.f.Building.ID, day(3))
		onHome := e.codeGuest(e.host, "home@example.com", e.f.Home.ID, day(3))
		app, err := e.appGuest(e.host, "ann@example.com", e.f.Building.ID, e.f.Home.ID)
		if err != nil {
			t.Fatal(err)
		}
		gen := e.generation(e.f.Building.ID)
		// The host's Building key now ends at the end of tomorrow.
		end := time.Date(today.Year(), today.Month(), today.Day()+2, 0, 0, 0, 0, loc)
		if _, err := e.st.GiveKey(ctx, e.f.PM, e.prop(), e.host.People[0].ID, e.f.Building.ID, domain.GrantChange{MayShare: true, ExpiresAt: &end}); err != nil {
			t.Fatal(err)
		}
		if got := e.status(outside.ID); got != domain.StatusRevoked {
			t.Errorf("code guest after the key's new end is %s, want revoked", got)
		}
		if got := e.myGuest(e.host, outside.ID); got.Status != domain.StatusRevoked || got.Code != "" {
			t.Errorf("host's list shows the ended guest as %s with code %q, want revoked without code", got.Status, got.Code)
		}
		if got := e.status(inside.ID); got != domain.StatusPending {
			t.Errorf("code guest inside the key's new window is %s, want pending", got)
		}
		if got := e.status(onHome.ID); got != domain.StatusPending {
			t.Errorf("code guest on another key is %s, want pending", got)
		}
		if got := e.generation(e.f.Building.ID); got != gen+1 {
			t.Errorf("day secret generation = %d, want %d (rotated)", got, gen+1)
		}
		if n := e.changedCodeMails(inside.ID); n != 1 {
			t.Errorf("remaining code guest got %d new-code emails, want 1", n)
		}
		if !e.revokedAt(e.f.Lobby.ID, outside.ID) {
			t.Errorf("no revocation of the ended guest at the doorcode door")
		}
		if w := e.grantWindow(app.ID, e.f.Building.ID); w.ExpiresAt == nil || w.ExpiresAt.After(end) {
			t.Errorf("app guest's Building key ends %v, want by the host's %v", w.ExpiresAt, end)
		}
		if w := e.grantWindow(app.ID, e.f.Home.ID); w.ExpiresAt == nil || !w.ExpiresAt.After(end) {
			t.Errorf("app guest's Home key ends %v, want unchanged (after %v)", w.ExpiresAt, end)
		}
		if !e.revokedAt(e.f.Lobby.ID, app.ID) {
			t.Errorf("no revocation of the narrowed app guest at the key's door")
		}
	})
	resCase(t, "WidenedKeyWindowKeepsGuests", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		gen := e.generation(e.f.Building.ID)
		end := e.clock.Now().Add(30 * 24 * time.Hour)
		if _, err := e.st.GiveKey(ctx, e.f.PM, e.prop(), e.host.People[0].ID, e.f.Building.ID, domain.GrantChange{MayShare: true, ExpiresAt: &end}); err != nil {
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
