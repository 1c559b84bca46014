package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestPeopleBulk drives People's bulk move-out and extend lease as a
// manager whose Key Management covers the Home key only: a person holding
// Building is refused and named, the others are still done.
func TestPeopleBulk(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		e.manager("specific@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.f.Home.ID}})
		home := domain.GrantInput{KeyID: e.f.Home.ID}
		ana := e.invite("Ana", "Garcia", "ana@example.com", home)
		bob := e.invite("Bob", "Berg", "bob@example.com", home)
		cy := e.invite("Cy", "Cruz", "cy@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		c := e.login("specific@example.com")
		list := c.get(e.p("people"))
		mustContain(t, list.Body, `id="people-bulk"`, `value="`+ana.ID+`"`, `id="bulk-revoke"`, `id="bulk-extend"`)
		get := func(id string) domain.PersonView {
			t.Helper()
			v, err := st.Person(ctx, e.f.PM, e.f.Property.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}

		t.Run("ExtendLease", func(t *testing.T) {
			year := storetest.YearsAhead(5)
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"extend"}, "id": {ana.ID, cy.ID, bob.ID}, "expires_at": {fmt.Sprintf("%d-08-31T23:59", year)}})
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, `id="bulk-done"`, "Ana Garcia", "Bob Berg", `id="bulk-refused"`, "Cy Cruz", "Key Management")
			loc := e.f.Property.Location()
			want := time.Date(year, 8, 31, 23, 59, 0, 0, loc)
			for _, p := range []domain.PersonView{ana, bob} {
				if v := get(p.ID); v.ExpiresAt == nil || !v.ExpiresAt.Equal(want) {
					t.Fatalf("%s expires %v, want %v", p.Name(), v.ExpiresAt, want)
				}
			}
			if v := get(cy.ID); v.ExpiresAt != nil {
				t.Fatalf("refused Cy Cruz changed: expires %v", v.ExpiresAt)
			}
		})
		t.Run("ErrExtendWithoutDate", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"extend"}, "id": {bob.ID}, "expires_at": {""}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, "required")
		})
		t.Run("ErrExtendBadDate", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"extend"}, "id": {bob.ID}, "expires_at": {"next year"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
		})
		t.Run("ErrNoSelection", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"revoke"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, "select at least one person")
		})
		t.Run("ErrUnknownAction", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"delete"}, "id": {bob.ID}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.Status, r.Body)
			}
			if get(bob.ID).Status != domain.StatusActive {
				t.Fatal("Bob changed by an unknown action")
			}
		})
		t.Run("ErrNoCSRF", func(t *testing.T) {
			r := c.post(e.p("people", "bulk"), url.Values{"action": {"revoke"}, "id": {bob.ID}})
			if r.Status < 400 {
				t.Fatalf("status %d without CSRF token", r.Status)
			}
			if get(bob.ID).Status != domain.StatusActive {
				t.Fatal("Bob revoked without a CSRF token")
			}
		})
		t.Run("MoveOut", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"revoke"}, "id": {ana.ID, cy.ID, bob.ID, "per_nobody"}})
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, "Revoked all keys of 2", "Left as they were: 2", "Cy Cruz", "per_nobody")
			for _, p := range []domain.PersonView{ana, bob} {
				if s := get(p.ID).Status; s != domain.StatusRevoked {
					t.Fatalf("%s is %s, want revoked", p.Name(), s)
				}
			}
			if v := get(cy.ID); v.Status == domain.StatusRevoked || len(v.Keys) != 1 {
				t.Fatalf("refused Cy Cruz changed: %s, %d keys", v.Status, len(v.Keys))
			}
			refused := r.Body[strings.Index(r.Body, `id="bulk-refused"`):]
			mustNotContain(t, refused, "Ana Garcia", "Bob Berg")
		})
		t.Run("AllRefused", func(t *testing.T) {
			r := c.submit(e.p("people", "bulk"), url.Values{"action": {"revoke"}, "id": {cy.ID}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422", r.Status)
			}
			mustNotContain(t, r.Body, `id="bulk-done"`)
		})
		t.Run("SortAndSearchLinks", func(t *testing.T) {
			pm := e.login(storetest.PMEmail)
			r := pm.get(e.p("people") + "?expired=1&sort=status&desc=1")
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			// Revoked people first when status is reversed; the header
			// reverses again.
			if i, j := strings.Index(r.Body, "Berg, Bob"), strings.Index(r.Body, "Cruz, Cy"); i < 0 || j < 0 || i > j {
				t.Fatalf("revoked Bob (%d) not before active Cy (%d)", i, j)
			}
			mustContain(t, r.Body, `aria-sort="descending"`, `expired=1&amp;sort=status"`)
			r = pm.get(e.p("people") + "?sort=email")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("unknown sort: status %d, want 400", r.Status)
			}
		})
	})
}

// TestNoKeysStatus: a person invited with no keys, or whose keys were all
// taken, shows "no keys" on People and their page, not "active".
func TestNoKeysStatus(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		nok := e.invite("Nora", "Nokey", "nora@example.com")
		has := e.invite("Hal", "Haskey", "hal@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		c := e.login(storetest.PMEmail)
		r := c.get(e.p("people"))
		row := func(name string) string {
			i := strings.Index(r.Body, name)
			if i < 0 {
				t.Fatalf("%s not listed", name)
			}
			return r.Body[i : i+strings.Index(r.Body[i:], "</tr>")]
		}
		mustContain(t, row("Nokey, Nora"), `badge nokeys">no keys<`)
		mustContain(t, row("Haskey, Hal"), `badge active">active<`)
		mustContain(t, c.get(e.p("people", nok.ID)).Body, `id="person-status"`, ">no keys<")
		if _, err := st.TakeKey(ctx, e.f.PM, e.f.Property.ID, has.ID, e.f.Home.ID); err != nil {
			t.Fatal(err)
		}
		mustContain(t, c.get(e.p("people", has.ID)).Body, ">no keys<")
		// Revoked stays revoked, keys or not.
		if _, err := st.Revoke(ctx, e.f.PM, e.f.Property.ID, nok.ID); err != nil {
			t.Fatal(err)
		}
		mustContain(t, c.get(e.p("people", nok.ID)).Body, `badge revoked" id="person-status">revoked<`)
	})
}
