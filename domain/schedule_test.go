package domain_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestScheduleValidate(t *testing.T) {
	weekday := []string{"mon", "tue", "wed", "thu", "fri"}
	many := make(domain.Schedule, 29)
	for i := range many {
		many[i] = domain.ScheduleWindow{Days: []string{"mon"}, Start: "00:00", End: "01:00"}
	}
	for _, tc := range []struct {
		name  string
		s     domain.Schedule
		field string
	}{
		{"OKEmpty", nil, ""},
		{"OKOfficeHours", domain.Schedule{{Days: weekday, Start: "06:00", End: "22:00"}}, ""},
		{"OKUntilMidnight", domain.Schedule{{Days: []string{"sat", "sun"}, Start: "00:00", End: "24:00"}}, ""},
		{"OKTwoWindows", domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "09:00"}, {Days: []string{"mon"}, Start: "17:00", End: "20:00"}}, ""},
		{"ErrTooMany", many, "s"},
		{"ErrNoDays", domain.Schedule{{Start: "06:00", End: "09:00"}}, "s[0].days"},
		{"ErrUnknownDay", domain.Schedule{{Days: []string{"monday"}, Start: "06:00", End: "09:00"}}, "s[0].days"},
		{"ErrUpperCaseDay", domain.Schedule{{Days: []string{"Mon"}, Start: "06:00", End: "09:00"}}, "s[0].days"},
		{"ErrStartFormat", domain.Schedule{{Days: []string{"mon"}, Start: "6:00", End: "09:00"}}, "s[0].start"},
		{"ErrStartNotTime", domain.Schedule{{Days: []string{"mon"}, Start: "ab:cd", End: "09:00"}}, "s[0].start"},
		{"ErrStartNegative", domain.Schedule{{Days: []string{"mon"}, Start: "-1:00", End: "09:00"}}, "s[0].start"},
		{"ErrStartSigned", domain.Schedule{{Days: []string{"mon"}, Start: "+1:00", End: "09:00"}}, "s[0].start"},
		{"ErrStartSpace", domain.Schedule{{Days: []string{"mon"}, Start: " 1:00", End: "09:00"}}, "s[0].start"},
		{"ErrMinuteNegative", domain.Schedule{{Days: []string{"mon"}, Start: "01:-5", End: "09:00"}}, "s[0].start"},
		{"ErrHour25", domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "25:00"}}, "s[0].end"},
		{"ErrMinute60", domain.Schedule{{Days: []string{"mon"}, Start: "06:60", End: "09:00"}}, "s[0].start"},
		{"Err2430", domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "24:30"}}, "s[0].end"},
		{"ErrEndBeforeStart", domain.Schedule{{Days: []string{"mon"}, Start: "22:00", End: "06:00"}}, "s[0].end"},
		{"ErrEmptyWindow", domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "06:00"}}, "s[0].end"},
		{"ErrSecondWindow", domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "07:00"}, {Days: []string{"tue"}, Start: "07", End: "08:00"}}, "s[1].start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.s.Validate("s")
			if tc.field == "" {
				wantErr(t, err, "", "")
				return
			}
			wantErr(t, err, domain.EInvalid, tc.field)
		})
	}
}

func TestScheduleAllows(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	office := domain.Schedule{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "06:00", End: "22:00"}}
	night := domain.Schedule{{Days: []string{"sun"}, Start: "01:00", End: "03:00"}}
	late := domain.Schedule{{Days: []string{"fri"}, Start: "22:00", End: "24:00"}}
	for _, tc := range []struct {
		name string
		s    domain.Schedule
		at   time.Time
		loc  *time.Location
		want bool
	}{
		{"AllowedEmptyScheduleAnyTime", nil, time.Date(2025, 1, 5, 3, 0, 0, 0, time.UTC), ny, true},
		{"AllowedMondayMorningLocal", office, time.Date(2025, 1, 6, 6, 0, 0, 0, ny), ny, true},
		{"DeniedJustBeforeStart", office, time.Date(2025, 1, 6, 5, 59, 59, 0, ny), ny, false},
		{"DeniedAtEnd", office, time.Date(2025, 1, 6, 22, 0, 0, 0, ny), ny, false},
		{"AllowedLastMinute", office, time.Date(2025, 1, 6, 21, 59, 59, 0, ny), ny, true},
		{"DeniedSaturday", office, time.Date(2025, 1, 11, 12, 0, 0, 0, ny), ny, false},
		// 03:00 UTC Tuesday is 22:00 Monday in New York (EST, UTC-5): the
		// schedule is read in the property's zone, not in UTC.
		{"DeniedInPropertyZoneThoughUTCIsInside", office, time.Date(2025, 1, 7, 3, 0, 0, 0, time.UTC), ny, false},
		{"AllowedInPropertyZoneThoughUTCIsOutside", office, time.Date(2025, 1, 7, 2, 59, 0, 0, time.UTC), ny, true},
		// 23:00 UTC Sunday is 08:00 Monday in Tokyo.
		{"AllowedTokyoMondayWhileUTCSunday", office, time.Date(2025, 1, 5, 23, 0, 0, 0, time.UTC), tokyo, true},
		{"AllowedUntil2400", late, time.Date(2025, 1, 10, 23, 59, 0, 0, ny), ny, true},
		{"DeniedMidnightAfter2400", late, time.Date(2025, 1, 11, 0, 0, 0, 0, ny), ny, false},
		// Spring forward: 2025-03-09 02:00 EST jumps to 03:00 EDT. 06:30 UTC
		// is 01:30 EST (inside 01:00-03:00), 07:00 UTC is 03:00 EDT (outside).
		{"DSTSpringAllowedBeforeJump", night, time.Date(2025, 3, 9, 6, 30, 0, 0, time.UTC), ny, true},
		{"DSTSpringDeniedAfterJump", night, time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC), ny, false},
		// The same office hours hold in local time on both sides of the change.
		{"DSTSummerLocal0600Allowed", office, time.Date(2025, 3, 10, 10, 0, 0, 0, time.UTC), ny, true},
		{"DSTSummerLocal0559Denied", office, time.Date(2025, 3, 10, 9, 59, 0, 0, time.UTC), ny, false},
		// Fall back: 2025-11-02 01:00-02:00 happens twice; both are inside.
		{"DSTFallFirstOneThirty", night, time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC), ny, true},
		{"DSTFallSecondOneThirty", night, time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC), ny, true},
		{"DSTFallThreeOClockDenied", night, time.Date(2025, 11, 2, 8, 0, 0, 0, time.UTC), ny, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Allows(tc.at, tc.loc); got != tc.want {
				t.Fatalf("Allows(%s) = %v, want %v", tc.at.In(tc.loc), got, tc.want)
			}
		})
	}
}

func TestScheduleNarrows(t *testing.T) {
	w := func(start, end string, days ...string) domain.ScheduleWindow {
		return domain.ScheduleWindow{Days: days, Start: start, End: end}
	}
	for _, tc := range []struct {
		name     string
		old, new domain.Schedule
		want     bool
	}{
		{"SameAnyTime", nil, nil, false},
		{"AnyTimeToScheduleNarrows", nil, domain.Schedule{w("00:00", "24:00", "mon", "tue", "wed", "thu", "fri", "sat")}, true},
		{"FullWeekScheduleToAnyTimeWidens", domain.Schedule{w("06:00", "22:00", "mon")}, nil, false},
		{"Identical", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("06:00", "22:00", "mon")}, false},
		{"LongerWidens", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("05:00", "23:00", "mon")}, false},
		{"ShorterNarrows", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("06:00", "21:59", "mon")}, true},
		{"DayRemovedNarrows", domain.Schedule{w("06:00", "22:00", "mon", "tue")}, domain.Schedule{w("06:00", "22:00", "mon")}, true},
		{"DayAddedWidens", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("06:00", "22:00", "mon", "sun")}, false},
		{"SplitIntoTwoCoveringWindowsWidens", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("06:00", "12:00", "mon"), w("12:00", "22:00", "mon")}, false},
		{"GapInSplitNarrows", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("06:00", "12:00", "mon"), w("12:01", "22:00", "mon")}, true},
		{"ShiftedNarrows", domain.Schedule{w("06:00", "22:00", "mon")}, domain.Schedule{w("07:00", "23:00", "mon")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.new.Narrows(tc.old); got != tc.want {
				t.Fatalf("Narrows = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("NoPanicOnUnvalidatedClock", func(t *testing.T) {
		// Stored schedules are validated, but Narrows must not index out of
		// range on a malformed one either.
		bad := domain.Schedule{w("-1:00", "05:00", "sun")}
		_ = bad.Narrows(domain.Schedule{w("00:00", "01:00", "sun")})
		_ = domain.Schedule{w("00:00", "01:00", "sun")}.Narrows(bad)
	})
}
