package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/store/storetest"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type phone struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newPhone() phone {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	return phone{pub, priv}
}

// TestEndToEnd runs the simulator in-process and plays the cloud and two
// phones against it over the TCP "BLE" link.
func TestEndToEnd(t *testing.T) {
	propPub, propPriv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("door-lobby")
	dir := t.TempDir()
	provFile := filepath.Join(dir, "lock.json")
	provJSON, _ := json.Marshal(lockproto.NewProvisioning(keys, propPub, "America/New_York", time.Now()))
	if err := os.WriteFile(provFile, provJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	var out, logs syncBuffer
	if err := run(t.Context(), []string{"provision", "--state", state, provFile}, os.Getenv, nil, &out, &logs); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"provision", "--state", state, provFile}, os.Getenv, nil, &out, &logs); err == nil {
		t.Fatal("re-provisioning an existing lock succeeded")
	}

	bleAddr, ctlAddr := freeAddr(t), freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"run", "--state", state, "--ble", bleAddr, "--control", ctlAddr, "--rate", "16384"}, os.Getenv, nil, &out, &logs)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := ask(t.Context(), ctlAddr, "status"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("doorlock did not come up: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	cfg := ble.Config{Rate: 16384}
	issue := func(p phone, person string, serial uint64, notAfter time.Time) []byte {
		now := time.Now()
		c, err := lockproto.IssueCredential(propPriv, lockproto.Credential{
			Serial: serial, PersonID: person, DeviceKey: p.pub, Locks: []lockproto.LockAccess{{LockID: "door-lobby"}},
			NotBefore: now.Add(-time.Minute), NotAfter: notAfter, IssuedAt: now.Add(-time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	unlock := func(p phone, cred []byte) *lockproto.UnlockResult {
		t.Helper()
		s, err := ble.DialLock(t.Context(), bleAddr, cfg, "door-lobby", keys.Public)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Unlock(t.Context(), cred, p.priv, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	daySecret := make([]byte, 32)
	rand.Read(daySecret)
	alice, bob, carol := newPhone(), newPhone(), newPhone()
	aliceCred := issue(alice, "alice", 1, time.Now().Add(23*time.Hour))

	t.Run("NewUserAdmittedWithoutSync", func(t *testing.T) {
		if res := unlock(alice, aliceCred); !res.Granted {
			t.Fatalf("result = %+v", res)
		}
	})

	t.Run("RevokedUserRefusedAfterRelay", func(t *testing.T) {
		sealed, err := lockproto.SealBundle(propPriv, keys.Symmetric, lockproto.Bundle{
			LockID: "door-lobby", Base: 0, Version: 1, TrustedTime: time.Now(),
			Revocations: []lockproto.Revocation{{PersonID: "alice", EffectiveAt: time.Now()}},
			Doorcodes:   []lockproto.DoorcodeEntry{{Code: "2468024", PersonID: "bob"}},
			DayKeys:     []lockproto.DayKey{{KeyID: "key_lobby", Secret: daySecret, Digits: 7, Slots: 1, ActiveSlots: []uint16{0}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Bob's phone is the courier: it relays during its own unlock,
		// inside the channel his unlock authenticated.
		s, err := ble.DialLock(t.Context(), bleAddr, cfg, "door-lobby", keys.Public)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		res, err := s.Unlock(t.Context(), issue(bob, "bob", 2, time.Now().Add(time.Hour)), bob.priv, nil)
		if err != nil || !res.Granted || !res.Authenticated || res.Version != 0 {
			t.Fatalf("bob: %+v %v", res, err)
		}
		ackRaw, err := s.DeliverBundle(t.Context(), sealed)
		if err != nil {
			t.Fatal(err)
		}
		ack, err := lockproto.VerifyAck(keys.Public, "door-lobby", ackRaw)
		if err != nil || ack.Status != lockproto.AckApplied || ack.Version != 1 {
			t.Fatalf("ack %+v %v", ack, err)
		}
		if res := unlock(alice, aliceCred); res.Granted || res.Reason != "revoked" {
			t.Fatalf("alice after revocation: %+v", res)
		}

		// The same bundle again is refused but acknowledged; a delta on a
		// wrong base asks for a snapshot.
		_, err = s.DeliverBundle(t.Context(), sealed)
		var re *ble.RemoteError
		if !errors.Is(err, lockproto.ErrStale) || !errors.As(err, &re) || len(re.Ack) == 0 {
			t.Fatalf("replay: %v", err)
		}
		wrongBase, _ := lockproto.SealBundle(propPriv, keys.Symmetric, lockproto.Bundle{LockID: "door-lobby", Base: 5, Version: 6, TrustedTime: time.Now()})
		if _, err := s.DeliverBundle(t.Context(), wrongBase); !errors.Is(err, lockproto.ErrWrongBase) {
			t.Fatalf("wrong base: %v", err)
		}
	})

	t.Run("KeypadAndCardOverControlSocket", func(t *testing.T) {
		var o syncBuffer
		if err := run(t.Context(), []string{"keypad", "--control", ctlAddr, "2468024"}, os.Getenv, nil, &o, &o); err != nil {
			t.Fatalf("keypad: %v %s", err, o.String())
		}
		if !strings.Contains(o.String(), "granted doorcode person=bob") {
			t.Fatalf("output %q", o.String())
		}
		// A guest's day code has no person behind it: the line names its key.
		loc, _ := time.LoadLocation("America/New_York")
		// The lock's clock may lag the test's by a second: not at midnight.
		storetest.AwayFromMidnight(t, loc, 5*time.Second)
		dayCode := lockproto.GuestCode(daySecret, lockproto.DayCode, lockproto.DayNumber(time.Now(), loc), 0, 7)
		o.mu.Lock()
		o.b.Reset()
		o.mu.Unlock()
		if err := run(t.Context(), []string{"keypad", "--control", ctlAddr, dayCode}, os.Getenv, nil, &o, &o); err != nil {
			t.Fatalf("day code: %v %s", err, o.String())
		}
		if got := o.String(); !strings.Contains(got, "key=key_lobby") || strings.Contains(got, "person=") {
			t.Fatalf("day code output %q, want it to name the key", got)
		}
		if err := run(t.Context(), []string{"keypad", "--control", ctlAddr, "1111111"}, os.Getenv, nil, &o, &o); !errors.Is(err, errDenied) {
			t.Fatalf("wrong code: %v", err)
		}
		if err := run(t.Context(), []string{"card", "--control", ctlAddr, "04FF"}, os.Getenv, nil, &o, &o); !errors.Is(err, errDenied) {
			t.Fatalf("unknown card: %v", err)
		}
	})

	t.Run("CredentialExpiresWithoutSync", func(t *testing.T) {
		expiry := time.Now().Truncate(time.Second).Add(2 * time.Second)
		cred := issue(carol, "carol", 3, expiry)
		if res := unlock(carol, cred); !res.Granted {
			t.Fatalf("before expiry: %+v", res)
		}
		// The lock's clock runs from whole-second trusted timestamps, so it
		// may trail the test's clock by up to a second: wait past that.
		time.Sleep(time.Until(expiry) + 1500*time.Millisecond)
		if res := unlock(carol, cred); res.Granted || res.Reason != "expired" {
			t.Fatalf("after expiry: %+v", res)
		}
	})

	t.Run("LogCollectedAndVerified", func(t *testing.T) {
		s, err := ble.DialLock(t.Context(), bleAddr, cfg, "door-lobby", keys.Public)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.FetchLog(t.Context(), 1); !errors.Is(err, lockproto.ErrNotAuthenticated) {
			t.Fatalf("log read before any proof: %v", err)
		}
		if res, err := s.Authenticate(t.Context(), issue(bob, "bob", 4, time.Now().Add(time.Hour)), bob.priv, nil); err != nil || !res.Authenticated {
			t.Fatalf("authenticate: %+v %v", res, err)
		}
		raw, err := s.FetchLog(t.Context(), 1)
		if err != nil {
			t.Fatal(err)
		}
		b, _, err := lockproto.OpenEventBatch(keys.Public, "door-lobby", keys.Symmetric, raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Continues(1, lockproto.GenesisHash); err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, e := range b.Events {
			counts[e.Kind]++
		}
		if counts[lockproto.EventUnlockGranted] != 3 || counts[lockproto.EventUnlockDenied] != 2 || counts[lockproto.EventBundleApplied] != 1 || counts[lockproto.EventCodeGranted] != 2 { // Bob's doorcode and the guest day code
			t.Fatalf("event counts %v", counts)
		}
	})

	if !strings.Contains(logs.String(), "decision") {
		t.Fatalf("decisions not logged: %s", logs.String())
	}
}

func TestRunUsage(t *testing.T) {
	var o bytes.Buffer
	if err := run(t.Context(), nil, os.Getenv, nil, &o, &o); err == nil {
		t.Fatal("no command accepted")
	}
	if err := run(t.Context(), []string{"run"}, os.Getenv, nil, &o, &o); err == nil {
		t.Fatal("run without --state accepted")
	}
	if err := run(t.Context(), []string{"run", "--state", t.TempDir()}, os.Getenv, nil, &o, &o); !errors.Is(err, lockproto.ErrNotProvisioned) {
		t.Fatalf("unprovisioned: %v", err)
	}
	if strings.Contains(o.String(), "--mqtt-password puts") {
		t.Fatal("warned about --mqtt-password without the flag")
	}
	o.Reset()
	run(t.Context(), []string{"run", "--state", t.TempDir(), "--mqtt-password", "secret"}, os.Getenv, nil, &o, &o)
	if !strings.Contains(o.String(), "level=WARN") || !strings.Contains(o.String(), "DOORLOCK_MQTT_PASSWORD") {
		t.Errorf("--mqtt-password on the command line gave no warning: %q", o.String())
	}
}

// TestProvisionMessages: the whole API answer is accepted for its
// "provisioning" object, a provisioned state directory says how to
// proceed (and --force replaces it, keeping the old one aside), and
// keypad or card without their argument say what is missing.
func TestProvisionMessages(t *testing.T) {
	propPub, _, _ := lockproto.NewPropertyKey()
	dir := t.TempDir()
	write := func(name string, v any) string {
		b, _ := json.Marshal(v)
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	keys, _ := lockproto.NewLockKeys("door-gym")
	prov := lockproto.NewProvisioning(keys, propPub, "UTC", time.Now())
	whole := write("answer.json", map[string]any{"provisioning": prov, "mqtt_password": "x", "mqtt_url": "mqtt://127.0.0.1:1883"})
	state := filepath.Join(dir, "state")
	var out, errb bytes.Buffer
	t.Run("OKWholeAPIAnswer", func(t *testing.T) {
		if err := run(t.Context(), []string{"provision", "--state", state, whole}, os.Getenv, nil, &out, &errb); err != nil {
			t.Fatalf("provision with the whole API answer: %v", err)
		}
	})
	t.Run("ErrAlreadyProvisionedSaysHowToProceed", func(t *testing.T) {
		err := run(t.Context(), []string{"provision", "--state", state, whole}, os.Getenv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "new --state") {
			t.Fatalf("re-provision = %v, want it to name --force and a new --state", err)
		}
	})
	t.Run("OKForceKeepsTheOldStateAside", func(t *testing.T) {
		keys2, _ := lockproto.NewLockKeys("door-gym")
		next := write("next.json", lockproto.NewProvisioning(keys2, propPub, "UTC", time.Now()))
		if err := run(t.Context(), []string{"provision", "--state", state, "--force", next}, os.Getenv, nil, &out, &errb); err != nil {
			t.Fatalf("provision --force: %v", err)
		}
		aside, _ := filepath.Glob(state + ".replaced-*")
		if len(aside) != 1 {
			t.Errorf("old state kept aside: %v, want one directory", aside)
		}
	})
	t.Run("ErrNotProvisioningSaysWhatToPass", func(t *testing.T) {
		bad := write("bad.json", map[string]any{"lock_id": 42})
		err := run(t.Context(), []string{"provision", "--state", filepath.Join(dir, "other"), bad}, os.Getenv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "jq .provisioning") {
			t.Fatalf("bad file = %v, want a hint to pass the provisioning object", err)
		}
	})
	t.Run("ErrKeypadWithoutCode", func(t *testing.T) {
		err := run(t.Context(), []string{"keypad", "--control", "127.0.0.1:1"}, os.Getenv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "CODE to type is missing") {
			t.Fatalf("keypad without a code = %v", err)
		}
		err = run(t.Context(), []string{"card", "--control", "127.0.0.1:1"}, os.Getenv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "SERIAL to tap is missing") {
			t.Fatalf("card without a serial = %v", err)
		}
	})
}
