package api_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// A browser without WebCrypto Ed25519 enrols an ECDSA P-256 key (issue 16):
// the raw SEC1 point or SPKI DER; its credentials carry the point.
func TestResidentP256DeviceKey(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		e.invite("pia@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
		p, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		point, _ := lockproto.P256DeviceKey(&p.PublicKey)
		spki, _ := x509.MarshalPKIXPublicKey(&p.PublicKey)
		offCurve := append([]byte(nil), point...)
		offCurve[64] ^= 1
		p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		spki384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
		edPub, _, _ := ed25519.GenerateKey(rand.Reader)
		spkiEd, _ := x509.MarshalPKIXPublicKey(edPub)
		b64 := base64.StdEncoding.EncodeToString

		for _, bad := range []struct{ name, key string }{
			{"OffCurvePoint", b64(offCurve)},
			{"CompressedPoint", b64(elliptic.MarshalCompressed(elliptic.P256(), p.X, p.Y))},
			{"P384SPKI", b64(spki384)},
			{"Ed25519SPKI", b64(spkiEd)},
			{"TruncatedSPKI", b64(spki[:len(spki)-1])},
			{"Empty", ""},
		} {
			t.Run("Err"+bad.name, func(t *testing.T) {
				e.advance(store.LoginCodeWindow)
				code := e.requestCode("pia@example.com")
				before := e.count("resident_devices")
				r := e.Do("POST", "/api/v1/app/login/verify", "", map[string]string{"email": "pia@example.com", "code": code, "device_public_key": bad.key})
				wantStatus(t, r, 400, "invalid")
				if e.count("resident_devices") != before {
					t.Fatal("a refused key was enrolled")
				}
			})
		}
		for _, ok := range []struct{ name, key string }{{"RawPoint", b64(point)}, {"SPKI", b64(spki)}} {
			t.Run("OK"+ok.name, func(t *testing.T) {
				e.advance(store.LoginCodeWindow)
				code := e.requestCode("pia@example.com")
				r := e.Do("POST", "/api/v1/app/login/verify", "", map[string]string{"email": "pia@example.com", "code": code, "device_public_key": ok.key, "device_name": "browser"})
				if r.Status != 200 {
					t.Fatalf("verify = %d: %s", r.Status, r.Body)
				}
				var s struct{ Token string }
				r.Decode(t, &s)
				cr := e.Do("POST", "/api/v1/me/credentials", s.Token, nil)
				if cr.Status != 200 {
					t.Fatalf("credentials = %d: %s", cr.Status, cr.Body)
				}
				var l struct{ Items []store.IssuedCredential }
				cr.Decode(t, &l)
				if len(l.Items) != 1 {
					t.Fatalf("credentials = %+v", l.Items)
				}
				pub, _ := base64.StdEncoding.DecodeString(l.Items[0].PropertyPublicKey)
				raw, _ := base64.StdEncoding.DecodeString(l.Items[0].Credential)
				c, err := lockproto.VerifyCredential(ed25519.PublicKey(pub), raw)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(c.DeviceKey, point) {
					t.Fatalf("credential device key %x, want the P-256 point %x", c.DeviceKey, point)
				}
			})
		}
	})
}
