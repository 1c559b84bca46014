package domain_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestStatus(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	for _, tc := range []struct {
		name string
		p    domain.Person
		want domain.Status
	}{
		{"Active", domain.Person{StartsAt: past}, domain.StatusActive},
		{"ActiveAtExactStart", domain.Person{StartsAt: now}, domain.StatusActive},
		{"ActiveBeforeExpiry", domain.Person{StartsAt: past, ExpiresAt: &future}, domain.StatusActive},
		{"PendingFutureStart", domain.Person{StartsAt: future}, domain.StatusPending},
		{"ExpiredAtExactExpiry", domain.Person{StartsAt: past, ExpiresAt: &now}, domain.StatusExpired},
		{"ExpiredAfterExpiry", domain.Person{StartsAt: past.Add(-time.Hour), ExpiresAt: &past}, domain.StatusExpired},
		{"RevokedWinsOverActive", domain.Person{StartsAt: past, RevokedAt: &past}, domain.StatusRevoked},
		{"RevokedWinsOverExpired", domain.Person{StartsAt: past, ExpiresAt: &past, RevokedAt: &past}, domain.StatusRevoked},
		{"RevokedWinsOverPending", domain.Person{StartsAt: future, RevokedAt: &past}, domain.StatusRevoked},
		{"DeletedWinsOverEverything", domain.Person{StartsAt: past, RevokedAt: &past, DeletedAt: &past}, domain.StatusDeleted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Status(now); got != tc.want {
				t.Fatalf("Status = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPersonName(t *testing.T) {
	for _, tc := range []struct{ first, last, want string }{
		{"Ana", "Lopez", "Ana Lopez"}, {"Ana", "", "Ana"}, {"", "Lopez", "Lopez"},
	} {
		if got := (domain.Person{FirstName: tc.first, LastName: tc.last}).Name(); got != tc.want {
			t.Errorf("Name(%q,%q) = %q, want %q", tc.first, tc.last, got, tc.want)
		}
	}
}

func TestWindow(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2025, 1, 1, h, 0, 0, 0, time.UTC) }
	end := func(h int) *time.Time { v := at(h); return &v }
	for _, tc := range []struct {
		name         string
		w, outer     domain.Window
		within       bool
		intersection domain.Window
	}{
		{"InsideClosed", domain.Window{Start: at(2), End: end(4)}, domain.Window{Start: at(1), End: end(5)}, true, domain.Window{Start: at(2), End: end(4)}},
		{"SameBounds", domain.Window{Start: at(1), End: end(5)}, domain.Window{Start: at(1), End: end(5)}, true, domain.Window{Start: at(1), End: end(5)}},
		{"InsideOpenOuter", domain.Window{Start: at(2)}, domain.Window{Start: at(1)}, true, domain.Window{Start: at(2)}},
		{"OpenInsideClosedIsNot", domain.Window{Start: at(2)}, domain.Window{Start: at(1), End: end(5)}, false, domain.Window{Start: at(2), End: end(5)}},
		{"StartsEarlier", domain.Window{Start: at(0), End: end(4)}, domain.Window{Start: at(1), End: end(5)}, false, domain.Window{Start: at(1), End: end(4)}},
		{"EndsLater", domain.Window{Start: at(2), End: end(6)}, domain.Window{Start: at(1), End: end(5)}, false, domain.Window{Start: at(2), End: end(5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.w.Within(tc.outer); got != tc.within {
				t.Fatalf("Within = %v, want %v", got, tc.within)
			}
			got := tc.w.Intersect(tc.outer)
			if !got.Start.Equal(tc.intersection.Start) || !sameTime(got.End, tc.intersection.End) {
				t.Fatalf("Intersect = %v..%v, want %v..%v", got.Start, got.End, tc.intersection.Start, tc.intersection.End)
			}
		})
	}
	t.Run("IntersectDoesNotAlias", func(t *testing.T) {
		w := domain.Window{Start: at(1)}
		outer := domain.Window{Start: at(0), End: end(5)}
		got := w.Intersect(outer)
		*got.End = at(9)
		if !outer.End.Equal(at(5)) {
			t.Fatal("Intersect returned a pointer into its argument")
		}
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func TestEffectiveWindow(t *testing.T) {
	at := func(d int) time.Time { return time.Date(2025, 1, d, 0, 0, 0, 0, time.UTC) }
	ptr := func(d int) *time.Time { v := at(d); return &v }
	p := domain.Person{StartsAt: at(1), ExpiresAt: ptr(20)}
	for _, tc := range []struct {
		name       string
		g          domain.Grant
		start      time.Time
		end        *time.Time
		personOpen bool
	}{
		{"PersonWindowWhenGrantUnbounded", domain.Grant{}, at(1), ptr(20), false},
		{"GrantNarrowsStart", domain.Grant{StartsAt: ptr(5)}, at(5), ptr(20), false},
		{"GrantNarrowsEnd", domain.Grant{ExpiresAt: ptr(10)}, at(1), ptr(10), false},
		{"GrantCannotWiden", domain.Grant{StartsAt: ptr(0), ExpiresAt: ptr(25)}, at(1), ptr(20), false},
		{"OpenEndedPersonTakesGrantEnd", domain.Grant{ExpiresAt: ptr(10)}, at(1), ptr(10), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			person := p
			if tc.personOpen {
				person.ExpiresAt = nil
			}
			w := tc.g.EffectiveWindow(person)
			if !w.Start.Equal(tc.start) || !sameTime(w.End, tc.end) {
				t.Fatalf("window %v..%v, want %v..%v", w.Start, w.End, tc.start, tc.end)
			}
		})
	}
}

func TestMergeDoorChanges(t *testing.T) {
	in := []domain.DoorChange{
		{DoorID: "d1", Reason: "a given"},
		{DoorID: "d2", Reason: "a given"},
		{DoorID: "d1", Reason: "b revoked", Revocation: true, PersonIDs: []string{"p1"}},
		{DoorID: "d1", Reason: "b revoked", Revocation: true, PersonIDs: []string{"p1", "p2"}},
		{DoorID: "d3", Reason: "c", PersonIDs: nil},
	}
	got := domain.MergeDoorChanges(in)
	want := []domain.DoorChange{
		{DoorID: "d1", Reason: "a given; b revoked", Revocation: true, PersonIDs: []string{"p1", "p2"}},
		{DoorID: "d2", Reason: "a given", PersonIDs: nil},
		{DoorID: "d3", Reason: "c", PersonIDs: nil},
	}
	// nil and empty person lists are the same thing here.
	for i := range got {
		if len(got[i].PersonIDs) == 0 {
			got[i].PersonIDs = nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	t.Run("DoesNotAliasInput", func(t *testing.T) {
		in := []domain.DoorChange{{DoorID: "d1", PersonIDs: []string{"p1"}}, {DoorID: "d1", PersonIDs: []string{"p2"}}}
		domain.MergeDoorChanges(in)
		if len(in[0].PersonIDs) != 1 {
			t.Fatalf("input modified: %v", in[0].PersonIDs)
		}
	})
	t.Run("DayKeysAndCards", func(t *testing.T) {
		got := domain.MergeDoorChanges([]domain.DoorChange{
			{DoorID: "d1", DayKeys: []string{"k1"}},
			{DoorID: "d1", DayKeys: []string{"k2", "k1"}, Cards: []string{"C-1"}},
			{DoorID: "d1", Cards: []string{"C-1", "C-2"}, PersonIDs: []string{"p1"}},
		})
		if len(got) != 1 || !reflect.DeepEqual(got[0].DayKeys, []string{"k1", "k2"}) || !reflect.DeepEqual(got[0].Cards, []string{"C-1", "C-2"}) || !got[0].Narrows() {
			t.Fatalf("got %+v", got)
		}
		if (domain.DoorChange{DoorID: "d1", Revocation: true}).Narrows() {
			t.Fatal("a change naming nothing narrows")
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if got := domain.MergeDoorChanges(nil); len(got) != 0 {
			t.Fatalf("got %v", got)
		}
	})
}

func TestKeyHelpers(t *testing.T) {
	k := domain.Key{Doors: []domain.KeyDoor{{DoorID: "d1"}, {DoorID: "d2", Doorcodes: true}}}
	if got := k.DoorIDs(); !reflect.DeepEqual(got, []string{"d1", "d2"}) {
		t.Fatalf("DoorIDs = %v", got)
	}
	if !k.ProvidesDoorcodes() {
		t.Fatal("ProvidesDoorcodes = false")
	}
	k.Doors[1].Doorcodes = false
	if k.ProvidesDoorcodes() {
		t.Fatal("ProvidesDoorcodes = true without doorcode doors")
	}
}

func TestPropertyLocation(t *testing.T) {
	if got := (domain.Property{TimeZone: "Europe/Paris"}).Location().String(); got != "Europe/Paris" {
		t.Fatalf("Location = %s", got)
	}
	if got := (domain.Property{TimeZone: "Nowhere/Else"}).Location(); got != time.UTC {
		t.Fatalf("Location of unknown zone = %v, want UTC", got)
	}
}

func TestStatusHoldsAccess(t *testing.T) {
	for _, tc := range []struct {
		s    domain.Status
		want bool
	}{
		{domain.StatusActive, true},
		{domain.StatusPending, true},
		{domain.StatusExpired, false},
		{domain.StatusRevoked, false},
		{domain.StatusDeleted, false},
	} {
		t.Run(string(tc.s), func(t *testing.T) {
			if got := tc.s.HoldsAccess(); got != tc.want {
				t.Fatalf("HoldsAccess = %v, want %v", got, tc.want)
			}
		})
	}
}
