// Package mqtt is the MQTT transport between the cloud and online locks: the
// DOOR OS topic layout, an embedded broker (mochi-mqtt) that authenticates
// every lock with its own credentials and confines it to its own topics, and
// a small MQTT v5 client (paho autopaho) shared by the cloud and the lock
// simulator. It moves opaque bytes; what a bundle or an acknowledgement
// means is the lock protocol's business. See docs/mqtt.md.
package mqtt

import (
	"errors"
	"fmt"
	"strings"
)

// Prefix is the root of every DOOR OS topic. The version segment lets a
// future incompatible layout run beside this one during a firmware rollout.
const Prefix = "dooros/v1"

// Kind names one of a lock's topics.
type Kind string

const (
	// KindBundle carries signed, encrypted door-state bundles, cloud → lock, QoS 1.
	KindBundle Kind = "bundle"
	// KindAck carries the lock's acknowledgement of a bundle, lock → cloud, QoS 1.
	KindAck Kind = "ack"
	// KindEvents carries the lock's signed event log, lock → cloud, QoS 1.
	KindEvents Kind = "events"
	// KindStatus carries StatusOnline or StatusOffline, lock → cloud, QoS 1,
	// retained; StatusOffline is the lock's Last Will.
	KindStatus Kind = "status"
	// KindCommand carries property-signed remote unlock commands, cloud →
	// lock, QoS 1 (lockproto.RemoteUnlock; a replay is refused by the lock).
	KindCommand Kind = "command"
	// KindResult carries the lock's signed answer to a command, lock →
	// cloud, QoS 1.
	KindResult Kind = "result"
)

// Kinds lists every kind, inbound (cloud → lock) first.
var Kinds = []Kind{KindBundle, KindCommand, KindAck, KindEvents, KindStatus, KindResult}

// Payloads of the status topic.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Errors returned by the topic helpers.
var (
	ErrInvalidLockID = errors.New("mqtt: invalid lock id")
	ErrInvalidTopic  = errors.New("mqtt: invalid topic")
)

// maxLockIDLen bounds a lock id so topics stay short; store ids are far shorter.
const maxLockIDLen = 128

// Inbound reports whether the cloud publishes this kind and the lock subscribes to it.
func (k Kind) Inbound() bool { return k == KindBundle || k == KindCommand }

// Retained reports whether messages of this kind are published retained, so
// that a subscriber arriving later learns the current value.
func (k Kind) Retained() bool { return k == KindStatus }

func (k Kind) valid() bool {
	switch k {
	case KindBundle, KindAck, KindEvents, KindStatus, KindCommand, KindResult:
		return true
	}
	return false
}

// CheckLockID reports whether id can name a lock in a topic and as an MQTT
// username: 1–128 characters of ASCII letters, digits, '.', '_' and '-'.
// That excludes the MQTT separators and wildcards ('/', '+', '#'), which would
// let one lock's topics overlap another's, and anything Mosquitto refuses to
// substitute for %u in an ACL pattern.
func CheckLockID(id string) error {
	if id == "" || len(id) > maxLockIDLen {
		return fmt.Errorf("%w: %q must be 1-%d characters", ErrInvalidLockID, id, maxLockIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
		default:
			return fmt.Errorf("%w: %q contains %q", ErrInvalidLockID, id, c)
		}
	}
	return nil
}

// Topic returns the topic of kind k for lock lockID, e.g.
// "dooros/v1/locks/L1/bundle".
func Topic(k Kind, lockID string) (string, error) {
	if !k.valid() {
		return "", fmt.Errorf("%w: unknown kind %q", ErrInvalidTopic, k)
	}
	if err := CheckLockID(lockID); err != nil {
		return "", err
	}
	return Prefix + "/locks/" + lockID + "/" + string(k), nil
}

// MustTopic is Topic for lock ids already validated (tests, constants).
func MustTopic(k Kind, lockID string) string {
	t, err := Topic(k, lockID)
	if err != nil {
		panic(err)
	}
	return t
}

// Filter returns the subscription filter matching kind k of every lock, e.g.
// "dooros/v1/locks/+/ack" for the cloud's acknowledgement handler.
func Filter(k Kind) string {
	return Prefix + "/locks/+/" + string(k)
}

// ParseTopic splits a concrete lock topic into the lock id and kind. It
// rejects filters (wildcards), other prefixes, unknown kinds, extra or
// missing levels and invalid lock ids, so a handler never acts on a topic it
// does not understand.
func ParseTopic(topic string) (lockID string, k Kind, err error) {
	rest, ok := strings.CutPrefix(topic, Prefix+"/locks/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q is not under %s/locks/", ErrInvalidTopic, topic, Prefix)
	}
	lockID, kind, ok := strings.Cut(rest, "/")
	if !ok {
		return "", "", fmt.Errorf("%w: %q has no kind", ErrInvalidTopic, topic)
	}
	if err := CheckLockID(lockID); err != nil {
		return "", "", fmt.Errorf("%w: %q: %w", ErrInvalidTopic, topic, err)
	}
	k = Kind(kind)
	if !k.valid() {
		return "", "", fmt.Errorf("%w: %q has unknown kind %q", ErrInvalidTopic, topic, kind)
	}
	return lockID, k, nil
}
