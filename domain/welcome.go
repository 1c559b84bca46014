package domain

// WelcomeDue reports whether a person's welcome email goes out now. It goes
// when they first hold access the email can tell them about — an app
// person at least one key, a doorcode-only person a doorcode (a key that
// provides one) — and not again while they keep access: welcomed reports
// that it was sent since they last held nothing (a new record, Revoke All
// Keys, or their last key taken). A contact created without keys (a PMS
// roster, a CSV row without keys) therefore hears nothing until a key is
// given, and a doorcode person whose code was taken with their access
// learns the new one when access comes back.
func WelcomeDue(access AccessMode, keys map[string]Key, grants []Grant, welcomed bool) bool {
	if welcomed || len(grants) == 0 {
		return false
	}
	return access != AccessDoorcode || NeedsDoorcode(keys, grants)
}
