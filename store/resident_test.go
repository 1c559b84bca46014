package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
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
		{name: "EarliestExpiryOfIncluded", person: person, grants: []domain.Grant{{KeyID: "lobby", ExpiresAt: at(30)}, {KeyID: "gym", ExpiresAt: at(2)}}, locks: []string{"d-gym", "d-lobby"}, nb: now.Add(-day), na: *at(2), gymWindows: 1},
		{name: "PendingGrantNotIncludedWhileOthersActive", person: person, grants: []domain.Grant{{KeyID: "lobby"}, {KeyID: "gym", StartsAt: at(5)}}, locks: []string{"d-lobby"}, nb: now.Add(-day), na: now.Add(day)},
		{name: "PendingPersonStartsSoon", person: domain.Person{ID: "per", StartsAt: *at(5)}, grants: []domain.Grant{{KeyID: "lobby"}}, locks: []string{"d-lobby"}, nb: *at(5), na: now.Add(day)},
		{name: "NothingWhenStartBeyondLifetime", person: domain.Person{ID: "per", StartsAt: *at(48)}, grants: []domain.Grant{{KeyID: "lobby"}}, nothing: true},
		{name: "NothingWithoutGrants", person: person, nothing: true},
		{name: "NothingWhenExpired", person: person, grants: []domain.Grant{{KeyID: "lobby", ExpiresAt: at(-1)}}, nothing: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			locks, nb, na, err := store.PlanCredential(tc.person, tc.grants, keys, now, day)
			if tc.nothing {
				if err == nil {
					t.Fatalf("planned %v, want nothing", locks)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, l := range locks {
				ids = append(ids, l.LockID)
				if l.LockID == "d-gym" && len(l.Schedule) != tc.gymWindows {
					t.Errorf("gym windows = %d, want %d", len(l.Schedule), tc.gymWindows)
				}
				if l.LockID == "d-lobby" && len(l.Schedule) != tc.lobbyWindows {
					t.Errorf("lobby windows = %d, want %d", len(l.Schedule), tc.lobbyWindows)
				}
			}
			if len(ids) != len(tc.locks) || (len(ids) > 0 && ids[0] != tc.locks[0]) || ids[len(ids)-1] != tc.locks[len(tc.locks)-1] {
				t.Errorf("locks = %v, want %v", ids, tc.locks)
			}
			if !nb.Equal(tc.nb) || !na.Equal(tc.na) {
				t.Errorf("window = %v – %v, want %v – %v", nb, na, tc.nb, tc.na)
			}
		})
	}
	if _, err := store.ScheduleToLock(domain.Schedule{{Days: []string{"mon", "fri"}, Start: "08:30", End: "24:00"}}); err != nil {
		t.Error(err)
	} else if s, _ := store.ScheduleToLock(domain.Schedule{{Days: []string{"mon", "fri"}, Start: "08:30", End: "24:00"}}); len(s) != 2 || s[0].Start != 510 || s[0].End != 1440 {
		t.Errorf("ScheduleToLock = %+v", s)
	}
}
