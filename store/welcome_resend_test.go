package store_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestResendWelcome: a manager sends a person's welcome email again while
// it is due; without a key, after Revoke All Keys, or without the right
// to change the person it is refused and nothing is queued.
func TestResendWelcome(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		welcomes := func(id string) int {
			t.Helper()
			return e.count(`SELECT COUNT(*) FROM outbox WHERE topic = 'email.welcome' AND subject_id = ?`, id)
		}
		ana := e.invite("Ana", "Again", "ana@example.com")
		email, err := st.ResendWelcome(ctx, e.f.PM, e.prop(), ana.ID)
		if err != nil || email != "ana@example.com" {
			t.Fatalf("resend: %q %v", email, err)
		}
		if n := welcomes(ana.ID); n != 2 {
			t.Fatalf("%d welcomes, want 2", n)
		}
		cal := e.invite("Cal", "Contact", "cal@example.com", withKeys())
		if _, err := st.ResendWelcome(ctx, e.f.PM, e.prop(), cal.ID); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("resend without a key: %v, want a conflict", err)
		}
		if n := welcomes(cal.ID); n != 0 {
			t.Fatalf("%d welcomes queued for a contact without keys", n)
		}
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), ana.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.ResendWelcome(ctx, e.f.PM, e.prop(), ana.ID); domain.ErrorCode(err) != domain.EConflict {
			t.Fatalf("resend after Revoke All Keys: %v, want a conflict", err)
		}
		ben := e.invite("Ben", "Home", "ben@example.com", withKeys(key(e.f.Home.ID, false)))
		specific := storetest.Manager(t, st, e.f.PM, "specific@example.com", &domain.Assignment{PropertyID: e.prop(),
			KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.f.Building.ID}})
		if _, err := st.ResendWelcome(ctx, specific, e.prop(), ben.ID); domain.ErrorCode(err) != domain.EForbidden {
			t.Fatalf("resend by a manager who may not give Ben's key: %v, want forbidden", err)
		}
		if n := welcomes(ben.ID); n != 1 {
			t.Fatalf("%d welcomes for Ben, want 1", n)
		}
	})
}
