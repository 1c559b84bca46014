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

// QueuedMail is an email queued for a person that may no longer be worth
// sending when the worker gets to it.
type QueuedMail int

const (
	MailWelcome   QueuedMail = iota // the welcome email
	MailGuestCode                   // a guest's day code
)

// MailStillDue reports whether a queued email is still worth sending to a
// person whose status is now s: nothing goes to a revoked or deleted
// person, and a guest's code only while it can still be used (active or
// pending).
func MailStillDue(m QueuedMail, s Status) bool {
	if m == MailGuestCode {
		return s.HoldsAccess()
	}
	return s != StatusRevoked && s != StatusDeleted
}
