package store_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestActivityScanBudget: Activity filtered by door walks at most
// ActivityScan of the property's entries per page. With a budget of 4
// entries, following the next cursors gives the same entries in the same
// order as with no budget — some pages short or empty but with a next
// cursor, and the last without one — also inside From and To.
func TestActivityScanBudget(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var times []time.Time
		for i := range 15 {
			opts := []inviteOpt{}
			if i%5 == 4 { // every fifth resident lives in Unit 101: a quiet door
				opts = append(opts, withKeys(key(e.f.Home.ID, false)))
			}
			e.invite("Res", fmt.Sprint(i), fmt.Sprintf("res%d@example.com", i), opts...)
			times = append(times, e.clock.Now())
			if i%3 == 2 { // the others share their time with the next: ties on at
				e.clock.Add(time.Minute)
			}
		}
		// allAs follows the cursors of f as a and returns the entries' ids,
		// and how many pages were short but said more may follow.
		allAs := func(a domain.Actor, f store.ActivityFilter) (ids []string, short int) {
			t.Helper()
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("the cursors never end")
				}
				evs, next, err := st.ListActivity(ctx, a, e.prop(), f)
				if err != nil {
					t.Fatal(err)
				}
				for _, ev := range evs {
					ids = append(ids, ev.ID)
				}
				if next == "" {
					return ids, short
				}
				if len(evs) < f.Limit {
					short++
				}
				f.Cursor = next
			}
		}
		all := func(f store.ActivityFilter) ([]string, int) { return allAs(e.f.PM, f) }
		since, until := times[3], times[12].Add(time.Second)
		for _, tc := range []struct {
			name string
			f    store.ActivityFilter
			want int  // entries at least (the test checks something)
			busy bool // every 4 entries hold one of the door's: no page is short
		}{
			{"Unit 101", store.ActivityFilter{DoorID: e.f.Unit101.ID, Limit: 2}, 3, false},
			{"Lobby", store.ActivityFilter{DoorID: e.f.Lobby.ID, Limit: 5}, 12, false},
			{"Unit 101 inside From and To", store.ActivityFilter{DoorID: e.f.Unit101.ID, Limit: 2, Since: &since, Until: &until}, 2, false},
			{"Lobby, one per page", store.ActivityFilter{DoorID: e.f.Lobby.ID, Limit: 1}, 12, true},
		} {
			st.ActivityScan = 0
			want, short := all(tc.f)
			if len(want) < tc.want || short != 0 {
				t.Fatalf("%s with the default budget: %d entries, %d short pages; want at least %d, none short", tc.name, len(want), short, tc.want)
			}
			st.ActivityScan = 4
			got, short := all(tc.f)
			if !slices.Equal(got, want) {
				t.Fatalf("%s with a budget of 4 entries:\n got %v\nwant %v", tc.name, got, want)
			}
			if short == 0 && !tc.busy {
				t.Fatalf("%s with a budget of 4 entries: no page stopped short; the budget was not applied", tc.name)
			}
			// A budget of 40 (more than there are entries) tries the 2
			// newest first: a page of the Lobby fills there, one of Unit
			// 101 is read again with no bound. Nothing is short.
			st.ActivityScan = 40
			got, short = all(tc.f)
			if !slices.Equal(got, want) || short != 0 {
				t.Fatalf("%s with a budget of 40 entries (%d short pages):\n got %v\nwant %v", tc.name, short, got, want)
			}
		}
		// A manager of the Building key only sees the entries at its doors
		// (events naming several doors: the IN list probing event_doors),
		// walked under the same budget.
		specific := storetest.Manager(t, st, e.f.PM, "specific@example.com", &domain.Assignment{PropertyID: e.prop(),
			KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.f.Building.ID}})
		st.ActivityScan = 0
		want, short := allAs(specific, store.ActivityFilter{Limit: 3})
		if len(want) < 12 || short != 0 {
			t.Fatalf("scoped manager with the default budget: %d entries, %d short pages; want at least 12, none short", len(want), short)
		}
		for _, budget := range []int{4, 40} {
			st.ActivityScan = budget
			if got, _ := allAs(specific, store.ActivityFilter{Limit: 3}); !slices.Equal(got, want) {
				t.Fatalf("scoped manager with a budget of %d entries:\n got %v\nwant %v", budget, got, want)
			}
		}
		st.ActivityScan = 0
		// Filtered by person too, a page walks as far as it needs (the
		// person's index bounds it): one full page, no cursor.
		ben := e.invite("Ben", "Quiet", "ben@example.com", withKeys(key(e.f.Home.ID, false)))
		for range 6 {
			e.invite("Res", "Later", fmt.Sprintf("later%d@example.com", len(times)), withKeys(key(e.f.Building.ID, false)))
			times = append(times, e.clock.Now())
		}
		evs, next, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{DoorID: e.f.Unit101.ID, PersonID: ben.ID, Limit: 5})
		if err != nil || len(evs) != 1 || next != "" {
			t.Fatalf("by door and person, budget 4: %d entries, next %q, %v; want Ben's one entry and no cursor", len(evs), next, err)
		}
		// A page unfiltered by door walks as far as it needs.
		st.ActivityScan = 4
		evs, _, err = st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{Limit: 10})
		if err != nil || len(evs) != 10 {
			t.Fatalf("unfiltered page with a budget of 4: %d entries, %v; want 10", len(evs), err)
		}
		// A bad cursor is still refused.
		if _, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{DoorID: e.f.Lobby.ID, Cursor: "nope"}); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("bad cursor: %v", err)
		}
	})
}
