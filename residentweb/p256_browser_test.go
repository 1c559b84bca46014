package residentweb_test

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/dooros/dooros/lockproto"
)

// TestBrowser_P256Fallback: a browser whose WebCrypto has no Ed25519 (here
// Chromium with Ed25519 key generation made to fail, as older browsers
// do) enrols an ECDSA P-256 device key: the raw 65-byte point, on the
// curve, and signs in.
func TestBrowser_P256Fallback(t *testing.T) {
	e := newPhoneEnv(t)
	anaID := e.invite()
	e.beforeVerify = `(() => {
		const g = SubtleCrypto.prototype.generateKey;
		SubtleCrypto.prototype.generateKey = function (alg, ...rest) {
			if (alg && alg.name === 'Ed25519') return Promise.reject(new DOMException('Ed25519 is not supported', 'NotSupportedError'));
			return g.call(this, alg, ...rest);
		};
		return 'ok';
	})()`
	e.signIn()
	var enc string
	if err := e.Store.DB().QueryRowContext(context.Background(), `SELECT public_key FROM resident_devices WHERE person_id = $1`, anaID).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != lockproto.P256DeviceKeySize || lockproto.ValidDeviceKey(key) != nil {
		t.Fatalf("enrolled key %x: want a P-256 point (%v)", key, lockproto.ValidDeviceKey(key))
	}
}
