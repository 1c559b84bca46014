package locksim_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
	"github.com/fxamacker/cbor/v2"
)

// site is a property with two doors (the gym and the flat) and a resident
// whose credential opens both, attacked as an outsider would: over the BLE
// link, with only the exported API.
type site struct {
	propPub   ed25519.PublicKey
	propPriv  ed25519.PrivateKey
	gym, flat *door
	devPriv   ed25519.PrivateKey
	cred      []byte
}

type door struct {
	id   string
	keys *lockproto.LockKeys
	sim  *locksim.Sim
}

func startDoor(t *testing.T, id string, propPub ed25519.PublicKey, keys *lockproto.LockKeys, cfg ble.Config) *door {
	t.Helper()
	if keys == nil {
		var err error
		if keys, err = lockproto.NewLockKeys(id); err != nil {
			t.Fatal(err)
		}
	}
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, lockproto.NewProvisioning(keys, propPub, "Europe/Berlin", time.Now())); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := locksim.Start(t.Context(), locksim.Config{Lock: l, BLE: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	return &door{id: id, keys: keys, sim: sim}
}

func newSite(t *testing.T, cfg ble.Config) *site {
	t.Helper()
	s := &site{}
	s.propPub, s.propPriv, _ = lockproto.NewPropertyKey()
	s.gym = startDoor(t, "door-gym", s.propPub, nil, cfg)
	s.flat = startDoor(t, "door-flat", s.propPub, nil, cfg)
	var devPub ed25519.PublicKey
	devPub, s.devPriv, _ = ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	var err error
	s.cred, err = lockproto.IssueCredential(s.propPriv, lockproto.Credential{
		Serial: 42, PersonID: "p-alice", DeviceKey: devPub,
		Locks:     []lockproto.LockAccess{{LockID: "door-gym"}, {LockID: "door-flat"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IssuedAt: now.Add(-time.Minute),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// certifiedKey is what the phone gets from the cloud for d: the lock
// certificate, verified with the property key.
func (s *site) certifiedKey(t *testing.T, d *door) ed25519.PublicKey {
	t.Helper()
	raw, err := lockproto.IssueLockCertificate(s.propPriv, lockproto.LockCertificate{LockID: d.id, PublicKey: d.keys.Public, IssuedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lockproto.VerifyLockCertificate(s.propPub, raw)
	if err != nil {
		t.Fatal(err)
	}
	return c.PublicKey
}

// relay forwards every byte between phones that connect to it and target:
// a man in the middle that needs no key at all. It records what passes.
type relay struct {
	addr     string
	mu       sync.Mutex
	up, down bytes.Buffer
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	r := &relay{addr: ln.Addr().String()}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pipe := func(dst, src net.Conn, rec *bytes.Buffer) {
				defer dst.Close()
				buf := make([]byte, 4096)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						r.mu.Lock()
						rec.Write(buf[:n])
						r.mu.Unlock()
						dst.Write(buf[:n])
					}
					if err != nil {
						return
					}
				}
			}
			go pipe(u, c, &r.up)
			go pipe(c, u, &r.down)
		}
	}()
	return r
}

func (r *relay) recorded() (up, down []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.up.Bytes()), bytes.Clone(r.down.Bytes())
}

func logNext(d *door) uint64 { return d.sim.Lock.Status().LogNext }

// The resident means to open the gym; a relay carries the radio to the
// flat's lock. v1 signed whatever lock id the challenge named and the flat
// opened. Now the flat cannot prove it is the gym, so the phone stops
// before sending its credential and the flat neither opens nor hears it.
func TestAttackRelayToAnotherDoor(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	r := startRelay(t, s.flat.sim.BLEAddr)
	before := logNext(s.flat)
	_, err := ble.DialLock(t.Context(), r.addr, ble.Config{Rate: -1}, "door-gym", s.certifiedKey(t, s.gym))
	if !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("relay to the flat: %v, want ErrSignature", err)
	}
	if logNext(s.flat) != before {
		t.Fatal("the flat's lock logged something: it received a proof")
	}
	up, _ := r.recorded()
	if bytes.Contains(up, s.cred[len(s.cred)-64:]) || bytes.Contains(up, []byte("p-alice")) {
		t.Fatal("the credential crossed the relay")
	}
}

// A fake lock (its own key, posing as the gym) collects nothing and cannot
// say "granted": the phone refuses its handshake.
func TestAttackFakeLock(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	fakeKeys, _ := lockproto.NewLockKeys("door-gym")
	fake := startDoor(t, "door-gym", s.propPub, fakeKeys, ble.Config{Rate: -1})
	r := startRelay(t, fake.sim.BLEAddr)
	before := logNext(fake)
	_, err := ble.DialLock(t.Context(), r.addr, ble.Config{Rate: -1}, "door-gym", s.certifiedKey(t, s.gym))
	if !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("fake lock: %v, want ErrSignature", err)
	}
	if logNext(fake) != before {
		t.Fatal("the fake lock received a proof")
	}
	up, _ := r.recorded()
	if bytes.Contains(up, []byte("p-alice")) || bytes.Contains(up, s.cred[len(s.cred)-64:]) {
		t.Fatal("credential sent to a fake lock")
	}
}

// Over a genuine channel an eavesdropper sees neither the credential
// (person, serial, doors) nor the lock's answer.
func TestChannelHidesCredentialAndResult(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	r := startRelay(t, s.gym.sim.BLEAddr)
	sess, err := ble.DialLock(t.Context(), r.addr, ble.Config{Rate: -1}, "door-gym", s.certifiedKey(t, s.gym))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	res, err := sess.Unlock(t.Context(), s.cred, s.devPriv, nil)
	if err != nil || !res.Granted || res.Reason != "ok" {
		t.Fatalf("genuine unlock through a passive relay: %+v %v", res, err)
	}
	up, down := r.recorded()
	for _, secret := range [][]byte{[]byte("p-alice"), []byte("door-flat"), s.cred[len(s.cred)-64:]} {
		if bytes.Contains(up, secret) {
			t.Fatalf("%q visible on the air", secret)
		}
	}
	// The reason "ok" as CBOR text (0x62 'o' 'k'): the two letters alone
	// turn up in a few hundred random ciphertext bytes about once in 200
	// runs.
	if bytes.Contains(down, []byte{0x62, 'o', 'k'}) {
		t.Fatal("the result is visible on the air")
	}
}

// A device with no credential (or one for another lock, or a forged one)
// reads no log and delivers no bundle, even inside a genuine channel.
func TestAttackLogReadWithoutCredential(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	key := s.certifiedKey(t, s.gym)
	open := func(t *testing.T) *ble.Session {
		sess, err := ble.DialLock(t.Context(), s.gym.sim.BLEAddr, ble.Config{Rate: -1}, "door-gym", key)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Close() })
		return sess
	}
	refused := func(t *testing.T, sess *ble.Session) {
		t.Helper()
		if _, err := sess.FetchLog(t.Context(), 1); !errors.Is(err, lockproto.ErrNotAuthenticated) {
			t.Fatalf("log read: %v, want ErrNotAuthenticated", err)
		}
		if _, err := sess.DeliverBundle(t.Context(), []byte{1, 2, 3}); !errors.Is(err, lockproto.ErrNotAuthenticated) {
			t.Fatalf("bundle: %v, want ErrNotAuthenticated", err)
		}
	}
	t.Run("NoChannel", func(t *testing.T) {
		sess, err := ble.Dial(t.Context(), s.gym.sim.BLEAddr, ble.Config{Rate: -1})
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		if _, err := sess.FetchLog(t.Context(), 1); err == nil {
			t.Fatal("log read without a channel")
		}
	})
	t.Run("NoProof", func(t *testing.T) { refused(t, open(t)) })
	t.Run("CredentialForAnotherLock", func(t *testing.T) {
		sess := open(t)
		devPub, devPriv, _ := ed25519.GenerateKey(rand.Reader)
		other, _ := lockproto.IssueCredential(s.propPriv, lockproto.Credential{Serial: 7, PersonID: "p-bob", DeviceKey: devPub,
			Locks: []lockproto.LockAccess{{LockID: "door-flat"}}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IssuedAt: time.Now()})
		res, err := sess.Authenticate(t.Context(), other, devPriv, nil)
		if err != nil || res.Authenticated || res.Reason != lock.ReasonOtherLock {
			t.Fatalf("authenticate: %+v %v", res, err)
		}
		refused(t, sess)
	})
	t.Run("StolenCredentialWithoutDeviceKey", func(t *testing.T) {
		sess := open(t)
		_, thief, _ := ed25519.GenerateKey(rand.Reader)
		res, err := sess.Authenticate(t.Context(), s.cred, thief, nil)
		if err != nil || res.Authenticated || res.Reason != lock.ReasonBadDeviceSig {
			t.Fatalf("authenticate: %+v %v", res, err)
		}
		refused(t, sess)
	})
	t.Run("ValidCredentialReads", func(t *testing.T) {
		sess := open(t)
		before := logNext(s.gym)
		res, err := sess.Authenticate(t.Context(), s.cred, s.devPriv, nil)
		if err != nil || !res.Authenticated || res.Granted {
			t.Fatalf("authenticate: %+v %v", res, err)
		}
		if logNext(s.gym) != before {
			t.Fatal("a sync-only proof opened or logged an unlock")
		}
		raw, err := sess.FetchLog(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := lockproto.OpenEventBatch(s.gym.keys.Public, "door-gym", s.gym.keys.Symmetric, raw); err != nil {
			t.Fatal(err)
		}
	})
}

// Strangers connecting and handshaking over and over never evict a
// resident's channel (its challenge): connections over the limit are
// refused on arrival instead.
func TestAttackHellosDoNotEvict(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1, MaxConns: 4})
	key := s.certifiedKey(t, s.gym)
	mine, err := ble.DialLock(t.Context(), s.gym.sim.BLEAddr, ble.Config{Rate: -1}, "door-gym", key)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	opened, refused := 0, 0
	for range 20 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		sess, err := ble.DialLock(ctx, s.gym.sim.BLEAddr, ble.Config{Rate: -1}, "door-gym", key)
		cancel()
		if err != nil {
			refused++
			continue
		}
		opened++
		defer sess.Close()
	}
	if opened != 3 || refused != 17 {
		t.Fatalf("%d strangers got a channel, %d refused; want 3 and 17 with 4 slots", opened, refused)
	}
	res, err := mine.Unlock(t.Context(), s.cred, s.devPriv, nil)
	if err != nil || !res.Granted {
		t.Fatalf("resident's unlock after 20 hellos: %+v %v", res, err)
	}
}

// frame writes one raw link frame: [length u16][flags][seq][payload].
func frame(flags, seq byte, payload []byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(4+len(payload)))
	return append(append(b, flags, seq), payload...)
}

// Unfinished 4 MiB messages on many connections: a stranger's message may
// be no longer than a hello, so the lock refuses the announced length at
// once and reserves nothing; connections over the limit are closed.
func TestAttackUnfinishedLargeMessages(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	var wg sync.WaitGroup
	closed := make(chan bool, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", s.gym.sim.BLEAddr)
			if err != nil {
				closed <- true
				return
			}
			defer c.Close()
			// First frame of a 4 MiB message, then silence.
			payload := binary.BigEndian.AppendUint32(nil, 4<<20)
			payload = append(payload, make([]byte, ble.DefaultMTU-8)...)
			c.Write(frame(1, 0, payload))
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			_, err = io.ReadAll(c)
			// EOF or a reset: the lock hung up; a timeout: it is still waiting.
			var ne net.Error
			closed <- !(errors.As(err, &ne) && ne.Timeout())
		}()
	}
	wg.Wait()
	close(closed)
	n := 0
	for ok := range closed {
		if ok {
			n++
		}
	}
	if n != 40 {
		t.Fatalf("%d of 40 connections holding an unfinished 4 MiB message were closed by the lock", n)
	}
	// The lock still serves a resident.
	sess, err := ble.DialLock(t.Context(), s.gym.sim.BLEAddr, ble.Config{Rate: -1}, "door-gym", s.certifiedKey(t, s.gym))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if res, err := sess.Unlock(t.Context(), s.cred, s.devPriv, nil); err != nil || !res.Granted {
		t.Fatalf("unlock after the flood: %+v %v", res, err)
	}
}

// A v1 phone's hello gets a v1-shaped error that says why.
func TestV1HelloRefusedClearly(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	c, err := net.Dial("tcp", s.gym.sim.BLEAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v1Hello := []byte{1, 1} // format version 1, Hello, empty body
	c.Write(frame(3, 0, append(binary.BigEndian.AppendUint32(nil, uint32(len(v1Hello))), v1Hello...)))
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	reply, err := io.ReadAll(c)
	if err != nil || len(reply) < 10 {
		t.Fatalf("reply %x: %v", reply, err)
	}
	msg := reply[8:] // frame header and length prefix
	if msg[0] != 1 || msg[1] != 9 {
		t.Fatalf("reply is not a v1 error message: % x", msg[:2])
	}
	var e struct {
		Code    string `cbor:"1,keyasint"`
		Message string `cbor:"2,keyasint"`
	}
	if err := cbor.Unmarshal(msg[2:], &e); err != nil || e.Code != "version" || !bytes.Contains([]byte(e.Message), []byte("no longer accepted")) {
		t.Fatalf("v1 refusal %+v %v", e, err)
	}
}

// UnlockCached sends the credential whole only when the lock does not hold
// it, and by reference afterwards: fewer bytes on a slow link.
func TestUnlockCachedOverBLE(t *testing.T) {
	s := newSite(t, ble.Config{Rate: -1})
	key := s.certifiedKey(t, s.gym)
	sent := func() int {
		r := startRelay(t, s.gym.sim.BLEAddr)
		sess, err := ble.DialLock(t.Context(), r.addr, ble.Config{Rate: -1}, "door-gym", key)
		if err != nil {
			t.Fatal(err)
		}
		defer sess.Close()
		res, err := sess.UnlockCached(t.Context(), s.cred, s.devPriv, nil)
		if err != nil || !res.Granted {
			t.Fatalf("cached unlock: %+v %v", res, err)
		}
		up, _ := r.recorded()
		return len(up)
	}
	first, again := sent(), sent()
	if again >= first-len(s.cred)/2 {
		t.Fatalf("phone sent %d bytes the first time and %d once the lock held the credential", first, again)
	}
}

// TestSlowLargeMessageIsNotCut: the lock's idle timeout bounds the silence
// between two frames, not a whole message. A 3 KB message takes about 1.5 s
// at 2,000 B/s, five times the idle timeout here; the lock must read it to
// the end and answer (it refuses the junk as a bundle), not hang up.
func TestSlowLargeMessageIsNotCut(t *testing.T) {
	cfg := ble.Config{Rate: 2000, IdleTimeout: 300 * time.Millisecond}
	s := newSite(t, cfg)
	sess, err := ble.DialLock(t.Context(), s.gym.sim.BLEAddr, cfg, "door-gym", s.certifiedKey(t, s.gym))
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if res, err := sess.Authenticate(t.Context(), s.cred, s.devPriv, nil); err != nil || !res.Authenticated {
		t.Fatalf("authenticate: %+v %v", res, err)
	}
	start := time.Now()
	_, err = sess.DeliverBundle(t.Context(), bytes.Repeat([]byte{0xA5}, 3000))
	var re *ble.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("after %v: %v, want the lock's refusal of the junk bundle", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("3 KB at 2,000 B/s read to the end in %v with a 300 ms idle timeout", time.Since(start).Round(time.Millisecond))
}
