package domain_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// TestPlanCredential: a phone credential never gives more than a grant.
func TestPlanCredential(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	at := func(h int) *time.Time { v := now.Add(time.Duration(h) * time.Hour); return &v }
	day := 24 * time.Hour
	keys := map[string]domain.Key{
		"lobby": {ID: "lobby", Doors: []domain.KeyDoor{{DoorID: "d-lobby"}}},
		"gym": {ID: "gym", Doors: []domain.KeyDoor{{DoorID: "d-gym", Schedule: domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "22:00"}}},
			{DoorID: "d-lobby", Schedule: domain.Schedule{{Days: []string{"tue"}, Start: "06:00", End: "07:00"}}}}},
		"pool": {ID: "pool", Doors: []domain.KeyDoor{{DoorID: "d-pool", Schedule: domain.Schedule{{Days: []string{"sat"}, Start: "09:00", End: "12:00"}}}}},
	}
	person := domain.Person{ID: "per", StartsAt: now.Add(-day)}
	for _, tc := range []struct {
		name         string
		person       domain.Person
		grants       []domain.Grant
		locks        []string
		nb, na       time.Time
		nothing      bool
		gymWindows   int
		lobbyWindows int
	}{
		{name: "OK", person: person, grants: []domain.Grant{{KeyID: "lobby"}}, locks: []string{"d-lobby"}, nb: now.Add(-day), na: now.Add(day)},
		{name: "UnrestrictedKeyWins", person: person, grants: []domain.Grant{{KeyID: "lobby"}, {KeyID: "gym"}}, locks: []string{"d-gym", "d-lobby"}, nb: now.Add(-day), na: now.Add(day), gymWindows: 1},
		{name: "ScheduleKept", person: person, grants: []domain.Grant{{KeyID: "gym"}}, locks: []string{"d-gym", "d-lobby"}, nb: now.Add(-day), na: now.Add(day), gymWindows: 1, lobbyWindows: 1},
		{name: "EndsWithGrant", person: person, grants: []domain.Grant{{KeyID: "lobby", ExpiresAt: at(3)}}, locks: []string{"d-lobby"}, nb: now.Add(-day), na: *at(3)},
		{name: "EndsWithPerson", person: domain.Person{ID: "per", StartsAt: now.Add(-day), ExpiresAt: at(1)}, grants: []domain.Grant{{KeyID: "lobby"}}, locks: []string{"d-lobby"}, nb: now.Add(-day), na: *at(1)},
		{name: "EarliestExpiryOfIncluded", person: person, grants: []domain.Grant{{KeyID: "lobby", ExpiresAt: at(30)}, {KeyID: "gym", ExpiresAt: at(2)}}, locks: []string{"d-gym", "d-lobby"}, nb: now.Add(-day), na: *at(2), gymWindows: 1},
		{name: "LatestStartOfIncluded", person: person, grants: []domain.Grant{{KeyID: "lobby"}, {KeyID: "pool", StartsAt: at(-2)}}, locks: []string{"d-lobby", "d-pool"}, nb: *at(-2), na: now.Add(day)},
		{name: "PendingGrantNotIncludedWhileOthersActive", person: person, grants: []domain.Grant{{KeyID: "lobby"}, {KeyID: "gym", StartsAt: at(5)}}, locks: []string{"d-lobby"}, nb: now.Add(-day), na: now.Add(day)},
		{name: "PendingPersonStartsSoon", person: domain.Person{ID: "per", StartsAt: *at(5)}, grants: []domain.Grant{{KeyID: "lobby"}}, locks: []string{"d-lobby"}, nb: *at(5), na: now.Add(day)},
		{name: "PendingOnlyFirstStartingGrants", person: domain.Person{ID: "per", StartsAt: *at(-1)}, grants: []domain.Grant{{KeyID: "lobby", StartsAt: at(2)}, {KeyID: "pool", StartsAt: at(4)}}, locks: []string{"d-lobby"}, nb: *at(2), na: now.Add(day)},
		{name: "NothingWhenStartBeyondLifetime", person: domain.Person{ID: "per", StartsAt: *at(48)}, grants: []domain.Grant{{KeyID: "lobby"}}, nothing: true},
		{name: "NothingWithoutGrants", person: person, nothing: true},
		{name: "NothingWhenExpired", person: person, grants: []domain.Grant{{KeyID: "lobby", ExpiresAt: at(-1)}}, nothing: true},
		{name: "NothingWhenKeyHasNoDoors", person: person, grants: []domain.Grant{{KeyID: "empty"}}, nothing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := domain.PlanCredential(tc.person, tc.grants, keys, now, day)
			if tc.nothing {
				if !errors.Is(err, domain.ErrNothingToIssue) {
					t.Fatalf("planned %v (err %v), want ErrNothingToIssue", plan.Locks, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range plan.Locks {
				if l.LockID == "d-gym" && len(l.Schedule) != tc.gymWindows {
					t.Errorf("gym windows = %d, want %d", len(l.Schedule), tc.gymWindows)
				}
				if l.LockID == "d-lobby" && len(l.Schedule) != tc.lobbyWindows {
					t.Errorf("lobby windows = %d, want %d", len(l.Schedule), tc.lobbyWindows)
				}
			}
			if got := plan.DoorIDs(); !slices.Equal(got, tc.locks) {
				t.Errorf("locks = %v, want %v", got, tc.locks)
			}
			if !plan.NotBefore.Equal(tc.nb) || !plan.NotAfter.Equal(tc.na) {
				t.Errorf("window = %v – %v, want %v – %v", plan.NotBefore, plan.NotAfter, tc.nb, tc.na)
			}
		})
	}
}

func TestScheduleToLock(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    domain.Schedule
		want  lockproto.Schedule
		field string // error field, "" for OK
	}{
		{name: "OK", in: domain.Schedule{{Days: []string{"mon", "fri"}, Start: "08:30", End: "24:00"}},
			want: lockproto.Schedule{{Day: time.Monday, Start: 510, End: 1440}, {Day: time.Friday, Start: 510, End: 1440}}},
		{name: "OKSeveralWindows", in: domain.Schedule{{Days: []string{"sun"}, Start: "00:00", End: "01:00"}, {Days: []string{"sat"}, Start: "23:59", End: "24:00"}},
			want: lockproto.Schedule{{Day: time.Sunday, Start: 0, End: 60}, {Day: time.Saturday, Start: 1439, End: 1440}}},
		{name: "OKEmptyIsUnrestricted", in: nil, want: nil},
		{name: "ErrBadStart", in: domain.Schedule{{Days: []string{"mon"}, Start: "8:30", End: "10:00"}}, field: "schedule"},
		{name: "ErrBadEnd", in: domain.Schedule{{Days: []string{"mon"}, Start: "08:30", End: "24:30"}}, field: "schedule"},
		{name: "ErrNegative", in: domain.Schedule{{Days: []string{"mon"}, Start: "-1:00", End: "10:00"}}, field: "schedule"},
		{name: "ErrBadWeekday", in: domain.Schedule{{Days: []string{"monday"}, Start: "08:00", End: "10:00"}}, field: "schedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.ToLock()
			if tc.field != "" {
				var de *domain.Error
				if !errors.As(err, &de) || de.Field != tc.field {
					t.Fatalf("err = %v, want a %s field error", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tc.want, func(a, b lockproto.Window) bool { return a.Day == b.Day && a.Start == b.Start && a.End == b.End }) {
				t.Errorf("ToLock = %+v, want %+v", got, tc.want)
			}
			// What the lock allows is what the key's schedule allows.
			loc := time.UTC
			for m := time.Date(2025, 6, 1, 0, 0, 0, 0, loc); m.Before(time.Date(2025, 6, 8, 0, 0, 0, 0, loc)); m = m.Add(time.Minute) {
				if got.Allows(m, loc) != tc.in.Allows(m, loc) {
					t.Fatalf("at %v: lock allows %v, key schedule allows %v", m, got.Allows(m, loc), tc.in.Allows(m, loc))
				}
			}
		})
	}
}

// TestCredentialPlanSplitBy: during a property-key rotation a plan is cut
// by the key each door's lock trusts; every door lands in exactly one
// part, with its own access, and every part keeps the plan's window.
func TestCredentialPlanSplitBy(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	plan := domain.CredentialPlan{NotBefore: now, NotAfter: now.Add(24 * time.Hour), Locks: []lockproto.LockAccess{
		{LockID: "d1"}, {LockID: "d2", Schedule: lockproto.Schedule{{Day: time.Monday, Start: 60, End: 120}}}, {LockID: "d3"}}}
	parts := plan.SplitBy(func(door string) string {
		if door == "d2" {
			return "new"
		}
		return "old"
	})
	if len(parts) != 2 {
		t.Fatalf("%d parts, want 2", len(parts))
	}
	if got := parts["old"].DoorIDs(); !slices.Equal(got, []string{"d1", "d3"}) {
		t.Fatalf("old key part = %v", got)
	}
	if got := parts["new"]; !slices.Equal(got.DoorIDs(), []string{"d2"}) || len(got.Locks[0].Schedule) != 1 {
		t.Fatalf("new key part = %+v", got)
	}
	for k, p := range parts {
		if !p.NotBefore.Equal(plan.NotBefore) || !p.NotAfter.Equal(plan.NotAfter) {
			t.Fatalf("part %s window %v–%v, want the plan's", k, p.NotBefore, p.NotAfter)
		}
	}
	if one := plan.SplitBy(func(string) string { return "k" }); len(one) != 1 || len(one["k"].Locks) != 3 {
		t.Fatalf("no rotation: %+v", one)
	}
}
