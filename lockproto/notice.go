package lockproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Revocation notice (issue 14): the fast path of a revocation to an online
// lock. A bundle per lock has to be built, signed, sealed and stored before
// it can be published; a notice is signed once per revocation and sealed
// per lock (one AEAD of a few hundred bytes), so every online lock of the
// doors a revocation changed can refuse the people it names within one
// broker fan-out of the revoke call. It only narrows access and only until
// the lock applies a bundle of the door version the revocation made: the
// bundle stays the durable record (acknowledged, retried, carried by
// phones to offline doors), the notice is best effort.
//
// The signed part (RevocationNotice) is the same for every lock; the
// per-lock part — lock id and the door version that makes the notice moot
// (Until) — is authenticated by the AEAD under the lock's symmetric key,
// which also hides who was revoked from the broker and anyone listening.
const ctxRevocationNotice = "application/dooros-revocation-notice+cbor; v=1"

// Limits of a revocation notice.
const (
	// MaxNoticeNames is how many names (people, day keys, keycard serials
	// and people's doorcodes together) one notice holds; the cloud splits a larger
	// revocation into several notices.
	MaxNoticeNames = 256
	// MaxNoticeID bounds each name (person id, key id, card serial).
	MaxNoticeID = 128
	// MaxNoticeSize bounds a sealed notice, checked before parsing.
	MaxNoticeSize = 48 << 10
	// NoticeLife is how long a notice holds at most: a lock that has not
	// applied the door version named by Until this long after IssuedAt
	// (by its trusted clock) stops honouring it, and refuses it as stale
	// when it arrives later. It bounds what a replayed or re-addressed
	// notice can do; the bundle path is what revokes for good.
	NoticeLife = 24 * time.Hour
)

// RevocationNotice is the property-signed part of a notice: what the lock
// must refuse until it applies the version named in the sealed envelope.
//   - Persons: every credential, doorcode, keycard and remote unlock of
//     these people.
//   - DayKeys: every guest code (day and 15-minute, started or not) of
//     these keys — a change that ends a guest's code rotates the key's day
//     secret, so the bundle that follows refuses every code computed from
//     the old one; guest codes belong to no person.
//   - Cards: these keycard serials (a card deactivated, replaced or made
//     secure while its holder keeps their other ways in).
//   - Doorcodes: the resident doorcodes of these people (a resident who
//     reset a code that leaked keeps their phone and card).
//
// A notice with only Persons encodes as before DayKeys, Cards and
// Doorcodes existed (all omitted when empty).
type RevocationNotice struct {
	V        uint8     `cbor:"0,keyasint"`
	Persons  []string  `cbor:"1,keyasint,omitempty"`
	IssuedAt time.Time `cbor:"2,keyasint"`
	DayKeys  []string  `cbor:"3,keyasint,omitempty"`
	Cards    []string  `cbor:"4,keyasint,omitempty"`
	// Doorcodes holds person ids, a list apart from Persons.
	Doorcodes []string `cbor:"5,keyasint,omitempty"`
}

// Names is how many names the notice holds (people, day keys, cards,
// people's doorcodes).
func (n *RevocationNotice) Names() int {
	return len(n.Persons) + len(n.DayKeys) + len(n.Cards) + len(n.Doorcodes)
}

func (n *RevocationNotice) validate() error {
	if err := checkVersion(n.V); err != nil {
		return err
	}
	if names := n.Names(); names == 0 || names > MaxNoticeNames {
		return fmt.Errorf("%w: revocation notice holds %d names (1-%d)", ErrMalformed, names, MaxNoticeNames)
	}
	for _, list := range []struct {
		what  string
		names []string
	}{{"person id", n.Persons}, {"day key id", n.DayKeys}, {"card serial", n.Cards}, {"doorcode person id", n.Doorcodes}} {
		seen := make(map[string]bool, len(list.names))
		for _, p := range list.names {
			if p == "" || len(p) > MaxNoticeID || seen[p] {
				return fmt.Errorf("%w: revocation notice %s", ErrMalformed, list.what)
			}
			seen[p] = true
		}
	}
	if n.IssuedAt.Unix() <= 0 {
		return fmt.Errorf("%w: revocation notice without issue time", ErrMalformed)
	}
	return nil
}

// sealedNotice is the envelope on the lock's bundle topic. Its field keys
// differ from a sealed bundle's, so the strict decoders tell them apart.
type sealedNotice struct {
	V      uint8  `cbor:"0,keyasint"`
	LockID string `cbor:"1,keyasint"`
	// Until is the door version whose bundle makes the notice moot.
	Until      uint64 `cbor:"20,keyasint"`
	Nonce      []byte `cbor:"21,keyasint"`
	Ciphertext []byte `cbor:"22,keyasint"`
}

func (s *sealedNotice) aad() []byte {
	b, err := marshal(&[]any{"dooros-revocation-notice", s.V, s.LockID, s.Until})
	if err != nil {
		panic(err) // plain scalars: cannot fail
	}
	return b
}

// SignRevocationNotice signs n with the property key, once for every lock
// it goes to (SealRevocationNotice). V is set for the caller; IssuedAt
// defaults to now, in whole seconds.
func SignRevocationNotice(propertyKey ed25519.PrivateKey, n RevocationNotice) ([]byte, error) {
	n.V = Version
	if n.IssuedAt.IsZero() {
		n.IssuedAt = time.Now()
	}
	n.IssuedAt = n.IssuedAt.Truncate(time.Second)
	if err := n.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&n)
	if err != nil {
		return nil, err
	}
	return sign1(propertyKey, ctxRevocationNotice, payload)
}

// SealRevocationNotice addresses a signed notice to one lock: encrypted
// under the lock's symmetric key, bound to its lock id and to until, the
// door version the revocation gave its door.
func SealRevocationNotice(signed []byte, lockID string, lockKey []byte, until uint64) ([]byte, error) {
	if lockID == "" || until == 0 {
		return nil, fmt.Errorf("%w: revocation notice needs a lock id and a version", ErrMalformed)
	}
	if len(signed) > MaxNoticeSize-256 {
		return nil, fmt.Errorf("%w: revocation notice of %d bytes", ErrTooLarge, len(signed))
	}
	aead, err := chacha20poly1305.NewX(lockKey)
	if err != nil {
		return nil, fmt.Errorf("lockproto: lock key: %w", err)
	}
	s := sealedNotice{V: Version, LockID: lockID, Until: until, Nonce: make([]byte, chacha20poly1305.NonceSizeX)}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, s.Nonce, signed, s.aad())
	return marshal(&s)
}

func decodeSealedNotice(sealed []byte) (*sealedNotice, error) {
	if len(sealed) > MaxNoticeSize {
		return nil, fmt.Errorf("%w: revocation notice of %d bytes", ErrTooLarge, len(sealed))
	}
	var s sealedNotice
	if err := unmarshal(sealed, &s); err != nil {
		return nil, fmt.Errorf("revocation notice: %w", err)
	}
	if err := checkVersion(s.V); err != nil {
		return nil, err
	}
	if s.LockID == "" || s.Until == 0 || len(s.Nonce) != chacha20poly1305.NonceSizeX || len(s.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: revocation notice envelope", ErrMalformed)
	}
	return &s, nil
}

// IsRevocationNotice reports whether a message on a lock's bundle topic is
// a revocation notice envelope rather than a bundle (nothing in it is
// authentic until OpenRevocationNotice succeeds).
func IsRevocationNotice(payload []byte) bool {
	if len(payload) > MaxNoticeSize {
		return false
	}
	_, err := decodeSealedNotice(payload)
	return err == nil
}

// OpenRevocationNotice is the lock's side: it returns the notice and the
// door version it holds until, only if the envelope is addressed to
// lockID, opens under lockKey with its header intact, and the notice
// inside carries the property's signature. Whether until is still ahead
// of the lock, and the notice's age, are the lock's to judge.
func OpenRevocationNotice(propertyPub ed25519.PublicKey, lockID string, lockKey []byte, sealed []byte) (*RevocationNotice, uint64, error) {
	s, err := decodeSealedNotice(sealed)
	if err != nil {
		return nil, 0, err
	}
	if s.LockID != lockID {
		return nil, 0, fmt.Errorf("%w: revocation notice for %q", ErrWrongLock, s.LockID)
	}
	aead, err := chacha20poly1305.NewX(lockKey)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: lock key: %v", ErrDecrypt, err)
	}
	signed, err := aead.Open(nil, s.Nonce, s.Ciphertext, s.aad())
	if err != nil {
		return nil, 0, fmt.Errorf("revocation notice: %w", ErrDecrypt)
	}
	payload, err := verify1(propertyPub, ctxRevocationNotice, signed, MaxNoticeSize)
	if err != nil {
		return nil, 0, fmt.Errorf("revocation notice: %w", err)
	}
	var n RevocationNotice
	if err := unmarshal(payload, &n); err != nil {
		return nil, 0, fmt.Errorf("revocation notice: %w", err)
	}
	if err := n.validate(); err != nil {
		return nil, 0, err
	}
	return &n, s.Until, nil
}
