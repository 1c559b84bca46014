package webhook_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/webhook"
)

// Benchmarks print numbers; they never fail on a timing. Run them with
//
//	DOOROS_TEST_POSTGRES_URL=postgres://… go test ./webhook/ -run '^$' -bench . -benchtime 2000x
//
// (docs/bench-webhooks.md has the figures and the load average).

func okReceiver(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkDeliveryThroughput: b.N events (unlocks by 100 people at 10
// doors, so per-person and per-door order applies) queued beforehand, then
// delivered by one worker to a local receiver; events/s is the figure.
// floor-http posts the same bodies with the same client and concurrency,
// without the store: what HTTP alone allows on this machine.
func BenchmarkDeliveryThroughput(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			st := be.Open(b)
			f := storetest.Seed(b, st)
			keys := storetest.Keyring(b, st)
			recv := okReceiver(b)
			if _, _, err := st.CreateWebhook(ctx, f.PM, keys, allowLocal, domain.WebhookInput{PropertyID: f.Property.ID, URL: recv.URL, Kinds: []string{"*"}}); err != nil {
				b.Fatal(err)
			}
			doors := []string{f.Lobby.ID, f.Gym.ID, f.Unit101.ID}
			for i := range b.N {
				if err := st.AddEvent(ctx, domain.Event{PropertyID: f.Property.ID, Kind: domain.EventDoorUnlocked, PersonID: fmt.Sprintf("per_bench%d", i%100), DoorID: doors[i%len(doors)] + fmt.Sprint(i%10), Detail: "app"}); err != nil {
					b.Fatal(err)
				}
			}
			w := &webhook.Worker{Store: st, Keys: keys, Policy: allowLocal}
			b.ResetTimer()
			start := time.Now()
			done := 0
			for done < b.N {
				n, err := w.RunOnce(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if n == 0 {
					b.Fatalf("stalled after %d of %d", done, b.N)
				}
				done += n
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
	b.Run("floor-http", func(b *testing.B) {
		recv := okReceiver(b)
		c := webhook.NewClient(allowLocal, 10*time.Second)
		body := domain.WebhookBody(domain.Event{ID: "evt_bench", PropertyID: "prp_bench", At: time.Now(), Kind: domain.EventDoorUnlocked, PersonID: "per_bench", DoorID: "dor_bench", Detail: "app"})
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, recv.URL, strings.NewReader(string(body)))
				req.Header.Set(webhook.SignatureHeader, webhook.Sign(body, time.Now(), "whsec_bench"))
				resp, err := c.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
			}()
		}
		wg.Wait()
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkWriteQueuesEvent: the latency of a write that appends an
// Activity entry, without any endpoint (the floor), with an endpoint that
// does not want the kind, and with one that does (the event is queued in
// the same transaction). Two writes: an unlock reported by a device
// (AddEvent) and an invite.
func BenchmarkWriteQueuesEvent(b *testing.B) {
	for _, be := range storetest.Backends(b) {
		b.Run(be.Name, func(b *testing.B) {
			for _, mode := range []string{"no-endpoint", "endpoint-other-kinds", "endpoint"} {
				b.Run(mode, func(b *testing.B) {
					st := be.Open(b)
					f := storetest.Seed(b, st)
					keys := storetest.Keyring(b, st)
					if mode != "no-endpoint" {
						kinds := []string{"*"}
						if mode == "endpoint-other-kinds" {
							kinds = []string{"pms.*"}
						}
						if _, _, err := st.CreateWebhook(ctx, f.PM, keys, allowLocal, domain.WebhookInput{PropertyID: f.Property.ID, URL: "http://127.0.0.1:9/", Kinds: kinds}); err != nil {
							b.Fatal(err)
						}
					}
					b.Run("unlock", func(b *testing.B) {
						lat := make([]time.Duration, 0, b.N)
						b.ResetTimer()
						for i := range b.N {
							t0 := time.Now()
							if err := st.AddEvent(ctx, domain.Event{PropertyID: f.Property.ID, Kind: domain.EventDoorUnlocked, PersonID: fmt.Sprintf("per_%d", i%100), DoorID: f.Lobby.ID, Detail: "app"}); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(t0))
						}
						report(b, lat)
					})
					b.Run("invite", func(b *testing.B) {
						lat := make([]time.Duration, 0, b.N)
						b.ResetTimer()
						for i := range b.N {
							t0 := time.Now()
							if _, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Bench", LastName: fmt.Sprint(i), Email: fmt.Sprintf("b%d@example.com", benchSeq.Add(1)),
								Access: domain.AccessApp, Resident: true, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}}); err != nil {
								b.Fatal(err)
							}
							lat = append(lat, time.Since(t0))
						}
						report(b, lat)
					})
					if mode == "endpoint" {
						var n int
						if err := st.DB().QueryRow(`SELECT COUNT(*) FROM webhook_deliveries`).Scan(&n); err != nil || n == 0 {
							b.Fatalf("nothing queued (%v)", err)
						}
					}
				})
			}
		})
	}
}

var benchSeq atomic.Int64

func report(b *testing.B, d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
