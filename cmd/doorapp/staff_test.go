package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// A manager with Device Management logs into the DOOR App with the manager
// account, lists the doors with pending changes, and syncs Ana's unit door
// after her revocation: the lock refuses her doorcode, the task closes,
// and Activity names the manager. A manager without Device Management is
// refused, and the staff credential never opens the door.
func TestStaffSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		w := newCourierWorld(t, st)
		f := w.e.F
		door := f.Unit101.ID
		storetest.Manager(t, st, f.PM, "devices@example.com", &domain.Assignment{PropertyID: f.Property.ID, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		storetest.Manager(t, st, f.PM, "keys@example.com", &domain.Assignment{PropertyID: f.Property.ID, KeyManagement: domain.KeyManagementFull})
		w.do("POST", "/api/v1/properties/"+w.prop()+"/people/"+w.anaID+"/revoke", nil, 200)

		t.Run("WithoutDeviceManagementRefused", func(t *testing.T) {
			p := w.phone()
			p.must("staff", "login", "--email", "keys@example.com", "--password", storetest.PMPassword)
			if out, err := p.run(strings.NewReader(""), "staff", "doors", "--property", w.prop()); err == nil || !strings.Contains(err.Error(), "Device Management") {
				t.Fatalf("staff doors without Device Management: %v\n%s", err, out)
			}
			w.wantCode(true)
		})
		t.Run("WrongPassword", func(t *testing.T) {
			p := w.phone()
			if out, err := p.run(strings.NewReader(""), "staff", "login", "--email", "devices@example.com", "--password", "wrong"); err == nil {
				t.Fatalf("login with a wrong password: %s", out)
			}
		})

		staff := w.phone()
		staff.must("staff", "login", "--email", "devices@example.com", "--password", storetest.PMPassword)
		out := staff.must("staff", "doors", "--property", w.prop())
		if !strings.Contains(out, door) || !strings.Contains(out, "Unit 101") || !strings.Contains(out, "includes a revocation") {
			t.Fatalf("staff doors: %s", out)
		}
		t.Run("StaffCredentialNeverOpens", func(t *testing.T) {
			var tok struct{ Token string }
			w.e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "devices@example.com", "password": storetest.PMPassword}).Decode(t, &tok)
			key := staff.deviceKey(t)
			var c staffCourierAnswer
			r := w.e.Do("POST", "/api/v1/properties/"+w.prop()+"/staff/courier", tok.Token, map[string]string{"device_public_key": base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))})
			if r.Status != 200 {
				t.Fatalf("staff courier = %d: %s", r.Status, r.Body)
			}
			r.Decode(t, &c)
			if c.Credential == nil {
				t.Fatal("no staff credential with a pending door")
			}
			da, err := accessTo([]storedCredential{*c.Credential}, door)
			if err != nil {
				t.Fatal(err)
			}
			s, err := ble.DialLock(context.Background(), w.sim.BLEAddr, ble.Config{Rate: -1}, door, da.lockPub)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			res, err := s.Unlock(context.Background(), da.cred, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Granted || res.Reason != lock.ReasonSyncOnly {
				t.Fatalf("staff credential at the lock: %+v", res)
			}
			// A device key that is not the staff app's: 400, nothing issued.
			if r := w.e.Do("POST", "/api/v1/properties/"+w.prop()+"/staff/courier", tok.Token, map[string]string{"device_public_key": "AAAA"}); r.Status != 400 {
				t.Fatalf("bad device key = %d: %s", r.Status, r.Body)
			}
		})
		out = staff.must("staff", "sync", "--property", w.prop(), "--door", door, "--ble", w.sim.BLEAddr, "--rate", "-1")
		if !strings.Contains(out, "delivered") || !strings.Contains(out, "acknowledged") {
			t.Fatalf("staff sync: %s", out)
		}
		w.wantCode(false)
		if !w.inSync() {
			t.Fatal("the door is not in sync after the staff sync")
		}
		if out := staff.must("staff", "doors", "--property", w.prop()); strings.Contains(out, door) {
			t.Fatalf("staff doors after the sync: %s", out)
		}
		found := false
		for _, ev := range w.activity(store.EventStaffSync) {
			if ev.DoorID == door && ev.Actor == "Prop Manager" && strings.Contains(ev.Detail, "lock at version") {
				found = true
			}
		}
		if !found {
			t.Fatalf("no staff sync in Activity under the manager's name: %+v", w.activity(store.EventStaffSync))
		}
		if _, err := staff.run(strings.NewReader(""), "staff", "sync", "--property", w.prop(), "--door", door, "--ble", w.sim.BLEAddr, "--rate", "-1"); err == nil {
			t.Fatal("staff sync of a door with nothing pending succeeded")
		}
	})
}

// doorapp staff refuses wrong commands and missing flags with a clear
// error before it calls anything.
func TestStaffCLIErrors(t *testing.T) {
	state := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"staff", "nope"}, "unknown staff command"},
		{[]string{"staff", "login"}, "needs --email"},
		{[]string{"staff", "doors"}, "needs --property"},
		{[]string{"staff", "doors", "--property", "p1"}, "not logged in as a manager"},
		{[]string{"staff", "sync", "--property", "p1", "--door", "d1"}, "are required"},
		{[]string{"staff", "sync", "--door", "d1", "--ble", "127.0.0.1:1"}, "are required"},
		{[]string{"staff", "doors", "--property", "p1", "extra"}, "extra"},
	} {
		var out, errb strings.Builder
		err := run(context.Background(), append([]string{"--server", "http://127.0.0.1:1", "--state", state}, c.args...), func(string) string { return "" },
			strings.NewReader(""), &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), c.want) {
			t.Errorf("doorapp %v: %v (%s), want an error saying %q", c.args, err, errb.String(), c.want)
		}
	}
	var out, errb strings.Builder
	if err := run(context.Background(), []string{"--state", state, "staff", "help"}, func(string) string { return "" }, strings.NewReader(""), &out, &errb); err != nil || !strings.Contains(out.String(), "sync  --property") {
		t.Errorf("staff help: %v\n%s", err, out.String())
	}
}
