package store_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func TestOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		p := e.invite("Ana", "Lopez", "ana@example.com")
		items, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].SubjectID != p.ID || items[0].Attempts != 1 || items[0].Topic != store.TopicWelcomeEmail {
			t.Fatalf("claimed %+v", items)
		}
		id := items[0].ID

		t.Run("ClaimedRowIsLeased", func(t *testing.T) {
			again, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
			if err != nil || len(again) != 0 {
				t.Fatalf("claimed a leased row again: %v %+v", err, again)
			}
		})
		t.Run("LeaseExpiresForDeadWorker", func(t *testing.T) {
			e.clock.Add(store.OutboxLease)
			again, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
			if err != nil || len(again) != 1 || again[0].ID != id || again[0].Attempts != 2 {
				t.Fatalf("after the lease: %v %+v", err, again)
			}
		})
		t.Run("RetryAfterBackoff", func(t *testing.T) {
			if err := st.RetryOutbox(ctx, id, errors.New("smtp: 451 try later"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if again, _ := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10); len(again) != 0 {
				t.Fatal("claimed before the backoff passed")
			}
			e.clock.Add(time.Minute)
			again, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
			if err != nil || len(again) != 1 || again[0].Attempts != 3 {
				t.Fatalf("after backoff: %v %+v", err, again)
			}
			sts, err := st.OutboxForSubject(ctx, p.ID)
			if err != nil || len(sts) != 1 || sts[0].LastError != "smtp: 451 try later" {
				t.Fatalf("status %v %+v", err, sts)
			}
		})
		t.Run("CompletedNeverAgain", func(t *testing.T) {
			if err := st.CompleteOutbox(ctx, id); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Hour)
			if again, _ := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10); len(again) != 0 {
				t.Fatal("claimed a delivered row")
			}
			sts, _ := st.OutboxForSubject(ctx, p.ID)
			if sts[0].DeliveredAt == nil || sts[0].LastError != "" || sts[0].FailedAt != nil {
				t.Fatalf("delivered status %+v", sts[0])
			}
		})
		t.Run("FailedNeverAgainButVisible", func(t *testing.T) {
			q := e.invite("Bob", "Berg", "bob@example.com")
			items, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
			if err != nil || len(items) != 1 {
				t.Fatalf("%v %+v", err, items)
			}
			if err := st.FailOutbox(ctx, items[0].ID, errors.New("550 no such user")); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(24 * time.Hour)
			if again, _ := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10); len(again) != 0 {
				t.Fatal("claimed a failed row")
			}
			sts, _ := st.OutboxForSubject(ctx, q.ID)
			if len(sts) != 1 || sts[0].FailedAt == nil || sts[0].LastError != "550 no such user" {
				t.Fatalf("failed status %+v", sts)
			}
		})
		t.Run("TopicsAreSeparate", func(t *testing.T) {
			items, err := st.ClaimOutbox(ctx, "no.such.topic", 10)
			if err != nil || len(items) != 0 {
				t.Fatalf("%v %+v", err, items)
			}
		})
	})
}

// TestOutboxConcurrentClaimers runs several workers (as several `dooros
// serve` instances would) against one queue: every row is delivered exactly
// once.
func TestOutboxConcurrentClaimers(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		const rows, workers, batch = 300, 6, 7
		tx, err := st.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < rows; i++ {
			if _, err := tx.ExecContext(ctx, e.sql(`INSERT INTO outbox (id, topic, subject_id, payload, created_at, available_at) VALUES (?,?,?,?,?,?)`),
				fmt.Sprintf("obx_%04d", i), "test.topic", "", "{}", t0.UnixMicro(), t0.UnixMicro()); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		claimedBy := map[string]int{}
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					items, err := st.ClaimOutbox(ctx, "test.topic", batch)
					if err != nil {
						errs <- err
						return
					}
					if len(items) == 0 {
						return
					}
					mu.Lock()
					for _, it := range items {
						claimedBy[it.ID]++
					}
					mu.Unlock()
					for _, it := range items {
						if err := st.CompleteOutbox(ctx, it.ID); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if len(claimedBy) != rows {
			t.Fatalf("%d rows claimed, want %d", len(claimedBy), rows)
		}
		for id, n := range claimedBy {
			if n != 1 {
				t.Fatalf("row %s claimed %d times", id, n)
			}
		}
		if n := e.count(`SELECT COUNT(*) FROM outbox WHERE topic = ? AND delivered_at IS NULL`, "test.topic"); n != 0 {
			t.Fatalf("%d rows left undelivered", n)
		}
	})
}
