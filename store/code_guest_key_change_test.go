package store_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
)

// TestKeyChangesEndCodeGuests: a key deleted or with doorcodes switched
// off at all its doors leaves its code guests nothing to open, so they
// end through the code-guest path (Activity says why) instead of showing
// active in the host's list.
func TestKeyChangesEndCodeGuests(t *testing.T) {
	resCase(t, "DeleteKeyEndsItsCodeGuests", func(t *testing.T, e *resEnv) {
		onHome := e.codeGuest(e.host, "gus@example.com", e.f.Home.ID, "")
		onBuilding := e.codeGuest(e.host, "bob@example.com", e.f.Building.ID, "")
		if err := e.st.DeleteKey(ctx, e.f.PM, e.prop(), e.f.Home.ID); err != nil {
			t.Fatal(err)
		}
		if got := e.myGuest(e.host, onHome.ID); got.Status != domain.StatusRevoked || got.Code != "" {
			t.Errorf("host's list shows the guest of the deleted key as %s with code %q, want revoked without code", got.Status, got.Code)
		}
		if got := e.status(onBuilding.ID); got != domain.StatusActive {
			t.Errorf("guest on another key is %s, want active", got)
		}
		if !e.revokedAt(e.f.Unit101.ID, onHome.ID) {
			t.Errorf("no revocation of the ended guest at the deleted key's doorcode door")
		}
		if e.count(`SELECT COUNT(*) FROM events WHERE person_id = ? AND kind = ? AND detail LIKE ?`, onHome.ID, domain.EventPersonRevoked, "%deleted%") != 1 {
			t.Errorf("no person.revoked entry saying the key was deleted")
		}
	})
	resCase(t, "DoorcodesOffEverywhereEndsCodeGuests", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		other := e.codeGuest(e.host, "bob@example.com", e.f.Home.ID, "")
		gen := e.generation(e.f.Building.ID)
		doors := []domain.KeyDoor{{DoorID: e.f.Lobby.ID}, {DoorID: e.f.Gym.ID}}
		if _, err := e.st.UpdateKey(ctx, e.f.PM, e.prop(), e.f.Building.ID, domain.KeyInput{Name: "Building", Doors: doors}); err != nil {
			t.Fatal(err)
		}
		if got := e.myGuest(e.host, g.ID); got.Status != domain.StatusRevoked || got.Code != "" {
			t.Errorf("host's list shows the guest as %s with code %q, want revoked without code", got.Status, got.Code)
		}
		if got := e.generation(e.f.Building.ID); got != gen+1 {
			t.Errorf("day secret generation = %d, want %d (rotated)", got, gen+1)
		}
		if !e.revokedAt(e.f.Lobby.ID, g.ID) {
			t.Errorf("no revocation of the ended guest at the former doorcode door")
		}
		if got := e.status(other.ID); got != domain.StatusActive {
			t.Errorf("guest on another key is %s, want active", got)
		}
		if e.count(`SELECT COUNT(*) FROM events WHERE person_id = ? AND kind = ? AND detail LIKE ?`, g.ID, domain.EventPersonRevoked, "%doorcodes%") != 1 {
			t.Errorf("no person.revoked entry saying doorcodes were switched off")
		}
	})
	resCase(t, "DoorcodeDoorLeftKeepsCodeGuests", func(t *testing.T, e *resEnv) {
		g := e.codeGuest(e.host, "gus@example.com", e.f.Building.ID, "")
		gen := e.generation(e.f.Building.ID)
		doors := []domain.KeyDoor{{DoorID: e.f.Lobby.ID, Doorcodes: true}}
		if _, err := e.st.UpdateKey(ctx, e.f.PM, e.prop(), e.f.Building.ID, domain.KeyInput{Name: "Building", Doors: doors}); err != nil {
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
