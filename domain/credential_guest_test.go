package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	if field == "" {
		if err != nil {
			t.Fatalf("err = %v, want nil", err)
		}
		return
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Field != field {
		t.Fatalf("err = %v, want an error naming %q", err, field)
	}
}

func TestGuestKindCheckRequest(t *testing.T) {
	at := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		kind            domain.GuestKind
		day             string
		starts, expires *time.Time
		keys            int
		field           string
	}{
		{name: "OKApp", kind: domain.GuestApp, starts: &at, keys: 2},
		{name: "OKDayCode", kind: domain.GuestDayCode, day: "2025-06-03", keys: 1},
		{name: "OKQuarterHourToday", kind: domain.GuestQuarterHourCode, keys: 1},
		{name: "ErrAppWithDay", kind: domain.GuestApp, day: "2025-06-03", keys: 1, field: "day"},
		{name: "ErrCodeWithStart", kind: domain.GuestDayCode, starts: &at, keys: 1, field: "starts_at"},
		{name: "ErrCodeWithExpiry", kind: domain.GuestQuarterHourCode, expires: &at, keys: 1, field: "starts_at"},
		{name: "ErrCodeTwoKeys", kind: domain.GuestDayCode, keys: 2, field: "keys"},
		{name: "ErrCodeNoKey", kind: domain.GuestDayCode, keys: 0, field: "keys"},
		{name: "ErrKindMissing", kind: "", keys: 1, field: "kind"},
		{name: "ErrKindUnknown", kind: "fax", keys: 1, field: "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantField(t, tc.kind.CheckRequest(tc.day, tc.starts, tc.expires, tc.keys), tc.field)
		})
	}
}

func TestPlanCodeDay(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	// Monday 2 June 2025, 08:00 in New York.
	now := time.Date(2025, 6, 2, 8, 0, 0, 0, ny)
	for _, tc := range []struct {
		name       string
		day        string
		start, end time.Time
		field      string
	}{
		{name: "OKTodayStartsNow", day: "", start: now, end: time.Date(2025, 6, 3, 0, 0, 0, 0, ny)},
		{name: "OKTodayNamed", day: "2025-06-02", start: now, end: time.Date(2025, 6, 3, 0, 0, 0, 0, ny)},
		{name: "OKLaterDayFromMidnight", day: "2025-06-05", start: time.Date(2025, 6, 5, 0, 0, 0, 0, ny), end: time.Date(2025, 6, 6, 0, 0, 0, 0, ny)},
		// 2 November 2025 has 25 hours in New York.
		{name: "OKDaylightSavingDay", day: "2025-11-02", start: time.Date(2025, 11, 2, 0, 0, 0, 0, ny), end: time.Date(2025, 11, 3, 0, 0, 0, 0, ny)},
		{name: "ErrYesterday", day: "2025-06-01", field: "day"},
		{name: "ErrNotADate", day: "06/05/2025", field: "day"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := domain.PlanCodeDay(tc.day, now, ny)
			wantField(t, err, tc.field)
			if tc.field != "" {
				return
			}
			if !got.Start.Equal(tc.start) || !got.DayEnd.Equal(tc.end) {
				t.Errorf("window %v – %v, want %v – %v", got.Start, got.DayEnd, tc.start, tc.end)
			}
			if !got.Start.Before(got.DayEnd) || got.DayStart.After(got.Start) {
				t.Errorf("day %v – %v does not hold the start %v", got.DayStart, got.DayEnd, got.Start)
			}
		})
	}
	// The same instant is a different day in another zone.
	late := time.Date(2025, 6, 3, 2, 0, 0, 0, time.UTC) // 22:00 on 2 June in New York
	a, _ := domain.PlanCodeDay("", late, ny)
	b, _ := domain.PlanCodeDay("", late, time.UTC)
	if a.Day+1 != b.Day {
		t.Errorf("day in New York %d, in UTC %d: want one apart", a.Day, b.Day)
	}
}

func TestCheckCodeGuestKey(t *testing.T) {
	wantField(t, domain.CheckCodeGuestKey(domain.Key{Name: "Building", Doors: []domain.KeyDoor{{DoorID: "a"}, {DoorID: "b", Doorcodes: true}}}), "")
	wantField(t, domain.CheckCodeGuestKey(domain.Key{Name: "Gym", Doors: []domain.KeyDoor{{DoorID: "a"}}}), "keys")
	wantField(t, domain.CheckCodeGuestKey(domain.Key{Name: "Empty"}), "keys")
}

func TestFreeCodeSlot(t *testing.T) {
	t.Run("OKLowestFree", func(t *testing.T) {
		if got, err := domain.FreeCodeSlot(map[int]bool{0: true, 1: true, 3: true}, "Building"); err != nil || got != 2 {
			t.Errorf("slot = %d, %v; want 2", got, err)
		}
	})
	t.Run("ErrAllTaken", func(t *testing.T) {
		taken := map[int]bool{}
		for i := range domain.DayCodeSlots {
			taken[i] = true
		}
		if _, err := domain.FreeCodeSlot(taken, "Building"); domain.ErrorCode(err) != domain.EConflict {
			t.Errorf("err = %v, want conflict", err)
		}
	})
}

func TestCodeGuestMustEnd(t *testing.T) {
	day := time.Date(2025, 6, 5, 4, 0, 0, 0, time.UTC)
	next := day.Add(24 * time.Hour)
	ptr := func(t time.Time) *time.Time { return &t }
	guest := domain.Window{Start: day, End: &next}
	for _, tc := range []struct {
		name string
		host domain.Window
		end  bool
	}{
		{name: "KeptHostWithoutEnd", host: domain.Window{Start: day.Add(-time.Hour)}},
		{name: "KeptHostEndsAfterTheDay", host: domain.Window{Start: day.Add(-time.Hour), End: ptr(next.Add(time.Hour))}},
		{name: "KeptHostEndsAtMidnight", host: domain.Window{Start: day, End: &next}},
		{name: "EndedHostEndsDuringTheDay", host: domain.Window{Start: day.Add(-time.Hour), End: ptr(day.Add(6 * time.Hour))}, end: true},
		{name: "EndedHostEndsBeforeTheDay", host: domain.Window{Start: day.Add(-48 * time.Hour), End: ptr(day.Add(-time.Hour))}, end: true},
		{name: "EndedHostStartsDuringTheDay", host: domain.Window{Start: day.Add(time.Hour)}, end: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.CodeGuestMustEnd(guest, tc.host); got != tc.end {
				t.Errorf("CodeGuestMustEnd = %v, want %v", got, tc.end)
			}
		})
	}
}

func TestReinviteGuest(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	guest := func(host string, revoked, expired bool) domain.Person {
		p := domain.Person{ID: "g", Email: "g@example.com", InvitedBy: host, StartsAt: now.Add(-48 * time.Hour)}
		if revoked {
			p.RevokedAt = &past
		}
		if expired {
			p.ExpiresAt = &past
		}
		return p
	}
	for _, tc := range []struct {
		name     string
		existing domain.Person
		ok       bool
	}{
		{name: "OKRevokedGuestOfSameHost", existing: guest("host", true, false), ok: true},
		{name: "OKExpiredGuestOfSameHost", existing: guest("host", false, true), ok: true},
		{name: "ErrActiveGuestOfSameHost", existing: guest("host", false, false)},
		{name: "ErrRevokedGuestOfAnotherHost", existing: guest("other", true, false)},
		{name: "ErrRevokedResident", existing: guest("", true, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.ReinviteGuest(tc.existing, "host", now)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if domain.ErrorCode(err) != domain.EConflict {
				t.Fatalf("err = %v, want conflict", err)
			}
			wantField(t, err, "email")
		})
	}
}

func TestKeyEndsCodeGuests(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  domain.Key
		end  bool
	}{
		{name: "KeptADoorcodeDoorLeft", key: domain.Key{Doors: []domain.KeyDoor{{DoorID: "a"}, {DoorID: "b", Doorcodes: true}}}},
		{name: "EndedDoorcodesSwitchedOffEverywhere", key: domain.Key{Doors: []domain.KeyDoor{{DoorID: "a"}, {DoorID: "b"}}}, end: true},
		{name: "EndedKeyDeleted", key: domain.Key{ID: "key_1"}, end: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.KeyEndsCodeGuests(tc.key); got != tc.end {
				t.Errorf("KeyEndsCodeGuests = %v, want %v", got, tc.end)
			}
		})
	}
}

func TestClampGuestGrant(t *testing.T) {
	start := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	ptr := func(t time.Time) *time.Time { return &t }
	guest := domain.Person{StartsAt: start, ExpiresAt: ptr(start.Add(48 * time.Hour))}
	for _, tc := range []struct {
		name      string
		grant     domain.Grant
		host      domain.Window
		changed   bool
		wantStart time.Time
		wantEnd   *time.Time
	}{
		{name: "KeptHostWider", host: domain.Window{Start: start.Add(-time.Hour)}},
		{name: "KeptGrantEndsBeforeHost", grant: domain.Grant{ExpiresAt: ptr(start.Add(time.Hour))}, host: domain.Window{Start: start, End: ptr(start.Add(2 * time.Hour))}},
		{name: "NarrowedEnd", host: domain.Window{Start: start, End: ptr(start.Add(24 * time.Hour))},
			changed: true, wantStart: start, wantEnd: ptr(start.Add(24 * time.Hour))},
		{name: "NarrowedStart", host: domain.Window{Start: start.Add(time.Hour)},
			changed: true, wantStart: start.Add(time.Hour), wantEnd: ptr(start.Add(48 * time.Hour))},
		{name: "NarrowedToNothing", host: domain.Window{Start: start.Add(-48 * time.Hour), End: ptr(start.Add(-time.Hour))},
			changed: true, wantStart: start, wantEnd: ptr(start.Add(time.Microsecond))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, changed := domain.ClampGuestGrant(tc.grant, guest, tc.host)
			if changed != tc.changed {
				t.Fatalf("changed = %v, want %v", changed, tc.changed)
			}
			if !changed {
				return
			}
			w := got.EffectiveWindow(guest)
			if !w.Start.Equal(tc.wantStart) || w.End == nil || !w.End.Equal(*tc.wantEnd) {
				t.Errorf("window = %v–%v, want %v–%v", w.Start, w.End, tc.wantStart, *tc.wantEnd)
			}
			if !w.Within(tc.host) && w.End.Sub(w.Start) > time.Microsecond {
				t.Errorf("clamped window %v–%v is not inside the host's", w.Start, w.End)
			}
		})
	}
}
