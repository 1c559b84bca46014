package lockproto_test

import (
	"bytes"
	"crypto/ed25519"
	"reflect"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// fixedFixture uses constant keys so seeds made in one fuzz worker verify in
// every other.
func fixedFixture() *fixture {
	seed := func(b byte) ed25519.PrivateKey { return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)) }
	prop, lk, dev := seed(1), seed(2), seed(3)
	return &fixture{
		propPub: prop.Public().(ed25519.PublicKey), propPriv: prop,
		lock:   &lockproto.LockKeys{LockID: "lock-1", Public: lk.Public().(ed25519.PublicKey), Private: lk, Symmetric: bytes.Repeat([]byte{4}, 32)},
		devPub: dev.Public().(ed25519.PublicKey), devPriv: dev,
	}
}

func FuzzVerifyCredential(f *testing.F) {
	fx := fixedFixture()
	good := fx.credential(f)
	want, err := lockproto.VerifyCredential(fx.propPub, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := lockproto.VerifyCredential(fx.propPub, data)
		if err == nil && !reflect.DeepEqual(c, want) {
			t.Fatalf("accepted a credential the property never signed: %+v", c)
		}
	})
}

func FuzzOpenBundle(f *testing.F) {
	fx := fixedFixture()
	good := fx.bundle(f)
	want, err := lockproto.OpenBundle(fx.propPub, "lock-1", fx.lock.Symmetric, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		lockproto.ReadBundleHeader(data)
		b, err := lockproto.OpenBundle(fx.propPub, "lock-1", fx.lock.Symmetric, data)
		if err == nil && !reflect.DeepEqual(b, want) {
			t.Fatalf("accepted a bundle the property never signed: %+v", b)
		}
	})
}

func FuzzVerifyAck(f *testing.F) {
	fx := fixedFixture()
	a := lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Version: 4, Bundle: lockproto.BundleDigest(nil), LockTime: now}
	good, err := lockproto.SignAck(fx.lock.Private, a)
	if err != nil {
		f.Fatal(err)
	}
	want, _ := lockproto.VerifyAck(fx.lock.Public, "lock-1", good)
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := lockproto.VerifyAck(fx.lock.Public, "lock-1", data)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("accepted an ack the lock never signed: %+v", got)
		}
	})
}

// FuzzOpenAck: an ack with events (and a plain one) is accepted only as
// the lock signed it, events and all.
func FuzzOpenAck(f *testing.F) {
	fx := fixedFixture()
	a := lockproto.Ack{LockID: "lock-1", Status: lockproto.AckApplied, Version: 4, Bundle: lockproto.BundleDigest(nil), LockTime: now, LogNext: 3}
	good, err := lockproto.SignAckWithEvents(fx.lock.Private, fx.lock.Symmetric, a, lockproto.EventBatch{Prev: lockproto.GenesisHash, From: 1, Next: 3, Oldest: 1,
		Events: []lockproto.Event{{Seq: 1, At: now, Kind: "boot"}, {Seq: 2, At: now, Kind: "bundle.applied", Version: 4, Ref: "3"}}})
	if err != nil {
		f.Fatal(err)
	}
	wantAck, wantEvents, err := lockproto.OpenAck(fx.lock.Public, "lock-1", fx.lock.Symmetric, good)
	if err != nil {
		f.Fatal(err)
	}
	plain, err := lockproto.SignAck(fx.lock.Private, a)
	if err != nil {
		f.Fatal(err)
	}
	wantPlain, _ := lockproto.VerifyAck(fx.lock.Public, "lock-1", plain)
	// The sealed events have a random nonce: each fuzz worker makes its
	// own good ack, so the opened content (Events cleared) is compared.
	f.Add(good)
	f.Add(plain)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, events, err := lockproto.OpenAck(fx.lock.Public, "lock-1", fx.lock.Symmetric, data)
		if err != nil {
			return
		}
		if !(reflect.DeepEqual(got, wantAck) && reflect.DeepEqual(events, wantEvents)) && !(reflect.DeepEqual(got, wantPlain) && events == nil) {
			t.Fatalf("accepted an ack the lock never signed: %+v %+v", got, events)
		}
	})
}

func FuzzOpenEventBatch(f *testing.F) {
	fx := fixedFixture()
	good, err := lockproto.SealEventBatch(fx.lock.Private, fx.lock.Symmetric, lockproto.EventBatch{LockID: "lock-1", Prev: lockproto.GenesisHash, From: 1,
		Events: []lockproto.Event{{Seq: 1, At: now, Kind: "boot"}, {Seq: 2, At: now.Add(time.Second), Kind: "card.denied", Ref: "x", Count: 3, Last: now.Add(time.Minute)}}, Next: 3, At: now, Oldest: 1})
	if err != nil {
		f.Fatal(err)
	}
	want, _, err := lockproto.OpenEventBatch(fx.lock.Public, "lock-1", fx.lock.Symmetric, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:30])
	f.Fuzz(func(t *testing.T, data []byte) {
		got, _, err := lockproto.OpenEventBatch(fx.lock.Public, "lock-1", fx.lock.Symmetric, data)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("accepted a batch the lock never sealed: %+v", got)
		}
	})
}

func FuzzDecodeCardResponse(f *testing.F) {
	key := bytes.Repeat([]byte{7}, lockproto.CardKeySize)
	ch := &lockproto.CardChallenge{V: lockproto.Version, LockID: "lock-1", Nonce: bytes.Repeat([]byte{9}, lockproto.CardNonceSize)}
	chRaw, _ := ch.Encode()
	good, err := lockproto.SimCard{UID: "04A1B2", Key: key}.Respond(chRaw)
	if err != nil {
		f.Fatal(err)
	}
	want, err := lockproto.DecodeCardResponse(good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:10])
	f.Fuzz(func(t *testing.T, data []byte) {
		got, derr := lockproto.DecodeCardResponse(data)
		if err := lockproto.VerifyCardResponse(key, ch, "04A1B2", data); err == nil && (derr != nil || !reflect.DeepEqual(got, want)) {
			t.Fatalf("accepted a card answer the card never made: %x", data)
		}
	})
}

func FuzzDecodeCardChallenge(f *testing.F) {
	ch, _ := lockproto.NewCardChallenge("lock-1")
	good, _ := ch.Encode()
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := lockproto.DecodeCardChallenge(data)
		if err == nil && (len(c.Nonce) != lockproto.CardNonceSize || c.LockID == "") {
			t.Fatalf("accepted a malformed challenge: %+v", c)
		}
		// The simulated card answers only what decodes.
		if _, err := (lockproto.SimCard{UID: "04", Key: make([]byte, 16)}).Respond(data); err == nil && c == nil {
			t.Fatal("card answered an undecodable challenge")
		}
	})
}

func FuzzParseProvisioning(f *testing.F) {
	fx := fixedFixture()
	good, _ := jsonMarshal(lockproto.NewProvisioning(fx.lock, fx.propPub, "Europe/Berlin", now))
	f.Add(good)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := lockproto.ParseProvisioning(data)
		if err == nil {
			if err := p.Validate(); err != nil {
				t.Fatalf("parsed an invalid file: %v", err)
			}
			p.LockPrivate()
		}
	})
}

func FuzzOpenBundleManifest(f *testing.F) {
	fx := fixedFixture()
	b := lockproto.Bundle{LockID: "lock-1", Version: 2, Snapshot: true, TrustedTime: time.Unix(1_780_000_000, 0)}
	for i := range 200 {
		b.Doorcodes = append(b.Doorcodes, lockproto.DoorcodeEntry{Code: "1234" + string(rune('0'+i%10)) + string(rune('0'+i/10%10)) + string(rune('0'+i/100%10)), PersonID: "p"})
	}
	sealed, err := lockproto.SealBundle(fx.propPriv, fx.lock.Symmetric, b)
	if err != nil {
		f.Fatal(err)
	}
	good, err := lockproto.SignBundleManifest(fx.propPriv, sealed, lockproto.MinChunkSize)
	if err != nil {
		f.Fatal(err)
	}
	// The nonce makes good differ between fuzz workers: an accepted manifest
	// must be exactly what the property key signs for its content.
	f.Add(good)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := lockproto.OpenBundleManifest(fx.propPub, "lock-1", data)
		if err == nil && !bytes.Equal(data, signManifest(t, fx.propPriv, *m)) {
			t.Fatalf("accepted a manifest the property never signed: %+v", *m)
		}
		// The phone's unverified read must not panic either.
		lockproto.ReadBundleManifest(data)
		lockproto.DecodeTransferStatus(data)
		lockproto.DecodeChunk(data)
	})
}
