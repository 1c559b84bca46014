package ble

import (
	"fmt"

	"github.com/dooros/dooros/lockproto"
)

// MsgType is the second byte of every message on the link (the first is the
// format version).
type MsgType byte

// The link carries the channel handshake in the clear and everything after
// it sealed (lockproto.Channel): unlocks, bundles, acks and logs travel only
// inside the channel.
const (
	MsgHello  MsgType = 1 // lockproto.ChannelHello → MsgAccept
	MsgAccept MsgType = 2 // lockproto.ChannelAccept
	MsgSealed MsgType = 3 // a channel frame, either way
	MsgError  MsgType = 4 // lockproto.ChannelError, in the clear: only for refusing a handshake
)

// v1 link messages had these: an old phone gets its refusal in a shape it
// can read.
const (
	v1Version  = 1
	v1MsgError = 9
)

// Per-message limits of the lock, by how far the connection has come: a
// stranger cannot make the lock reserve more than a hello, and only a phone
// that proved a valid credential may send a bundle.
const (
	limitHello    = lockproto.MaxHelloSize + 2
	limitUnproven = lockproto.MaxUnlockRequestSize + 64
)

func encodeMessage(t MsgType, body []byte) []byte {
	return append([]byte{lockproto.Version, byte(t)}, body...)
}

// DecodeMessage splits a reassembled message into its type and body.
func DecodeMessage(msg []byte) (MsgType, []byte, error) {
	if len(msg) < 2 {
		return 0, nil, fmt.Errorf("%w: message of %d bytes", lockproto.ErrMalformed, len(msg))
	}
	if msg[0] != lockproto.Version {
		return 0, nil, lockproto.VersionError(int(msg[0]))
	}
	t := MsgType(msg[1])
	if t < MsgHello || t > MsgError {
		return 0, nil, fmt.Errorf("%w: message type %d", lockproto.ErrMalformed, t)
	}
	return t, msg[2:], nil
}

// refusal is the clear-text error reply to a message that opens no channel.
// A v1 message gets it in v1's shape, so an old app can say "update".
func refusal(msg []byte, err error) []byte {
	body := lockproto.EncodeChannelError(err, nil)
	if len(msg) > 0 && msg[0] == v1Version {
		return append([]byte{v1Version, v1MsgError}, body...)
	}
	return encodeMessage(MsgError, body)
}

// RemoteError is a refusal reported by the lock. errors.Is matches it
// against the lockproto sentinel of its code (for example
// lockproto.ErrWrongBase: deliver a snapshot instead).
type RemoteError struct {
	Code    string
	Message string
	Ack     []byte // signed ack, when the lock produced one
}

func (e *RemoteError) Error() string { return "lock refused: " + e.Message }

// Unwrap maps the wire code back to its sentinel.
func (e *RemoteError) Unwrap() error { return lockproto.ErrorFromCode(e.Code) }

func remoteError(body []byte) error {
	e, err := lockproto.DecodeChannelError(body)
	if err != nil {
		return err
	}
	return &RemoteError{Code: e.Code, Message: e.Message, Ack: e.Ack}
}
