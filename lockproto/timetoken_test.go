package lockproto_test

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// resign signs payload exactly as the property would sign a message of the
// same type as legit (its context is read from legit's protected header), so
// a test can hand-build the CBOR inside a correctly signed message.
func resign(t testing.TB, priv ed25519.PrivateKey, legit, payload []byte) []byte {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(legit); err != nil {
		t.Fatal(err)
	}
	ctx, _ := m.Headers.Protected[cose.HeaderLabelContentType].(string)
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, priv)
	if err != nil {
		t.Fatal(err)
	}
	out := cose.NewSign1Message()
	out.Headers.Protected.SetAlgorithm(cose.AlgorithmEdDSA)
	out.Headers.Protected[cose.HeaderLabelContentType] = ctx
	out.Payload = payload
	if err := out.Sign(nil, []byte(ctx), signer); err != nil {
		t.Fatal(err)
	}
	b, err := out.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func payloadMap(t testing.TB, signed []byte) map[int]any {
	t.Helper()
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(signed); err != nil {
		t.Fatal(err)
	}
	var out map[int]any
	if err := cbor.Unmarshal(m.Payload, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func detEncode(t testing.TB, v any) []byte {
	t.Helper()
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	b, err := em.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTimeTokenRoundTrip(t *testing.T) {
	f := newFixture(t)
	tok, err := lockproto.IssueTimeToken(f.propPriv, now.Add(1500*time.Millisecond), 3)
	if err != nil {
		t.Fatal(err)
	}
	got, err := lockproto.VerifyTimeToken(f.propPub, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Time.Equal(now.Add(time.Second)) || got.Epoch != 3 || got.V != lockproto.Version {
		t.Fatalf("token = %+v", got)
	}
}

// TestTimeTokenRefusesOthers: another property's token, a credential or a
// bundle signature presented as a time, a flipped byte, an oversized token.
func TestTimeTokenRefusesOthers(t *testing.T) {
	f := newFixture(t)
	other := newFixture(t)
	tok, _ := lockproto.IssueTimeToken(other.propPriv, now, 0)
	if _, err := lockproto.VerifyTimeToken(f.propPub, tok); !errors.Is(err, lockproto.ErrSignature) {
		t.Fatalf("other property's token: %v", err)
	}
	if _, err := lockproto.VerifyTimeToken(f.propPub, f.credential(t)); err == nil {
		t.Fatal("a credential passed as a time token")
	}
	good, _ := lockproto.IssueTimeToken(f.propPriv, now, 0)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)-70] ^= 1
	if _, err := lockproto.VerifyTimeToken(f.propPub, flipped); err == nil {
		t.Fatal("a tampered token verified")
	}
	if _, err := lockproto.VerifyTimeToken(f.propPub, make([]byte, lockproto.MaxTimeTokenSize+1)); !errors.Is(err, lockproto.ErrTooLarge) {
		t.Fatalf("oversized token: %v", err)
	}
	// The property's signature over a time-shaped payload in the credential
	// context is not a time token either.
	body := detEncode(t, map[int]any{0: lockproto.Version, 1: now.Unix()})
	if _, err := lockproto.VerifyTimeToken(f.propPub, resign(t, f.propPriv, f.credential(t), body)); err == nil {
		t.Fatal("a time signed in the credential context was accepted")
	}
}

// TestSignedTimesMustBeIntegers hand-builds correctly signed messages whose
// times are floats or text: the signer's signature is valid, the encoding is
// not the protocol's, and the decoder refuses them.
func TestSignedTimesMustBeIntegers(t *testing.T) {
	f := newFixture(t)
	tok, _ := lockproto.IssueTimeToken(f.propPriv, now, 0)
	cred := f.credential(t)
	forms := map[string]any{
		"float":          float64(now.Unix()),
		"fractional":     float64(now.Unix()) + 0.5,
		"text":           now.UTC().Format(time.RFC3339),
		"non-shortest64": cbor.RawMessage{0x1b, 0, 0, 0, 0, byte(now.Unix() >> 24), byte(now.Unix() >> 16), byte(now.Unix() >> 8), byte(now.Unix())},
	}
	for name, v := range forms {
		tm := payloadMap(t, tok)
		tm[1] = v
		if _, err := lockproto.VerifyTimeToken(f.propPub, resign(t, f.propPriv, tok, detEncode(t, tm))); !errors.Is(err, lockproto.ErrMalformed) {
			t.Errorf("time token with %s time: err = %v, want malformed", name, err)
		}
		for _, key := range []int{5, 6, 7} {
			cm := payloadMap(t, cred)
			cm[key] = v
			if _, err := lockproto.VerifyCredential(f.propPub, resign(t, f.propPriv, cred, detEncode(t, cm))); !errors.Is(err, lockproto.ErrMalformed) {
				t.Errorf("credential with %s time at key %d: err = %v, want malformed", name, key, err)
			}
		}
	}
	// The same hand-built path with an integer time is accepted: the refusals
	// above are about the form, not about re-signing.
	cm := payloadMap(t, cred)
	if _, err := lockproto.VerifyCredential(f.propPub, resign(t, f.propPriv, cred, detEncode(t, cm))); err != nil {
		t.Fatalf("integer times refused: %v", err)
	}
	tm := payloadMap(t, tok)
	if _, err := lockproto.VerifyTimeToken(f.propPub, resign(t, f.propPriv, tok, detEncode(t, tm))); err != nil {
		t.Fatalf("integer time token refused: %v", err)
	}
}

func TestCredentialCeiling(t *testing.T) {
	f := newFixture(t)
	c, err := lockproto.VerifyCredential(f.propPub, f.credential(t))
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's credential runs to the grant expiry, 6 h after issue.
	if c.Lifetime() != 6*time.Hour {
		t.Fatalf("lifetime = %v", c.Lifetime())
	}
	if !c.WithinCeiling(6*time.Hour) || c.WithinCeiling(6*time.Hour-time.Second) || !c.WithinCeiling(0) {
		t.Fatal("ceiling judged wrong")
	}
}

func TestDayKeyActiveSlots(t *testing.T) {
	f := newFixture(t)
	seal := func(slots []uint16) error {
		_, err := lockproto.SealBundle(f.propPriv, f.lock.Symmetric, lockproto.Bundle{LockID: "lock-1", Version: 1, Snapshot: true, TrustedTime: now,
			DayKeys: []lockproto.DayKey{{KeyID: "k", Secret: make([]byte, 32), Digits: 7, Slots: 4, ActiveSlots: slots}}})
		return err
	}
	if err := seal([]uint16{0, 2, 3}); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]uint16{{4}, {2, 1}, {1, 1}} {
		if err := seal(bad); !errors.Is(err, lockproto.ErrMalformed) {
			t.Errorf("active slots %v: err = %v", bad, err)
		}
	}
	k := lockproto.DayKey{ActiveSlots: []uint16{0, 2, 3}}
	if !k.SlotActive(2) || k.SlotActive(1) || k.SlotActive(4) {
		t.Fatal("SlotActive judged wrong")
	}
}

func FuzzVerifyTimeToken(f *testing.F) {
	fx := fixedFixture()
	good, err := lockproto.IssueTimeToken(fx.propPriv, now, 2)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := lockproto.VerifyTimeToken(fx.propPub, data)
		if err == nil && (!tok.Time.Equal(now) || tok.Epoch != 2) {
			t.Fatalf("accepted a time the property never signed: %+v", tok)
		}
	})
}
