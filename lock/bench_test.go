package lock

import (
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
	for b.Loop() {
		b.StopTimer()
		req := e.request(cred, e.devPriv) // the phone's work, not the lock's
		b.StartTimer()
		if d, _ := e.lock.UnlockDecision(req); !d.Granted {
			b.Fatal(d.Reason)
		}
	}
}

func BenchmarkUnlockDecisionFirstSight(b *testing.B) {
	e := benchLock(b)
	for b.Loop() {
		b.StopTimer()
		req := e.request(e.cred(nil), e.devPriv) // a credential the lock has not verified before
		b.StartTimer()
		if d, _ := e.lock.UnlockDecision(req); !d.Granted {
			b.Fatal(d.Reason)
		}
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
		_, upWire := ble.Frames(len(sealed)+2, ble.DefaultMTU)
		ack, err := lockproto.SignAck(e.keys.Private, lockproto.Ack{LockID: "lock-bench", Status: lockproto.AckApplied,
			Version: 2, Bundle: lockproto.BundleDigest(sealed), LockTime: t0, LogNext: 12345})
		if err != nil {
			b.Fatal(err)
		}
		_, downWire := ble.Frames(len(ack)+2, ble.DefaultMTU)
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
