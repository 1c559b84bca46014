package ble

import (
	"encoding/binary"
	"fmt"

	"github.com/dooros/dooros/lockproto"
	"github.com/fxamacker/cbor/v2"
)

// MsgType is the second byte of every message on the link (the first is the
// format version).
type MsgType byte

// Requests go phone → lock; each has exactly one reply, or MsgError.
const (
	MsgHello        MsgType = 1 // empty → MsgChallenge
	MsgChallenge    MsgType = 2 // lockproto.Challenge
	MsgUnlock       MsgType = 3 // lockproto.UnlockRequest → MsgUnlockResult
	MsgUnlockResult MsgType = 4 // lockproto.UnlockResult
	MsgBundle       MsgType = 5 // sealed bundle → MsgAck
	MsgAck          MsgType = 6 // lock-signed ack
	MsgLogRequest   MsgType = 7 // 8-byte big-endian first sequence → MsgEvents
	MsgEvents       MsgType = 8 // lock-signed event batch
	MsgError        MsgType = 9 // errorBody
)

// errorBody carries a refusal. Ack is set when the lock refused an authentic
// bundle (stale, wrong base): the cloud still learns the lock's version.
type errorBody struct {
	Code    string `cbor:"1,keyasint"`
	Message string `cbor:"2,keyasint,omitempty"`
	Ack     []byte `cbor:"3,keyasint,omitempty"`
}

var strictDec cbor.DecMode

func init() {
	var err error
	strictDec, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		MaxNestedLevels:   4,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

func encodeMessage(t MsgType, body []byte) []byte {
	return append([]byte{lockproto.Version, byte(t)}, body...)
}

// DecodeMessage splits a reassembled message into its type and body.
func DecodeMessage(msg []byte) (MsgType, []byte, error) {
	if len(msg) < 2 {
		return 0, nil, fmt.Errorf("%w: message of %d bytes", lockproto.ErrMalformed, len(msg))
	}
	if msg[0] != lockproto.Version {
		return 0, nil, fmt.Errorf("%w: link message version %d", lockproto.ErrVersion, msg[0])
	}
	t := MsgType(msg[1])
	if t < MsgHello || t > MsgError {
		return 0, nil, fmt.Errorf("%w: message type %d", lockproto.ErrMalformed, t)
	}
	return t, msg[2:], nil
}

func encodeLogRequest(from uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, from)
}

func decodeLogRequest(body []byte) (uint64, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("%w: log request", lockproto.ErrMalformed)
	}
	return binary.BigEndian.Uint64(body), nil
}

func encodeError(err error, ack []byte) []byte {
	b, merr := cbor.Marshal(&errorBody{Code: lockproto.ErrorCode(err), Message: err.Error(), Ack: ack})
	if merr != nil {
		panic(merr) // strings and bytes only: cannot fail
	}
	return b
}

func decodeError(body []byte) (*RemoteError, error) {
	var e errorBody
	if err := strictDec.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: error reply: %v", lockproto.ErrMalformed, err)
	}
	return &RemoteError{Code: e.Code, Message: e.Message, Ack: e.Ack}, nil
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
