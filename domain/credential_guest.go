package domain

import (
	"time"

	"github.com/dooros/dooros/lockproto"
)

// GuestKind is how a resident's guest gets in (DESIGN.md §2 Guests).
type GuestKind string

const (
	// GuestApp: the guest logs in to the DOOR App (start up to a year ahead,
	// optional end).
	GuestApp GuestKind = "app"
	// GuestDayCode: a doorcode valid from midnight to midnight of one day in
	// the property's time zone, computed by the locks (no sync needed).
	GuestDayCode GuestKind = "day_code"
	// GuestQuarterHourCode: a doorcode that may be first used on its day and
	// then works for 15 minutes on that lock.
	GuestQuarterHourCode GuestKind = "quarter_hour_code"
)

// DayCodeSlots is how many guest codes of each kind a key can hand out per
// day. The locks accept only the allocated slots and a few spares
// (ActiveCodeSlots), so the number is capacity, not guessable codes.
const DayCodeSlots = 20

// IsCode reports a doorcode guest (day or 15-minute code).
func (k GuestKind) IsCode() bool { return k == GuestDayCode || k == GuestQuarterHourCode }

// LockKind is the kind the locks compute the code for.
func (k GuestKind) LockKind() lockproto.GuestCodeKind {
	if k == GuestQuarterHourCode {
		return lockproto.QuarterHourCode
	}
	return lockproto.DayCode
}

// Describe names the kind for people ("single-day doorcode").
func (k GuestKind) Describe() string {
	switch k {
	case GuestDayCode:
		return "single-day doorcode"
	case GuestQuarterHourCode:
		return "15-minute doorcode"
	}
	return "DOOR App access"
}

// CheckRequest checks the shape of a resident's guest request before
// anything is loaded: a known kind; app guests take a window, not a day;
// code guests take a day and exactly one key.
func (k GuestKind) CheckRequest(day string, startsAt, expiresAt *time.Time, keys int) error {
	switch k {
	case GuestApp:
		if day != "" {
			return FieldError("day", "is for doorcode guests; app guests take starts_at and expires_at")
		}
		return nil
	case GuestDayCode, GuestQuarterHourCode:
		if startsAt != nil || expiresAt != nil {
			return FieldError("starts_at", "doorcode guests take a day (YYYY-MM-DD), not starts_at/expires_at")
		}
		if keys != 1 {
			return FieldError("keys", "a doorcode guest gets exactly one key")
		}
		return nil
	case "":
		return FieldError("kind", "is required (app, day_code or quarter_hour_code)")
	}
	return FieldError("kind", "%q is not one of app, day_code, quarter_hour_code", k)
}

// CodeDay is the day a code guest's code works and the access window of
// the guest's record.
type CodeDay struct {
	// Day is the lock protocol's day number in the property's zone.
	Day int64
	// DayStart and DayEnd are the local midnights around Day: the locks
	// accept the code in between.
	DayStart, DayEnd time.Time
	// Start is when the guest's record starts: DayStart, or now when the day
	// is today (the hours already over give nothing away).
	Start time.Time
}

// PlanCodeDay reads a code guest's day ("YYYY-MM-DD" in loc; "" = today)
// and refuses a day in the past.
func PlanCodeDay(day string, now time.Time, loc *time.Location) (CodeDay, error) {
	today := lockproto.DayNumber(now, loc)
	n := today
	if day != "" {
		d, err := time.ParseInLocation("2006-01-02", day, loc)
		if err != nil {
			return CodeDay{}, FieldError("day", "must be a date like 2026-01-31")
		}
		n = lockproto.DayNumber(d, loc)
	}
	if n < today {
		return CodeDay{}, FieldError("day", "is in the past")
	}
	out := CodeDay{Day: n, DayStart: lockproto.DayStart(n, loc), DayEnd: lockproto.DayStart(n+1, loc)}
	out.Start = out.DayStart
	if out.Start.Before(now) {
		out.Start = now
	}
	return out, nil
}

// CheckCodeGuestKey refuses a key that provides no doorcode anywhere: a
// code guest on it could open nothing.
func CheckCodeGuestKey(k Key) error {
	if !k.ProvidesDoorcodes() {
		return FieldError("keys", "key %s provides no doorcodes, so a doorcode guest could open nothing; invite an app guest instead", k.Name)
	}
	return nil
}

// FreeCodeSlot picks the lowest slot of a key's codes of one kind and day
// that is not taken.
func FreeCodeSlot(taken map[int]bool, keyName string) (int, error) {
	for i := range DayCodeSlots {
		if !taken[i] {
			return i, nil
		}
	}
	return 0, Errorf(EConflict, "all %d guest codes of key %s for that day are taken; pick another day or invite an app guest", DayCodeSlots, keyName)
}

// CodeGuestMustEnd reports whether a code guest loses their code when the
// host's window becomes host: the locks accept a code for its whole day
// and cannot narrow it, so a guest whose window no longer fits inside the
// host's ends (a guest never gets more than the host's own window).
func CodeGuestMustEnd(guest, host Window) bool { return !guest.Within(host) }

// KeyEndsCodeGuests reports whether a key as it is now (next; a deleted
// key has no doors) ends the code guests on it: with no doorcode door left
// their code opens nothing, so they end rather than show active with no
// usable code.
func KeyEndsCodeGuests(next Key) bool { return !next.ProvidesDoorcodes() }

// ClampGuestGrant narrows a guest's grant on a key to the host's window on
// that key (a guest never gets more than the host's own window): the grant
// gets the intersection as its own window, and changed reports whether it
// narrowed. A grant with nothing left gets a one-microsecond window, so it
// opens nothing.
func ClampGuestGrant(g Grant, guest Person, host Window) (out Grant, changed bool) {
	cur := g.EffectiveWindow(guest)
	w := cur.Intersect(host)
	if w.Start.Equal(cur.Start) && sameEnd(w.End, cur.End) {
		return g, false
	}
	if w.End != nil && !w.End.After(w.Start) {
		e := w.Start.Add(time.Microsecond)
		w.End = &e
	}
	g.StartsAt, g.ExpiresAt = &w.Start, w.End
	return g, true
}

func sameEnd(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// CodeReissueNeeded reports whether a released code still needs its key's
// secret rotated: only while its day is not over (after that the locks no
// longer accept it anyway).
func CodeReissueNeeded(day int64, now time.Time, loc *time.Location) bool {
	return now.Before(lockproto.DayStart(day+1, loc))
}

// ReinviteGuest decides whether a host's new guest invitation for an
// email that already has a record at the property re-grants that record:
// only when it is the same host's guest whose access is over (revoked or
// expired), as a manager can give a revoked person keys again. Anyone else
// — another person's guest, a resident, a guest still active or pending —
// keeps the conflict: the resident cannot take over or double that record.
func ReinviteGuest(existing Person, hostID string, now time.Time) error {
	if existing.InvitedBy != hostID {
		return &Error{Code: EConflict, Field: "email", Message: existing.Email + " already has access at this property; ask your property manager"}
	}
	switch st := existing.Status(now); st {
	case StatusRevoked, StatusExpired:
		return nil
	default:
		return &Error{Code: EConflict, Field: "email", Message: existing.Email + " is already your guest (" + string(st) + "); revoke them first to invite them again"}
	}
}
