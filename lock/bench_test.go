package lock

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

const benchEntries = 5000

// personID looks like the cloud's ids (20-character xid).
func benchPerson(i int) string { return fmt.Sprintf("d0k%017d", i) }

func benchDoorcodes(n, offset int) []lockproto.DoorcodeEntry {
	out := make([]lockproto.DoorcodeEntry, n)
	for i := range out {
		out[i] = lockproto.DoorcodeEntry{
			Code: fmt.Sprintf("%07d", 1000000+offset+i), PersonID: benchPerson(offset + i),
			NotBefore: t0.Add(-30 * 24 * time.Hour), NotAfter: t0.Add(365 * 24 * time.Hour),
		}
	}
	return out
}

func benchKeycards(n int) []lockproto.KeycardEntry {
	out := make([]lockproto.KeycardEntry, n)
	for i := range out {
		out[i] = lockproto.KeycardEntry{Serial: fmt.Sprintf("04%012X", i), PersonID: benchPerson(i), NotAfter: t0.Add(365 * 24 * time.Hour)}
	}
	return out
}

func benchRevocations(n int) []lockproto.Revocation {
	out := make([]lockproto.Revocation, n)
	for i := range out {
		out[i] = lockproto.Revocation{PersonID: benchPerson(100000 + i), EffectiveAt: t0.Add(-time.Hour)}
	}
	return out
}

// benchLock is a lock holding 5,000 doorcodes, 5,000 keycards, 500
// revocations and 8 day keys.
func benchLock(b *testing.B) *env {
	e := newEnv(b, "lock-bench")
	keys := make([]lockproto.DayKey, 8)
	for i := range keys {
		keys[i] = dayKey(fmt.Sprintf("key-%d", i))
	}
	e.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: benchDoorcodes(benchEntries, 0),
		Keycards: benchKeycards(benchEntries), Revocations: benchRevocations(500), DayKeys: keys})
	return e
}

func BenchmarkUnlockDecision(b *testing.B) {
	e := benchLock(b)
	cred := e.cred(nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		s, req := e.request(cred, e.devPriv) // handshake and the phone's work, not timed
		b.StartTimer()
		c0 := threadCPU()
		d, _ := s.decide(req)
		cpu += threadCPU() - c0
		if !d.Granted {
			b.Fatal(d.Reason)
		}
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

func BenchmarkUnlockDecisionFirstSight(b *testing.B) {
	e := benchLock(b)
	for b.Loop() {
		b.StopTimer()
		s, req := e.request(e.cred(nil), e.devPriv) // a credential the lock has not verified before
		b.StartTimer()
		if d, _ := s.decide(req); !d.Granted {
			b.Fatal(d.Reason)
		}
	}
}

// benchUnlock times the lock's whole work for one unlock over the channel:
// the handshake (X25519 key pair and shared secret, HKDF, Ed25519 signature
// over the transcript) and the sealed proof (decrypt, credential check,
// device signature, decision logged, sealed result). The phone's work runs
// with the timer stopped.
func benchUnlock(b *testing.B, firstSight bool) {
	e := benchLock(b)
	cred := e.cred(nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		if firstSight {
			cred = e.cred(nil)
		}
		hs, hello, err := lockproto.NewPhoneHandshake(e.keys.LockID, e.keys.Public)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c0 := threadCPU()
		s, accept, err := e.lock.OpenSession(hello)
		cpu += threadCPU() - c0
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		ch, err := hs.Finish(accept)
		if err != nil {
			b.Fatal(err)
		}
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		rb, _ := req.Encode()
		frame := ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, rb))
		b.StartTimer()
		c0 = threadCPU()
		out, err := s.Handle(frame)
		cpu += threadCPU() - c0
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		plain, err := ch.Open(out)
		if err != nil || plain[0] != byte(lockproto.ChanResult) {
			b.Fatalf("reply %v %v", plain, err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkUnlockChannel: the credential was verified at this lock before
// (its signature check is cached).
func BenchmarkUnlockChannel(b *testing.B) { benchUnlock(b, false) }

// BenchmarkUnlockChannelFirstSight: a credential new to this lock.
func BenchmarkUnlockChannelFirstSight(b *testing.B) { benchUnlock(b, true) }

// BenchmarkUnlockFloor is the cryptography any unlock of this design must
// pay on the lock, with nothing else: an X25519 key pair and shared secret,
// one Ed25519 signature (transcript) and one Ed25519 verification (device).
func BenchmarkUnlockFloor(b *testing.B) {
	_, devPriv, _ := ed25519.GenerateKey(rand.Reader)
	devPub := devPriv.Public().(ed25519.PublicKey)
	_, lockPriv, _ := ed25519.GenerateKey(rand.Reader)
	peer, _ := ecdh.X25519().GenerateKey(rand.Reader)
	msg := make([]byte, 100)
	sig := ed25519.Sign(devPriv, msg)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU()
	for b.Loop() {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := k.ECDH(peer.PublicKey()); err != nil {
			b.Fatal(err)
		}
		ed25519.Sign(lockPriv, msg)
		if !ed25519.Verify(devPub, msg, sig) {
			b.Fatal("verify")
		}
	}
	b.ReportMetric(float64((threadCPU()-c0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// BenchmarkUnlockWire reports the bytes and round trips of one unlock over
// the link (frames of the default MTU, headers included) and the time they
// take at 2 KB/s and 333 B/s: FirstSight sends the credential whole,
// Cached names a credential the lock verified before by its 16-byte
// reference. The credential names one lock, as a resident's does for a
// single-door key; each further door adds ~24 B to FirstSight only.
func BenchmarkUnlockWire(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "FirstSight"
		if cached {
			name = "Cached"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, "d0kabcdefghij0123456") // a 20-character id as the cloud's door ids
			cred := e.cred(func(c *lockproto.Credential) { c.PersonID = benchPerson(1) })
			e.unlock(cred)
			var sizes [4]int
			for b.Loop() {
				hs, hello, _ := lockproto.NewPhoneHandshake(e.keys.LockID, e.keys.Public)
				s, accept, err := e.lock.OpenSession(hello)
				if err != nil {
					b.Fatal(err)
				}
				ch, _ := hs.Finish(accept)
				req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
				if cached {
					req = req.ByRef()
				}
				rb, _ := req.Encode()
				frame := ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, rb))
				out, err := s.Handle(frame)
				if err != nil {
					b.Fatal(err)
				}
				plain, _ := ch.Open(out)
				if res, err := lockproto.DecodeUnlockResult(plain[1:]); err != nil || !res.Granted {
					b.Fatalf("%+v %v", res, err)
				}
				// +2: the link message's version and type bytes.
				sizes = [4]int{len(hello) + 2, len(accept) + 2, len(frame) + 2, len(out) + 2}
			}
			wire := 0
			for _, n := range sizes {
				_, w := ble.Frames(n, ble.DefaultMTU)
				wire += w
			}
			b.ReportMetric(float64(len(cred)), "credential-B")
			b.ReportMetric(float64(sizes[0]), "hello-B")
			b.ReportMetric(float64(sizes[1]), "accept-B")
			b.ReportMetric(float64(sizes[2]), "unlock-B")
			b.ReportMetric(float64(sizes[3]), "result-B")
			b.ReportMetric(float64(wire), "wire-B")
			b.ReportMetric(2, "round-trips")
			b.ReportMetric(ble.TransferTime(wire, ble.DefaultRate).Seconds(), "s@2048B/s")
			b.ReportMetric(ble.TransferTime(wire, ble.WorstCaseRate).Seconds(), "s@333B/s")
		})
	}
}

func BenchmarkEnterResidentCode(b *testing.B) {
	e := benchLock(b)
	code := benchDoorcodes(1, 2500)[0].Code
	for b.Loop() {
		if d, _ := e.lock.EnterCode(code); !d.Granted {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkEnterDayCode(b *testing.B) {
	e := benchLock(b)
	k := dayKey("key-5")
	code := lockproto.GuestCode(k.Secret, lockproto.DayCode, lockproto.DayNumber(t0, berlin), 3, 7)
	for b.Loop() {
		if d, _ := e.lock.EnterCode(code); !d.Granted {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkTapCard(b *testing.B) {
	e := benchLock(b)
	serial := benchKeycards(2500)[2499].Serial
	for b.Loop() {
		if d, _ := e.lock.TapCard(serial); !d.Granted {
			b.Fatal(d.Reason)
		}
	}
}

// BenchmarkMemoryPerEntry reports the lock's resident memory per entry
// (state plus index) and its flash bytes per entry.
func BenchmarkMemoryPerEntry(b *testing.B) {
	st := applyBundle(&doorState{}, &lockproto.Bundle{Version: 1, Snapshot: true,
		Doorcodes: benchDoorcodes(benchEntries, 0), Keycards: benchKeycards(benchEntries)}, codeHasher(NewMemFS(), make([]byte, 32)))
	raw, err := stEnc.Marshal(st)
	if err != nil {
		b.Fatal(err)
	}
	var heap float64
	for b.Loop() {
		// As at boot: decode the state from flash and index it.
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var loaded doorState
		if err := stDec.Unmarshal(raw, &loaded); err != nil {
			b.Fatal(err)
		}
		idx := indexState(&loaded)
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap = float64(after.HeapAlloc-before.HeapAlloc) / (2 * benchEntries)
		runtime.KeepAlive(idx)
	}
	b.ReportMetric(heap, "heap-B/entry")
	b.ReportMetric(float64(len(raw))/(2*benchEntries), "flash-B/entry")
}

// BenchmarkBundleSizes reports wire sizes and the simulated BLE sync time of
// a relay (bundle up, ack down) at 2 KB/s and 333 B/s, from frame counts.
func BenchmarkBundleSizes(b *testing.B) {
	e := newEnv(b, "lock-bench")
	report := func(b *testing.B, bundle lockproto.Bundle, entries int) {
		var sealed []byte
		for b.Loop() {
			sealed = e.seal(bundle)
		}
		// Inside the channel: link header 2, channel type 1, AEAD tag 16.
		_, upWire := ble.Frames(len(sealed)+19, ble.DefaultMTU)
		ack, err := lockproto.SignAck(e.keys.Private, lockproto.Ack{LockID: "lock-bench", Status: lockproto.AckApplied,
			Version: 2, Bundle: lockproto.BundleDigest(sealed), LockTime: t0, LogNext: 12345})
		if err != nil {
			b.Fatal(err)
		}
		_, downWire := ble.Frames(len(ack)+19, ble.DefaultMTU)
		b.ReportMetric(float64(len(ack)), "ack-B")
		b.ReportMetric(float64(len(sealed)), "bundle-B")
		if entries > 0 {
			b.ReportMetric(float64(len(sealed))/float64(entries), "B/entry")
		}
		b.ReportMetric(ble.TransferTime(upWire+downWire, ble.DefaultRate).Seconds(), "s@2048B/s")
		b.ReportMetric(ble.TransferTime(upWire+downWire, ble.WorstCaseRate).Seconds(), "s@333B/s")
	}
	b.Run("OneRevocation", func(b *testing.B) {
		report(b, lockproto.Bundle{Base: 1, Version: 2, Revocations: benchRevocations(1)}, 1)
	})
	b.Run("Delta100Doorcodes", func(b *testing.B) {
		report(b, lockproto.Bundle{Base: 1, Version: 2, Doorcodes: benchDoorcodes(100, 0)}, 100)
	})
	b.Run("Delta100Mixed", func(b *testing.B) {
		// 40 new codes, 20 removed codes, 20 cards, 20 revocations.
		var removed []string
		for _, d := range benchDoorcodes(20, 9000) {
			removed = append(removed, d.Code)
		}
		report(b, lockproto.Bundle{Base: 1, Version: 2, Doorcodes: benchDoorcodes(40, 0), RemoveDoorcodes: removed,
			Keycards: benchKeycards(20), Revocations: benchRevocations(20)}, 100)
	})
	b.Run("Snapshot5000Doorcodes", func(b *testing.B) {
		report(b, lockproto.Bundle{Version: 2, Snapshot: true, Doorcodes: benchDoorcodes(benchEntries, 0)}, benchEntries)
	})
	b.Run("Snapshot5000Mixed", func(b *testing.B) {
		// 2,500 doorcodes, 2,000 keycards, 500 revocations.
		report(b, lockproto.Bundle{Version: 2, Snapshot: true, Doorcodes: benchDoorcodes(2500, 0),
			Keycards: benchKeycards(2000), Revocations: benchRevocations(500)}, benchEntries)
	})
}

// BenchmarkApplySnapshot is the lock's time to apply a 5,000-entry snapshot
// (decrypt, verify, write flash) on an in-memory flash.
func BenchmarkApplySnapshot(b *testing.B) {
	e := newEnv(b, "lock-bench")
	v := uint64(0)
	codes := benchDoorcodes(benchEntries, 0)
	for b.Loop() {
		b.StopTimer()
		v++
		sealed := e.seal(lockproto.Bundle{Version: v, Snapshot: true, Doorcodes: codes})
		b.StartTimer()
		if _, err := e.lock.ApplyBundle(sealed); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyNotice is a lock's cost of one revocation notice (open,
// verify the property signature, persist the suspension, log it) and of
// its status afterwards, as the fleet benchmark's locks do for each one,
// at the 5,000-entry bench lock. Every notice names a new version so none
// is stale; the suspended person differs each time.
func BenchmarkApplyNotice(b *testing.B) {
	e := benchLock(b)
	notices := make([][]byte, b.N)
	for i := range notices {
		signed, err := lockproto.SignRevocationNotice(e.propPriv, lockproto.RevocationNotice{Persons: []string{benchPerson(i % benchEntries)}, IssuedAt: t0})
		if err != nil {
			b.Fatal(err)
		}
		if notices[i], err = lockproto.SealRevocationNotice(signed, e.keys.LockID, e.keys.Symmetric, uint64(2+i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if err := e.lock.ApplyNotice(notices[i]); err != nil {
			b.Fatal(err)
		}
		e.lock.Status()
	}
}

// BenchmarkStatusSuspended is a lock's Status at the 5,000-entry bench
// lock while one notice suspends one resident: the count of suspended
// doorcodes looks at every code the lock holds.
func BenchmarkStatusSuspended(b *testing.B) {
	e := benchLock(b)
	signed, err := lockproto.SignRevocationNotice(e.propPriv, lockproto.RevocationNotice{Persons: []string{benchPerson(7)}, IssuedAt: t0})
	if err != nil {
		b.Fatal(err)
	}
	sealed, err := lockproto.SealRevocationNotice(signed, e.keys.LockID, e.keys.Symmetric, 2)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.lock.ApplyNotice(sealed); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if s := e.lock.Status(); s.Suspended != 1 || s.SuspendedDoorcodes != 1 {
			b.Fatalf("status %+v: want one person and their one doorcode suspended", s)
		}
	}
}
