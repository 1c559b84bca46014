package lock

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

func FuzzUnlock(f *testing.F) {
	e := newEnv(f, "lock-a")
	s, used := e.request(e.cred(nil), e.devPriv)
	if d, _ := s.decide(used); !d.Granted {
		f.Fatalf("seed request refused: %+v", d)
	}
	f.Add(used) // made for another channel: a replay
	f.Add([]byte{0xa0})
	// A P-256 device's proof (ES256 raw r||s), also for another channel.
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p256Pub, _ := lockproto.P256DeviceKey(&p256.PublicKey)
	s, usedP256 := e.request(e.cred(func(c *lockproto.Credential) { c.DeviceKey = p256Pub }), p256)
	if d, _ := s.decide(usedP256); !d.Granted {
		f.Fatalf("P-256 seed request refused: %+v", d)
	}
	f.Add(usedP256)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Only a proof signed by the device for this very channel opens;
		// nothing made without the device key may.
		s, _ := e.connectT(t)
		d, err := s.decide(data)
		if err != nil {
			t.Fatal(err)
		}
		if d.Granted {
			t.Fatalf("fuzzed request granted: %+v", d)
		}
	})
}

// FuzzSessionHandle feeds a fresh session's channel raw frames: none opens,
// and nothing is decided or applied.
func FuzzSessionHandle(f *testing.F) {
	e := newEnv(f, "lock-a")
	_, ch := e.connect()
	f.Add(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanLogRequest, lockproto.EncodeLogRequest(1))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _ := e.connectT(t)
		next := e.lock.Status().LogNext
		if _, err := s.Handle(data); err == nil {
			t.Fatal("a frame nobody sealed in this channel was handled")
		}
		if e.lock.Status().LogNext != next || s.Authenticated() {
			t.Fatal("a frame that did not open changed the lock")
		}
	})
}

func FuzzApplyBundle(f *testing.F) {
	e := newEnv(f, "lock-a")
	seeds := [][]byte{
		e.seal(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: residents(3)}),
		e.seal(lockproto.Bundle{Base: 1, Version: 2, Revocations: []lockproto.Revocation{{PersonID: "p", EffectiveAt: t0}}}),
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		before := e.lock.Status().Version
		_, err := e.lock.ApplyBundle(data)
		if err != nil {
			if e.lock.Status().Version != before {
				t.Fatal("refused bundle changed the version")
			}
			return
		}
		for _, s := range seeds {
			if bytes.Equal(s, data) {
				return
			}
		}
		t.Fatalf("applied a bundle the cloud never sealed (%d bytes)", len(data))
	})
}

func FuzzEnterCode(f *testing.F) {
	e := newEnv(f, "lock-a")
	k := dayKey("key-1")
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: []lockproto.DoorcodeEntry{{Code: "1234567", PersonID: "p"}}, DayKeys: []lockproto.DayKey{k}})
	valid := map[string]bool{"1234567": true}
	day := lockproto.DayNumber(t0, berlin)
	for slot := range k.Slots {
		valid[lockproto.GuestCode(k.Secret, lockproto.DayCode, day, slot, 7)] = true
		valid[lockproto.GuestCode(k.Secret, lockproto.QuarterHourCode, day, slot, 7)] = true
	}
	f.Add("1234567")
	f.Add("12345678")
	f.Add("12a4567")
	f.Fuzz(func(t *testing.T, code string) {
		// Keep the keypad unlocked so every input is really judged.
		e.clock.Set(t0)
		e.lock.rt.LockedUntil, e.lock.rt.Attempts = time.Time{}, nil
		d, err := e.lock.EnterCode(code)
		if err != nil {
			t.Fatal(err)
		}
		if d.Granted && !valid[code] {
			t.Fatalf("code %q granted", code)
		}
	})
}
