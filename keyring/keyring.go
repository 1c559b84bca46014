// Package keyring keeps the cloud's secrets encrypted at rest: each
// property's Ed25519 signing key (DESIGN.md §4.1) and other server-side
// secrets such as the per-key day-code secrets. Everything is sealed with
// XChaCha20-Poly1305 under one 32-byte master key that lives outside the
// database (--master-key-file or DOOROS_MASTER_KEY), so a copy of the
// database alone cannot sign credentials or compute guest codes.
//
// The keyring does no SQL itself: it reads and writes sealed rows through
// the small Storage interface, which *store.Store implements.
package keyring

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// MasterKeySize is the size of the master key.
const MasterKeySize = chacha20poly1305.KeySize

// sealVersion prefixes every sealed value so the format can change later.
const sealVersion = "v1."

// ErrNoKey is what Storage.PropertyKeys returns when a property has no key yet.
var ErrNoKey = errors.New("keyring: no key stored")

// StoredKeys is a property's row of sealed signing keys: the current one
// and, during a property-key rotation, the next one (empty otherwise).
type StoredKeys struct {
	Public, Sealed         string
	NextPublic, NextSealed string
}

// Storage persists sealed property keys. PutPropertyKey must keep the first
// key written for a property (INSERT … ON CONFLICT DO NOTHING) and return
// the stored one, so two servers creating a key at once agree on it.
type Storage interface {
	PropertyKeys(ctx context.Context, propertyID string) (StoredKeys, error)
	PutPropertyKey(ctx context.Context, propertyID, publicKey, sealedPrivate string) (storedPublic, storedSealed string, err error)
}

// Keyring seals secrets under the master key and hands out property keys.
// It is safe for concurrent use.
type Keyring struct {
	aead    cipherAEAD
	storage Storage

	mu sync.Mutex
	// cache holds opened property keys by property and public key: which
	// key is current is read from storage on every call (a rotation on
	// another server changes it), but a public key's private key never
	// changes.
	cache map[string]ed25519.PrivateKey
}

type cipherAEAD interface {
	NonceSize() int
	Seal(dst, nonce, plaintext, additionalData []byte) []byte
	Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
}

// New builds a keyring over storage with a 32-byte master key.
func New(master []byte, storage Storage) (*Keyring, error) {
	if len(master) != MasterKeySize {
		return nil, fmt.Errorf("keyring: master key must be %d bytes, got %d", MasterKeySize, len(master))
	}
	aead, err := chacha20poly1305.NewX(master)
	if err != nil {
		return nil, err
	}
	return &Keyring{aead: aead, storage: storage, cache: map[string]ed25519.PrivateKey{}}, nil
}

// Seal encrypts plain; aad binds the value to its place (a table and row id)
// so a sealed value copied to another row does not open there.
func (k *Keyring) Seal(plain []byte, aad string) (string, error) {
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := k.aead.Seal(nonce, nonce, plain, []byte(aad))
	return sealVersion + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a value made by Seal with the same aad.
func (k *Keyring) Open(sealed, aad string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, sealVersion)
	if !ok {
		return nil, errors.New("keyring: unknown sealed format")
	}
	raw, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil || len(raw) < k.aead.NonceSize() {
		return nil, errors.New("keyring: malformed sealed value")
	}
	n := k.aead.NonceSize()
	plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(aad))
	if err != nil {
		return nil, errors.New("keyring: sealed value does not open with this master key (wrong key or tampered row)")
	}
	return plain, nil
}

// propertyAAD binds a property's first key to its row.
func propertyAAD(propertyID string) string { return "property_keys/" + propertyID }

// rotatedAAD binds a key made by a rotation to its property and its public
// key, so it opens in the next slot and, once the rotation finished, in
// the current one, without being sealed again.
func rotatedAAD(propertyID, pub string) string { return propertyAAD(propertyID) + "/" + pub }

// PropertySigner returns the property's current Ed25519 private key,
// creating and storing one on first use. During a property-key rotation
// it is still the old key: which key signs for which door is the store's
// decision (see PropertySigners).
func (k *Keyring) PropertySigner(ctx context.Context, propertyID string) (ed25519.PrivateKey, error) {
	keys, err := k.PropertySigners(ctx, propertyID)
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// PropertySigners returns the property's current private key and, during a
// property-key rotation, the next one after it (creating the current key
// on first use). The store picks, per door, the one its lock trusts.
func (k *Keyring) PropertySigners(ctx context.Context, propertyID string) ([]ed25519.PrivateKey, error) {
	if propertyID == "" {
		return nil, errors.New("keyring: empty property id")
	}
	row, err := k.storage.PropertyKeys(ctx, propertyID)
	if errors.Is(err, ErrNoKey) {
		row.Public, row.Sealed, err = k.create(ctx, propertyID)
	}
	if err != nil {
		return nil, err
	}
	cur, err := k.open(propertyID, row.Public, row.Sealed)
	if err != nil {
		return nil, err
	}
	out := []ed25519.PrivateKey{cur}
	if row.NextPublic != "" {
		next, err := k.open(propertyID, row.NextPublic, row.NextSealed)
		if err != nil {
			return nil, err
		}
		out = append(out, next)
	}
	return out, nil
}

// open opens a sealed property key whose public key is pub (base64).
func (k *Keyring) open(propertyID, pub, sealed string) (ed25519.PrivateKey, error) {
	id := propertyID + "/" + pub
	k.mu.Lock()
	priv, ok := k.cache[id]
	k.mu.Unlock()
	if ok {
		return priv, nil
	}
	seed, err := k.Open(sealed, rotatedAAD(propertyID, pub))
	if err != nil {
		seed, err = k.Open(sealed, propertyAAD(propertyID))
	}
	if err != nil {
		return nil, fmt.Errorf("property %s: %w", propertyID, err)
	}
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("keyring: property %s: bad key size", propertyID)
	}
	priv = ed25519.NewKeyFromSeed(seed)
	if base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)) != pub {
		return nil, fmt.Errorf("keyring: property %s: stored public key does not match the private key", propertyID)
	}
	k.mu.Lock()
	k.cache[id] = priv
	k.mu.Unlock()
	return priv, nil
}

func (k *Keyring) create(ctx context.Context, propertyID string) (string, string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", err
	}
	sealed, err := k.Seal(priv.Seed(), propertyAAD(propertyID))
	if err != nil {
		return "", "", err
	}
	return k.storage.PutPropertyKey(ctx, propertyID, base64.StdEncoding.EncodeToString(pub), sealed)
}

// NewPropertyKey makes the next signing key of a property for a rotation:
// its public key and its seed sealed for the property's key row. Nothing is
// stored: the store keeps it beside the current key in the transaction that
// starts the rotation.
func (k *Keyring) NewPropertyKey(propertyID string) (ed25519.PublicKey, string, error) {
	if propertyID == "" {
		return nil, "", errors.New("keyring: empty property id")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	sealed, err := k.Seal(priv.Seed(), rotatedAAD(propertyID, base64.StdEncoding.EncodeToString(pub)))
	return pub, sealed, err
}

// PropertyPublicKey returns the property's current public key (creating
// the key pair on first use). Credentials and bundles verify against it.
func (k *Keyring) PropertyPublicKey(ctx context.Context, propertyID string) (ed25519.PublicKey, error) {
	priv, err := k.PropertySigner(ctx, propertyID)
	if err != nil {
		return nil, err
	}
	return priv.Public().(ed25519.PublicKey), nil
}

// ParseMasterKey decodes a base64 (standard or URL, padded or not) master key.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != MasterKeySize {
				return nil, fmt.Errorf("keyring: master key must be %d bytes (base64 of 32 random bytes), got %d", MasterKeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("keyring: master key is not base64")
}

// LoadMasterKey picks the master key: the DOOROS_MASTER_KEY value when set,
// else the file at path. When neither exists and create is true (the
// embedded default) a new random key is written to path with mode 0600.
// It reports whether a key was created.
func LoadMasterKey(envValue, path string, create bool) (key []byte, created bool, err error) {
	if envValue != "" {
		key, err := ParseMasterKey(envValue)
		return key, false, err
	}
	if path == "" {
		return nil, false, errors.New("keyring: no master key: set DOOROS_MASTER_KEY or --master-key-file")
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		if info, err := os.Stat(path); err == nil && info.Mode().Perm()&0o077 != 0 {
			return nil, false, fmt.Errorf("keyring: %s is readable by others (mode %v); chmod 600 it", path, info.Mode().Perm())
		}
		return key, false, nil
	case errors.Is(err, fs.ErrNotExist) && !create:
		// Only the single-process embedded default may invent a key: servers
		// sharing a PostgreSQL database must all use the same one.
		return nil, false, fmt.Errorf("keyring: no master key at %s: with --db every server must share one master key; "+
			"set DOOROS_MASTER_KEY to 32 random bytes in base64 (e.g. `head -c 32 /dev/urandom | base64`) or point --master-key-file at a file holding it", path)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("keyring: master key: %w", err)
	}
	key = make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, err
	}
	// Write a temporary file and link it into place: two servers starting
	// at once on one data directory agree on the first key, and nobody
	// ever reads a half-written file.
	f, err := os.CreateTemp(filepath.Dir(path), ".master-key-*")
	if err != nil {
		return nil, false, err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return nil, false, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, false, err
	}
	if err := f.Close(); err != nil {
		return nil, false, err
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return LoadMasterKey("", path, false)
	} else if err != nil {
		return nil, false, err
	}
	return key, true, nil
}

// Open loads the master key (see LoadMasterKey) and builds the keyring.
func Open(envValue, path string, create bool, storage Storage) (kr *Keyring, created bool, err error) {
	key, created, err := LoadMasterKey(envValue, path, create)
	if err != nil {
		return nil, false, err
	}
	kr, err = New(key, storage)
	return kr, created, err
}
