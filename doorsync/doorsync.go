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
}

// New builds a Service.
func New(st *store.Store, keys Keys, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{Store: st, Keys: keys, Log: log, wake: make(chan struct{}, 1)}
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
	li, err := s.Store.Lock(ctx, doorID)
	if err != nil {
		return store.AckResult{}, err
	}
	a, err := lockproto.VerifyAck(li.PublicKey, doorID, ack)
	if err != nil && li.PendingPublicKey != nil {
		// The ack of a key rotation is signed with the new key: the lock
		// proves it switched, and the cloud switches too.
		if a, err = lockproto.VerifyAck(li.PendingPublicKey, doorID, ack); err == nil {
			err = s.Store.CompleteLockKeyRotation(ctx, doorID, li.Generation, li.PendingPublicKey)
		}
	}
	if err != nil {
		return store.AckResult{}, &domain.Error{Code: domain.EInvalid, Field: "ack", Message: "not an acknowledgement signed by this door's lock: " + err.Error()}
	}
	res, err := s.Store.RecordLockAck(ctx, doorID, li.Generation, a, via)
	if err != nil {
		return res, err
	}
	if a.Status == lockproto.AckNeedSnapshot && li.Connectivity == domain.Online {
		if err := s.Store.RequeueDoorState(ctx, doorID); err != nil {
			return res, err
		}
		s.Wake()
	}
	return res, nil
}

// HandleEvents opens a sealed, lock-signed event batch and records its
// events.
func (s *Service) HandleEvents(ctx context.Context, doorID string, batch []byte, via string) (store.LogResult, error) {
	li, err := s.Store.Lock(ctx, doorID)
	if err != nil {
		return store.LogResult{}, err
	}
	sym, err := s.Keys.Open(li.SealedSymmetric, store.LockSymmetricAAD(doorID, li.Generation))
	if err != nil {
		return store.LogResult{}, err
	}
	b, _, err := lockproto.OpenEventBatch(li.PublicKey, doorID, sym, batch)
	if err != nil && li.PendingPublicKey != nil {
		// The lock switched to its new keys and the ack saying so was lost:
		// its log, sealed under the new keys, completes the rotation.
		if psym, perr := s.Keys.Open(li.SealedPendingSymmetric, store.LockSymmetricAAD(doorID, li.Generation)); perr == nil {
			if b, _, err = lockproto.OpenEventBatch(li.PendingPublicKey, doorID, psym, batch); err == nil {
				err = s.Store.CompleteLockKeyRotation(ctx, doorID, li.Generation, li.PendingPublicKey)
			}
		}
	}
	if err != nil {
		return store.LogResult{}, &domain.Error{Code: domain.EInvalid, Field: "events", Message: "not an event log signed by this door's lock: " + err.Error()}
	}
	return s.Store.RecordLockEvents(ctx, doorID, li.Generation, b, via)
}

// isInSync reports store.ErrInSync.
func isInSync(err error) bool { return errors.Is(err, store.ErrInSync) }
