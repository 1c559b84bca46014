package csvio

import (
	"fmt"
	"strings"
	"time"
)

// Layouts with an explicit zone or offset.
var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04Z07:00",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04Z07:00",
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02 15:04:05 Z07:00",
	"2006-01-02 15:04:05 -0700",
}

// Layouts read in the property's time zone. "1/2/2006" also accepts
// "01/02/2006"; values are upper-cased first so "pm" reads as "PM".
var localLayouts = []string{ // ISO first (4), then US
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02 15:04",
	"1/2/2006 15:04:05",
	"1/2/2006 15:04",
	"1/2/2006 3:04:05 PM",
	"1/2/2006 3:04 PM",
	"1/2/2006 3:04:05PM",
	"1/2/2006 3:04PM",
}

var dateLayouts = []string{"2006-01-02", "1/2/2006"} // ISO, US

// ParseTime reads a date or date-time cell: ISO 8601 (a date, or a
// date-time with or without zone) or US spreadsheet forms MM/DD/YYYY,
// MM/DD/YYYY HH:MM[:SS] and M/D/YYYY h:mm[:ss] AM/PM. Values without a zone
// are in loc. dateOnly reports that the value had no time of day.
func ParseTime(s string, loc *time.Location) (t time.Time, dateOnly bool, err error) {
	if loc == nil {
		loc = time.UTC
	}
	v := strings.ToUpper(strings.Join(strings.Fields(s), " "))
	// Each failed layout costs an error value; pick the family by shape.
	dates, zoned, local := dateLayouts[:1], zonedLayouts, localLayouts[:4]
	if strings.Contains(v, "/") {
		dates, zoned, local = dateLayouts[1:], nil, localLayouts[4:]
	}
	for _, l := range dates {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, true, nil
		}
	}
	for _, l := range zoned {
		if t, err := time.Parse(l, v); err == nil {
			return t, false, nil
		}
	}
	for _, l := range local {
		if t, err := time.ParseInLocation(l, v, loc); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM or MM/DD/YYYY [HH:MM]", clip(s))
}
