package lock_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// BenchmarkOfferTime is the lock's cost of the time token every unlock may
// carry: COSE decode, one Ed25519 verify, the clock rule (no flash write:
// the token moves the clock less than a second).
func BenchmarkOfferTime(b *testing.B) {
	d := newDoor(b)
	d.mustBundle(lockproto.Bundle{})
	tok := d.token(d.real, 0)
	for b.Loop() {
		if err := d.l.OfferTime(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOfferTimeRecovery is a token that restores trusted time after an
// RTC reset: verify, rule, clock file written, time.set logged.
func BenchmarkOfferTimeRecovery(b *testing.B) {
	d := newDoor(b)
	d.mustBundle(lockproto.Bundle{})
	for b.Loop() {
		b.StopTimer()
		d.rtc.Set(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC))
		d.l.Status() // the lock notices the reset
		d.wait(time.Minute)
		tok := d.token(d.real, 0)
		b.StartTimer()
		if err := d.l.OfferTime(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEd25519VerifyFloor is the floor: one bare Ed25519 verification
// of a message the size of a token's COSE Sig_structure.
func BenchmarkEd25519VerifyFloor(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	msg := make([]byte, 80)
	sig := ed25519.Sign(priv, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("verify")
		}
	}
}
