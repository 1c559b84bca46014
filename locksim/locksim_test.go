package locksim_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
)

func provisioned(t *testing.T) *lock.Lock {
	t.Helper()
	l, _, _ := provisionedLock(t, "Europe/Berlin")
	return l
}

// provisionedLock provisions and boots the lock "door-gym" of a fresh
// property (in zone) and returns it with its keys and the property's
// signing key.
func provisionedLock(t *testing.T, zone string) (*lock.Lock, *lockproto.LockKeys, ed25519.PrivateKey) {
	t.Helper()
	propPub, propPriv, err := lockproto.NewPropertyKey()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := lockproto.NewLockKeys("door-gym")
	if err != nil {
		t.Fatal(err)
	}
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, lockproto.NewProvisioning(keys, propPub, zone, time.Now())); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	return l, keys, propPriv
}

func TestSim(t *testing.T) {
	sim, err := locksim.Start(t.Context(), locksim.Config{Lock: provisioned(t), BLE: ble.Config{Rate: -1}})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("StatusOverControlSocket", func(t *testing.T) {
		r, err := locksim.Ask(t.Context(), sim.ControlAddr, "status")
		if err != nil {
			t.Fatal(err)
		}
		if r.Status == nil || r.Status.LockID != "door-gym" || r.Status.TimeZone != "Europe/Berlin" {
			t.Fatalf("status %+v", r)
		}
	})
	t.Run("UnknownCodeDenied", func(t *testing.T) {
		r, err := locksim.Ask(t.Context(), sim.ControlAddr, "keypad 1234567")
		if err != nil {
			t.Fatal(err)
		}
		if r.Granted == nil || *r.Granted {
			t.Fatalf("reply %+v, want a denial", r)
		}
	})
	t.Run("ErrUnknownCommand", func(t *testing.T) {
		r, err := locksim.Ask(t.Context(), sim.ControlAddr, "open sesame")
		if err != nil {
			t.Fatal(err)
		}
		if r.Error == "" {
			t.Fatalf("reply %+v, want an error", r)
		}
	})
	t.Run("BLELinkAnswers", func(t *testing.T) {
		s, err := ble.DialLock(t.Context(), sim.BLEAddr, ble.Config{Rate: -1}, "door-gym", sim.Lock.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
	})
	t.Run("CloseStops", func(t *testing.T) {
		if err := sim.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := locksim.Ask(ctx, sim.ControlAddr, "status"); err == nil {
			t.Fatal("control socket still answers after Close")
		}
	})
	t.Run("ErrNoLock", func(t *testing.T) {
		if _, err := locksim.Start(t.Context(), locksim.Config{}); err == nil {
			t.Fatal("started without a lock")
		}
	})
}
