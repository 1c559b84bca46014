package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPruneDoorRevocations: a door's revocation records go only once no
// bundle and no exposure reads them — older than the caller's cutoff and
// than a day past the longest credential lifetime the property ever
// issued (raised here from 24 to 48 hours, then lowered again: the
// longest stays), and the door's change that made them acknowledged —
// and never more than the limit. The Lobby's lock is provisioned: its
// snapshot and the property's exposure read the same before and after
// every prune.
func TestPruneDoorRevocations(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		keys := storetest.Keyring(t, st)
		pub, provs := storetest.ProvisionLocks(t, st, keys, e.f.PM, e.prop(), e.f.Lobby.ID)
		// readers is what the Lobby's next bundle lists as revoked and
		// what exposure reports, as JSON. A bundle is built once per door
		// version, so each read first gives the Lobby a new one (a
		// resident invited, nobody revoked).
		bumps := 0
		readers := func() string {
			t.Helper()
			bumps++
			e.invite("New", "Resident", fmt.Sprintf("new%d@example.com", bumps))
			b := e.lockBundle(keys, pub, provs[0], e.f.Lobby.ID)
			ex, err := st.ListExposure(ctx, e.f.PM, e.prop())
			if err != nil {
				t.Fatal(err)
			}
			out, err := json.Marshal([]any{b.Revocations, ex})
			if err != nil {
				t.Fatal(err)
			}
			return string(out)
		}
		version := func(doorID string) int64 {
			t.Helper()
			return int64(e.count(`SELECT version FROM doors WHERE id = ?`, doorID))
		}
		ack := func(doorID string) {
			t.Helper()
			if err := st.AckDoor(ctx, doorID, version(doorID)); err != nil {
				t.Fatal(err)
			}
		}
		rows := func(personID, doorID string) int {
			t.Helper()
			return e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ? AND door_id = ?`, personID, doorID)
		}
		prune := func(keep time.Duration, limit int) int {
			t.Helper()
			before := readers()
			n, err := st.PruneDoorRevocations(ctx, e.clock.Now().Add(-keep), limit)
			if err != nil {
				t.Fatal(err)
			}
			if after := readers(); after != before {
				t.Fatalf("pruning %d rows changed what the Lobby's bundle and exposure read:\n%s\n%s", n, before, after)
			}
			return n
		}
		setLifetime := func(hours int) {
			t.Helper()
			p := e.f.Property
			if _, err := st.UpdateProperty(ctx, e.f.PM, p.ID, domain.PropertyInput{Name: p.Name, TimeZone: p.TimeZone, DoorcodeLength: p.DoorcodeLength, CredentialLifetimeHours: hours}); err != nil {
				t.Fatal(err)
			}
		}
		setLifetime(48)
		setLifetime(24) // credentials issued for 48 hours may still be out

		ann := e.invite("Ann", "Old", "ann@example.com") // Building: Lobby and Gym
		bob := e.invite("Bob", "Old", "bob@example.com")
		for _, p := range []string{ann.ID, bob.ID} {
			if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{ann.ID, bob.ID} {
			if rows(p, e.f.Lobby.ID) != 1 || rows(p, e.f.Gym.ID) != 1 {
				t.Fatalf("revocation rows of %s: Lobby %d, Gym %d; want one each", p, rows(p, e.f.Lobby.ID), rows(p, e.f.Gym.ID))
			}
		}
		ack(e.f.Lobby.ID) // the Lobby's change is acknowledged; the Gym's is not

		e.clock.Add(47 * time.Hour)
		if !strings.Contains(readers(), ann.ID) {
			t.Fatal("47 hours on the Lobby's bundle no longer lists Ann: the test checks nothing")
		}
		if n := prune(0, 100); n != 0 {
			t.Fatalf("pruned %d rows 47 hours on; want none (credentials of up to 48 hours were issued)", n)
		}
		e.clock.Add(24 * time.Hour)
		if n := prune(0, 100); n != 0 {
			t.Fatalf("pruned %d rows 71 hours on; want none (a day's margin past the 48 hours)", n)
		}
		e.clock.Add(2 * time.Hour)
		if n := prune(7*24*time.Hour, 100); n != 0 {
			t.Fatalf("pruned %d rows inside the caller's week; want none", n)
		}
		if n := prune(0, 1); n != 1 {
			t.Fatalf("pruned %d rows with a limit of 1", n)
		}
		if n := prune(0, 100); n != 1 {
			t.Fatalf("pruned %d more rows 73 hours on; want the Lobby's other one", n)
		}
		for _, p := range []string{ann.ID, bob.ID} {
			if rows(p, e.f.Lobby.ID) != 0 || rows(p, e.f.Gym.ID) != 1 {
				t.Fatalf("after pruning, %s: Lobby %d, Gym %d; want the Gym's kept (its lock lacks it)", p, rows(p, e.f.Lobby.ID), rows(p, e.f.Gym.ID))
			}
		}

		// A fresh revocation is kept, and once the Gym's lock acknowledged
		// its change the old ones there go too.
		cy := e.invite("Cy", "New", "cy@example.com")
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), cy.ID); err != nil {
			t.Fatal(err)
		}
		ack(e.f.Gym.ID)
		if n := prune(0, 100); n != 2 {
			t.Fatalf("pruned %d rows after the Gym's ack; want Ann's and Bob's", n)
		}
		if rows(ann.ID, e.f.Gym.ID)+rows(bob.ID, e.f.Gym.ID) != 0 || rows(cy.ID, e.f.Gym.ID) != 1 || rows(cy.ID, e.f.Lobby.ID) != 1 {
			t.Fatalf("after the Gym's prune: old %d, Cy's Gym %d Lobby %d", rows(ann.ID, e.f.Gym.ID)+rows(bob.ID, e.f.Gym.ID), rows(cy.ID, e.f.Gym.ID), rows(cy.ID, e.f.Lobby.ID))
		}
		if n, err := st.PruneDoorRevocations(ctx, e.clock.Now(), 0); err != nil || n != 0 {
			t.Fatalf("limit 0 = %d, %v; want nothing", n, err)
		}
	})
}
