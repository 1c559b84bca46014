package domain

import "strings"

// Words for people: what a lock's refusal reason or a credential kind
// means, as the console's Activity and the DOOR App print them. The codes
// are the lock's (package lock, lockproto); an unknown code is shown with
// its underscores as spaces rather than dropped.

var refusalWords = map[string]string{
	"outside_schedule":      "outside the key's schedule",
	"unknown_code":          "unknown doorcode",
	"unknown_card":          "unknown keycard",
	"expired":               "access has ended",
	"not_yet_valid":         "access has not started yet",
	"revoked":               "access was taken away",
	"keypad_locked":         "keypad locked after repeated wrong codes",
	"bad_credential":        "the phone's credential is not valid here",
	"other_lock":            "the credential is for another door",
	"bad_device_signature":  "the phone could not prove it is the registered device",
	"unknown_challenge":     "the exchange with the lock timed out; try again",
	"malformed":             "the lock did not understand the message; try again",
	"card_auth_failed":      "the keycard failed its check (a copied card?)",
	"no_trusted_time":       "the lock's clock is not set yet: sync the door",
	"lifetime_over_ceiling": "the credential lasts longer than this property allows: refresh credentials",
	"need_credential":       "the phone needs fresh credentials: refresh them",
	"flash_failed":          "the lock could not write its memory (a hardware fault)",
	"log_failed":            "the lock could not write its log (a hardware fault)",
}

// RefusalText is a lock's refusal reason in words ("outside_schedule" →
// "outside the key's schedule").
func RefusalText(reason string) string {
	if w, ok := refusalWords[reason]; ok {
		return w
	}
	return strings.ReplaceAll(reason, "_", " ")
}

var credentialWords = map[string]string{
	"app":         "DOOR App",
	"doorcode":    "Doorcode",
	"daycode":     "Guest day code",
	"quartercode": "15-minute code",
	"keycard":     "Keycard",
}

// CredentialText names a credential kind as a person knows it ("app" →
// "DOOR App").
func CredentialText(kind string) string {
	if w, ok := credentialWords[kind]; ok {
		return w
	}
	return strings.ReplaceAll(kind, "_", " ")
}
