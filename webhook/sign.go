package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of a delivery.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>">"; during a secret's grace period a second v1 signed
	// with the previous secret follows.
	SignatureHeader = "DoorOS-Signature"
	// EventIDHeader and IdempotencyHeader carry the event's stable id: the
	// same on every attempt and resend.
	EventIDHeader     = "DoorOS-Event-Id"
	EventTypeHeader   = "DoorOS-Event-Type"
	IdempotencyHeader = "Idempotency-Key"
	DeliveryHeader    = "DoorOS-Delivery-Id"
)

// DefaultTolerance is the replay window receivers should use: a signature
// whose timestamp is further than this from their clock is refused.
const DefaultTolerance = 5 * time.Minute

// Sign returns the signature header value for body at t, with a v1 per
// secret (the current one first).
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=" + ts)
	for _, s := range secrets {
		b.WriteString(",v1=" + hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a signature header against body and secret, as a receiver
// does: one v1 must match and the timestamp must lie within tolerance of
// now (the replay window).
func Verify(header string, body []byte, secret string, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if s, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, s)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("webhook: malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: timestamp outside the replay window")
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return errors.New("webhook: no matching signature")
}
