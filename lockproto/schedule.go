package lockproto

import (
	"fmt"
	"time"
)

// Window is one weekly interval in the property's local time: Day, from
// Start to End minutes after local midnight, End exclusive (1440 = midnight).
type Window struct {
	_     struct{} `cbor:",toarray"`
	Day   time.Weekday
	Start uint16
	End   uint16
}

// Schedule is a weekly schedule. A nil or empty schedule places no
// restriction; the cloud expresses "never" by not granting at all.
type Schedule []Window

// Allows reports whether t falls in a window, judged on the wall clock of loc
// so that "Mon 08:00–18:00" means what the property manager meant across
// daylight-saving changes.
func (s Schedule) Allows(t time.Time, loc *time.Location) bool {
	if len(s) == 0 {
		return true
	}
	lt := t.In(loc)
	day := lt.Weekday()
	minute := uint16(lt.Hour()*60 + lt.Minute())
	for _, w := range s {
		if w.Day == day && minute >= w.Start && minute < w.End {
			return true
		}
	}
	return false
}

// Validate rejects windows that cannot match or that name no weekday.
func (s Schedule) Validate() error {
	for _, w := range s {
		if w.Day < time.Sunday || w.Day > time.Saturday || w.Start >= w.End || w.End > 24*60 {
			return fmt.Errorf("%w: schedule window %v %d-%d", ErrMalformed, w.Day, w.Start, w.End)
		}
	}
	return nil
}
