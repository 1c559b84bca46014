package lock

import (
	"testing"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

// reconnectWire is a Door Sync's reconnection on the link: hello, accept,
// the credential proof sent whole and its result (BenchmarkUnlockWire:
// 534 B framed at MTU 185), the worst case.
const reconnectWire = 534

// BenchmarkChunkedSnapshot computes, from frame counts like
// BenchmarkBundleSizes, the time on the link of a 5,000-doorcode snapshot
// sent in one message and in chunks (manifest, then every chunk with its
// status reply, the ack after the last), and in chunks across one dropped
// link at the worst moment (the whole chunk in flight lost, a reconnection
// and the manifest again). doorapp waits 1 s before reconnecting; that and
// the radio's own reconnection time are extra.
func BenchmarkChunkedSnapshot(b *testing.B) {
	e := newEnv(b, "lock-bench")
	bundle := lockproto.Bundle{Version: 2, Snapshot: true, Doorcodes: benchDoorcodes(benchEntries, 0)}
	var sealed, manifest []byte
	for b.Loop() {
		sealed = e.seal(bundle)
		var err error
		if manifest, err = lockproto.SignBundleManifest(e.propPriv, sealed, lockproto.DefaultChunkSize); err != nil {
			b.Fatal(err)
		}
	}
	m, err := lockproto.ReadBundleManifest(manifest)
	if err != nil {
		b.Fatal(err)
	}
	ack, err := lockproto.SignAck(e.keys.Private, lockproto.Ack{LockID: "lock-bench", Status: lockproto.AckApplied,
		Version: 2, Bundle: m.Digest, LockTime: t0, LogNext: 12345})
	if err != nil {
		b.Fatal(err)
	}
	status, err := (&lockproto.TransferStatus{V: lockproto.Version, Digest: m.Digest, Next: uint32(len(m.Chunks) - 1), Chunks: uint32(len(m.Chunks))}).Encode()
	if err != nil {
		b.Fatal(err)
	}
	// Inside the channel: link header 2, channel type 1, AEAD tag 16.
	wire := func(n int) int { _, w := ble.Frames(n+19, ble.DefaultMTU); return w }
	one := wire(len(sealed)) + wire(len(ack))
	offer := wire(len(manifest)) + wire(len(status))
	chunked := offer
	biggest := 0
	for i := range m.Chunks {
		up := wire(lockproto.TransferIDSize + 4 + m.ChunkLen(i))
		biggest = max(biggest, up)
		chunked += up
		if i < len(m.Chunks)-1 {
			chunked += wire(len(status))
		} else {
			chunked += wire(len(ack))
		}
	}
	dropped := chunked + biggest + reconnectWire + offer
	b.ReportMetric(float64(len(sealed)), "bundle-B")
	b.ReportMetric(float64(len(manifest)), "manifest-B")
	b.ReportMetric(float64(len(m.Chunks)), "chunks")
	b.ReportMetric(ble.TransferTime(one, ble.WorstCaseRate).Seconds(), "s-one-msg@333B/s")
	b.ReportMetric(ble.TransferTime(chunked, ble.WorstCaseRate).Seconds(), "s-chunked@333B/s")
	b.ReportMetric(ble.TransferTime(dropped, ble.WorstCaseRate).Seconds(), "s-1drop@333B/s")
	b.ReportMetric(ble.TransferTime(chunked, ble.DefaultRate).Seconds(), "s-chunked@2048B/s")
	b.ReportMetric(100*float64(chunked-one)/float64(one), "overhead-%")
}
