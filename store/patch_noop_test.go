package store_test

import (
	"context"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// A PATCH that changes nothing writes nothing: no Activity entry (it would
// land in the admin-actions report), no updated_at bump, no door work.
func TestUpdatePersonWithoutChangeWritesNothing(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		p, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Nia", LastName: "Noop", Email: "nia@example.com",
			Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		events := func() int {
			evs, _, err := st.ListActivity(ctx, f.PM, f.Property.ID, store.ActivityFilter{PersonID: p.ID, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		before := events()
		same := p.FirstName
		for _, patch := range []domain.PersonPatch{{}, {FirstName: &same}, {ExpiresAtSet: true, ExpiresAt: nil}} {
			got, err := st.UpdatePerson(ctx, f.PM, f.Property.ID, p.ID, patch)
			if err != nil {
				t.Fatal(err)
			}
			if !got.UpdatedAt.Equal(p.UpdatedAt) {
				t.Errorf("updated_at moved from %s to %s", p.UpdatedAt, got.UpdatedAt)
			}
		}
		if after := events(); after != before {
			t.Errorf("activity entries %d → %d after patches that change nothing", before, after)
		}
		phone := "+1 555 0100"
		if _, err := st.UpdatePerson(ctx, f.PM, f.Property.ID, p.ID, domain.PersonPatch{Phone: &phone}); err != nil {
			t.Fatal(err)
		}
		if after := events(); after != before+1 {
			t.Errorf("a real change should add one entry: %d → %d", before, after)
		}
	})
}
