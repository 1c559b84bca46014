package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestKeyEditInPlace changes an existing key's expiration and may-share
// from the person page, without removing and re-adding it.
func TestKeyEditInPlace(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		host := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Building.ID, MayShare: true})
		guest, err := st.Invite(ctx, e.f.PM, e.f.Property.ID, domain.InviteInput{FirstName: "Gina", LastName: "Guest", Email: "gina@example.com",
			Access: domain.AccessApp, InvitedBy: host.ID, Keys: []domain.GrantInput{{KeyID: e.f.Building.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		c := e.login(storetest.PMEmail)
		page := e.p("people", host.ID)
		edit := page + "/keys/" + e.f.Building.ID + "/edit"
		mustContain(t, c.get(page).Body, `id="edit-key-`+e.f.Building.ID+`"`, `id="may-share-`+e.f.Building.ID+`" checked`)
		grant := func(id string) *domain.GrantView {
			t.Helper()
			v, err := st.Person(ctx, e.f.PM, e.f.Property.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range v.Keys {
				if g.KeyID == e.f.Building.ID {
					return &g
				}
			}
			return nil
		}
		gymVersion := func() int64 {
			t.Helper()
			tasks, err := st.ListSyncTasks(ctx, e.f.PM, e.f.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, tk := range tasks {
				if tk.DoorID == e.f.Gym.ID {
					return tk.Version
				}
			}
			return 0
		}

		t.Run("ErrBadDate", func(t *testing.T) {
			r := c.submit(edit, url.Values{"may_share": {"on"}, "expires_at": {"someday"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			if g := grant(host.ID); g.ExpiresAt != nil || !g.MayShare {
				t.Fatalf("changed by a refused edit: %+v", g)
			}
		})
		t.Run("ErrKeyNotHeld", func(t *testing.T) {
			r := c.submit(page+"/keys/"+e.f.Home.ID+"/edit", url.Values{"expires_at": {fmt.Sprintf("%d-01-01T00:00", storetest.YearsAhead(5))}})
			if r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.Status)
			}
			if grant(host.ID) == nil || len(mustPerson(t, st, e, host.ID).Keys) != 1 {
				t.Fatal("a key not held was given by an edit")
			}
		})
		t.Run("Expiry", func(t *testing.T) {
			before := gymVersion()
			year := storetest.YearsAhead(5)
			r := c.submit(edit, url.Values{"may_share": {"on"}, "expires_at": {fmt.Sprintf("%d-03-01T18:30", year)}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			want := time.Date(year, 3, 1, 18, 30, 0, 0, e.f.Property.Location())
			if g := grant(host.ID); g.ExpiresAt == nil || !g.ExpiresAt.Equal(want) || !g.MayShare {
				t.Fatalf("grant %+v, want until %v and may share", g, want)
			}
			if after := gymVersion(); after <= before {
				t.Fatalf("Gym (offline) not bumped: version %d → %d", before, after)
			}
			// The guest never outlives the host's key.
			if g := grant(guest.ID); g == nil || g.ExpiresAt == nil || g.ExpiresAt.After(want) {
				t.Fatalf("guest's key %+v outlives the host's %v", g, want)
			}
		})
		t.Run("UnchangedKeepsOwnBound", func(t *testing.T) {
			g := grant(host.ID)
			r := c.submit(edit, url.Values{"may_share": {"on"}, "expires_at": {g.ExpiresAt.In(e.f.Property.Location()).Format("2006-01-02T15:04")}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if g2 := grant(host.ID); !g2.ExpiresAt.Equal(*g.ExpiresAt) {
				t.Fatalf("expiry moved from %v to %v by an unchanged form", g.ExpiresAt, g2.ExpiresAt)
			}
		})
		t.Run("MayShareOffTakesFromGuests", func(t *testing.T) {
			r := c.submit(edit, url.Values{"expires_at": {""}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			if g := grant(host.ID); g == nil || g.MayShare || g.ExpiresAt != nil {
				t.Fatalf("grant %+v, want held, not shareable, no own expiry", g)
			}
			if grant(guest.ID) != nil {
				t.Fatal("guest still holds a key the host may no longer share")
			}
		})
		t.Run("ErrSpecificManagerOutsideList", func(t *testing.T) {
			e.manager("specific@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.f.Home.ID}})
			sc := e.login("specific@example.com")
			body := sc.get(page).Body
			mustNotContain(t, body, `id="edit-key-`+e.f.Building.ID+`"`)
			r := sc.submit(edit, url.Values{"may_share": {"on"}, "expires_at": {fmt.Sprintf("%d-01-01T00:00", storetest.YearsAhead(6))}})
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if g := grant(host.ID); g.MayShare || g.ExpiresAt != nil {
				t.Fatalf("changed by a refused manager: %+v", g)
			}
		})
	})
}

func mustPerson(t *testing.T, st *store.Store, e *env, id string) domain.PersonView {
	t.Helper()
	v, err := st.Person(context.Background(), e.f.PM, e.f.Property.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
