// Package webhook delivers the webhook outbox: deliveries the store queued
// in the same transaction as the Activity entry they carry
// (store.Tx.queueWebhooks), signed like Stripe's (Sign) and posted to the
// endpoint's URL.
//
// Delivery is at-least-once with a stable identity: the Activity entry's
// id is the event id (DoorOS-Event-Id and Idempotency-Key headers, "id" in
// the body), the same on every attempt and resend, so a receiver
// deduplicates on it. Failures (no answer, a timeout, any status but 2xx)
// are retried with exponential backoff and jitter; a delivery still failing
// GiveUpAfter (3 days) after its event is marked failed and its endpoint
// disabled, with the reason the console and the API show. An address
// refused by the safety rules disables the endpoint at once.
//
// Order: the store hands out a delivery only when no earlier delivery to
// the same endpoint about the same person or the same door is pending, so
// a receiver never sees event N+1 of a person or door before N succeeded.
// Deliveries of different people and doors go out in parallel.
//
// Several `dooros serve` instances may run workers on one database:
// store.ClaimWebhookDeliveries hands each delivery to one worker at a time
// (FOR UPDATE SKIP LOCKED on PostgreSQL, under a lease). Nothing here runs
// in an API request.
//
// Safety: the client dials only public unicast addresses, checked on the
// resolved address at connect time (so a DNS name cannot rebind to a
// private one), unless the operator allows private receivers; https only
// under the same rule; no proxy from the environment; redirects are not
// followed; every attempt is bounded by Timeout and reads at most
// MaxResponse bytes of the answer.
package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// Worker delivers webhook deliveries.
type Worker struct {
	Store *store.Store
	// Keys opens the endpoints' sealed secrets.
	Keys   store.Sealer
	Log    *slog.Logger
	Policy domain.WebhookPolicy
	// Client posts the deliveries; default NewClient(Policy, Timeout).
	Client *http.Client
	// Timeout bounds one attempt: connect, TLS, request and response
	// (default 10 s).
	Timeout time.Duration
	// MaxResponse is how much of a response is read (default 64 KiB);
	// the log keeps its first KiB.
	MaxResponse int64
	// Poll is how often the worker looks for due deliveries when idle
	// (default 500 ms).
	Poll time.Duration
	// Backoff is the first retry delay; it doubles per attempt up to
	// MaxBackoff (defaults 10 s and 1 h), each delay drawn at random from
	// its upper half (jitter), so receivers coming back are not flooded.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// GiveUpAfter: a delivery still failing this long after its event
	// fails for good and disables the endpoint (default 72 h).
	GiveUpAfter time.Duration
	// Keep is how long finished deliveries stay in the log (default 30
	// days); the worker prunes older ones about once an hour.
	Keep time.Duration
	// Batch is how many deliveries one claim takes and Concurrency how many
	// are in flight at once (defaults 50 and 8).
	Batch       int
	Concurrency int
}

func (w *Worker) defaults() {
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Timeout <= 0 {
		w.Timeout = 10 * time.Second
	}
	if w.MaxResponse <= 0 {
		w.MaxResponse = 64 << 10
	}
	if w.Client == nil {
		w.Client = NewClient(w.Policy, w.Timeout)
	}
	if w.Poll <= 0 {
		w.Poll = 500 * time.Millisecond
	}
	if w.Backoff <= 0 {
		w.Backoff = 10 * time.Second
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = time.Hour
	}
	if w.GiveUpAfter <= 0 {
		w.GiveUpAfter = 72 * time.Hour
	}
	if w.Keep <= 0 {
		w.Keep = 30 * 24 * time.Hour
	}
	if w.Batch <= 0 {
		w.Batch = 50
	}
	if w.Concurrency <= 0 {
		w.Concurrency = 8
	}
}

// Start runs the worker in the background until ctx ends or stop is
// called; stop returns once the deliveries in flight are finished and
// recorded.
func (w *Worker) Start(ctx context.Context) (stop func()) {
	w.defaults()
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	w.defaults()
	timer := time.NewTimer(0)
	defer timer.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("webhook outbox", "err", err)
		}
		if time.Since(pruned) > time.Hour {
			pruned = time.Now()
			if m, err := w.Store.PruneWebhookDeliveries(ctx, w.Store.Now().Add(-w.Keep), 10000); err != nil && ctx.Err() == nil {
				w.Log.Error("webhook log pruning", "err", err)
			} else if m > 0 {
				w.Log.Info("webhook log pruned", "deliveries", m, "older_than", w.Keep)
			}
		}
		next := w.Poll
		if n > 0 {
			next = 0
		}
		timer.Reset(next)
	}
}

// RunOnce claims one batch of due deliveries and attempts each; it returns
// how many it attempted.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	if ctx.Err() != nil {
		return 0, nil
	}
	jobs, err := w.Store.ClaimWebhookDeliveries(ctx, w.Batch)
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	var (
		mu       sync.Mutex
		results  = map[string]store.WebhookAttempt{}
		released []string
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, w.Concurrency)
	for _, j := range jobs {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			released = append(released, j.DeliveryID)
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			at := w.deliver(ctx, j)
			mu.Lock()
			results[j.DeliveryID] = at
			mu.Unlock()
		}()
	}
	wg.Wait()
	// One transaction records the batch; a crash before it re-sends the
	// batch (at-least-once, same event ids) once the lease runs out.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Timeout+10*time.Second)
	defer cancel()
	err = w.Store.RecordWebhookAttempts(rctx, results)
	if len(released) > 0 {
		err = errors.Join(err, w.Store.ReleaseWebhookDeliveries(rctx, released))
	}
	return len(results), err
}

// refusedError is an address the safety rules refuse; retrying cannot
// help, so the endpoint is disabled.
type refusedError struct{ msg string }

func (e *refusedError) Error() string { return e.msg }

// deliver makes one attempt and decides what follows: done, a retry
// after a backoff, or failure for good (disabling the endpoint).
func (w *Worker) deliver(ctx context.Context, j store.WebhookJob) store.WebhookAttempt {
	// Shutdown does not cut an attempt off: it finishes within Timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.Timeout+10*time.Second)
	defer cancel()
	start := time.Now()
	res := w.attempt(ctx, j)
	res.At, res.Duration = w.Store.Now(), time.Since(start)
	var refused *refusedError
	switch {
	case res.Delivered:
		w.Log.Debug("webhook delivered", "delivery", j.DeliveryID, "event", j.Event.ID, "status", res.Status)
	case errors.As(res.err, &refused):
		res.Fail = true
		res.Error = "disabled: " + res.Error
		w.Log.Warn("webhook refused", "delivery", j.DeliveryID, "err", res.Error)
	case res.At.Sub(j.CreatedAt) >= w.GiveUpAfter:
		res.Fail = true
		res.Error = fmt.Sprintf("disabled: deliveries kept failing for %s (%d attempts); last: %s", w.GiveUpAfter, j.Attempts, res.Error)
		w.Log.Warn("webhook failed for good; endpoint disabled", "delivery", j.DeliveryID, "endpoint", j.EndpointID, "err", res.Error)
	default:
		res.RetryAt = res.At.Add(w.backoff(j.Attempts))
		w.Log.Info("webhook failed; will retry", "delivery", j.DeliveryID, "attempt", j.Attempts, "retry_at", res.RetryAt, "err", res.Error)
	}
	return res.WebhookAttempt
}

type result struct {
	store.WebhookAttempt
	err error
}

func (w *Worker) attempt(ctx context.Context, j store.WebhookJob) (r result) {
	fail := func(err error) result {
		r.err, r.Error = err, err.Error()
		return r
	}
	u, err := url.Parse(j.URL)
	if err != nil {
		return fail(&refusedError{"bad url: " + err.Error()})
	}
	if u.Scheme != "https" && !w.Policy.AllowPrivate {
		return fail(&refusedError{"plain http is allowed only with --webhooks-allow-private"})
	}
	secrets := []string{}
	for _, sealed := range []string{j.Secret, j.PreviousSecret} {
		if sealed == "" {
			continue
		}
		s, err := w.Keys.Open(sealed, store.WebhookSecretAAD(j.EndpointID))
		if err != nil {
			return fail(fmt.Errorf("open the endpoint's secret: %w", err))
		}
		secrets = append(secrets, string(s))
	}
	body := domain.WebhookBody(j.Event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URL, bytes.NewReader(body))
	if err != nil {
		return fail(&refusedError{"bad url: " + err.Error()})
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "DOOR-OS-Webhooks/1")
	req.Header.Set(EventIDHeader, j.Event.ID)
	req.Header.Set(IdempotencyHeader, j.Event.ID)
	req.Header.Set(EventTypeHeader, j.Event.Kind)
	req.Header.Set(DeliveryHeader, j.DeliveryID)
	req.Header.Set(SignatureHeader, Sign(body, time.Now(), secrets...))
	resp, err := w.Client.Do(req)
	if err != nil {
		var refused *refusedError
		if errors.As(err, &refused) {
			return fail(refused)
		}
		return fail(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, w.MaxResponse))
	r.Status, r.Response = resp.StatusCode, string(b[:min(len(b), 1024)])
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		r.Delivered = true
		return r
	}
	r.Error = fmt.Sprintf("receiver answered %s", resp.Status)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		r.Error += " (redirects are not followed)"
	}
	r.err = errors.New(r.Error)
	return r
}

// backoff is the delay after attempt n: Backoff·2^(n-1), capped at
// MaxBackoff, drawn from its upper half.
func (w *Worker) backoff(n int) time.Duration {
	d := w.Backoff
	for i := 1; i < n && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// NewClient is the delivery HTTP client: it connects only to addresses
// the policy allows, checked on the resolved address as it dials (every
// address a name resolves to, so DNS rebinding cannot reach a private
// one), ignores proxy settings, never follows redirects and bounds every
// request by timeout.
func NewClient(pol domain.WebhookPolicy, timeout time.Duration) *http.Client {
	d := &net.Dialer{
		Timeout: timeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return &refusedError{"refused address " + address}
			}
			ip, err := netip.ParseAddr(host)
			if err != nil || !domain.WebhookAddressAllowed(ip, pol) {
				return &refusedError{fmt.Sprintf("refused to connect to %s: a private, loopback or link-local address (webhooks go to public addresses only)", host)}
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
