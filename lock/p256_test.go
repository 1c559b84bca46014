package lock_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// p256Key makes a P-256 device key and its credential encoding.
func p256Key(t testing.TB) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := lockproto.P256DeviceKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// credFor issues a credential at door d naming deviceKey.
func (d *door) credFor(deviceKey []byte) []byte {
	d.t.Helper()
	d.serial++
	b, err := lockproto.IssueCredential(d.propPriv, lockproto.Credential{
		Serial: d.serial, PersonID: "p256-person", DeviceKey: deviceKey,
		Locks:     []lockproto.LockAccess{{LockID: d.keys.LockID}},
		NotBefore: d.real.Add(-time.Minute), NotAfter: d.real.Add(time.Hour), IssuedAt: d.real.Add(-time.Minute),
	})
	if err != nil {
		d.t.Fatal(err)
	}
	return b
}

// unlockSigned runs an unlock over the v2 channel where sign makes the
// device signature over the device message (nil error expected from the
// lock: the refusal is in the decision).
func (d *door) unlockSigned(cred []byte, sign func(msg []byte) []byte) lock.Decision {
	d.t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(d.keys.LockID, d.keys.Public)
	if err != nil {
		d.t.Fatal(err)
	}
	s, accept, err := d.l.OpenSession(hello)
	if err != nil {
		d.t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		d.t.Fatal(err)
	}
	req := &lockproto.UnlockRequest{V: lockproto.Version, Credential: cred, Signature: sign(lockproto.DeviceMessage(ch.LockID(), ch.Binding()))}
	raw, err := req.Encode()
	if err != nil {
		d.t.Fatal(err)
	}
	reply, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, raw)))
	if err != nil {
		return lock.Decision{Reason: "error: " + err.Error()}
	}
	plain, err := ch.Open(reply)
	if err != nil {
		d.t.Fatal(err)
	}
	typ, body, err := lockproto.DecodeChannelMsg(plain)
	if err != nil {
		d.t.Fatalf("unlock reply: %v", err)
	}
	if typ != lockproto.ChanResult {
		return lock.Decision{Reason: "refused before deciding"}
	}
	res, err := lockproto.DecodeUnlockResult(body)
	if err != nil {
		d.t.Fatal(err)
	}
	return lock.Decision{Granted: res.Granted, Reason: res.Reason}
}

func TestP256DeviceUnlocksOverV2Channel(t *testing.T) {
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	priv, pub := p256Key(t)
	hs, hello, err := lockproto.NewPhoneHandshake(d.keys.LockID, d.keys.Public)
	if err != nil {
		t.Fatal(err)
	}
	s, accept, err := d.l.OpenSession(hello)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		t.Fatal(err)
	}
	// The real phone path: NewUnlockRequest with a P-256 crypto.Signer.
	req, err := lockproto.NewUnlockRequest(ch, d.credFor(pub), priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Signature) != lockproto.DeviceSignatureSize {
		t.Fatalf("signature is %d bytes, want raw r||s", len(req.Signature))
	}
	raw, _ := req.Encode()
	reply, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, raw)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ch.Open(reply)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := lockproto.DecodeChannelMsg(plain)
	res, err := lockproto.DecodeUnlockResult(body)
	if err != nil {
		t.Fatal(err)
	}
	want(t, "P-256 unlock", lock.Decision{Granted: res.Granted, Reason: res.Reason}, true, lock.ReasonOK)
}

func TestP256WrongSignatures(t *testing.T) {
	priv, pub := p256Key(t)
	other, _ := p256Key(t)
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPub := edPriv.Public().(ed25519.PublicKey)
	sign := func(k crypto.Signer, msg []byte) []byte {
		t.Helper()
		sig, err := lockproto.SignDevice(k, msg)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	tests := []struct {
		name    string
		key     []byte
		sign    func(msg []byte) []byte
		granted bool
		reason  string
	}{
		{"OKP256", pub, func(m []byte) []byte { return sign(priv, m) }, true, lock.ReasonOK},
		{"OKEd25519", edPub, func(m []byte) []byte { return sign(edPriv, m) }, true, lock.ReasonOK},
		{"ErrOtherP256Key", pub, func(m []byte) []byte { return sign(other, m) }, false, lock.ReasonBadDeviceSig},
		{"ErrEd25519SigForP256Credential", pub, func(m []byte) []byte { return sign(edPriv, m) }, false, lock.ReasonBadDeviceSig},
		{"ErrP256SigForEd25519Credential", edPub, func(m []byte) []byte { return sign(priv, m) }, false, lock.ReasonBadDeviceSig},
		{"ErrP256SigOtherMessage", pub, func(m []byte) []byte { return sign(priv, append(m, 0)) }, false, lock.ReasonBadDeviceSig},
		{"ErrZeroSig", pub, func(m []byte) []byte { return make([]byte, 64) }, false, lock.ReasonBadDeviceSig},
		{"ErrSigIsOrder", pub, func(m []byte) []byte {
			// r = s = n: out of range, must not verify.
			n := elliptic.P256().Params().N.Bytes()
			return append(append([]byte(nil), n...), n...)
		}, false, lock.ReasonBadDeviceSig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDoor(t)
			d.mustBundle(lockproto.Bundle{})
			got := d.unlockSigned(d.credFor(tt.key), tt.sign)
			want(t, tt.name, got, tt.granted, tt.reason)
		})
	}
	// Malformed lengths: the request is refused before any decision, and
	// never granted.
	for _, n := range []int{0, 63, 65, 70, 72} {
		d := newDoor(t)
		d.mustBundle(lockproto.Bundle{})
		got := d.unlockSigned(d.credFor(pub), func(m []byte) []byte {
			s := sign(priv, m)
			if n <= len(s) {
				return s[:n]
			}
			return append(s, make([]byte, n-len(s))...)
		})
		if got.Granted || got.Reason == lock.ReasonOK {
			t.Fatalf("signature of %d bytes: %+v", n, got)
		}
	}
	// ASN.1 DER (what crypto.Signer gives by default) is not the wire format.
	d := newDoor(t)
	d.mustBundle(lockproto.Bundle{})
	got := d.unlockSigned(d.credFor(pub), func(m []byte) []byte {
		der, err := ecdsa.SignASN1(rand.Reader, priv, m)
		if err != nil {
			t.Fatal(err)
		}
		return der
	})
	if got.Granted {
		t.Fatalf("ASN.1 signature accepted: %+v", got)
	}
}
