package lockproto

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// A phone's device key is one of two kinds, told apart by its encoded
// length, which no encoding of the other kind can have:
//
//   - Ed25519: the 32-byte public key (the DOOR App, browsers with WebCrypto
//     Ed25519). Its credentials are encoded exactly as before P-256 existed.
//   - ECDSA P-256 (COSE ES256): the 65-byte uncompressed SEC1 point
//     0x04||X||Y, for browsers without WebCrypto Ed25519. It signs the
//     device message with SHA-256, the signature being raw r||s, 64 bytes
//     (the WebCrypto format), not ASN.1.
//
// Both signatures are 64 bytes, so an unlock request keeps one shape; which
// algorithm verifies it is chosen by the credential's key, never by the
// request.
const (
	Ed25519DeviceKeySize = ed25519.PublicKeySize
	P256DeviceKeySize    = 65
	DeviceSignatureSize  = 64
)

// ValidDeviceKey reports whether key is a well-formed device key of either
// kind; a P-256 key must be a point on the curve.
func ValidDeviceKey(key []byte) error {
	switch len(key) {
	case Ed25519DeviceKeySize:
		return nil
	case P256DeviceKeySize:
		if _, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key); err != nil {
			return fmt.Errorf("%w: device key: not a P-256 point", ErrMalformed)
		}
		return nil
	}
	return fmt.Errorf("%w: device key must be %d bytes (Ed25519) or %d bytes (uncompressed P-256)", ErrMalformed, Ed25519DeviceKeySize, P256DeviceKeySize)
}

// P256DeviceKey is the device-key encoding of pub (uncompressed SEC1).
func P256DeviceKey(pub *ecdsa.PublicKey) ([]byte, error) {
	if pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("lockproto: device key: curve is not P-256")
	}
	return pub.Bytes()
}

// VerifyDeviceSignature checks sig over msg by key, with the algorithm the
// key's kind names. Anything malformed is false.
func VerifyDeviceSignature(key, msg, sig []byte) bool {
	if len(sig) != DeviceSignatureSize {
		return false
	}
	switch len(key) {
	case Ed25519DeviceKeySize:
		return ed25519.Verify(ed25519.PublicKey(key), msg, sig)
	case P256DeviceKeySize:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
		if err != nil {
			return false
		}
		d := sha256.Sum256(msg)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, d[:], r, s)
	}
	return false
}

// SignDevice signs msg with a device key of either kind, in the wire format
// VerifyDeviceSignature expects (for P-256: SHA-256, raw r||s). Another signer (a hardware key behind
// crypto.Signer) is asked to sign msg as Ed25519 does.
func SignDevice(device crypto.Signer, msg []byte) ([]byte, error) {
	pub, ok := device.Public().(*ecdsa.PublicKey)
	if !ok {
		return device.Sign(rand.Reader, msg, crypto.Hash(0))
	}
	if pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("curve is not P-256")
	}
	d := sha256.Sum256(msg)
	der, err := device.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var rs struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("ECDSA signature is not ASN.1")
	}
	out := make([]byte, DeviceSignatureSize)
	rs.R.FillBytes(out[:32])
	rs.S.FillBytes(out[32:])
	return out, nil
}
