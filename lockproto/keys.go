package lockproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"time"
	_ "time/tzdata" // locks keep schedules in the property's zone without an OS zone database
)

// SymmetricKeySize is the size of the key a lock shares only with the cloud.
const SymmetricKeySize = 32

// NewPropertyKey makes the Ed25519 key a property signs credentials and
// bundles with. The private half never leaves the cloud.
func NewPropertyKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// LockKeys is the secret material the cloud generates for one lock: the
// lock's signing key (for acks and event logs) and the symmetric key bundles
// are sealed under. The cloud keeps Public and Symmetric; the lock gets all.
type LockKeys struct {
	LockID    string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	Symmetric []byte
}

// NewLockKeys generates fresh provisioning material for lockID.
func NewLockKeys(lockID string) (*LockKeys, error) {
	if lockID == "" {
		return nil, fmt.Errorf("lockproto: empty lock id")
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	sym := make([]byte, SymmetricKeySize)
	if _, err := rand.Read(sym); err != nil {
		return nil, err
	}
	return &LockKeys{LockID: lockID, Public: pub, Private: priv, Symmetric: sym}, nil
}

// Provisioning is the file a lock is set up from (`doorlock provision`). It is
// JSON because installers and the cloud's export handle it as a file; the
// byte slices are base64 (encoding/json's default).
type Provisioning struct {
	Version           int               `json:"version"`
	LockID            string            `json:"lock_id"`
	PropertyPublicKey ed25519.PublicKey `json:"property_public_key"`
	// LockPrivateKey is the 32-byte Ed25519 seed; the public key is derived.
	LockPrivateKey   []byte    `json:"lock_private_key"`
	LockSymmetricKey []byte    `json:"lock_symmetric_key"`
	TimeZone         string    `json:"time_zone"`
	TrustedTime      time.Time `json:"trusted_time,omitzero"`
}

// NewProvisioning builds the provisioning file content for a lock.
func NewProvisioning(keys *LockKeys, propertyPub ed25519.PublicKey, timeZone string, now time.Time) *Provisioning {
	return &Provisioning{
		Version:           Version,
		LockID:            keys.LockID,
		PropertyPublicKey: propertyPub,
		LockPrivateKey:    keys.Private.Seed(),
		LockSymmetricKey:  keys.Symmetric,
		TimeZone:          timeZone,
		TrustedTime:       now.UTC().Truncate(time.Second),
	}
}

// LockPrivate returns the lock's Ed25519 private key.
func (p *Provisioning) LockPrivate() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(p.LockPrivateKey)
}

// Location loads the property's time zone.
func (p *Provisioning) Location() (*time.Location, error) {
	return time.LoadLocation(p.TimeZone)
}

// Validate refuses a provisioning file a lock could not run safely from.
func (p *Provisioning) Validate() error {
	switch {
	case p.Version != Version:
		return fmt.Errorf("provisioning: %w", VersionError(p.Version))
	case p.LockID == "":
		return fmt.Errorf("%w: provisioning: lock_id is required", ErrMalformed)
	case len(p.PropertyPublicKey) != ed25519.PublicKeySize:
		return fmt.Errorf("%w: provisioning: property_public_key must be %d bytes", ErrMalformed, ed25519.PublicKeySize)
	case len(p.LockPrivateKey) != ed25519.SeedSize:
		return fmt.Errorf("%w: provisioning: lock_private_key must be a %d-byte seed", ErrMalformed, ed25519.SeedSize)
	case len(p.LockSymmetricKey) != SymmetricKeySize:
		return fmt.Errorf("%w: provisioning: lock_symmetric_key must be %d bytes", ErrMalformed, SymmetricKeySize)
	}
	if _, err := p.Location(); err != nil {
		return fmt.Errorf("%w: provisioning: time_zone: %v", ErrMalformed, err)
	}
	return nil
}

// ParseProvisioning decodes and validates a provisioning file.
func ParseProvisioning(data []byte) (*Provisioning, error) {
	var p Provisioning
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%w: provisioning: %v", ErrMalformed, err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}
