package lock_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

// Chunked bundle transfer (docs/lock-protocol.md) attacked and exercised as
// an outsider: a real lock behind the simulated BLE link on a loopback
// port, phones that dial it, a proxy that drops the link.

// fastRate keeps a 5,000-entry snapshot under a second in go test; the
// 333 B/s figure is computed in BenchmarkChunkedSnapshot333.
const fastRate = 2 << 20

// bleLock serves whichever lock d.l is now (a reboot swaps it).
type bleLock struct{ d *door }

func (h bleLock) OpenChannel(hello []byte) (ble.Channel, []byte, error) {
	s, reply, err := h.d.l.OpenSession(hello)
	if err != nil {
		return nil, nil, err
	}
	return s, reply, nil
}

// serveBLE runs the lock's BLE side on a random loopback port.
func serveBLE(t *testing.T, d *door, cfg ble.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ble.Serve(ctx, ln, bleLock{d}, cfg, nil) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

// dropProxy forwards phone connections to the lock and cuts the next one
// after cut bytes from the phone, as a phone walking out of range does.
type dropProxy struct {
	addr   string
	cut    atomic.Int64
	closed atomic.Int32 // connections cut
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			cut := p.cut.Swap(0)
			wg.Add(2)
			go func() { defer wg.Done(); io.Copy(c, up); c.Close() }()
			go func() {
				defer wg.Done()
				defer up.Close()
				defer c.Close()
				buf := make([]byte, 512)
				var n int64
				for {
					k, err := c.Read(buf)
					if k > 0 {
						if cut > 0 && n+int64(k) >= cut {
							up.Write(buf[:cut-n])
							p.closed.Add(1)
							return
						}
						n += int64(k)
						if _, werr := up.Write(buf[:k]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return p
}

// phone is a DOOR App with its own device key and a credential for the
// door: the resident's own, or a courier's (sync only).
type phone struct {
	dev  ed25519.PrivateKey
	cred []byte
}

func newPhone(t *testing.T, d *door, courier bool) phone {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d.serial++
	nb, na := lockproto.CredentialWindow(d.real, 24*time.Hour, d.real, time.Time{})
	cred, err := lockproto.IssueCredential(d.propPriv, lockproto.Credential{
		Serial: d.serial, PersonID: fmt.Sprintf("person-%d", d.serial), DeviceKey: pub,
		Locks: []lockproto.LockAccess{{LockID: d.keys.LockID}}, NotBefore: nb, NotAfter: na, IssuedAt: d.real, SyncOnly: courier,
	})
	if err != nil {
		t.Fatal(err)
	}
	return phone{dev: priv, cred: cred}
}

func (p phone) connect(t *testing.T, d *door, addr string, cfg ble.Config) *ble.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := ble.DialLock(ctx, addr, cfg, d.keys.LockID, d.keys.Public)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Authenticate(ctx, p.cred, p.dev, nil)
	if err != nil || !res.Authenticated {
		t.Fatalf("authenticate: %v %+v", err, res)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// snapshot seals a snapshot of n doorcodes at version and signs its
// manifest, as the cloud does for a bundle over the chunk threshold.
func snapshot(t *testing.T, d *door, n int, version uint64, salt string) (sealed, manifest []byte) {
	t.Helper()
	b := lockproto.Bundle{LockID: d.keys.LockID, Version: version, Snapshot: true, TrustedTime: d.real}
	for i := range n {
		// As the cloud sends them (and BenchmarkBundleSizes measures them):
		// a 20-character person id and a window.
		b.Doorcodes = append(b.Doorcodes, lockproto.DoorcodeEntry{Code: fmt.Sprintf("%07d", 1000000+i),
			PersonID:  fmt.Sprintf("%s0k%017d", salt, i),
			NotBefore: d.real.Add(-30 * 24 * time.Hour), NotAfter: d.real.Add(365 * 24 * time.Hour)})
	}
	sealed, err := lockproto.SealBundle(d.propPriv, d.keys.Symmetric, b)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err = lockproto.SignBundleManifest(d.propPriv, sealed, lockproto.DefaultChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	return sealed, manifest
}

// progressLog records DeliverChunked's progress calls.
type progressLog struct {
	mu    sync.Mutex
	calls [][2]int
}

func (p *progressLog) f(next, total int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, [2]int{next, total})
}

func (p *progressLog) first() int { p.mu.Lock(); defer p.mu.Unlock(); return p.calls[0][0] }
func (p *progressLog) last() int  { p.mu.Lock(); defer p.mu.Unlock(); return p.calls[len(p.calls)-1][0] }

func applied(t *testing.T, d *door, ack []byte, version uint64, codes int) {
	t.Helper()
	a, err := lockproto.VerifyAck(d.l.PublicKey(), d.keys.LockID, ack)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != lockproto.AckApplied || a.Version != version {
		t.Fatalf("ack %v at version %d, want applied at %d", a.Status, a.Version, version)
	}
	if st := d.l.Status(); st.Version != version || st.Doorcodes != codes {
		t.Fatalf("lock at version %d with %d doorcodes, want %d with %d", st.Version, st.Doorcodes, version, codes)
	}
}

// TestChunkedSnapshotAcrossDrop: a 5,000-entry snapshot reaches the lock
// although the link drops a third of the way through; the second
// connection sends only what the lock lacks.
func TestChunkedSnapshotAcrossDrop(t *testing.T) {
	d := newDoor(t)
	cfg := ble.Config{Rate: fastRate}
	proxy := newDropProxy(t, serveBLE(t, d, cfg))
	sealed, manifest := snapshot(t, d, 5000, 1, "p")
	m, err := lockproto.ReadBundleManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	total := len(m.Chunks)
	t.Logf("5,000-entry snapshot: %d bytes in %d chunks of %d", len(sealed), total, m.ChunkSize)
	if len(sealed) <= lockproto.ChunkThreshold {
		t.Fatalf("a 5,000-entry snapshot of %d bytes should be chunked", len(sealed))
	}
	p := newPhone(t, d, false)
	proxy.cut.Store(int64(len(sealed) / 3)) // armed for the next connection
	var first progressLog
	_, err = p.connect(t, d, proxy.addr, cfg).DeliverChunked(context.Background(), manifest, sealed, first.f)
	if err == nil || proxy.closed.Load() != 1 {
		t.Fatalf("transfer over a link cut at %d bytes: err %v, cuts %d", len(sealed)/3, err, proxy.closed.Load())
	}
	reached := first.last()
	if reached == 0 || reached >= total {
		t.Fatalf("before the drop the lock had %d of %d chunks", reached, total)
	}
	var second progressLog
	ack, err := p.connect(t, d, proxy.addr, cfg).DeliverChunked(context.Background(), manifest, sealed, second.f)
	if err != nil {
		t.Fatal(err)
	}
	if second.first() != reached {
		t.Fatalf("resumed at chunk %d, the lock had confirmed %d", second.first(), reached)
	}
	applied(t, d, ack, 1, 5000)
}

// TestChunkedResumeBySecondPhoneAndReboot: a courier resumes what the
// resident's phone started, after the lock rebooted in between and after a
// power cut left half a chunk on flash.
func TestChunkedResumeBySecondPhoneAndReboot(t *testing.T) {
	d := newDoor(t)
	mem := d.fs.(*lock.MemFS)
	cfg := ble.Config{Rate: -1}
	addr := serveBLE(t, d, cfg)
	sealed, manifest := snapshot(t, d, 1500, 1, "r")
	m, _ := lockproto.ReadBundleManifest(manifest)
	resident := newPhone(t, d, false)
	s := resident.connect(t, d, addr, cfg)
	ctx := context.Background()
	if _, err := s.Request(ctx, lockproto.ChanManifest, manifest, lockproto.ChanTransfer); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		chunk := sealed[i*int(m.ChunkSize) : (i+1)*int(m.ChunkSize)]
		if _, err := s.Request(ctx, lockproto.ChanChunk, lockproto.EncodeChunk(m.Digest, uint32(i), chunk), lockproto.ChanTransfer); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	// The power goes while the sixth chunk is written: half of it on flash.
	data, err := mem.ReadFile("transfer.data")
	if err != nil || len(data) != 5*int(m.ChunkSize) {
		t.Fatalf("transfer.data: %d bytes, %v", len(data), err)
	}
	if err := mem.AppendFile("transfer.data", sealed[5*int(m.ChunkSize):5*int(m.ChunkSize)+100]); err != nil {
		t.Fatal(err)
	}
	d.boot()
	var pl progressLog
	ack, err := newPhone(t, d, true).connect(t, d, addr, cfg).DeliverChunked(ctx, manifest, sealed, pl.f)
	if err != nil {
		t.Fatal(err)
	}
	if pl.first() != 5 {
		t.Fatalf("courier resumed at chunk %d, want 5", pl.first())
	}
	applied(t, d, ack, 1, 1500)
	if data, _ := mem.ReadFile("transfer.data"); len(data) != 0 {
		t.Fatalf("%d bytes of transfer left on flash after the bundle applied", len(data))
	}
}

// chunkErr sends one raw chunk and returns the lock's refusal.
func chunkErr(t *testing.T, s *ble.Session, body []byte) error {
	t.Helper()
	_, err := s.Request(context.Background(), lockproto.ChanChunk, body, lockproto.ChanTransfer)
	return err
}

func wantRefusal(t *testing.T, what string, err, sentinel error) {
	t.Helper()
	var re *ble.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, sentinel) {
		t.Fatalf("%s: %v, want the lock's %v", what, err, sentinel)
	}
}

// TestChunkedMixAndJunk: a courier holding two versions cannot splice a
// chunk of one into the other, nor feed junk; what the lock had is kept.
func TestChunkedMixAndJunk(t *testing.T) {
	d := newDoor(t)
	cfg := ble.Config{Rate: -1}
	addr := serveBLE(t, d, cfg)
	v1, m1raw := snapshot(t, d, 1500, 1, "a")
	v2, m2raw := snapshot(t, d, 1500, 2, "b")
	m1, _ := lockproto.ReadBundleManifest(m1raw)
	m2, _ := lockproto.ReadBundleManifest(m2raw)
	cs := int(m1.ChunkSize)
	s := newPhone(t, d, true).connect(t, d, addr, cfg)
	ctx := context.Background()
	if _, err := s.Request(ctx, lockproto.ChanManifest, m1raw, lockproto.ChanTransfer); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, uint32(i), v1[i*cs:(i+1)*cs])); err != nil {
			t.Fatal(err)
		}
	}
	// Version 2's chunk 3 under version 1's transfer: its hash differs.
	wantRefusal(t, "a chunk of another version", chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, 3, v2[3*cs:4*cs])), lockproto.ErrChunk)
	// Junk of the right length, a short chunk, a chunk out of order.
	wantRefusal(t, "junk", chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, 3, make([]byte, cs))), lockproto.ErrChunk)
	wantRefusal(t, "short chunk", chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, 3, v1[3*cs:4*cs-1])), lockproto.ErrChunk)
	wantRefusal(t, "skipped chunk", chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, 4, v1[4*cs:5*cs])), lockproto.ErrChunk)
	// A chunk naming version 2's transfer, which the lock is not assembling.
	wantRefusal(t, "chunk of another transfer", chunkErr(t, s, lockproto.EncodeChunk(m2.Digest, 3, v2[3*cs:4*cs])), lockproto.ErrNoTransfer)
	// Malformed chunk bodies.
	wantRefusal(t, "empty chunk body", chunkErr(t, s, nil), lockproto.ErrMalformed)
	wantRefusal(t, "chunk without data", chunkErr(t, s, lockproto.EncodeChunk(m1.Digest, 3, nil)), lockproto.ErrMalformed)
	// Nothing was lost: the manifest again says chunk 3.
	body, err := s.Request(ctx, lockproto.ChanManifest, m1raw, lockproto.ChanTransfer)
	if err != nil {
		t.Fatal(err)
	}
	st, err := lockproto.DecodeTransferStatus(body)
	if err != nil || st.Next != 3 {
		t.Fatalf("after refused chunks the lock wants %+v (%v), want chunk 3", st, err)
	}
	// The newer version replaces the older transfer; the older may then not
	// displace it.
	if _, err := s.Request(ctx, lockproto.ChanManifest, m2raw, lockproto.ChanTransfer); err != nil {
		t.Fatal(err)
	}
	_, err = s.Request(ctx, lockproto.ChanManifest, m1raw, lockproto.ChanTransfer)
	wantRefusal(t, "older manifest while a newer one is assembled", err, lockproto.ErrStale)
	ack, err := s.DeliverChunked(ctx, m2raw, v2, nil)
	if err != nil {
		t.Fatal(err)
	}
	applied(t, d, ack, 2, 1500)
	// Version 1 is stale now: refused at the manifest, with an ack saying
	// where the lock stands, before a single chunk.
	_, err = s.DeliverChunked(ctx, m1raw, v1, nil)
	var re *ble.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, lockproto.ErrStale) || re.Ack == nil {
		t.Fatalf("stale manifest: %v", err)
	}
}

// TestChunkedManifestRefused: manifests the cloud did not sign for this lock.
func TestChunkedManifestRefused(t *testing.T) {
	d := newDoor(t)
	cfg := ble.Config{Rate: -1}
	addr := serveBLE(t, d, cfg)
	s := newPhone(t, d, false).connect(t, d, addr, cfg)
	ctx := context.Background()
	send := func(m []byte) error {
		_, err := s.Request(ctx, lockproto.ChanManifest, m, lockproto.ChanTransfer)
		return err
	}

	// Another lock of the same property.
	other := newDoor(t)
	other.propPub, other.propPriv = d.propPub, d.propPriv
	otherKeys, err := lockproto.NewLockKeys("lock-b")
	if err != nil {
		t.Fatal(err)
	}
	other.keys = otherKeys
	_, mb := snapshot(t, other, 1000, 1, "x")
	wantRefusal(t, "manifest for another lock", send(mb), lockproto.ErrWrongLock)

	// Signed by another property's key.
	forger := newDoor(t)
	forger.keys = d.keys
	_, mf := snapshot(t, forger, 1000, 1, "x")
	wantRefusal(t, "manifest signed by another key", send(mf), lockproto.ErrSignature)

	// Altered after signing, truncated, empty.
	_, mg := snapshot(t, d, 1000, 1, "x")
	bad := append([]byte(nil), mg...)
	bad[len(bad)/2] ^= 1
	if err := send(bad); err == nil {
		t.Fatal("altered manifest accepted")
	}
	wantRefusal(t, "truncated manifest", send(mg[:len(mg)-10]), lockproto.ErrMalformed)
	wantRefusal(t, "empty manifest", send(nil), lockproto.ErrMalformed)

	// The phone checks the bundle it carries against the manifest.
	sealed, _ := snapshot(t, d, 1000, 1, "y")
	if _, err := s.DeliverChunked(ctx, mg, sealed, nil); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("bundle that is not the manifest's: %v", err)
	}
}

// TestChunkedNeedsProof: without a proven credential the lock takes no
// manifest and no chunk.
func TestChunkedNeedsProof(t *testing.T) {
	d := newDoor(t)
	cfg := ble.Config{Rate: -1}
	addr := serveBLE(t, d, cfg)
	_, manifest := snapshot(t, d, 1000, 1, "z")
	ctx := context.Background()
	s, err := ble.DialLock(ctx, addr, cfg, d.keys.LockID, d.keys.Public)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Request(ctx, lockproto.ChanManifest, manifest, lockproto.ChanTransfer)
	wantRefusal(t, "manifest before a proof", err, lockproto.ErrNotAuthenticated)
}

// TestChunkedSnapshot333 is the figure's real run: the 5,000-entry snapshot
// over a real loopback link paced at 333 B/s, dropped halfway, resumed on
// a new connection. It takes about 12 minutes, so it runs only with
// DOOROS_TEST_BLE_333=1 (docs/bench-lock.md).
func TestChunkedSnapshot333(t *testing.T) {
	if os.Getenv("DOOROS_TEST_BLE_333") == "" {
		t.Skip("DOOROS_TEST_BLE_333 not set: the real 333 B/s run takes about 12 minutes")
	}
	d := newDoor(t)
	cfg := ble.Config{Rate: ble.WorstCaseRate}
	proxy := newDropProxy(t, serveBLE(t, d, cfg))
	sealed, manifest := snapshot(t, d, 5000, 1, "d")
	m, _ := lockproto.ReadBundleManifest(manifest)
	p := newPhone(t, d, false)
	proxy.cut.Store(int64(len(sealed) / 2))
	start := time.Now()
	var first progressLog
	_, err := p.connect(t, d, proxy.addr, cfg).DeliverChunked(context.Background(), manifest, sealed, first.f)
	if err == nil {
		t.Fatal("the link was not cut")
	}
	dropAt := time.Since(start)
	var second progressLog
	ack, err := p.connect(t, d, proxy.addr, cfg).DeliverChunked(context.Background(), manifest, sealed, second.f)
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	applied(t, d, ack, 1, 5000)
	t.Logf("%d-byte snapshot, %d chunks at %d B/s: link cut after %v with %d chunks on the lock, resumed at chunk %d, applied after %v (both handshakes and proofs included)",
		len(sealed), len(m.Chunks), cfg.Rate, dropAt.Round(time.Second), first.last(), second.first(), el.Round(time.Second))
}
