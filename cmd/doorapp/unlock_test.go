package main

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// startLock provisions the lock of door through the store (as Door Sync
// does) and runs it on a loopback BLE link.
func (w *world) startLock(doorID string) *locksim.Sim {
	w.t.Helper()
	ctx := context.Background()
	priv, err := w.keys.PropertySigner(ctx, w.prop())
	if err != nil {
		w.t.Fatal(err)
	}
	pl, err := w.st.ProvisionLock(ctx, w.e.F.PM, w.keys, priv.Public().(ed25519.PublicKey), w.prop(), doorID, "", "")
	if err != nil {
		w.t.Fatal(err)
	}
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, pl.Provisioning); err != nil {
		w.t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		w.t.Fatal(err)
	}
	sim, err := locksim.Start(ctx, locksim.Config{Lock: l})
	if err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() { sim.Close() })
	return sim
}

// doorapp unlock opens the channel with the certified lock key, unlocks,
// and names the credential by reference once the lock has accepted it;
// doorapp sync proves the credential without opening.
func TestUnlockOverBLE(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		f := w.e.F
		w.invite(map[string]any{"first_name": "Rita", "last_name": "Resident", "email": "rita@example.com", "access": "app", "resident": true,
			"keys": []map[string]any{{"key_id": f.Home.ID}}})
		sim := w.startLock(f.Unit101.ID)
		p := w.phone()
		p.login("rita@example.com", 1)
		unlock := func() string {
			return p.must("unlock", "--door", f.Unit101.ID, "--ble", sim.BLEAddr, "--rate", "-1", "--no-sync")
		}
		if out := unlock(); !strings.Contains(out, "opened") {
			t.Fatalf("first unlock: %s", out)
		}
		if _, err := os.Stat(filepath.Join(p.state, presentedFile)); err != nil {
			t.Fatalf("the accepted credential was not remembered: %v", err)
		}
		before := sim.Lock.Status().LogNext
		if out := unlock(); !strings.Contains(out, "opened") || strings.Contains(out, "not renewed") {
			t.Fatalf("second unlock: %s", out)
		}
		if sim.Lock.Status().LogNext != before+1 {
			t.Fatal("the second unlock was not one logged decision")
		}
		t.Run("ByName", func(t *testing.T) {
			// A door by its name, any case, as `doorapp keys` lists it.
			if out := p.must("unlock", "--door", "unit 101", "--ble", sim.BLEAddr, "--rate", "-1", "--no-sync"); !strings.Contains(out, "door "+f.Unit101.ID+" opened") {
				t.Fatalf("unlock by name: %s", out)
			}
			next := sim.Lock.Status().LogNext
			_, err := p.run(strings.NewReader(""), "unlock", "--door", "Pool", "--ble", sim.BLEAddr, "--rate", "-1", "--no-sync")
			if err == nil || !strings.Contains(err.Error(), `none of your doors is called "Pool"; yours: Unit 101`) {
				t.Fatalf("unlock of an unknown door name: %v", err)
			}
			if sim.Lock.Status().LogNext != next {
				t.Fatal("an unknown door name reached the lock")
			}
		})
		t.Run("Sync", func(t *testing.T) {
			next := sim.Lock.Status().LogNext
			out := p.must("sync", "--door", f.Unit101.ID, "--ble", sim.BLEAddr, "--rate", "-1")
			if !strings.Contains(out, "uploaded") {
				t.Fatalf("sync: %s", out)
			}
			if sim.Lock.Status().LogNext < next {
				t.Fatal("log went back")
			}
		})
		t.Run("LockKeysRotated", func(t *testing.T) {
			// The lock is given new keys; this phone carries the rotation
			// there itself, so its stored certificate names the old key.
			w.do("POST", "/api/v1/properties/"+w.prop()+"/doors/"+f.Unit101.ID+"/lock/rotate", nil, 202)
			out := p.must("sync", "--door", f.Unit101.ID, "--ble", sim.BLEAddr, "--rate", "-1")
			if !strings.Contains(out, "delivered") {
				t.Fatalf("rotation not delivered: %s", out)
			}
			// The stored certificate no longer matches the lock: the app
			// renews it and opens the door.
			if out := unlock(); !strings.Contains(out, "opened") {
				t.Fatalf("unlock after the rotation: %s", out)
			}
		})
		t.Run("ErrWrongLockAtAddress", func(t *testing.T) {
			// Another door's lock answering at the address: refused before
			// anything personal is sent.
			other := w.startLock(f.Lobby.ID)
			next := other.Lock.Status().LogNext
			out, err := p.run(strings.NewReader(""), "unlock", "--door", f.Unit101.ID, "--ble", other.BLEAddr, "--rate", "-1")
			if err == nil || !strings.Contains(err.Error(), "did not prove") {
				t.Fatalf("unlock at another door's lock: %v\n%s", err, out)
			}
			if other.Lock.Status().LogNext != next {
				t.Fatal("the other lock received a proof")
			}
		})
	})
}
