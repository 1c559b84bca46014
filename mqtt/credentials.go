package mqtt

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// SecretHash is the SHA-256 of an MQTT password. Passwords are 32 random
// bytes issued by the cloud, never chosen by people, so a fast hash is
// enough: there is nothing to guess, and the database holds only this.
type SecretHash [32]byte

// NewSecret returns a fresh random MQTT password (32 bytes, base64url without
// padding, 43 characters) and its hash. The password goes to the lock once,
// in its provisioning file; the hash goes to the database.
func NewSecret() (password string, hash SecretHash) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	password = base64.RawURLEncoding.EncodeToString(b[:])
	return password, HashSecret(password)
}

// HashSecret hashes a password as it travels in the CONNECT packet.
func HashSecret(password string) SecretHash {
	return sha256.Sum256([]byte(password))
}

// Matches reports in constant time whether password hashes to h.
func (h SecretHash) Matches(password string) bool {
	got := HashSecret(password)
	return subtle.ConstantTimeCompare(got[:], h[:]) == 1
}

// String returns the hash in lower-case hex, the form kept in the database.
func (h SecretHash) String() string { return hex.EncodeToString(h[:]) }

// ParseSecretHash reads the hex form written by String.
func ParseSecretHash(s string) (SecretHash, error) {
	var h SecretHash
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("mqtt: secret hash must be %d hex characters", 2*len(h))
	}
	copy(h[:], b)
	return h, nil
}
