package store

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/lockproto"
)

// EventPropertyKeyRotated is the Activity kind of a property signing-key
// rotation, started and finished.
const EventPropertyKeyRotated = "property.signing_key_rotated"

// PropertyKeys returns a property's sealed signing keys (keyring.Storage):
// the current one and, during a rotation, the next one.
func (s *Store) PropertyKeys(ctx context.Context, propertyID string) (keyring.StoredKeys, error) {
	var k keyring.StoredKeys
	err := s.queryRow(ctx, `SELECT public_key, private_key, next_public_key, next_private_key FROM property_keys WHERE property_id = ?`, propertyID).
		Scan(&k.Public, &k.Sealed, &k.NextPublic, &k.NextSealed)
	if errors.Is(err, sql.ErrNoRows) {
		return k, keyring.ErrNoKey
	}
	return k, err
}

// KeyFingerprint is how the console and the API show a public key: the
// first 8 bytes of its SHA-256, in hex.
func KeyFingerprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// PropertyKeyState is a property's signing key and the rotation under way.
type PropertyKeyState struct {
	PropertyID  string `json:"property_id"`
	PublicKey   string `json:"public_key"`
	Fingerprint string `json:"fingerprint"`
	// Rotation is the rotation under way (nil: none).
	Rotation *PropertyKeyRotation `json:"rotation"`
	// PreviousFingerprint and RotatedAt: the key the last finished
	// rotation replaced, and when it finished.
	PreviousFingerprint string     `json:"previous_fingerprint,omitempty"`
	RotatedAt           *time.Time `json:"rotated_at,omitempty"`
}

// PropertyKeyRotation is a property-key rotation under way.
type PropertyKeyRotation struct {
	NextPublicKey   string `json:"next_public_key"`
	NextFingerprint string `json:"next_fingerprint"`
	// Since is when it started: the EffectiveAt of the locks' rotation.
	// Credentials the old key signed before it stay valid at rotated
	// locks until they expire; later ones are refused there.
	Since        time.Time `json:"since"`
	DoorsRotated int       `json:"doors_rotated"`
	DoorsTotal   int       `json:"doors_total"`
}

// PropertyKeyStatus returns a property's signing-key state (Portfolio
// Managers).
func (s *Store) PropertyKeyStatus(ctx context.Context, a domain.Actor, propertyID string) (PropertyKeyState, error) {
	var out PropertyKeyState
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanRotatePropertyKey(); err != nil {
			return err
		}
		var err error
		out, err = t.propertyKeyState(ctx, propertyID)
		return err
	})
	return out, err
}

func (t *Tx) propertyKeyState(ctx context.Context, propertyID string) (PropertyKeyState, error) {
	out := PropertyKeyState{PropertyID: propertyID}
	var pub, next, prev string
	var started, rotated sql.NullInt64
	err := t.queryRow(ctx, `SELECT public_key, next_public_key, previous_public_key, rotation_started_at, rotated_at FROM property_keys WHERE property_id = ?`, propertyID).
		Scan(&pub, &next, &prev, &started, &rotated)
	if errors.Is(err, sql.ErrNoRows) {
		return out, domain.Errorf(domain.ENotFound, "property %s has no signing key yet (it is made when the first lock is provisioned or credential issued)", propertyID)
	}
	if err != nil {
		return out, err
	}
	out.PublicKey, out.Fingerprint = pub, fingerprintOf(pub)
	if prev != "" {
		out.PreviousFingerprint = fingerprintOf(prev)
	}
	if rotated.Valid {
		at := fromMicros(rotated.Int64)
		out.RotatedAt = &at
	}
	if next == "" {
		return out, nil
	}
	r := &PropertyKeyRotation{NextPublicKey: next, NextFingerprint: fingerprintOf(next)}
	if started.Valid {
		r.Since = fromMicros(started.Int64)
	}
	if err := t.queryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN l.property_key_next THEN 1 ELSE 0 END), 0)
		FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE d.property_id = ?`, propertyID).Scan(&r.DoorsTotal, &r.DoorsRotated); err != nil {
		return out, err
	}
	out.Rotation = r
	return out, nil
}

func fingerprintOf(b64 string) string {
	pub, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return ""
	}
	return KeyFingerprint(pub)
}

// StartPropertyKeyRotation starts rotating a property's signing key to
// next (made and sealed by the keyring: keyring.NewPropertyKey). The next
// key is kept beside the current one; every door with a provisioned lock
// gets a new version whose bundle carries lockproto.KeyRotation{next,
// EffectiveAt: now}, signed with the old key the lock trusts. A door is
// rotated once its lock acknowledges a version at or after the first one
// carrying the rotation; when every one is, the next key becomes current
// (finishPropertyKeyRotation). A second rotation while one is under way is
// refused: locks may already trust the next key. A property with no lock
// finishes at once.
func (s *Store) StartPropertyKeyRotation(ctx context.Context, a domain.Actor, propertyID string, next ed25519.PublicKey, sealedNext string) (PropertyKeyState, error) {
	var out PropertyKeyState
	if len(next) != ed25519.PublicKeySize || sealedNext == "" {
		return out, errors.New("store: property key rotation without a next key")
	}
	err := s.inTx(ctx, "start_property_key_rotation", func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanRotatePropertyKey(); err != nil {
			return err
		}
		var pending string
		err := t.queryRow(ctx, `SELECT next_public_key FROM property_keys WHERE property_id = ?`+t.forUpdate(), propertyID).Scan(&pending)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "property %s has no signing key yet", propertyID)
		}
		if err != nil {
			return err
		}
		if pending != "" {
			return domain.Errorf(domain.EConflict, "a rotation of this property's signing key is under way (next key %s): it finishes when every lock has applied it; see GET …/signing-key", fingerprintOf(pending))
		}
		// EffectiveAt, in whole seconds like a credential's IssuedAt: the
		// next second, so every credential issued before now stays valid at
		// rotated locks until it expires.
		now := s.Now().Truncate(time.Second).Add(time.Second)
		// Lock the doors first: no other transaction may bump them between
		// reading their versions and this one's bump, so the first version
		// carrying the rotation is exactly version + 1.
		rows, err := t.query(ctx, `SELECT d.id FROM doors d JOIN door_locks l ON l.door_id = d.id WHERE d.property_id = ? ORDER BY d.id`+t.forUpdate(), propertyID)
		doors, err := collect(rows, err, func(r rowScanner) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		nextB64 := base64.StdEncoding.EncodeToString(next)
		if _, err := t.exec(ctx, `UPDATE property_keys SET next_public_key = ?, next_private_key = ?, rotation_started_at = ? WHERE property_id = ?`,
			nextB64, sealedNext, micros(now), propertyID); err != nil {
			return err
		}
		if len(doors) > 0 {
			if _, err := t.exec(ctx, `UPDATE door_locks SET property_key_next = FALSE,
					property_rotation_version = (SELECT d.version + 1 FROM doors d WHERE d.id = door_locks.door_id)
				WHERE door_id IN (`+placeholders(len(doors))+`)`, anySlice(doors)...); err != nil {
				return err
			}
			changes := make([]domain.DoorChange, len(doors))
			for i, id := range doors {
				changes[i] = domain.DoorChange{DoorID: id, Reason: "property signing key rotating"}
			}
			if err := t.bumpDoors(ctx, changes); err != nil {
				return err
			}
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventPropertyKeyRotated, ActorID: a.ManagerID, Actor: a.Name, Doors: doors,
			Detail: fmt.Sprintf("rotation of the property signing key to %s started: sent to %d locks", KeyFingerprint(next), len(doors))}); err != nil {
			return err
		}
		if err := t.finishPropertyKeyRotation(ctx, propertyID); err != nil {
			return err
		}
		out, err = t.propertyKeyState(ctx, propertyID)
		return err
	})
	return out, err
}

// propertyKeyApplied records that the lock of doorID is at version (an
// authentic ack or event batch says so). At or after the first version
// carrying the property-key rotation, the lock trusts the next key: later
// bundles, credentials, lock certificates and time tokens for it are
// signed with that key, and the rotation finishes if it was the last lock.
// Bundles already sealed for the door were signed with the old key, which
// the lock now refuses: when one could still be handed out — the door has
// a newer version, the cloud asks for a snapshot, or resync (the lock's
// version came from its log, not an ack, so the cloud does not know its
// state) — the door gets a new version, built with the new key.
func (t *Tx) propertyKeyApplied(ctx context.Context, doorID string, version int64, resync bool) error {
	var rv, doorVersion int64
	var needSnapshot bool
	var propertyID string
	err := t.queryRow(ctx, `SELECT l.property_rotation_version, l.need_snapshot, d.version, d.property_id FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE l.door_id = ?`, doorID).
		Scan(&rv, &needSnapshot, &doorVersion, &propertyID)
	if err != nil || rv == 0 || version < rv {
		return err
	}
	// The key row first: rotations finishing on two servers at once
	// serialize here, and the last lock's transaction sees the others'.
	var next string
	if err := t.queryRow(ctx, `SELECT next_public_key FROM property_keys WHERE property_id = ?`+t.forUpdate(), propertyID).Scan(&next); err != nil {
		return err
	}
	if _, err := t.exec(ctx, `UPDATE door_locks SET property_key_next = TRUE, property_rotation_version = 0 WHERE door_id = ?`, doorID); err != nil {
		return err
	}
	if resync || needSnapshot || doorVersion > version {
		if err := t.bumpDoors(ctx, []domain.DoorChange{{DoorID: doorID, Reason: "lock took the new property key"}}); err != nil {
			return err
		}
	}
	return t.finishPropertyKeyRotation(ctx, propertyID)
}

// finishPropertyKeyRotation makes the next key current once every
// provisioned lock of the property trusts it. The old private key is
// dropped: no lock verifies a new signature of it any more. Only its
// public key is kept, for the record; credentials it signed before the
// rotation expire by themselves.
func (t *Tx) finishPropertyKeyRotation(ctx context.Context, propertyID string) error {
	var left int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM door_locks l JOIN doors d ON d.id = l.door_id WHERE d.property_id = ? AND NOT l.property_key_next`, propertyID).Scan(&left); err != nil {
		return err
	}
	if left > 0 {
		return nil
	}
	var next string
	if err := t.queryRow(ctx, `SELECT next_public_key FROM property_keys WHERE property_id = ?`, propertyID).Scan(&next); err != nil || next == "" {
		return err
	}
	if _, err := t.exec(ctx, `UPDATE property_keys SET previous_public_key = public_key, public_key = next_public_key, private_key = next_private_key,
			next_public_key = '', next_private_key = '', rotation_started_at = NULL, rotated_at = ? WHERE property_id = ?`, micros(t.s.Now()), propertyID); err != nil {
		return err
	}
	return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventPropertyKeyRotated, Actor: "Door Sync",
		Detail: fmt.Sprintf("every lock took the property signing key %s: it is now the only one, the old private key is erased", fingerprintOf(next))})
}

// trustedPropertyKeys returns, for each of doorIDs, the property public key
// (base64) its lock verifies: the next key once the lock took it (or was
// provisioned during the rotation), else the current one. A door with no
// lock gets the key a lock provisioned now would get.
func (t *Tx) trustedPropertyKeys(ctx context.Context, propertyID string, doorIDs []string) (map[string]string, error) {
	out := make(map[string]string, len(doorIDs))
	var cur, next string
	err := t.queryRow(ctx, `SELECT public_key, next_public_key FROM property_keys WHERE property_id = ?`, propertyID).Scan(&cur, &next)
	if err != nil {
		return nil, err
	}
	dflt := cur
	if next != "" {
		dflt = next
	}
	for _, id := range doorIDs {
		out[id] = dflt
	}
	if next == "" || len(doorIDs) == 0 {
		return out, nil
	}
	rows, err := t.query(ctx, `SELECT door_id, property_key_next FROM door_locks WHERE door_id IN (`+placeholders(len(doorIDs))+`)`, anySlice(doorIDs)...)
	type row struct {
		id   string
		next bool
	}
	locks, err := collect(rows, err, func(r rowScanner) (row, error) {
		var x row
		return x, r.Scan(&x.id, &x.next)
	})
	if err != nil {
		return nil, err
	}
	for _, l := range locks {
		if !l.next {
			out[l.id] = cur
		}
	}
	return out, nil
}

// signerFor picks, among a property's keys, the private key of pub (base64).
func signerFor(keys []ed25519.PrivateKey, pub string) (ed25519.PrivateKey, error) {
	for _, k := range keys {
		if base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey)) == pub {
			return k, nil
		}
	}
	return nil, domain.Errorf(domain.EConflict, "the property's signing key changed meanwhile; try again")
}

// propertyRotation is the property-key part of a door's bundle rotation.
func propertyRotation(rotating bool, next string, effectiveAt time.Time) (*lockproto.KeyRotation, error) {
	if !rotating || next == "" {
		return nil, nil
	}
	pub, err := base64.StdEncoding.DecodeString(next)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, errors.New("store: next property key unreadable")
	}
	return lockproto.RotationFor(nil, pub, effectiveAt), nil
}
