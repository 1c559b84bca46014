package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/dooros/dooros/lockproto"
	"github.com/fxamacker/cbor/v2"
)

// handshake runs both sides; the phone expects lockID with lockPub, the
// answering lock is (answerID, answerKey).
func handshake(t testing.TB, lockID string, lockPub ed25519.PublicKey, answerID string, answerKey ed25519.PrivateKey) (phone, lock *lockproto.Channel, err error) {
	t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(lockID, lockPub)
	if err != nil {
		t.Fatal(err)
	}
	lock, accept, err := lockproto.AcceptChannel(answerID, answerKey, hello)
	if err != nil {
		t.Fatal(err)
	}
	phone, err = hs.Finish(accept)
	return phone, lock, err
}

func TestChannelRoundTrip(t *testing.T) {
	f := newFixture(t)
	phone, lock, err := handshake(t, "lock-1", f.lock.Public, "lock-1", f.lock.Private)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(phone.Binding(), lock.Binding()) || phone.LockID() != "lock-1" {
		t.Fatal("the two ends disagree on the transcript")
	}
	for i := range 3 {
		msg := []byte{byte(i), 'x'}
		got, err := lock.Open(phone.Seal(msg))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("phone→lock %d: %v", i, err)
		}
		got, err = phone.Open(lock.Seal(msg))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("lock→phone %d: %v", i, err)
		}
	}
	// What travels reveals nothing of what is sealed.
	secret := []byte("p-1 serial 7 credential")
	if bytes.Contains(phone.Seal(secret), secret) {
		t.Fatal("plaintext visible in a sealed frame")
	}
}

// A fake lock (its own key) or a relay to another door (that door's real
// lock, with its own key and id) cannot finish the handshake, so the phone
// never sends its credential to either.
func TestChannelRefusesFakeOrOtherLock(t *testing.T) {
	f := newFixture(t)
	other, _ := lockproto.NewLockKeys("lock-2")
	_, fake, _ := ed25519.GenerateKey(rand.Reader)
	t.Run("FakeLockSameID", func(t *testing.T) {
		if _, _, err := handshake(t, "lock-1", f.lock.Public, "lock-1", fake); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("fake lock: %v", err)
		}
	})
	t.Run("RelayToOtherDoor", func(t *testing.T) {
		if _, _, err := handshake(t, "lock-1", f.lock.Public, "lock-2", other.Private); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("other door: %v", err)
		}
	})
	t.Run("GenuineKeyOtherID", func(t *testing.T) {
		// The right key signing a transcript with another lock id.
		if _, _, err := handshake(t, "lock-1", f.lock.Public, "lock-2", f.lock.Private); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("id mismatch: %v", err)
		}
	})
	t.Run("OtherDoorClaimingChosenID", func(t *testing.T) {
		if _, _, err := handshake(t, "lock-1", f.lock.Public, "lock-1", other.Private); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("other door's key: %v", err)
		}
	})
	t.Run("ForwardedAccept", func(t *testing.T) {
		// A relay forwards the real lock's accept made for another hello.
		_, hello1, _ := lockproto.NewPhoneHandshake("lock-1", f.lock.Public)
		_, accept1, err := lockproto.AcceptChannel("lock-1", f.lock.Private, hello1)
		if err != nil {
			t.Fatal(err)
		}
		hs2, _, _ := lockproto.NewPhoneHandshake("lock-1", f.lock.Public)
		if _, err := hs2.Finish(accept1); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("accept of another handshake: %v", err)
		}
	})
}

func TestChannelFramesAttacks(t *testing.T) {
	f := newFixture(t)
	fresh := func() (*lockproto.Channel, *lockproto.Channel) {
		p, l, err := handshake(t, "lock-1", f.lock.Public, "lock-1", f.lock.Private)
		if err != nil {
			t.Fatal(err)
		}
		return p, l
	}
	t.Run("Replayed", func(t *testing.T) {
		p, l := fresh()
		fr := p.Seal([]byte("unlock"))
		if _, err := l.Open(fr); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Open(fr); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("replayed frame: %v", err)
		}
	})
	t.Run("Reordered", func(t *testing.T) {
		p, l := fresh()
		a, b := p.Seal([]byte("a")), p.Seal([]byte("b"))
		if _, err := l.Open(b); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("second frame first: %v", err)
		}
		// The channel is broken for good, even for the right frame.
		if _, err := l.Open(a); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("after a bad frame: %v", err)
		}
	})
	t.Run("CrossSession", func(t *testing.T) {
		p1, _ := fresh()
		_, l2 := fresh()
		if _, err := l2.Open(p1.Seal([]byte("unlock"))); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("frame of another channel: %v", err)
		}
	})
	t.Run("Reflected", func(t *testing.T) {
		// The lock's own frame sent back to it: directions have own keys.
		_, l := fresh()
		if _, err := l.Open(l.Seal([]byte("x"))); !errors.Is(err, lockproto.ErrDecrypt) {
			t.Fatalf("reflected frame: %v", err)
		}
	})
	t.Run("BitFlips", func(t *testing.T) {
		fr := func() ([]byte, *lockproto.Channel) { p, l := fresh(); return p.Seal([]byte("hello lock")), l }
		f0, _ := fr()
		for i := range len(f0) {
			b, l := fr()
			b[i] ^= 0x20
			if _, err := l.Open(b); !errors.Is(err, lockproto.ErrDecrypt) {
				t.Fatalf("flip in byte %d: %v", i, err)
			}
		}
	})
}

func TestChannelHandshakeBadInput(t *testing.T) {
	f := newFixture(t)
	_, hello, _ := lockproto.NewPhoneHandshake("lock-1", f.lock.Public)
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	bad := map[string][]byte{
		"Empty":       nil,
		"Truncated":   hello[:len(hello)-1],
		"Trailing":    append(append([]byte(nil), hello...), 0),
		"V1":          enc(map[int]any{0: 1, 1: make([]byte, 32)}),
		"ShortKey":    enc(map[int]any{0: lockproto.Version, 1: make([]byte, 31)}),
		"ZeroKey":     enc(map[int]any{0: lockproto.Version, 1: make([]byte, 32)}), // low-order point: all-zero secret
		"ExtraField":  enc(map[int]any{0: lockproto.Version, 1: make([]byte, 32), 2: 1}),
		"TooLarge":    make([]byte, lockproto.MaxHelloSize+1),
		"NotAMessage": []byte("hello"),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if _, _, err := lockproto.AcceptChannel("lock-1", f.lock.Private, b); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	t.Run("V1RefusedClearly", func(t *testing.T) {
		_, _, err := lockproto.AcceptChannel("lock-1", f.lock.Private, bad["V1"])
		if !errors.Is(err, lockproto.ErrVersion) || !bytes.Contains([]byte(err.Error()), []byte("no longer accepted")) {
			t.Fatalf("v1 hello: %v", err)
		}
	})
	t.Run("PhoneNeedsKey", func(t *testing.T) {
		if _, _, err := lockproto.NewPhoneHandshake("lock-1", f.lock.Public[:31]); !errors.Is(err, lockproto.ErrMalformed) {
			t.Fatal(err)
		}
	})
}

func TestUnlockRequestBoundToChannel(t *testing.T) {
	f := newFixture(t)
	p1, l1, _ := handshake(t, "lock-1", f.lock.Public, "lock-1", f.lock.Private)
	_, l2, _ := handshake(t, "lock-1", f.lock.Public, "lock-1", f.lock.Private)
	req, err := lockproto.NewUnlockRequest(p1, f.credential(t), f.devPriv, []byte("token"))
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := req.Encode()
	got, err := lockproto.DecodeUnlockRequest(rb)
	if err != nil || !bytes.Equal(got.TimeToken, []byte("token")) {
		t.Fatalf("round trip: %v", err)
	}
	if !got.VerifyDevice(f.devPub, "lock-1", l1.Binding()) {
		t.Fatal("device signature does not verify in its channel")
	}
	if got.VerifyDevice(f.devPub, "lock-1", l2.Binding()) {
		t.Fatal("device signature verifies in another channel")
	}
	if got.VerifyDevice(f.devPub, "lock-2", l1.Binding()) {
		t.Fatal("device signature verifies for another lock")
	}
	if got.VerifyDevice(f.devPub[:31], "lock-1", l1.Binding()) {
		t.Fatal("short key accepted")
	}
}

func TestLockCertificate(t *testing.T) {
	f := newFixture(t)
	cert, err := lockproto.IssueLockCertificate(f.propPriv, lockproto.LockCertificate{LockID: "lock-1", PublicKey: f.lock.Public, IssuedAt: now})
	if err != nil {
		t.Fatal(err)
	}
	c, err := lockproto.VerifyLockCertificate(f.propPub, cert)
	if err != nil || c.LockID != "lock-1" || !c.PublicKey.Equal(f.lock.Public) || !c.IssuedAt.Equal(now) {
		t.Fatalf("verify: %v %+v", err, c)
	}
	_, otherProp, _ := lockproto.NewPropertyKey()
	forged, _ := lockproto.IssueLockCertificate(otherProp, lockproto.LockCertificate{LockID: "lock-1", PublicKey: f.lock.Public, IssuedAt: now})
	if _, err := lockproto.VerifyLockCertificate(f.propPub, forged); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("certificate of another property: %v", err)
	}
	// A credential (same key, another context) is not a lock certificate.
	if _, err := lockproto.VerifyLockCertificate(f.propPub, f.credential(t)); err == nil {
		t.Fatal("credential accepted as a lock certificate")
	}
	if _, err := lockproto.IssueLockCertificate(f.propPriv, lockproto.LockCertificate{LockID: "lock-1", PublicKey: f.lock.Public[:5]}); !errors.Is(err, lockproto.ErrMalformed) {
		t.Fatalf("short key issued: %v", err)
	}
}

// A v1 message of any kind is refused with a clear version error.
func TestV1Refused(t *testing.T) {
	if lockproto.Version != 2 {
		t.Fatalf("format version %d", lockproto.Version)
	}
	v1 := func(m map[int]any) []byte { b, _ := cbor.Marshal(m); return b }
	if _, err := lockproto.DecodeUnlockRequest(v1(map[int]any{0: 1, 1: []byte{1}, 2: make([]byte, 64)})); !errors.Is(err, lockproto.ErrVersion) {
		t.Fatalf("v1 unlock request: %v", err)
	}
	if _, err := lockproto.DecodeUnlockResult(v1(map[int]any{0: 1, 1: true, 2: "ok"})); !errors.Is(err, lockproto.ErrVersion) {
		t.Fatalf("v1 unlock result: %v", err)
	}
	p := &lockproto.Provisioning{Version: 1}
	if err := p.Validate(); !errors.Is(err, lockproto.ErrVersion) {
		t.Fatalf("v1 provisioning: %v", err)
	}
}

func FuzzChannelHello(f *testing.F) {
	fx := fixedFixture()
	_, hello, _ := lockproto.NewPhoneHandshake("lock-1", fx.lock.Public)
	f.Add(hello)
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := lockproto.DecodeChannelHello(data)
		if err == nil && len(h.Ephemeral) != lockproto.EphemeralSize {
			t.Fatal("hello with a wrong-size key decoded")
		}
		if ch, accept, err := lockproto.AcceptChannel("lock-1", fx.lock.Private, data); err == nil && (ch == nil || len(accept) == 0) {
			t.Fatal("accepted without a channel")
		}
	})
}

func FuzzChannelAccept(f *testing.F) {
	fx := fixedFixture()
	hs, hello, _ := lockproto.NewPhoneHandshake("lock-1", fx.lock.Public)
	_, accept, _ := lockproto.AcceptChannel("lock-1", fx.lock.Private, hello)
	want, _ := lockproto.DecodeChannelAccept(accept)
	f.Add(accept)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := lockproto.DecodeChannelAccept(data)
		// Only the genuine accept of this handshake finishes it.
		if _, ferr := hs.Finish(data); ferr == nil && (err != nil || !bytes.Equal(got.Ephemeral, want.Ephemeral) || !bytes.Equal(got.Signature, want.Signature)) {
			t.Fatal("finished with an accept the lock never signed")
		}
	})
}

func FuzzChannelOpen(f *testing.F) {
	fx := fixedFixture()
	hs, hello, _ := lockproto.NewPhoneHandshake("lock-1", fx.lock.Public)
	_, accept, _ := lockproto.AcceptChannel("lock-1", fx.lock.Private, hello)
	phone, _ := hs.Finish(accept)
	f.Add(phone.Seal([]byte{1, 2, 3}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		// A lock end that no one sealed for cannot open anything.
		_, lock, err := handshake(t, "lock-1", fx.lock.Public, "lock-1", fx.lock.Private)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lock.Open(data); err == nil {
			t.Fatal("opened a frame nobody sealed in this channel")
		}
		if typ, body, err := lockproto.DecodeChannelMsg(data); err == nil {
			switch typ {
			case lockproto.ChanError:
				lockproto.DecodeChannelError(body)
			case lockproto.ChanLogRequest:
				lockproto.DecodeLogRequest(body)
			case lockproto.ChanUnlock, lockproto.ChanAuthenticate:
				lockproto.DecodeUnlockRequest(body)
			case lockproto.ChanResult:
				lockproto.DecodeUnlockResult(body)
			}
		}
	})
}

func FuzzVerifyLockCertificate(f *testing.F) {
	fx := fixedFixture()
	cert, _ := lockproto.IssueLockCertificate(fx.propPriv, lockproto.LockCertificate{LockID: "lock-1", PublicKey: fx.lock.Public, IssuedAt: now})
	f.Add(cert)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := lockproto.VerifyLockCertificate(fx.propPub, data)
		if err == nil && (c.LockID != "lock-1" || !c.PublicKey.Equal(fx.lock.Public)) {
			t.Fatalf("accepted a certificate the property never signed: %+v", c)
		}
	})
}

func FuzzDecodeUnlockRequest(f *testing.F) {
	fx := fixedFixture()
	phone, lock, _ := handshake(f, "lock-1", fx.lock.Public, "lock-1", fx.lock.Private)
	req, _ := lockproto.NewUnlockRequest(phone, fx.credential(f), fx.devPriv, nil)
	good, _ := req.Encode()
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := lockproto.DecodeUnlockRequest(data)
		if err != nil {
			return
		}
		if r.VerifyDevice(fx.devPub, "lock-1", lock.Binding()) && !bytes.Equal(r.Signature, req.Signature) {
			t.Fatal("device signature verified that the device never made")
		}
		if again, err := r.Encode(); err != nil {
			t.Fatal(err)
		} else if _, err := lockproto.DecodeUnlockRequest(again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
	})
}
