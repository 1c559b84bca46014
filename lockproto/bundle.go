package lockproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// Bundle is one door's desired state (§4.4), from the cloud to one lock:
// a full snapshot, or a delta from version Base to Version. Lists are
// upserts keyed by code, card serial or key id; Remove* lists delete.
type Bundle struct {
	V        uint8  `cbor:"0,keyasint"`
	LockID   string `cbor:"1,keyasint"`
	Base     uint64 `cbor:"2,keyasint,omitempty"`
	Version  uint64 `cbor:"3,keyasint"`
	Snapshot bool   `cbor:"4,keyasint,omitempty"`
	// TrustedTime is the cloud's clock when it sealed the bundle: the only
	// time source the lock accepts (§4.7).
	TrustedTime time.Time `cbor:"5,keyasint"`
	// TimeZone, when set, replaces the provisioned property time zone.
	TimeZone string `cbor:"6,keyasint,omitempty"`
	// MaxCredentialLifetime lets the lock drop revocations nobody can be
	// refused by any more (EffectiveAt + MaxCredentialLifetime has passed).
	MaxCredentialLifetime time.Duration   `cbor:"7,keyasint,omitempty"`
	Doorcodes             []DoorcodeEntry `cbor:"8,keyasint,omitempty"`
	RemoveDoorcodes       []string        `cbor:"9,keyasint,omitempty"`
	Keycards              []KeycardEntry  `cbor:"10,keyasint,omitempty"`
	RemoveKeycards        []string        `cbor:"11,keyasint,omitempty"`
	Revocations           []Revocation    `cbor:"12,keyasint,omitempty"`
	DayKeys               []DayKey        `cbor:"13,keyasint,omitempty"`
	RemoveDayKeys         []string        `cbor:"14,keyasint,omitempty"`
	// Epoch numbers the cloud's time corrections, as in TimeToken: a higher
	// epoch lets TrustedTime move the lock's clock back by any amount.
	Epoch uint64 `cbor:"40,keyasint,omitempty"`
	// RevocationRetention is the longest credential lifetime the property
	// ever issued. The lock keeps a revocation until that long after it took
	// effect (and never shorter than any retention or lifetime it was told
	// before), because lowering the property's lifetime does not shorten
	// credentials already on phones.
	RevocationRetention time.Duration `cbor:"41,keyasint,omitempty"`
	// Rotation replaces the lock's keys and/or the property key from this
	// version on (rotation.go).
	Rotation *KeyRotation `cbor:"42,keyasint,omitempty"`
}

// DoorcodeEntry is a resident's doorcode at this door.
type DoorcodeEntry struct {
	Code      string    `cbor:"1,keyasint"`
	PersonID  string    `cbor:"2,keyasint"`
	NotBefore time.Time `cbor:"3,keyasint,omitzero"`
	NotAfter  time.Time `cbor:"4,keyasint,omitzero"`
	Schedule  Schedule  `cbor:"5,keyasint,omitempty"`
}

// KeycardEntry is an activated keycard at this door.
type KeycardEntry struct {
	Serial    string    `cbor:"1,keyasint"`
	PersonID  string    `cbor:"2,keyasint"`
	NotBefore time.Time `cbor:"3,keyasint,omitzero"`
	NotAfter  time.Time `cbor:"4,keyasint,omitzero"`
	Schedule  Schedule  `cbor:"5,keyasint,omitempty"`
	// Key is a secure card's diversified key (CardKey): the lock then
	// requires the card to answer a challenge. Empty: a serial-only card.
	Key []byte `cbor:"60,keyasint,omitempty"`
}

// Revocation refuses every phone credential issued before EffectiveAt that
// matches any of its set fields (person, credential serial, device key).
type Revocation struct {
	PersonID    string    `cbor:"1,keyasint,omitempty"`
	Serial      uint64    `cbor:"2,keyasint,omitempty"`
	DeviceKey   []byte    `cbor:"3,keyasint,omitempty"`
	EffectiveAt time.Time `cbor:"4,keyasint"`
}

// DayKey is a key's secret for guest codes computed on the lock (§4.6).
// Only the locks of that key's doors receive it.
type DayKey struct {
	KeyID    string   `cbor:"1,keyasint"`
	Secret   []byte   `cbor:"2,keyasint"`
	Digits   uint8    `cbor:"3,keyasint"`
	Slots    uint16   `cbor:"4,keyasint"`
	Schedule Schedule `cbor:"5,keyasint,omitempty"`
	// ActiveSlots are the guest-code slots the lock accepts, ascending: the
	// allocated ones plus a few pre-activated spares so a new guest code
	// works offline before the next sync. Any other slot's code is unknown.
	ActiveSlots []uint16 `cbor:"40,keyasint,omitempty"`
}

// SlotActive reports whether slot's guest codes are valid.
func (k *DayKey) SlotActive(slot uint16) bool {
	_, found := slices.BinarySearch(k.ActiveSlots, slot)
	return found
}

// Expired reports whether r can no longer refuse anything: every credential
// issued before it has run out by now (the bounded-size rule of §4.4).
func (r *Revocation) Expired(now time.Time, maxLifetime time.Duration) bool {
	return maxLifetime > 0 && !now.Before(r.EffectiveAt.Add(maxLifetime))
}

var digitsRE = regexp.MustCompile(`^[0-9]{4,9}$`)

func (b *Bundle) validate() error {
	if err := checkVersion(b.V); err != nil {
		return err
	}
	switch {
	case b.LockID == "":
		return fmt.Errorf("%w: bundle: lock id is required", ErrMalformed)
	case b.Version == 0:
		return fmt.Errorf("%w: bundle: version must be positive", ErrMalformed)
	case b.Snapshot && b.Base != 0:
		return fmt.Errorf("%w: bundle: a snapshot has no base", ErrMalformed)
	case !b.Snapshot && b.Base >= b.Version:
		return fmt.Errorf("%w: bundle: delta must move forward", ErrMalformed)
	case b.TrustedTime.IsZero():
		return fmt.Errorf("%w: bundle: trusted time is required", ErrMalformed)
	case b.MaxCredentialLifetime < 0 || b.RevocationRetention < 0:
		return fmt.Errorf("%w: bundle: negative credential lifetime", ErrMalformed)
	case b.Snapshot && (len(b.RemoveDoorcodes)+len(b.RemoveKeycards)+len(b.RemoveDayKeys) > 0):
		return fmt.Errorf("%w: bundle: a snapshot removes nothing", ErrMalformed)
	}
	if b.Rotation != nil {
		if err := b.Rotation.validate(); err != nil {
			return err
		}
	}
	if b.TimeZone != "" {
		if _, err := time.LoadLocation(b.TimeZone); err != nil {
			return fmt.Errorf("%w: bundle: time zone: %v", ErrMalformed, err)
		}
	}
	for _, d := range b.Doorcodes {
		if !digitsRE.MatchString(d.Code) || d.PersonID == "" {
			return fmt.Errorf("%w: bundle: doorcode entry", ErrMalformed)
		}
		if err := d.Schedule.Validate(); err != nil {
			return err
		}
	}
	for _, k := range b.Keycards {
		if k.Serial == "" || len(k.Serial) > MaxCardSerial || k.PersonID == "" || (len(k.Key) != 0 && len(k.Key) != CardKeySize) {
			return fmt.Errorf("%w: bundle: keycard entry", ErrMalformed)
		}
		if err := k.Schedule.Validate(); err != nil {
			return err
		}
	}
	for _, r := range b.Revocations {
		if r.PersonID == "" && r.Serial == 0 && len(r.DeviceKey) == 0 {
			return fmt.Errorf("%w: bundle: revocation names nobody", ErrMalformed)
		}
		if len(r.DeviceKey) != 0 && ValidDeviceKey(r.DeviceKey) != nil {
			return fmt.Errorf("%w: bundle: revocation device key", ErrMalformed)
		}
		if r.EffectiveAt.IsZero() {
			return fmt.Errorf("%w: bundle: revocation without effective time", ErrMalformed)
		}
	}
	for _, k := range b.DayKeys {
		if k.KeyID == "" || len(k.Secret) < 16 || len(k.Secret) > 64 || k.Digits < 4 || k.Digits > 9 || k.Slots == 0 || k.Slots > 1000 {
			return fmt.Errorf("%w: bundle: day key", ErrMalformed)
		}
		for i, s := range k.ActiveSlots {
			if s >= k.Slots || (i > 0 && s <= k.ActiveSlots[i-1]) {
				return fmt.Errorf("%w: bundle: day key active slots must be ascending and below %d", ErrMalformed, k.Slots)
			}
		}
		if err := k.Schedule.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// BundleHeader is the cleartext part of a sealed bundle: enough for a phone
// or the sync service to route it, and bound into the AEAD so it cannot be
// altered.
type BundleHeader struct {
	V        uint8  `cbor:"0,keyasint"`
	LockID   string `cbor:"1,keyasint"`
	Base     uint64 `cbor:"2,keyasint"`
	Version  uint64 `cbor:"3,keyasint"`
	Snapshot bool   `cbor:"4,keyasint"`
}

type sealedBundle struct {
	BundleHeader
	Nonce      []byte `cbor:"5,keyasint"`
	Ciphertext []byte `cbor:"6,keyasint"`
}

func (h *BundleHeader) aad() []byte {
	b, err := marshal(&[]any{"dooros-bundle", h.V, h.LockID, h.Base, h.Version, h.Snapshot})
	if err != nil {
		panic(err) // plain scalars: cannot fail
	}
	return b
}

// SealBundle signs b with the property key and encrypts it to the lock under
// its symmetric key, bound to the lock id and versions. V is set for the
// caller; TrustedTime defaults to now.
func SealBundle(propertyKey ed25519.PrivateKey, lockKey []byte, b Bundle) ([]byte, error) {
	b.V = Version
	if b.TrustedTime.IsZero() {
		b.TrustedTime = time.Now()
	}
	b.TrustedTime = b.TrustedTime.Truncate(time.Second)
	if err := b.validate(); err != nil {
		return nil, err
	}
	payload, err := marshal(&b)
	if err != nil {
		return nil, err
	}
	signed, err := sign1(propertyKey, ctxBundle, payload)
	if err != nil {
		return nil, err
	}
	aead, err := chacha20poly1305.NewX(lockKey)
	if err != nil {
		return nil, fmt.Errorf("lockproto: lock key: %w", err)
	}
	s := sealedBundle{
		BundleHeader: BundleHeader{V: Version, LockID: b.LockID, Base: b.Base, Version: b.Version, Snapshot: b.Snapshot},
		Nonce:        make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, s.Nonce, signed, s.BundleHeader.aad())
	return marshal(&s)
}

func decodeSealed(sealed []byte) (*sealedBundle, error) {
	if len(sealed) > MaxBundleSize {
		return nil, fmt.Errorf("%w: bundle of %d bytes", ErrTooLarge, len(sealed))
	}
	var s sealedBundle
	if err := unmarshal(sealed, &s); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := checkVersion(s.V); err != nil {
		return nil, err
	}
	if s.LockID == "" || len(s.Nonce) != chacha20poly1305.NonceSizeX || len(s.Ciphertext) < chacha20poly1305.Overhead {
		return nil, fmt.Errorf("%w: bundle envelope", ErrMalformed)
	}
	return &s, nil
}

// ReadBundleHeader returns the routing header of a sealed bundle without
// decrypting it. Nothing in it is trustworthy until OpenBundle succeeds.
func ReadBundleHeader(sealed []byte) (*BundleHeader, error) {
	s, err := decodeSealed(sealed)
	if err != nil {
		return nil, err
	}
	return &s.BundleHeader, nil
}

// OpenBundle is the lock's side of SealBundle: it returns the bundle only if
// it is addressed to lockID, decrypts under lockKey with its header intact,
// carries the property's signature, and says inside what the header says
// outside. Version ordering is the lock's to judge.
func OpenBundle(propertyPub ed25519.PublicKey, lockID string, lockKey []byte, sealed []byte) (*Bundle, error) {
	s, err := decodeSealed(sealed)
	if err != nil {
		return nil, err
	}
	if s.LockID != lockID {
		return nil, fmt.Errorf("%w: bundle for %q", ErrWrongLock, s.LockID)
	}
	aead, err := chacha20poly1305.NewX(lockKey)
	if err != nil {
		return nil, fmt.Errorf("%w: lock key: %v", ErrDecrypt, err)
	}
	signed, err := aead.Open(nil, s.Nonce, s.Ciphertext, s.BundleHeader.aad())
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", ErrDecrypt)
	}
	payload, err := verify1(propertyPub, ctxBundle, signed, MaxBundleSize)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var b Bundle
	if err := unmarshal(payload, &b); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if err := b.validate(); err != nil {
		return nil, err
	}
	// The header is only authenticated by the lock key, which the lock also
	// holds; the signed body is the cloud's word. They must agree.
	if b.LockID != lockID {
		return nil, fmt.Errorf("%w: signed bundle for %q", ErrWrongLock, b.LockID)
	}
	if b.Base != s.Base || b.Version != s.Version || b.Snapshot != s.Snapshot {
		return nil, fmt.Errorf("%w: bundle header disagrees with signed body", ErrMalformed)
	}
	return &b, nil
}
