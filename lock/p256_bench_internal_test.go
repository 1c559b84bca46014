package lock

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"runtime"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// BenchmarkUnlockDecisionP256 is BenchmarkUnlockDecision for a P-256
// device key (issue 16): the lock's CPU per unlock decision when the
// device signature is ES256 instead of Ed25519.
func BenchmarkUnlockDecisionP256(b *testing.B) {
	for _, kind := range []string{"Ed25519", "P256"} {
		b.Run(kind, func(b *testing.B) {
			e := benchLock(b)
			var cred []byte
			p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if kind == "P256" {
				key, _ := lockproto.P256DeviceKey(&p.PublicKey)
				cred = e.cred(func(c *lockproto.Credential) { c.DeviceKey = key })
			} else {
				cred = e.cred(nil)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu time.Duration
			for b.Loop() {
				b.StopTimer()
				var s *Session
				var req []byte
				if kind == "P256" {
					s, req = e.request(cred, p)
				} else {
					s, req = e.request(cred, e.devPriv)
				}
				b.StartTimer()
				c0 := threadCPU()
				d, _ := s.decide(req)
				cpu += threadCPU() - c0
				if !d.Granted {
					b.Fatal(d.Reason)
				}
			}
			b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkDeviceVerifyFloor is the floor: one bare device-signature
// verification of each kind over a device message.
func BenchmarkDeviceVerifyFloor(b *testing.B) {
	msg := lockproto.DeviceMessage("lock-a", make([]byte, 32))
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pKey, _ := lockproto.P256DeviceKey(&p.PublicKey)
	pSig, _ := lockproto.SignDevice(p, msg)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edSig := ed25519.Sign(edPriv, msg)
	for _, c := range []struct {
		name     string
		key, sig []byte
	}{{"Ed25519", edPub, edSig}, {"P256", pKey, pSig}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if !lockproto.VerifyDeviceSignature(c.key, msg, c.sig) {
					b.Fatal("verify")
				}
			}
		})
	}
}
