package domain

import (
	"fmt"
	"time"
)

// Schedule is a weekly set of windows in the property's time zone. An empty
// schedule means "at any time".
type Schedule []ScheduleWindow

// ScheduleWindow opens the door on the listed weekdays from Start to End
// ("HH:MM", End may be "24:00").
type ScheduleWindow struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// parseClock turns "HH:MM" into minutes after midnight.
func parseClock(s string) (int, error) {
	// Digits only: Sscanf("%02d") would also take "-1" or "+1", and a
	// negative minute indexes out of range in Narrows.
	digit := func(c byte) bool { return c >= '0' && c <= '9' }
	if len(s) != 5 || s[2] != ':' || !digit(s[0]) || !digit(s[1]) || !digit(s[3]) || !digit(s[4]) {
		return 0, fmt.Errorf("%q is not HH:MM", s)
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	if h > 24 || m > 59 || (h == 24 && m != 0) {
		return 0, fmt.Errorf("%q is not a time of day", s)
	}
	return h*60 + m, nil
}

// Validate checks every window; field is the JSON path used in the error.
func (s Schedule) Validate(field string) error {
	if len(s) > 28 {
		return FieldError(field, "at most 28 windows")
	}
	for i, w := range s {
		f := fmt.Sprintf("%s[%d]", field, i)
		if len(w.Days) == 0 {
			return FieldError(f+".days", "needs at least one weekday (sun..sat)")
		}
		for _, d := range w.Days {
			if _, ok := weekdays[d]; !ok {
				return FieldError(f+".days", "unknown weekday %q (use sun, mon, tue, wed, thu, fri, sat)", d)
			}
		}
		start, err := parseClock(w.Start)
		if err != nil {
			return FieldError(f+".start", "%v", err)
		}
		end, err := parseClock(w.End)
		if err != nil {
			return FieldError(f+".end", "%v", err)
		}
		if end <= start {
			return FieldError(f+".end", "must be after start")
		}
	}
	return nil
}

// Allows reports whether t falls inside the schedule, read in loc.
func (s Schedule) Allows(t time.Time, loc *time.Location) bool {
	if len(s) == 0 {
		return true
	}
	lt := t.In(loc)
	minute := lt.Hour()*60 + lt.Minute()
	for _, w := range s {
		start, err1 := parseClock(w.Start)
		end, err2 := parseClock(w.End)
		if err1 != nil || err2 != nil {
			continue
		}
		for _, d := range w.Days {
			if weekdays[d] == lt.Weekday() && minute >= start && minute < end {
				return true
			}
		}
	}
	return false
}

// Narrows reports whether replacing old by s can take away any minute of
// access — such a change is a revocation for the doors concerned.
func (s Schedule) Narrows(old Schedule) bool {
	if len(s) == 0 {
		return false
	}
	if len(old) == 0 {
		return true
	}
	// Compare minute by minute over one week; 10,080 checks is cheap and
	// avoids interval algebra bugs.
	allowed := func(sc Schedule) []bool {
		out := make([]bool, 7*24*60)
		for _, w := range sc {
			start, err1 := parseClock(w.Start)
			end, err2 := parseClock(w.End)
			if err1 != nil || err2 != nil {
				continue
			}
			for _, d := range w.Days {
				base := int(weekdays[d]) * 24 * 60
				for m := start; m < end; m++ {
					out[base+m] = true
				}
			}
		}
		return out
	}
	o, n := allowed(old), allowed(s)
	for i := range o {
		if o[i] && !n[i] {
			return true
		}
	}
	return false
}
