package lock

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// DeviceKeySize is the size of the key SealedFS seals the lock's files
// under.
const DeviceKeySize = chacha20poly1305.KeySize

var sealMagic = []byte("DOORSEAL")

// SealedFS wraps a lock's flash so that everything the lock keeps in its
// files — the lock's private and symmetric keys, doorcode entries, day-code
// secrets, 15-minute code starts — is sealed at rest with
// XChaCha20-Poly1305 under deviceKey, a key a real lock holds outside its
// flash (secure element, MCU key storage). A dump of the flash alone gives
// none of it. Each file is bound to its name (a sealed runtime file cannot
// be renamed to the state). The event log is left as the log's own
// (hash-chained, lock-signed) format: it holds no secrets.
//
// The lock also derives from deviceKey the key doorcodes are hashed under
// (HMAC-SHA-256): the door state keeps only those hashes, so even an
// unsealed copy of it does not list a single code.
func SealedFS(inner FS, deviceKey []byte) (FS, error) {
	if len(deviceKey) != DeviceKeySize {
		return nil, fmt.Errorf("lock: device key must be %d bytes", DeviceKeySize)
	}
	aead, err := chacha20poly1305.NewX(deviceKey)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, deviceKey)
	m.Write([]byte("dooros lock doorcode hash v1"))
	return &sealedFS{inner: inner, aead: aead, codeKey: m.Sum(nil)}, nil
}

type sealedFS struct {
	inner FS
	aead  interface {
		Seal(dst, nonce, plaintext, additionalData []byte) []byte
		Open(dst, nonce, ciphertext, additionalData []byte) ([]byte, error)
		NonceSize() int
	}
	codeKey []byte
}

// plain names the files left as they are: the event log (appended record
// by record).
func plain(name string) bool {
	// A chunked bundle in transfer is already encrypted to the lock and
	// its manifest is signed public data; chunks are appended as they come.
	return strings.HasPrefix(name, eventsFile) || strings.HasPrefix(name, transferPrefix)
}

// aadFor binds a file to its final name: writeAtomic writes NAME.tmp and
// renames it to NAME.
func aadFor(name string) []byte {
	return []byte("dooros lock file " + strings.TrimSuffix(name, ".tmp"))
}

func (s *sealedFS) ReadFile(name string) ([]byte, error) {
	data, err := s.inner.ReadFile(name)
	if err != nil || plain(name) {
		return data, err
	}
	n := s.aead.NonceSize()
	if len(data) < len(sealMagic)+n || !bytes.Equal(data[:len(sealMagic)], sealMagic) {
		return nil, fmt.Errorf("%w: %s is not sealed", ErrCorrupt, name)
	}
	nonce := data[len(sealMagic) : len(sealMagic)+n]
	out, err := s.aead.Open(nil, nonce, data[len(sealMagic)+n:], aadFor(name))
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not open under this device key", ErrCorrupt, name)
	}
	return out, nil
}

func (s *sealedFS) WriteFile(name string, data []byte) error {
	if plain(name) {
		return s.inner.WriteFile(name, data)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	out := append(append([]byte(nil), sealMagic...), nonce...)
	return s.inner.WriteFile(name, s.aead.Seal(out, nonce, data, aadFor(name)))
}

func (s *sealedFS) AppendFile(name string, data []byte) error {
	if plain(name) {
		return s.inner.AppendFile(name, data)
	}
	return errors.New("lock: sealed files are written whole")
}

func (s *sealedFS) Rename(oldname, newname string) error { return s.inner.Rename(oldname, newname) }

// codeHasher returns how the lock hashes doorcodes: under the device key's
// code key when the flash is sealed, else under a key derived from the
// lock's symmetric key (no protection from a flash dump, which holds that
// key; the simulator without a device key).
func codeHasher(fsys FS, lockSymmetric []byte) func(string) string {
	key := []byte(nil)
	if s, ok := fsys.(*sealedFS); ok {
		key = s.codeKey
	} else {
		m := hmac.New(sha256.New, lockSymmetric)
		m.Write([]byte("dooros lock doorcode hash v1"))
		key = m.Sum(nil)
	}
	return func(code string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(code))
		// 128 bits: ample for a lookup key, half the memory per entry.
		return hex.EncodeToString(m.Sum(nil)[:16])
	}
}
