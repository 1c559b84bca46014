package store_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestWelcomeEmail: the welcome email goes when a person first holds
// access (at invite with keys, else with the first key), once, and again
// when access comes back after they held nothing.
func TestWelcomeEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		welcomes := func(id string) int {
			t.Helper()
			return e.count(`SELECT COUNT(*) FROM outbox WHERE topic = 'email.welcome' AND subject_id = ?`, id)
		}
		give := func(id, keyID string) {
			t.Helper()
			if _, err := st.GiveKey(ctx, e.f.PM, e.prop(), id, keyID, domain.GrantChange{}); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("InviteWithKeysWelcomesOnce", func(t *testing.T) {
			p := e.invite("Ana", "Keys", "ana@example.com")
			if n := welcomes(p.ID); n != 1 {
				t.Fatalf("%d welcomes after an invite with a key, want 1", n)
			}
			give(p.ID, e.f.Home.ID)
			if n := welcomes(p.ID); n != 1 {
				t.Errorf("%d welcomes after a second key, want still 1", n)
			}
		})
		t.Run("ContactWithoutKeysWaitsForFirstKey", func(t *testing.T) {
			p := e.invite("Cal", "Contact", "cal@example.com", withKeys())
			if n := welcomes(p.ID); n != 0 {
				t.Fatalf("%d welcomes for a contact without keys, want 0", n)
			}
			give(p.ID, e.f.Building.ID)
			if n := welcomes(p.ID); n != 1 {
				t.Fatalf("%d welcomes after the first key, want 1", n)
			}
			give(p.ID, e.f.Home.ID)
			if n := welcomes(p.ID); n != 1 {
				t.Errorf("%d welcomes after a second key, want still 1", n)
			}
		})
		t.Run("DoorcodePersonWelcomedWithTheirCode", func(t *testing.T) {
			p := e.invite("Dora", "Code", "dora@example.com", access(domain.AccessDoorcode), withKeys())
			if n := welcomes(p.ID); n != 0 {
				t.Fatalf("%d welcomes for a doorcode person without a code, want 0", n)
			}
			give(p.ID, e.f.Home.ID)
			if n := welcomes(p.ID); n != 1 || e.doorcode(p.ID) == "" {
				t.Errorf("%d welcomes (code %q) after a doorcode key, want 1 with a code", n, e.doorcode(p.ID))
			}
		})
		t.Run("AgainAfterRevokeAllKeys", func(t *testing.T) {
			p := e.invite("Rob", "Revoked", "rob@example.com")
			if _, err := st.Revoke(ctx, e.f.PM, e.prop(), p.ID); err != nil {
				t.Fatal(err)
			}
			if n := welcomes(p.ID); n != 1 {
				t.Fatalf("%d welcomes after revoke, want 1", n)
			}
			give(p.ID, e.f.Building.ID)
			if n := welcomes(p.ID); n != 2 {
				t.Errorf("%d welcomes after access granted again, want 2", n)
			}
		})
		t.Run("AgainAfterLastKeyTaken", func(t *testing.T) {
			p := e.invite("Tia", "Taken", "tia@example.com", access(domain.AccessDoorcode))
			if _, err := st.TakeKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Building.ID); err != nil {
				t.Fatal(err)
			}
			give(p.ID, e.f.Home.ID) // a new code: she must learn it
			if n := welcomes(p.ID); n != 2 {
				t.Errorf("%d welcomes after the last key was taken and another given, want 2", n)
			}
		})
	})
}
