package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestClaimOutboxLease: a row claimed with a short lease (Door Sync's
// pusher) is claimed again by another worker once that lease has passed,
// not after store.OutboxLease; a lease of zero is OutboxLease.
func TestClaimOutboxLease(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.invite("Ana", "Lopez", "ana@example.com")
		items, err := st.ClaimOutboxLease(ctx, store.TopicWelcomeEmail, 10, 30*time.Second)
		if err != nil || len(items) != 1 {
			t.Fatalf("claim: %v %+v", err, items)
		}
		e.clock.Add(29 * time.Second)
		if again, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed within the 30 s lease: %v %+v", err, again)
		}
		e.clock.Add(time.Second)
		again, err := st.ClaimOutboxLease(ctx, store.TopicWelcomeEmail, 10, 0)
		if err != nil || len(again) != 1 || again[0].ID != items[0].ID || again[0].Attempts != 2 {
			t.Fatalf("after the 30 s lease: %v %+v", err, again)
		}
		e.clock.Add(store.OutboxLease - time.Second)
		if again, _ := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10); len(again) != 0 {
			t.Fatal("a lease of zero was shorter than OutboxLease")
		}
	})
}
