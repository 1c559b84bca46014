package store_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPruneDoorRevocations: a door's revocation records go only once no
// bundle and no exposure reads them — older than the caller's cutoff and
// than a day past the longest credential lifetime the property ever
// issued (raised here from 24 to 48 hours, then lowered again: the
// longest stays), and, at a door whose lock acknowledged a state, the
// door's change that made them acknowledged — and never more than the
// limit. Four doors: the Lobby's and the Gym's locks acknowledged a state
// before the revocations (the Lobby's acknowledges them, the Gym's not
// until later); Unit 101's lock is provisioned but never acknowledged
// anything, and the Pool has no lock: those two lose their old rows by
// age alone. The Lobby's snapshot and the property's exposure read the
// same before and after every prune.
func TestPruneDoorRevocations(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		keys := storetest.Keyring(t, st)
		pool, err := st.CreateDoor(ctx, e.f.PM, e.prop(), domain.DoorInput{Name: "Pool", Type: domain.DoorCommunal, Connectivity: domain.Offline})
		if err != nil {
			t.Fatal(err)
		}
		// A second key gives doorcodes at the Gym, so a revoked person's
		// code stays in the Gym's lock until it syncs (what exposure shows).
		extra, err := st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Pool", Doors: []domain.KeyDoor{{DoorID: pool.ID}, {DoorID: e.f.Gym.ID, Doorcodes: true}}})
		if err != nil {
			t.Fatal(err)
		}
		pub, provs := storetest.ProvisionLocks(t, st, keys, e.f.PM, e.prop(), e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID)
		lobby, gym := provs[0], provs[1]
		// lockAck: the door's lock applies its next bundle and says so.
		lockAck := func(prov store.ProvisionedLock) {
			t.Helper()
			b, err := st.BuildDoorBundle(ctx, keys, keys, prov.DoorID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.RecordLockAck(ctx, prov.DoorID, prov.Generation, &lockproto.Ack{LockID: prov.LockID, Status: lockproto.AckApplied,
				Version: uint64(b.Version), Bundle: lockproto.BundleDigest(b.Sealed), LockTime: e.clock.Now()}, "test"); err != nil {
				t.Fatal(err)
			}
		}
		// readers is what the Lobby's next bundle lists as revoked and
		// what exposure reports, as JSON. A bundle is built once per door
		// version, so each read first gives the Lobby a new one (a
		// resident invited, nobody revoked).
		bumps := 0
		readers := func() string {
			t.Helper()
			bumps++
			e.invite("New", "Resident", fmt.Sprintf("new%d@example.com", bumps))
			b := e.lockBundle(keys, pub, lobby, e.f.Lobby.ID)
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
		doors := []string{e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID, pool.ID}
		// rows counts a person's revocation records at each of doors.
		rows := func(personID string) [4]int {
			t.Helper()
			var n [4]int
			for i, d := range doors {
				n[i] = e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ? AND door_id = ?`, personID, d)
			}
			return n
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

		everyKey := withKeys(key(e.f.Building.ID, false), key(e.f.Home.ID, false), key(extra.ID, false)) // all four doors
		ann := e.invite("Ann", "Old", "ann@example.com", everyKey, access(domain.AccessDoorcode))
		bob := e.invite("Bob", "Old", "bob@example.com", everyKey, access(domain.AccessDoorcode))
		// The Lobby's and the Gym's locks take Ann's and Bob's codes.
		lockAck(lobby)
		lockAck(gym)
		for _, p := range []string{ann.ID, bob.ID} {
			if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{ann.ID, bob.ID} {
			if got := rows(p); got != [4]int{1, 1, 1, 1} {
				t.Fatalf("revocation rows of %s at Lobby, Gym, Unit 101, Pool: %v; want one each", p, got)
			}
		}
		lockAck(lobby) // the Lobby's lock has the revocations; the Gym's does not

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
		if n := prune(0, 100); n != 5 {
			t.Fatalf("pruned %d more rows 73 hours on; want the other 5 of the Lobby, Unit 101 and the Pool", n)
		}
		for _, p := range []string{ann.ID, bob.ID} {
			if got := rows(p); got != [4]int{0, 1, 0, 0} {
				t.Fatalf("after pruning, %s at Lobby, Gym, Unit 101, Pool: %v; want only the Gym's kept (its lock holds an older state)", p, got)
			}
		}
		// The Gym still lists both in exposure: its lock holds their
		// doorcodes (the kept rows themselves are checked by rows above;
		// no phone credential of theirs is still valid for them to matter
		// to exposure at this age).
		ex, err := st.ListExposure(ctx, e.f.PM, e.prop())
		if err != nil {
			t.Fatal(err)
		}
		exposed := map[string]bool{}
		for _, x := range ex {
			if x.DoorID == e.f.Gym.ID {
				exposed[x.PersonID] = true
			}
		}
		if !exposed[ann.ID] || !exposed[bob.ID] {
			t.Fatalf("exposure at the Gym after pruning: %+v; want Ann and Bob", ex)
		}

		// A fresh revocation is kept, and once the Gym's lock acknowledged
		// its change the old ones there go too.
		cy := e.invite("Cy", "New", "cy@example.com", everyKey, access(domain.AccessDoorcode))
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), cy.ID); err != nil {
			t.Fatal(err)
		}
		lockAck(gym)
		if n := prune(0, 100); n != 2 {
			t.Fatalf("pruned %d rows after the Gym's ack; want Ann's and Bob's", n)
		}
		for _, p := range []string{ann.ID, bob.ID} {
			if got := rows(p); got != [4]int{} {
				t.Fatalf("rows of %s after the Gym's prune: %v; want none", p, got)
			}
		}
		if got := rows(cy.ID); got != [4]int{1, 1, 1, 1} {
			t.Fatalf("Cy's fresh rows after the Gym's prune: %v; want all kept", got)
		}
		if n, err := st.PruneDoorRevocations(ctx, e.clock.Now(), 0); err != nil || n != 0 {
			t.Fatalf("limit 0 = %d, %v; want nothing", n, err)
		}
	})
}
