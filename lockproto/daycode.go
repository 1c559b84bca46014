package lockproto

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
	"time"
)

// HOTP is RFC 4226's HMAC-based one-time password: HMAC(secret, counter)
// reduced by dynamic truncation to digits decimal digits. newHash selects the
// HMAC hash (SHA-1 in RFC 4226; SHA-256/512 as in RFC 6238).
func HOTP(newHash func() hash.Hash, secret []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	m := hmac.New(newHash, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// GuestCodeKind separates the two families of computed guest codes so the
// same key, day and slot never yields the same code for both.
type GuestCodeKind uint8

const (
	// DayCode works from local midnight to midnight of its day.
	DayCode GuestCodeKind = 0
	// QuarterHourCode may be first used on its day and then works for 15
	// minutes from that first use on each lock.
	QuarterHourCode GuestCodeKind = 1
)

// QuarterHourValidity is how long a 15-minute code works after first use.
const QuarterHourValidity = 15 * time.Minute

// GuestCode computes the guest code of a key for day (see DayNumber) and
// slot. The cloud calls it to tell a resident "today's code for slot S"; the
// lock to check a code typed at its keypad. Only the key's doors hold
// secret, so the code opens every door of the key and no other.
func GuestCode(secret []byte, kind GuestCodeKind, day int64, slot uint16, digits int) string {
	counter := uint64(kind)<<56 | (uint64(day)&0xffffffffff)<<16 | uint64(slot)
	return HOTP(sha256.New, secret, counter, digits)
}

// DayNumber is the number of days since 1970-01-01 of t's calendar date in
// loc, so a day code changes at the property's midnight, not UTC's.
func DayNumber(t time.Time, loc *time.Location) int64 {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DayStart returns local midnight that starts day in loc.
func DayStart(day int64, loc *time.Location) time.Time {
	u := time.Unix(day*86400, 0).UTC()
	return time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, loc)
}
