package lock

import (
	"errors"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

// TestPowerCutDuringChunkedTransfer cuts the power at every write step of
// a chunked transfer (manifest, each chunk's append, clearing, applying),
// reboots from flash and finishes the transfer from where the lock says:
// every chunk the lock confirmed is still there, and the bundle ends
// applied once, whole.
func TestPowerCutDuringChunkedTransfer(t *testing.T) {
	base := newEnv(t, "lock-a")
	base.apply(lockproto.Bundle{Version: 1, Snapshot: true, Doorcodes: residents(10)})
	image := base.fs.(*MemFS).Clone()
	sealed := base.seal(lockproto.Bundle{Version: 2, Snapshot: true, Doorcodes: residents(300)})
	manifest, err := lockproto.SignBundleManifest(base.propPriv, sealed, lockproto.MinChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := lockproto.ReadBundleManifest(manifest)
	chunk := func(i int) []byte {
		off := i * int(m.ChunkSize)
		return lockproto.EncodeChunk(m.Digest, uint32(i), sealed[off:off+m.ChunkLen(i)])
	}
	next := func(status []byte) int {
		st, err := lockproto.DecodeTransferStatus(status)
		if err != nil {
			t.Fatal(err)
		}
		return int(st.Next)
	}
	for n := 1; ; n++ {
		fsys := &cutFS{mem: image.Clone()}
		l, err := Open(Options{FS: fsys, Clock: base.clock})
		if err != nil {
			t.Fatal(err)
		}
		fsys.steps, fsys.cutAt = 0, n
		confirmed, inLast := 0, false
		_, _, err = l.OfferManifest(manifest)
		for i := 0; err == nil && i < len(m.Chunks); i++ {
			inLast = i == len(m.Chunks)-1
			var status []byte
			var done bool
			if status, _, done, err = l.OfferChunk(chunk(i)); err == nil && !done {
				confirmed = next(status)
			}
		}
		if !fsys.dead {
			if err != nil {
				t.Fatal(err)
			}
			if l.Status().Version != 2 || n < len(m.Chunks) {
				t.Fatalf("transfer of %d chunks finished in %d write steps at version %d", len(m.Chunks), n-1, l.Status().Version)
			}
			t.Logf("chunked transfer of %d chunks cut at each of %d write steps", len(m.Chunks), n-1)
			return
		}
		after, err := Open(Options{FS: fsys.mem.Clone(), Clock: base.clock})
		if err != nil {
			t.Fatalf("cut at step %d: lock does not boot: %v", n, err)
		}
		status, _, err := after.OfferManifest(manifest)
		if errors.Is(err, lockproto.ErrStale) {
			if after.Status().Version != 2 || !inLast {
				t.Fatalf("cut at step %d: manifest stale at version %d", n, after.Status().Version)
			}
			continue // the cut came after the bundle was applied
		}
		if err != nil {
			t.Fatalf("cut at step %d: manifest after reboot: %v", n, err)
		}
		from := next(status)
		// Confirmed chunks survive; only clearing the finished transfer
		// (after the last chunk, before the apply) may start it over.
		if from < confirmed && !(inLast && from == 0) {
			t.Fatalf("cut at step %d: the lock had confirmed %d chunks, resumes at %d", n, confirmed, from)
		}
		for i := from; i < len(m.Chunks); i++ {
			if _, _, _, err := after.OfferChunk(chunk(i)); err != nil {
				t.Fatalf("cut at step %d: chunk %d after reboot: %v", n, i, err)
			}
		}
		if st := after.Status(); st.Version != 2 || st.Doorcodes != 300 {
			t.Fatalf("cut at step %d: after resuming, version %d with %d doorcodes", n, st.Version, st.Doorcodes)
		}
		if got := appliedEvents(t, after, 2); got != 1 {
			t.Fatalf("cut at step %d: %d bundle.applied events for version 2", n, got)
		}
	}
}
