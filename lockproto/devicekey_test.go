package lockproto_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

func TestDeviceKeyKinds(t *testing.T) {
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := lockproto.P256DeviceKey(&p.PublicKey)
	if err != nil || len(good) != lockproto.P256DeviceKeySize || good[0] != 4 {
		t.Fatalf("P256DeviceKey: %x %v", good, err)
	}
	offCurve := append([]byte(nil), good...)
	offCurve[64] ^= 1
	compressed := elliptic.MarshalCompressed(elliptic.P256(), p.X, p.Y)
	badPrefix := append([]byte{2}, good[1:]...)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := lockproto.P256DeviceKey(&p384.PublicKey); err == nil {
		t.Fatal("a P-384 key was encoded as a P-256 device key")
	}
	tests := []struct {
		name string
		key  []byte
		ok   bool
	}{
		{"OKEd25519", edPub, true},
		{"OKP256", good, true},
		{"ErrOffCurve", offCurve, false},
		{"ErrBadPrefix", badPrefix, false},
		{"ErrCompressed", compressed, false},
		{"ErrEmpty", nil, false},
		{"ErrIdentity", append([]byte{4}, make([]byte, 64)...), false},
		{"Err64Bytes", good[1:], false},
	}
	pub, priv, _ := lockproto.NewPropertyKey()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := lockproto.ValidDeviceKey(tt.key)
			if (err == nil) != tt.ok {
				t.Fatalf("ValidDeviceKey: %v, want ok %v", err, tt.ok)
			}
			// A credential carries only a valid key.
			signed, err := lockproto.IssueCredential(priv, lockproto.Credential{
				Serial: 1, PersonID: "p", DeviceKey: tt.key, Locks: []lockproto.LockAccess{{LockID: "l"}},
				NotBefore: time.Unix(1e9, 0), NotAfter: time.Unix(1e9+3600, 0), IssuedAt: time.Unix(1e9, 0),
			})
			if (err == nil) != tt.ok {
				t.Fatalf("IssueCredential: %v, want ok %v", err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, lockproto.ErrMalformed) {
					t.Fatalf("error %v is not ErrMalformed", err)
				}
				return
			}
			c, err := lockproto.VerifyCredential(pub, signed)
			if err != nil || !c.SameDevice(tt.key) {
				t.Fatalf("round trip: %v", err)
			}
		})
	}
}

func TestVerifyDeviceSignature(t *testing.T) {
	msg := lockproto.DeviceMessage("lock-1", []byte("binding"))
	p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pKey, _ := lockproto.P256DeviceKey(&p.PublicKey)
	q, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	sign := func(k crypto.Signer, m []byte) []byte {
		t.Helper()
		sig, err := lockproto.SignDevice(k, m)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	pSig := sign(p, msg)
	edSig := sign(edPriv, msg)
	highS := func(sig []byte) []byte {
		// s' = n - s is also a valid ECDSA signature; low-S is not required.
		n := elliptic.P256().Params().N
		s := new(big.Int).SetBytes(sig[32:])
		out := append([]byte(nil), sig...)
		new(big.Int).Sub(n, s).FillBytes(out[32:])
		return out
	}
	tests := []struct {
		name string
		key  []byte
		msg  []byte
		sig  []byte
		ok   bool
	}{
		{"OKP256", pKey, msg, pSig, true},
		{"OKP256HighS", pKey, msg, highS(pSig), true},
		{"OKEd25519", edPub, msg, edSig, true},
		{"ErrOtherP256Key", pKey, msg, sign(q, msg), false},
		{"ErrOtherMessage", pKey, append(append([]byte(nil), msg...), 0), pSig, false},
		{"ErrEd25519SigOnP256Key", pKey, msg, edSig, false},
		{"ErrP256SigOnEd25519Key", edPub, msg, pSig, false},
		{"ErrShortSig", pKey, msg, pSig[:63], false},
		{"ErrLongSig", pKey, msg, append(append([]byte(nil), pSig...), 0), false},
		{"ErrZeroSig", pKey, msg, make([]byte, 64), false},
		{"ErrNoKey", nil, msg, pSig, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lockproto.VerifyDeviceSignature(tt.key, tt.msg, tt.sig); got != tt.ok {
				t.Fatalf("VerifyDeviceSignature = %v, want %v", got, tt.ok)
			}
		})
	}
}
