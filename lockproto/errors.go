package lockproto

import "errors"

// Version is the format version of every message defined here. A decoder
// refuses any other value rather than guessing at a future layout.
const Version = 2

// Errors are wrapped with detail; compare with errors.Is. The same values
// travel over the BLE link as codes (see ErrorCode), so a phone can tell a
// lock that wants a snapshot from one that refused a forgery.
var (
	ErrMalformed      = errors.New("malformed message")
	ErrVersion        = errors.New("unsupported format version")
	ErrTooLarge       = errors.New("message too large")
	ErrSignature      = errors.New("signature does not verify")
	ErrDecrypt        = errors.New("cannot decrypt")
	ErrWrongLock      = errors.New("message is for another lock")
	ErrStale          = errors.New("bundle version is not newer than the lock's")
	ErrWrongBase      = errors.New("delta base is not the lock's version; a snapshot is needed")
	ErrLogGap         = errors.New("event log has a gap")
	ErrLogFork        = errors.New("event log does not continue the known chain")
	ErrKeypadLocked   = errors.New("keypad locked after too many wrong codes")
	ErrInternal       = errors.New("internal error")
	ErrNotProvisioned = errors.New("lock is not provisioned")
	// ErrAckEvents: an ack carries events and was given to VerifyAck,
	// which cannot open them (OpenAck can). Cloud-side only.
	ErrAckEvents = errors.New("ack carries events")
)

var errorCodes = []struct {
	code string
	err  error
}{
	{"malformed", ErrMalformed},
	{"version", ErrVersion},
	{"too_large", ErrTooLarge},
	{"signature", ErrSignature},
	{"decrypt", ErrDecrypt},
	{"wrong_lock", ErrWrongLock},
	{"stale", ErrStale},
	{"wrong_base", ErrWrongBase},
	{"log_gap", ErrLogGap},
	{"log_fork", ErrLogFork},
	{"keypad_locked", ErrKeypadLocked},
	{"not_provisioned", ErrNotProvisioned},
	{"not_authenticated", ErrNotAuthenticated},
	{"chunk", ErrChunk},
	{"no_transfer", ErrNoTransfer},
}

// ErrorCode names err for the wire; anything not listed is "internal" so that
// a lock never leaks detail it did not mean to.
func ErrorCode(err error) string {
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "internal"
}

// ErrorFromCode is the inverse of ErrorCode.
func ErrorFromCode(code string) error {
	for _, c := range errorCodes {
		if c.code == code {
			return c.err
		}
	}
	return ErrInternal
}
