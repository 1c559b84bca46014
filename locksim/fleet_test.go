package locksim_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store/storetest"
)

// fleetServer is a real DOOR OS API (SQLite) with Door Sync on its
// embedded broker, whose service password the test knows (for the floor).
type fleetServer struct {
	m               *locksim.Manager
	brokerURL       string
	servicePassword string
}

func newFleetServer(t *testing.T) fleetServer {
	t.Helper()
	st := storetest.OpenSQLite(t)
	e := apitest.New(t, st)
	keys := storetest.Keyring(t, st)
	e.API.Keys = keys
	pw, _ := mqtt.NewSecret()
	svc, stop, err := doorsync.Start(t.Context(), st, keys, doorsync.Config{Addr: "127.0.0.1:0", ServicePassword: pw, Poll: 50 * time.Millisecond, Backoff: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.API.DoorSync = svc
	return fleetServer{m: &locksim.Manager{Server: e.Server.URL, Token: e.PMToken}, brokerURL: svc.LockMQTTURL, servicePassword: pw}
}

// TestFleet runs five locks in one fleet against a real server: every lock
// connects, takes a resident's doorcode and then refuses it after the
// revocation (checked at each lock's keypad, not only in its state), the
// benchmark measures what it says, and the fan-out floor reaches each lock.
func TestFleet(t *testing.T) {
	s := newFleetServer(t)
	ctx := t.Context()
	prop, err := s.m.CreateProperty(ctx, "Fleet test", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	const n = 5
	locks, err := locksim.ProvisionFleet(ctx, s.m, prop, n, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) != n {
		t.Fatalf("%d locks provisioned, want %d", len(locks), n)
	}
	f, err := locksim.StartFleet(ctx, locksim.FleetConfig{Locks: locks})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys, err := locksim.CreateFleetKeys(ctx, s.m, prop, locks)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("KeypadAgreesWithTheMeasure", func(t *testing.T) {
		var person struct {
			ID       string `json:"id"`
			Doorcode string `json:"doorcode"`
		}
		sent := time.Now()
		if err := s.m.Do(ctx, "POST", "/api/v1/properties/"+prop+"/people", map[string]any{"first_name": "Kim", "last_name": "Keypad",
			"email": "kim@example.com", "access": "app", "resident": true, "keys": []map[string]any{{"key_id": keys[0]}}}, &person); err != nil {
			t.Fatal(err)
		}
		if person.Doorcode == "" {
			t.Fatal("the resident got no doorcode")
		}
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if _, err := f.WaitAll(wctx, sent, func(s lock.Status) bool { return s.Doorcodes > 0 }); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if d, err := f.Lock(i).EnterCode(person.Doorcode); err != nil || !d.Granted {
				t.Fatalf("lock %d refuses the granted code: %+v %v", i, d, err)
			}
		}
		start := time.Now()
		if err := s.m.Do(ctx, "POST", "/api/v1/properties/"+prop+"/people/"+person.ID+"/revoke", nil, nil); err != nil {
			t.Fatal(err)
		}
		// The benchmark's measure of refusal: no held code usable (a
		// revocation notice suspended the resident, or the bundle removed
		// the code). At that moment every keypad must refuse.
		lat, err := f.WaitAll(wctx, start, func(s lock.Status) bool { return s.Doorcodes-s.SuspendedDoorcodes == 0 })
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if lat[i] <= 0 {
				t.Errorf("lock %d: refusal %v after the revoke was sent", i, lat[i])
			}
			if d, err := f.Lock(i).EnterCode(person.Doorcode); err != nil || d.Granted {
				t.Fatalf("lock %d still admits the revoked code: %+v %v", i, d, err)
			}
		}
		// And once the bundle is there, the code is gone.
		if _, err := f.WaitAll(wctx, start, func(s lock.Status) bool { return s.Doorcodes == 0 }); err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if d, err := f.Lock(i).EnterCode(person.Doorcode); err != nil || d.Granted || d.Reason != lock.ReasonUnknownCode {
				t.Fatalf("lock %d after the bundle: %+v %v, want an unknown code", i, d, err)
			}
		}
	})

	t.Run("Bench", func(t *testing.T) {
		floor, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: s.brokerURL, ClientID: "fleet-test-floor", Username: mqtt.DefaultServiceUser, Password: s.servicePassword})
		if err != nil {
			t.Fatal(err)
		}
		defer floor.Close()
		var rounds []locksim.Round
		res, err := locksim.RevokeBench(ctx, locksim.BenchConfig{Manager: s.m, PropertyID: prop, KeyIDs: keys, Fleet: f, Rounds: 3,
			Settle: 50 * time.Millisecond, FloorClient: floor, Timeout: time.Minute,
			Progress: func(_ int, r locksim.Round) { rounds = append(rounds, r) }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Locks != n || res.Rounds != 3 || len(rounds) != 3 || len(res.Each) != 3 {
			t.Fatalf("result covers %d locks, %d rounds (%d reported): %+v", res.Locks, res.Rounds, len(rounds), res)
		}
		for i, r := range res.Each {
			if len(r.Refusal) != n || len(r.Bundle) != n {
				t.Fatalf("round %d: %d refusal and %d bundle samples, want %d", i, len(r.Refusal), len(r.Bundle), n)
			}
			for j := range n {
				if r.Refusal[j] > r.Bundle[j] {
					t.Errorf("round %d, lock %d: refused %v after the revoke, later than its bundle (%v)", i, j, r.Refusal[j], r.Bundle[j])
				}
			}
			if r.ByBundle > n || r.EveryBundle < r.Every {
				t.Errorf("round %d: %d of %d locks refused on the bundle; every lock holding the bundle %v before every lock refusing %v", i, r.ByBundle, n, r.EveryBundle, r.Every)
			}
			if r.Floor <= 0 || r.CheckedFloor <= 0 || r.Every <= 0 || r.RevokeCall <= 0 || r.Grant <= 0 {
				t.Errorf("round %d: a figure was not measured: %+v", i, r)
			}
			// The revoke call is part of the time until every lock refuses
			// (the bundle is queued by the revoke's commit).
			if r.Every < r.RevokeCall/2 {
				t.Errorf("round %d: every lock refused %v after the revoke was sent, but the call took %v", i, r.Every, r.RevokeCall)
			}
		}
		if res.RefusalP50 > res.RefusalP99 || res.RefusalP99 > res.RefusalMax || res.FloorP50 <= 0 || res.CheckedFloorP50 <= 0 {
			t.Errorf("percentiles out of order or missing: %+v", res)
		}
	})

	t.Run("CheckedProbeIsChecked", func(t *testing.T) {
		// A checked probe the lock cannot open (not sealed for it, or
		// altered) is not counted as received: the checked floor includes
		// the lock's real decrypt and signature check.
		svc, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: s.brokerURL, ClientID: "fleet-test-bad-probe", Username: mqtt.DefaultServiceUser, Password: s.servicePassword})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		before := f.ProbesRefused()
		for _, bad := range [][]byte{
			[]byte("doorlock-fleet-checked-probe:1\x00not a sealed notice"),
			[]byte("doorlock-fleet-checked-probe:no separator"),
		} {
			if err := svc.Publish(ctx, mqtt.MustTopic(mqtt.KindBundle, f.Lock(f.Len()-1).LockID()), bad, 1, false); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(10 * time.Second)
		for f.ProbesRefused()-before < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("%d of 2 bad checked probes refused", f.ProbesRefused()-before)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// And a good one goes through every lock.
		fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		d, err := f.CheckedFloor(fctx, svc, 0)
		if err != nil || d <= 0 {
			t.Fatalf("checked floor after the bad probes: %v, %v", d, err)
		}
		if n := f.ProbesRefused() - before; n != 2 {
			t.Fatalf("%d checked probes refused, want only the 2 bad ones", n)
		}
	})

	t.Run("FloorNeedsPublishRights", func(t *testing.T) {
		// A lock's own credentials may not publish to other locks' bundle
		// topics: the embedded broker's ACL refuses (QoS 1, an error).
		c, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: s.brokerURL, ClientID: locks[0].LockID, Username: locks[0].LockID, Password: locks[0].MQTTPassword})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if _, err := f.Floor(fctx, c, 0); err == nil {
			t.Fatal("a lock's credentials measured a floor across the fleet")
		}
		if _, err := f.CheckedFloor(fctx, c, 0); err == nil {
			t.Fatal("a lock's credentials measured a checked floor across the fleet")
		}
	})

}

func TestFleetBadInput(t *testing.T) {
	ctx := t.Context()
	s := newFleetServer(t)
	t.Run("NoLocks", func(t *testing.T) {
		if _, err := locksim.StartFleet(ctx, locksim.FleetConfig{}); err == nil {
			t.Fatal("an empty fleet started")
		}
		if _, err := locksim.ProvisionFleet(ctx, s.m, "prop", 0, 1); err == nil {
			t.Fatal("0 locks provisioned")
		}
	})
	t.Run("BadToken", func(t *testing.T) {
		m := &locksim.Manager{Server: s.m.Server, Token: "nope"}
		_, err := locksim.ProvisionFleet(ctx, m, "prop", 2, 2)
		var apiErr *locksim.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 {
			t.Fatalf("bad token: %v, want HTTP 401", err)
		}
	})
	t.Run("UnknownProperty", func(t *testing.T) {
		_, err := locksim.ProvisionFleet(ctx, s.m, "prop_missing", 2, 2)
		var apiErr *locksim.APIError
		if !errors.As(err, &apiErr) || apiErr.Status/100 != 4 {
			t.Fatalf("unknown property: %v, want a 4xx", err)
		}
	})
	prop, err := s.m.CreateProperty(ctx, "Fleet bad input", "UTC")
	if err != nil {
		t.Fatal(err)
	}
	locks, err := locksim.ProvisionFleet(ctx, s.m, prop, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("WrongPassword", func(t *testing.T) {
		bad := append([]locksim.FleetLock{}, locks...)
		bad[1].MQTTPassword = "wrong"
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := locksim.StartFleet(cctx, locksim.FleetConfig{Locks: bad, ConnectTimeout: 20 * time.Second})
		if err == nil || !strings.Contains(err.Error(), bad[1].LockID) {
			t.Fatalf("a lock with a wrong MQTT password: %v, want an error naming it", err)
		}
	})
	t.Run("BadBrokerURL", func(t *testing.T) {
		if _, err := locksim.StartFleet(ctx, locksim.FleetConfig{Locks: locks, MQTTURL: "http://example.com"}); err == nil {
			t.Fatal("an http:// broker URL was accepted")
		}
	})
	t.Run("NoRounds", func(t *testing.T) {
		if _, err := locksim.RevokeBench(ctx, locksim.BenchConfig{Manager: s.m, PropertyID: prop, KeyIDs: []string{"k"}, Rounds: 0}); err == nil {
			t.Fatal("0 rounds accepted")
		}
	})
}
