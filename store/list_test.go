package store_test

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func TestPeoplePaging(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		lasts := []string{"Smith", "smith", "Åberg", "Zed", "O'Neil", "de Vries", "Lee", "Lee", "Lee", "Brown"}
		type row struct{ sort, id string }
		var want []row
		for i := 0; i < 37; i++ {
			last := lasts[i%len(lasts)]
			first := fmt.Sprintf("F%02d", (i*7)%37)
			p := e.invite(first, last, fmt.Sprintf("p%02d@example.com", i), withKeys())
			want = append(want, row{strings.ToLower(last + " " + first), p.ID})
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].sort != want[j].sort {
				return want[i].sort < want[j].sort
			}
			return want[i].id < want[j].id
		})
		// A deleted person never shows; it must not break paging either.
		gone := e.invite("Gone", "Aaa", "gone@example.com", withKeys())
		if err := st.DeletePerson(ctx, e.f.PM, e.prop(), gone.ID); err != nil {
			t.Fatal(err)
		}
		for _, limit := range []int{1, 5, 36, 37, 50} {
			t.Run(fmt.Sprintf("Limit%d", limit), func(t *testing.T) {
				var got []string
				pages := 0
				f := domain.PeopleFilter{Limit: limit}
				for {
					page, next, err := st.ListPeople(ctx, e.f.PM, e.prop(), f)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > limit {
						t.Fatalf("page of %d with limit %d", len(page), limit)
					}
					pages++
					got = append(got, ids(page)...)
					if next == "" {
						break
					}
					f.Cursor = next
				}
				if len(got) != len(want) {
					t.Fatalf("%d people over %d pages, want %d", len(got), pages, len(want))
				}
				for i := range want {
					if got[i] != want[i].id {
						t.Fatalf("position %d: %s, want %s (%s)", i, got[i], want[i].id, want[i].sort)
					}
				}
				if wantPages := (len(want) + limit - 1) / limit; pages != wantPages && pages != wantPages+1 {
					t.Fatalf("%d pages, want %d", pages, wantPages)
				}
			})
		}
		t.Run("StableAcrossInsertsBehindCursor", func(t *testing.T) {
			page, next, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			// Someone sorting before the cursor arrives between two pages.
			e.invite("Aa", "Aaaa", "early@example.com", withKeys())
			page2, _, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Limit: 10, Cursor: next})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range page2 {
				if contains(page, p.ID) {
					t.Fatalf("%s on two pages", p.ID)
				}
			}
			if page2[0].ID != want[10].id {
				t.Fatalf("second page starts at %s, want %s", page2[0].ID, want[10].id)
			}
		})
		t.Run("ErrBadCursor", func(t *testing.T) {
			_, _, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Cursor: "!!"})
			wantCode(t, err, domain.EInvalid)
			_, _, err = st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Cursor: "bm9udWw"})
			wantCode(t, err, domain.EInvalid)
		})
	})
}

func TestPeopleSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		mk := func(first, last, email string) string { return e.invite(first, last, email, withKeys()).ID }
		ana := mk("Ana", "Lopez", "ana.lopez@example.com")
		anabel := mk("Anabel", "Smith", "bel@corp.example")
		bob := mk("Bob", "Anastas", "bob@example.com")
		mary := mk("Mary", "Lopez-Vidal", "mlv@example.com")
		for _, tc := range []struct {
			q    string
			want []string
		}{
			{"ana", []string{bob, ana, anabel}}, // first name prefix and last name prefix (Anastas)
			{"ANA.L", []string{ana}},            // email prefix, case-insensitive
			{"bel@", []string{anabel}},
			{"bob@example.com", []string{bob}},
			{"lopez", []string{ana, mary}},
			{"Ana Lopez", []string{ana}},    // "first last"
			{"lopez ana", []string{ana}},    // "last first"
			{"Lopez, Ana", []string{ana}},   // "Last, First", as People lists names
			{"lopez,an", []string{ana}},     // "Last,First-prefix"
			{"Lopez,", []string{ana, mary}}, // "Last,"
			{"lopez-v", []string{mary}},     // last name with punctuation
			{"mary lop", []string{mary}},    // "first last-prefix"
			{"  smith  ", []string{anabel}}, // trimmed
			{"example", nil},                // not a prefix of anything
			{"xyz", nil},
			{"%", nil}, // no LIKE wildcards
			{"_", nil},
		} {
			// Both plans (few matches: through the indexes, then sorted;
			// many: walking the People order) must find the same people.
			for _, plan := range []struct {
				name  string
				limit int
			}{{"IndexPlan", 1000}, {"OrderPlan", 0}} {
				t.Run(plan.name+"/"+tc.q, func(t *testing.T) {
					defer store.SetSearchPlanLimit(plan.limit)()
					got := ids(e.people(domain.PeopleFilter{Query: tc.q, Limit: 2}))
					if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
						t.Fatalf("q=%q: got %v, want %v", tc.q, got, tc.want)
					}
				})
			}
		}
		t.Run("ByPhoneAndUnit", func(t *testing.T) {
			u4b, err := st.CreateUnit(ctx, e.f.PM, e.prop(), domain.UnitInput{Name: "4B"})
			if err != nil {
				t.Fatal(err)
			}
			u4b2, err := st.CreateUnit(ctx, e.f.PM, e.prop(), domain.UnitInput{Name: "4B2"})
			if err != nil {
				t.Fatal(err)
			}
			for id, patch := range map[string]domain.PersonPatch{
				ana:    {Phone: ptr("+1 555 0101"), UnitID: ptr(u4b.ID)},
				bob:    {Phone: ptr("+1 555 0199"), UnitID: ptr(u4b2.ID)},
				anabel: {Phone: ptr("+44 20 7946")},
			} {
				if _, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), id, patch); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				q    string
				want []string
			}{
				{"+1 555", []string{bob, ana}},
				{"+1 555 01", []string{bob, ana}},
				{"+1 555 0101", []string{ana}},
				{"+44", []string{anabel}},
				{"555", nil},          // a prefix, not anywhere in the number
				{"4b", []string{ana}}, // a unit by its whole name, any case
				{"4B2", []string{bob}},
				{"4", nil},
			} {
				for _, limit := range []int{1000, 0} {
					func() {
						defer store.SetSearchPlanLimit(limit)()
						got := ids(e.people(domain.PeopleFilter{Query: tc.q, Limit: 5}))
						if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
							t.Fatalf("plan limit %d, q=%q: got %v, want %v", limit, tc.q, got, tc.want)
						}
					}()
				}
			}
		})
		t.Run("ExpiredHiddenUnlessIncluded", func(t *testing.T) {
			old := e.invite("Ana", "Old", "ana.old@example.com", withKeys(), window(t0.Add(-48*time.Hour), ptr(t0.Add(-time.Hour))))
			if contains(e.people(domain.PeopleFilter{Query: "ana"}), old.ID) {
				t.Fatal("expired person found without include_expired")
			}
			if !contains(e.people(domain.PeopleFilter{Query: "ana", IncludeExpired: true}), old.ID) {
				t.Fatal("expired person not found with include_expired")
			}
		})
		t.Run("ErrQueryTooLong", func(t *testing.T) {
			_, _, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Query: strings.Repeat("a", 201)})
			wantCode(t, err, domain.EInvalid)
		})
	})
}

func TestActivityFilters(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.clock.Add(time.Hour)
		start := e.clock.Now()
		ana := e.invite("Ana", "Lopez", "ana@example.com", withKeys(key(e.f.Home.ID, false)))
		e.clock.Add(time.Minute)
		bob := e.invite("Bob", "Berg", "bob@example.com") // Building: Lobby + Gym
		e.clock.Add(time.Minute)
		mid := e.clock.Now()
		if _, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), ana.ID, domain.PersonPatch{Phone: ptr("555 0101")}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), bob.ID); err != nil {
			t.Fatal(err)
		}
		// A lock-reported unlock, with the lock's own time.
		if err := st.AddEvent(ctx, domain.Event{PropertyID: e.prop(), At: start.Add(30 * time.Second), Kind: domain.EventDoorUnlocked,
			Actor: "Ana Lopez", PersonID: ana.ID, PersonName: "Ana Lopez", DoorID: e.f.Unit101.ID, Detail: "app"}); err != nil {
			t.Fatal(err)
		}
		end := e.clock.Now().Add(time.Second)
		list := func(f store.ActivityFilter) []domain.Event {
			t.Helper()
			evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), f)
			if err != nil {
				t.Fatal(err)
			}
			return evs
		}
		kinds := func(evs []domain.Event) []string {
			var out []string
			for _, ev := range evs {
				out = append(out, ev.Kind)
			}
			return out
		}
		for _, tc := range []struct {
			name string
			f    store.ActivityFilter
			want []string
		}{
			{"Person", store.ActivityFilter{PersonID: ana.ID}, []string{"person.updated", "door.unlocked", "person.invited"}},
			{"OtherPerson", store.ActivityFilter{PersonID: bob.ID}, []string{"person.revoked", "person.invited"}},
			// Admin events reach a door through the doors they affected.
			{"DoorIncludesAdminEvents", store.ActivityFilter{DoorID: e.f.Gym.ID, Since: &start}, []string{"person.revoked", "person.invited"}},
			{"DoorWithUnlock", store.ActivityFilter{DoorID: e.f.Unit101.ID, Since: &start}, []string{"door.unlocked", "person.invited"}},
			{"KindPrefix", store.ActivityFilter{Kind: "person.", Since: &start}, []string{"person.revoked", "person.updated", "person.invited", "person.invited"}},
			{"KindExact", store.ActivityFilter{Kind: "person.invited"}, []string{"person.invited", "person.invited"}},
			{"KindPrefixNotSubstring", store.ActivityFilter{Kind: "door."}, []string{"door.unlocked", "door.created", "door.created", "door.created"}},
			{"Since", store.ActivityFilter{Since: &mid}, []string{"person.revoked", "person.updated"}},
			{"Until", store.ActivityFilter{Since: &start, Until: &mid}, []string{"person.invited", "door.unlocked", "person.invited"}},
			{"SinceUntilEmpty", store.ActivityFilter{Since: &end}, nil},
			{"PersonAndDoor", store.ActivityFilter{PersonID: ana.ID, DoorID: e.f.Gym.ID}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if got := kinds(list(tc.f)); !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
			})
		}
		t.Run("PagingNewestFirst", func(t *testing.T) {
			all := list(store.ActivityFilter{Limit: 1000})
			var paged []domain.Event
			f := store.ActivityFilter{Limit: 3}
			for {
				evs, next, err := st.ListActivity(ctx, e.f.PM, e.prop(), f)
				if err != nil {
					t.Fatal(err)
				}
				paged = append(paged, evs...)
				if next == "" {
					break
				}
				f.Cursor = next
			}
			if len(paged) != len(all) || len(all) < 10 {
				t.Fatalf("paged %d events, all %d", len(paged), len(all))
			}
			seen := map[string]bool{}
			for i, ev := range paged {
				if seen[ev.ID] || ev.ID != all[i].ID {
					t.Fatalf("position %d: %s (dup %v), want %s", i, ev.ID, seen[ev.ID], all[i].ID)
				}
				seen[ev.ID] = true
				if i > 0 && ev.At.After(paged[i-1].At) {
					t.Fatalf("not newest first at %d", i)
				}
			}
		})
		t.Run("ErrBadCursor", func(t *testing.T) {
			_, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{Cursor: "x"})
			wantCode(t, err, domain.EInvalid)
		})
	})
}

func TestPeopleSort(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		u2, err := st.CreateUnit(ctx, e.f.PM, e.prop(), domain.UnitInput{Name: "2A"})
		if err != nil {
			t.Fatal(err)
		}
		u1, err := st.CreateUnit(ctx, e.f.PM, e.prop(), domain.UnitInput{Name: "1a"})
		if err != nil {
			t.Fatal(err)
		}
		// Alba: unit 2A, expires in a week, active.
		alba := e.invite("Zoe", "Alba", "alba@example.com", window(t0, ptr(t0.Add(7*24*time.Hour))))
		// Berg: unit 1a, never expires, pending (starts tomorrow).
		berg := e.invite("Bo", "Berg", "berg@example.com", window(t0.Add(24*time.Hour), nil))
		// Cruz: no unit, expires in a day, then revoked.
		cruz := e.invite("Cy", "Cruz", "cruz@example.com", window(t0, ptr(t0.Add(24*time.Hour))))
		// Diaz: no unit, expired an hour ago.
		diaz := e.invite("Di", "Diaz", "diaz@example.com", window(t0.Add(-48*time.Hour), ptr(t0.Add(-time.Hour))))
		for id, u := range map[string]string{alba.ID: u2.ID, berg.ID: u1.ID} {
			if _, err := st.UpdatePerson(ctx, e.f.PM, e.prop(), id, domain.PersonPatch{UnitID: ptr(u)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), cruz.ID); err != nil {
			t.Fatal(err)
		}
		a, b, c, d := alba.ID, berg.ID, cruz.ID, diaz.ID
		for _, tc := range []struct {
			sort string
			desc bool
			want []string
		}{
			{"", false, []string{a, b, c, d}},
			{"name", true, []string{d, c, b, a}},
			{"unit", false, []string{b, a, c, d}}, // 1a, 2A (any case), then no unit by name
			{"unit", true, []string{d, c, a, b}},
			// Diaz expired, Cruz (revoked: the expiration is the
			// revocation), Alba in a week, Berg never.
			{"expires", false, []string{d, c, a, b}},
			{"expires", true, []string{b, a, c, d}},
			{"status", false, []string{a, b, d, c}}, // active, pending, expired, revoked
			{"status", true, []string{c, d, b, a}},
		} {
			t.Run("by"+tc.sort+map[bool]string{true: "Desc"}[tc.desc], func(t *testing.T) {
				// Two per page: the cursor keeps the order across pages.
				got := ids(e.people(domain.PeopleFilter{Sort: tc.sort, Desc: tc.desc, IncludeExpired: true, Limit: 2}))
				if !slices.Equal(got, tc.want) {
					t.Fatalf("sort %q desc %v: got %v, want %v (a=%s b=%s c=%s d=%s)", tc.sort, tc.desc, got, tc.want, a, b, c, d)
				}
			})
		}
		t.Run("ErrUnknownSort", func(t *testing.T) {
			_, _, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Sort: "email"})
			wantCode(t, err, domain.EInvalid)
		})
		t.Run("ErrCursorOfAnotherSort", func(t *testing.T) {
			_, next, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Sort: "unit", IncludeExpired: true, Limit: 1})
			if err != nil || next == "" {
				t.Fatalf("next %q, err %v", next, err)
			}
			_, _, err = st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{Sort: "expires", IncludeExpired: true, Cursor: next})
			wantCode(t, err, domain.EInvalid)
		})
	})
}
