package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestConcurrentPatchesKeepBothChanges: two managers editing different
// fields of the same person at the same moment both keep their change.
func TestConcurrentPatchesKeepBothChanges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		other := storetest.Manager(t, st, e.f.PM, "second@example.com", &domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementFull})
		p := e.invite("Ana", "Lopez", "ana@example.com", window(t0, ptr(t0.Add(24*time.Hour))))
		rounds := 40
		if testing.Short() {
			rounds = 10
		}
		for i := 0; i < rounds; i++ {
			first := fmt.Sprintf("Ana%d", i)
			phone := fmt.Sprintf("555 %04d", i)
			exp := t0.Add(time.Duration(48+i) * time.Hour)
			patches := []struct {
				a     domain.Actor
				patch domain.PersonPatch
			}{
				{e.f.PM, domain.PersonPatch{FirstName: &first}},
				{other, domain.PersonPatch{Phone: &phone}},
				{other, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: &exp}},
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, len(patches))
			for j, pt := range patches {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[j] = st.UpdatePerson(ctx, pt.a, e.prop(), p.ID, pt.patch)
				}()
			}
			close(start)
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatalf("round %d: %v", i, err)
				}
			}
			got := e.person(p.ID)
			if got.FirstName != first || got.Phone != phone || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
				t.Fatalf("round %d: lost an edit: first %q phone %q expires %v, want %q %q %v", i, got.FirstName, got.Phone, got.ExpiresAt, first, phone, exp)
			}
		}
		// Every edit left its own Activity entry.
		evs, _, err := st.ListActivity(ctx, e.f.PM, e.prop(), store.ActivityFilter{PersonID: p.ID, Kind: domain.EventPersonUpdated, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 3*rounds {
			t.Fatalf("%d person.updated events, want %d", len(evs), 3*rounds)
		}
	})
}

// TestConcurrentInvitesSameEmail: the same person invited twice at once
// yields one record and one conflict, never two records.
func TestConcurrentInvitesSameEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for i := 0; i < 10; i++ {
			email := fmt.Sprintf("twice%d@example.com", i)
			start := make(chan struct{})
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for j := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					_, errs[j] = st.Invite(ctx, e.f.PM, e.prop(), domain.InviteInput{FirstName: "T", LastName: "W", Email: email,
						Access: domain.AccessApp, Keys: []domain.GrantInput{key(e.f.Building.ID, false)}})
				}()
			}
			close(start)
			wg.Wait()
			ok := 0
			for _, err := range errs {
				if err == nil {
					ok++
				} else if domain.ErrorCode(err) != domain.EConflict {
					t.Fatalf("round %d: %v, want a conflict", i, err)
				}
			}
			if n := e.count(`SELECT COUNT(*) FROM people WHERE email = ?`, email); ok != 1 || n != 1 {
				t.Fatalf("round %d: %d successes, %d records", i, ok, n)
			}
		}
	})
}

// TestConcurrentRevokeAndGuestInvite: a host's Revoke racing with new guest invites
// never leaves an active guest of a revoked host.
func TestConcurrentRevokeAndGuestInvite(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		for i := 0; i < 8; i++ {
			host := e.invite("H", fmt.Sprint(i), fmt.Sprintf("h%d@example.com", i), withKeys(key(e.f.Building.ID, true)))
			start := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				<-start
				st.Invite(ctx, e.f.PM, e.prop(), domain.InviteInput{FirstName: "G", LastName: fmt.Sprint(i), Email: fmt.Sprintf("g%d@example.com", i),
					Access: domain.AccessApp, InvitedBy: host.ID, Keys: []domain.GrantInput{key(e.f.Building.ID, false)}})
			}()
			go func() {
				defer wg.Done()
				<-start
				if _, err := st.Revoke(ctx, e.f.PM, e.prop(), host.ID); err != nil {
					t.Error(err)
				}
			}()
			close(start)
			wg.Wait()
			for _, g := range e.person(host.ID).Guests {
				if g.Status != domain.StatusRevoked {
					t.Fatalf("round %d: guest %s of a revoked host is %s", i, g.ID, g.Status)
				}
			}
		}
	})
}
