// Package doorsync turns door-state versions into signed, encrypted lock
// bundles and gets them to the locks: pushed over MQTT to online locks
// (Pusher, through the transactional outbox, retried until the lock
// acknowledges) and carried by phones to offline ones (the mailbox). It also
// takes the locks' answers — acknowledgements and event logs, verified with
// each lock's own key — back into the store.
//
// What a lock should hold (desired state) and how a delta is planned from
// what it acknowledged live in the store (store/door_state.go), next to
// the data they read; this package adds keys, transport and retries.
package doorsync

import (
	"context"
	"crypto/ed25519"
	"errors"
	"log/slog"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
)

// Keys seals secrets at rest and signs for properties; *keyring.Keyring
// implements it.
type Keys interface {
	store.Sealer
	store.PropertySigner
	// NewPropertyKey makes and seals a property's next signing key for a
	// rotation (keyring.Keyring.NewPropertyKey).
	NewPropertyKey(propertyID string) (ed25519.PublicKey, string, error)
}

// Service is Door Sync's use cases over the store and the keyring.
type Service struct {
	Store *store.Store
	Keys  Keys
	// Broker is the embedded broker whose lock credentials change on
	// provisioning; nil with an external broker (credentials are the
	// operator's).
	Broker mqtt.Broker
	// LockMQTTURL is the broker URL handed to provisioned online locks.
	LockMQTTURL string
	Log         *slog.Logger

	wake   chan struct{}
	client *mqtt.Client  // the cloud's MQTT client, set by Start (BrokerState)
	remote remoteWaiters // remote unlocks waiting for their lock (remote.go)
	locks  lockCache
	// notices are revocations waiting for their notices (notice.go).
	notices notices
}

// New builds a Service.
func New(st *store.Store, keys Keys, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Store: st, Keys: keys, Log: log, wake: make(chan struct{}, 1), notices: notices{wake: make(chan struct{}, 1)}}
}

// Wake tells a running Pusher to look at the outbox now.
func (s *Service) Wake() {
	if s == nil || s.wake == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Provisioned is a provisioned lock as the API returns it.
type Provisioned struct {
	store.ProvisionedLock
	MQTTURL string `json:"mqtt_url,omitempty"`
}

// Provision provisions (or re-provisions) the lock of a door.
func (s *Service) Provision(ctx context.Context, a domain.Actor, propertyID, doorID string) (Provisioned, error) {
	if _, err := s.Store.Door(ctx, a, propertyID, doorID); err != nil {
		return Provisioned{}, err
	}
	if err := a.Can(propertyID, domain.PermDevices); err != nil {
		return Provisioned{}, err
	}
	signer, err := s.Keys.PropertySigner(ctx, propertyID)
	if err != nil {
		return Provisioned{}, err
	}
	password, hash := mqtt.NewSecret()
	pl, err := s.Store.ProvisionLock(ctx, a, s.Keys, signer.Public().(ed25519.PublicKey), propertyID, doorID, password, hash.String())
	if err != nil {
		return Provisioned{}, err
	}
	s.forgetLock(doorID)
	out := Provisioned{ProvisionedLock: pl}
	if pl.MQTTPassword != "" {
		out.MQTTURL = s.LockMQTTURL
		if s.Broker != nil {
			if err := s.Broker.PutLock(pl.LockID, hash); err != nil {
				return Provisioned{}, err
			}
		}
	}
	s.Wake()
	return out, nil
}

// RotateLock gives the lock of a door new keys in the field (see
// store.RotateLockKeys); the next bundle to the door carries them.
func (s *Service) RotateLock(ctx context.Context, a domain.Actor, propertyID, doorID string) (store.LockRotation, error) {
	r, err := s.Store.RotateLockKeys(ctx, a, s.Keys, propertyID, doorID)
	s.forgetLock(doorID)
	if err != nil {
		return r, err
	}
	s.Wake()
	return r, nil
}

// RotatePropertyKey starts rotating a property's signing key (see
// store.StartPropertyKeyRotation): every provisioned lock gets a bundle
// carrying the next key, signed with the key it trusts now.
func (s *Service) RotatePropertyKey(ctx context.Context, a domain.Actor, propertyID string) (store.PropertyKeyState, error) {
	// Who may, before anything is written (the first use of a property
	// key creates it).
	if _, err := s.Store.Property(ctx, a, propertyID); err != nil {
		return store.PropertyKeyState{}, err
	}
	if err := a.CanRotatePropertyKey(); err != nil {
		return store.PropertyKeyState{}, err
	}
	if _, err := s.Keys.PropertySigner(ctx, propertyID); err != nil {
		return store.PropertyKeyState{}, err
	}
	pub, sealed, err := s.Keys.NewPropertyKey(propertyID)
	if err != nil {
		return store.PropertyKeyState{}, err
	}
	out, err := s.Store.StartPropertyKeyRotation(ctx, a, propertyID, pub, sealed)
	if err != nil {
		return out, err
	}
	s.Wake()
	return out, nil
}

// Bundle returns the sealed bundle that brings a door's lock up to date
// (store.ErrInSync when there is none).
func (s *Service) Bundle(ctx context.Context, doorID string) (store.DoorBundle, error) {
	if _, err := s.Store.Lock(ctx, doorID); err != nil {
		return store.DoorBundle{}, err
	}
	b, err := s.Store.BuildDoorBundle(ctx, s.Keys, s.Keys, doorID)
	switch {
	case err == nil:
		bundlesBuilt.WithLabelValues("phone").Inc()
	case !errors.Is(err, store.ErrInSync) && domain.ErrorCode(err) != domain.ENotFound:
		bundleFailures.Inc()
	}
	return b, err
}

// HandleAck verifies a lock's acknowledgement with the lock's key and
// records it. A lock that asks for a snapshot gets one queued.
func (s *Service) HandleAck(ctx context.Context, doorID string, ack []byte, via string) (store.AckResult, error) {
	w, err := s.verifyAck(ctx, doorID, ack)
	if err != nil {
		return store.AckResult{}, err
	}
	return s.recordAck(ctx, w, via)
}

// HandleEvents opens a sealed, lock-signed event batch and records its
// events.
func (s *Service) HandleEvents(ctx context.Context, doorID string, batch []byte, via string) (store.LogResult, error) {
	w, err := s.verifyEvents(ctx, doorID, batch)
	if err != nil {
		return store.LogResult{}, err
	}
	return s.recordEvents(ctx, w, via)
}

// verifiedAck is an acknowledgement checked with the lock's key, ready
// to be recorded (in a transaction of its own or in a group commit).
type verifiedAck struct {
	doorID string
	lock   *cachedLock
	ack    *lockproto.Ack
	// events are the lock's events the ack carried (lockproto.OpenAck),
	// nil when none.
	events *lockproto.EventBatch
	// rotated: signed with the pending key of a key rotation.
	rotated bool
}

// verifyAck checks a lock's acknowledgement with the cached keys of its
// lock, and once more with the stored ones when that fails (another
// server may have re-provisioned or rotated the lock). Events the ack
// carries are opened with the same keys, under the one signature check.
func (s *Service) verifyAck(ctx context.Context, doorID string, raw []byte) (verifiedAck, error) {
	var w verifiedAck
	err := s.withLock(ctx, doorID, func(cl *cachedLock) error {
		w = verifiedAck{doorID: doorID, lock: cl}
		// The symmetric keys open the events an ack carries; a plain ack
		// verifies without them, as before events in the ack.
		sym, psym, symErr := cl.symmetric(s.Keys, doorID)
		var err error
		w.ack, w.events, err = lockproto.OpenAck(cl.PublicKey, doorID, sym, raw)
		if err != nil && cl.PendingPublicKey != nil {
			// The ack of a key rotation is signed with the new key (and its
			// events sealed under the new symmetric key): the lock proves it
			// switched, and the cloud switches too.
			if w.ack, w.events, err = lockproto.OpenAck(cl.PendingPublicKey, doorID, psym, raw); err == nil {
				w.rotated = true
			}
		}
		if err != nil && symErr != nil && errors.Is(err, lockproto.ErrDecrypt) {
			return symErr // the keyring's, not the lock's
		}
		if err != nil {
			return &domain.Error{Code: domain.EInvalid, Field: "ack", Message: "not an acknowledgement signed by this door's lock: " + err.Error()}
		}
		return nil
	})
	return w, err
}

// recordAck records a verified acknowledgement and the events it carried,
// in one transaction.
func (s *Service) recordAck(ctx context.Context, w verifiedAck, via string) (store.AckResult, error) {
	li := w.lock
	if w.rotated {
		if err := s.Store.CompleteLockKeyRotation(ctx, w.doorID, li.Generation, li.PendingPublicKey); err != nil {
			s.forgetLock(w.doorID)
			return store.AckResult{}, &domain.Error{Code: domain.EInvalid, Field: "ack", Message: "not an acknowledgement signed by this door's lock: " + err.Error()}
		}
		s.forgetLock(w.doorID)
	}
	res, _, err := s.Store.RecordLockAckEvents(ctx, w.doorID, li.Generation, w.ack, w.events, via)
	if err != nil && res.Status == "" {
		if domain.ErrorCode(err) == domain.EConflict || domain.ErrorCode(err) == domain.ENotFound {
			s.forgetLock(w.doorID) // re-provisioned or removed since it was cached
		}
		return res, err
	}
	// Here err, if any, refused the ack's events only (a log fork): the
	// ack itself is recorded.
	if w.ack.Status == lockproto.AckNeedSnapshot && li.Connectivity == domain.Online {
		if err := s.Store.RequeueDoorState(ctx, w.doorID); err != nil {
			return res, err
		}
		s.Wake()
	}
	return res, err
}

// verifiedEvents is an event batch opened and checked with the lock's keys.
type verifiedEvents struct {
	doorID  string
	lock    *cachedLock
	batch   *lockproto.EventBatch
	rotated bool
}

// verifyEvents opens a sealed, lock-signed event batch (see verifyAck for
// the cache).
func (s *Service) verifyEvents(ctx context.Context, doorID string, raw []byte) (verifiedEvents, error) {
	var w verifiedEvents
	err := s.withLock(ctx, doorID, func(cl *cachedLock) error {
		w = verifiedEvents{doorID: doorID, lock: cl}
		sym, psym, err := cl.symmetric(s.Keys, doorID)
		if err != nil {
			return err // the keyring's, not the lock's
		}
		w.batch, _, err = lockproto.OpenEventBatch(cl.PublicKey, doorID, sym, raw)
		if err != nil && cl.PendingPublicKey != nil && psym != nil {
			// The lock switched to its new keys and the ack saying so was
			// lost: its log, sealed under the new keys, completes the rotation.
			if w.batch, _, err = lockproto.OpenEventBatch(cl.PendingPublicKey, doorID, psym, raw); err == nil {
				w.rotated = true
			}
		}
		if err != nil {
			return &domain.Error{Code: domain.EInvalid, Field: "events", Message: "not an event log signed by this door's lock: " + err.Error()}
		}
		return nil
	})
	return w, err
}

// recordEvents records a verified event batch.
func (s *Service) recordEvents(ctx context.Context, w verifiedEvents, via string) (store.LogResult, error) {
	li := w.lock
	if w.rotated {
		if err := s.Store.CompleteLockKeyRotation(ctx, w.doorID, li.Generation, li.PendingPublicKey); err != nil {
			s.forgetLock(w.doorID)
			return store.LogResult{}, &domain.Error{Code: domain.EInvalid, Field: "events", Message: "not an event log signed by this door's lock: " + err.Error()}
		}
		s.forgetLock(w.doorID)
	}
	res, err := s.Store.RecordLockEvents(ctx, w.doorID, li.Generation, w.batch, via)
	if c := domain.ErrorCode(err); c == domain.EConflict || c == domain.ENotFound {
		s.forgetLock(w.doorID)
	}
	return res, err
}

// isInSync reports store.ErrInSync.
func isInSync(err error) bool { return errors.Is(err, store.ErrInSync) }
