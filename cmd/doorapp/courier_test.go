package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"github.com/dooros/dooros/domain"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// courierWorld is issue 11's scenario 1: an offline unit door whose only
// key holder, Ana, has used it (so the lock holds her doorcode), and Bob,
// a resident with the building key only (no key to Ana's unit).
type courierWorld struct {
	*world
	sim      *locksim.Sim
	ana, bob *phone
	anaID    string
	code     string
}

func newCourierWorld(t *testing.T, st *store.Store) *courierWorld {
	w := &courierWorld{world: newWorld(t, st)}
	f := w.e.F
	ana := w.invite(map[string]any{"first_name": "Ana", "last_name": "Alone", "email": "ana@example.com", "access": "app", "resident": true,
		"keys": []map[string]any{{"key_id": f.Home.ID}}})
	w.anaID = ana.ID
	w.invite(map[string]any{"first_name": "Bob", "last_name": "Neighbour", "email": "bob@example.com", "access": "app", "resident": true,
		"keys": []map[string]any{{"key_id": f.Building.ID}}})
	w.sim = w.startLock(f.Unit101.ID)
	w.ana, w.bob = w.phone(), w.phone()
	w.ana.login("ana@example.com", 1)
	w.bob.login("bob@example.com", 1)
	m := regexp.MustCompile(`Unit 101\)|: (\d{4,9}) \(`).FindStringSubmatch(w.ana.must("doorcode"))
	if m == nil || m[1] == "" {
		t.Fatal("Ana has no doorcode")
	}
	w.code = m[1]
	// Ana's unlock brings the lock its first state: her doorcode with it.
	if out := w.ana.must("unlock", "--door", f.Unit101.ID, "--ble", w.sim.BLEAddr, "--rate", "-1"); !strings.Contains(out, "opened") || !strings.Contains(out, "acknowledged") {
		t.Fatalf("Ana's first unlock: %s", out)
	}
	w.wantCode(true)
	return w
}

func (w *courierWorld) wantCode(granted bool) {
	w.t.Helper()
	d, err := w.sim.Lock.EnterCode(w.code)
	if err != nil {
		w.t.Fatal(err)
	}
	if d.Granted != granted {
		w.t.Fatalf("Ana's doorcode at the lock: granted %v (%s), want %v", d.Granted, d.Reason, granted)
	}
}

func (w *courierWorld) inSync() bool {
	w.t.Helper()
	ds, err := w.st.ListDoorDevices(context.Background(), w.e.F.PM, w.prop())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, d := range ds {
		if d.DoorID == w.e.F.Unit101.ID {
			return int64(w.sim.Lock.Status().Version) == d.Version && d.AckedVersion == d.Version
		}
	}
	w.t.Fatal("no Unit 101 lock")
	return false
}

// Scenario 1: Ana, the door's only key holder, is revoked; Bob's phone
// (no key there) carries the revocation as a courier; her doorcode is then
// refused at the real lock, and the door leaves the exposure view.
func TestCourierOtherResidentSyncsRevokedOnlyHolder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		w := newCourierWorld(t, st)
		door := w.e.F.Unit101.ID
		w.do("POST", "/api/v1/properties/"+w.prop()+"/people/"+w.anaID+"/revoke", nil, 200)
		w.wantCode(true) // the offline lock does not know yet
		var exp struct{ Items []store.Exposure }
		w.do("GET", "/api/v1/properties/"+w.prop()+"/exposure", nil, 200).Decode(t, &exp)
		if len(exp.Items) == 0 {
			t.Fatal("the revoked holder's door is not in the exposure view before the sync")
		}

		out := w.bob.must("sync", "--door", door, "--ble", w.sim.BLEAddr, "--rate", "-1")
		if !strings.Contains(out, "as a courier") || !strings.Contains(out, "delivered") || !strings.Contains(out, "acknowledged") {
			t.Fatalf("Bob's courier sync: %s", out)
		}
		w.wantCode(false)
		if !w.inSync() {
			t.Fatal("the door is not acknowledged in sync after Bob's courier sync")
		}
		w.do("GET", "/api/v1/properties/"+w.prop()+"/exposure", nil, 200).Decode(t, &exp)
		if len(exp.Items) != 0 {
			t.Fatalf("exposure after the sync: %+v", exp.Items)
		}

		t.Run("CourierCannotOpen", func(t *testing.T) {
			// Bob's phone has no credential for the door: unlock fails
			// before the lock is asked; and the courier credential itself,
			// used as an outsider would, is refused by the lock.
			if out, err := w.bob.run(strings.NewReader(""), "unlock", "--door", door, "--ble", w.sim.BLEAddr, "--rate", "-1"); err == nil {
				t.Fatalf("Bob's unlock at Ana's door succeeded: %s", out)
			}
			var c courierAnswer
			w.e.Do("POST", "/api/v1/me/courier", w.bob.token(), nil).Decode(t, &c)
			// Nothing is pending any more: no courier credential is issued.
			if len(c.Credentials) != 0 {
				t.Fatalf("courier credentials with nothing pending: %+v", c.Credentials)
			}
			// A time correction (a new version, no revocation) is not
			// Bob's to carry: the door is neither his, shared, nor revoking.
			w.do("POST", "/api/v1/properties/"+w.prop()+"/time-correction", nil, 202)
			w.e.Do("POST", "/api/v1/me/courier", w.bob.token(), nil).Decode(t, &c)
			if _, err := accessTo(c.Credentials, door); err == nil {
				t.Fatal("a courier credential for another unit's door with no pending revocation")
			}
			// Carl, given Ana's key and revoked: a pending revocation again.
			carl := w.invite(map[string]any{"first_name": "Carl", "last_name": "Short", "email": "carl@example.com", "access": "app", "resident": true,
				"keys": []map[string]any{{"key_id": w.e.F.Home.ID}}})
			w.do("POST", "/api/v1/properties/"+w.prop()+"/people/"+carl.ID+"/revoke", nil, 200)
			w.e.Do("POST", "/api/v1/me/courier", w.bob.token(), nil).Decode(t, &c)
			da, err := accessTo(c.Credentials, door)
			if err != nil {
				t.Fatalf("no courier credential for a door with a pending change: %v (%+v)", err, c)
			}
			s, err := ble.DialLock(context.Background(), w.sim.BLEAddr, ble.Config{Rate: -1}, door, da.lockPub)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res, err := s.Unlock(context.Background(), da.cred, w.bob.deviceKey(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Granted || res.Reason != lock.ReasonSyncOnly || !res.Authenticated {
				t.Fatalf("courier credential at the lock: %+v", res)
			}
		})
	})
}

// A revoked or deleted person's own app, coming online, delivers the
// pending bundle (her revocation) before it tries to unlock.
func TestCourierRevokedOwnAppAppliesFirst(t *testing.T) {
	for _, how := range []string{"revoke", "delete"} {
		t.Run(how, func(t *testing.T) {
			storetest.Run(t, func(t *testing.T, st *store.Store) {
				w := newCourierWorld(t, st)
				door := w.e.F.Unit101.ID
				if how == "revoke" {
					w.do("POST", "/api/v1/properties/"+w.prop()+"/people/"+w.anaID+"/revoke", nil, 200)
				} else {
					w.do("DELETE", "/api/v1/properties/"+w.prop()+"/people/"+w.anaID, nil, 204)
				}
				out, err := w.ana.run(strings.NewReader(""), "unlock", "--door", door, "--ble", w.sim.BLEAddr, "--rate", "-1")
				if err == nil || !strings.Contains(out, "refused: "+domain.RefusalText("revoked")) {
					t.Fatalf("revoked Ana's unlock: %v\n%s", err, out)
				}
				if i, j := strings.Index(out, "delivered"), strings.Index(out, "refused"); i < 0 || i > j {
					t.Fatalf("the revocation was not delivered before the unlock:\n%s", out)
				}
				w.wantCode(false)
				if !w.inSync() {
					t.Fatal("the ack of Ana's own delivery was not recorded")
				}
			})
		})
	}
}

func (p *phone) deviceKey(t *testing.T) ed25519.PrivateKey {
	b, err := os.ReadFile(filepath.Join(p.state, deviceKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	return ed25519.NewKeyFromSeed(seed)
}
