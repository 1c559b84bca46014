package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/webhook"
)

var ctx = context.Background()

// allowLocal is the operator's --webhooks-allow-private: the receivers of
// these tests listen on loopback.
var allowLocal = domain.WebhookPolicy{AllowPrivate: true}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// request is what the receiver got.
type request struct {
	header http.Header
	status int // what the receiver answered
	body   []byte
	event  domain.WebhookPayload
}

// receiver is a real HTTP server; answer decides each response.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	got    []request
	answer func(n int) (status int, delay time.Duration)
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		var p domain.WebhookPayload
		if err := json.Unmarshal(b, &p); err != nil {
			t.Errorf("body is not a payload: %v: %s", err, b)
		}
		r.mu.Lock()
		n := len(r.got)
		status, delay := http.StatusOK, time.Duration(0)
		if r.answer != nil {
			status, delay = r.answer(n)
		}
		r.got = append(r.got, request{req.Header.Clone(), status, b, p})
		r.mu.Unlock()
		if delay > 0 {
			time.Sleep(delay)
		}
		w.WriteHeader(status)
		io.WriteString(w, "ok")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

func (r *receiver) setAnswer(f func(n int) (int, time.Duration)) {
	r.mu.Lock()
	r.answer = f
	r.mu.Unlock()
}

type env struct {
	t     *testing.T
	st    *store.Store
	f     storetest.Fixture
	keys  *keyring.Keyring
	clock *clock
	recv  *receiver
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	st.Now = c.Now
	return &env{t: t, st: st, f: storetest.Seed(t, st), keys: storetest.Keyring(t, st), clock: c, recv: newReceiver(t)}
}

func (e *env) hook(kinds ...string) (domain.Webhook, string) {
	e.t.Helper()
	w, secret, err := e.st.CreateWebhook(ctx, e.f.PM, e.keys, allowLocal, domain.WebhookInput{PropertyID: e.f.Property.ID, URL: e.recv.srv.URL + "/hook", Kinds: kinds})
	if err != nil {
		e.t.Fatal(err)
	}
	return w, secret
}

func (e *env) worker() *webhook.Worker {
	return &webhook.Worker{Store: e.st, Keys: e.keys, Policy: allowLocal, Timeout: 2 * time.Second}
}

func (e *env) invite(first, email string, keys ...string) domain.PersonView {
	e.t.Helper()
	in := domain.InviteInput{FirstName: first, LastName: "Test", Email: email, Access: domain.AccessApp, Resident: true}
	for _, k := range keys {
		in.Keys = append(in.Keys, domain.GrantInput{KeyID: k})
	}
	v, err := e.st.Invite(ctx, e.f.PM, e.f.Property.ID, in)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// drain runs the worker until nothing is due (moving the clock past any
// backoff), at most rounds times.
func drain(t *testing.T, e *env, w *webhook.Worker, rounds int) {
	t.Helper()
	for range rounds {
		n, err := w.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			e.clock.Add(2 * time.Hour) // past the longest backoff
			if n, _ = w.RunOnce(ctx); n == 0 {
				return
			}
		}
	}
}

func TestSignatureVerified(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		_, secret := e.hook("person.*")
		p := e.invite("Ana", "ana@example.com", e.f.Building.ID)
		if p.Doorcode == "" {
			t.Fatal("fixture: the Building key should give a doorcode")
		}
		if n, err := e.worker().RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		got := e.recv.requests()
		if len(got) != 1 {
			t.Fatalf("receiver got %d requests", len(got))
		}
		r := got[0]
		if err := webhook.Verify(r.header.Get(webhook.SignatureHeader), r.body, secret, time.Now(), webhook.DefaultTolerance); err != nil {
			t.Fatalf("signature: %v (header %q)", err, r.header.Get(webhook.SignatureHeader))
		}
		if r.event.Type != domain.EventPersonInvited || r.event.Data.PersonID != p.ID || r.event.PropertyID != e.f.Property.ID {
			t.Fatalf("payload %+v", r.event)
		}
		if id := r.header.Get(webhook.EventIDHeader); id == "" || id != r.event.ID || r.header.Get(webhook.IdempotencyHeader) != id {
			t.Fatalf("event id headers %v, body id %s", r.header, r.event.ID)
		}
		if strings.Contains(string(r.body), p.Doorcode) {
			t.Fatalf("body carries the doorcode %s: %s", p.Doorcode, r.body)
		}
		t.Run("WrongSecretRefused", func(t *testing.T) {
			if webhook.Verify(r.header.Get(webhook.SignatureHeader), r.body, "whsec_other", time.Now(), webhook.DefaultTolerance) == nil {
				t.Fatal("verified under another secret")
			}
		})
		t.Run("TamperedBodyRefused", func(t *testing.T) {
			b := []byte(strings.Replace(string(r.body), "Ana", "Eve", 1))
			if webhook.Verify(r.header.Get(webhook.SignatureHeader), b, secret, time.Now(), webhook.DefaultTolerance) == nil {
				t.Fatal("verified a changed body")
			}
		})
		t.Run("ReplayOutsideWindowRefused", func(t *testing.T) {
			if webhook.Verify(r.header.Get(webhook.SignatureHeader), r.body, secret, time.Now().Add(6*time.Minute), webhook.DefaultTolerance) == nil {
				t.Fatal("verified a signature 6 minutes old")
			}
		})
		t.Run("NotSentTwice", func(t *testing.T) {
			if n, _ := e.worker().RunOnce(ctx); n != 0 || len(e.recv.requests()) != 1 {
				t.Fatalf("delivered again: %d", n)
			}
			log, _, err := st.WebhookDeliveries(ctx, e.f.PM, mustOne(t, st, e).ID, "", 10)
			if err != nil || len(log) != 1 || log[0].State != store.WebhookDelivered || log[0].LastStatus != 200 || log[0].Attempts != 1 || log[0].Request != string(r.body) {
				t.Fatalf("log %v %+v", err, log)
			}
		})
		t.Run("DoorcodeChangeCarriesNoCode", func(t *testing.T) {
			// Every person.* entry the invite and later changes write.
			if _, err := st.TakeKey(ctx, e.f.PM, e.f.Property.ID, p.ID, e.f.Building.ID); err != nil {
				t.Fatal(err)
			}
			drain(t, e, e.worker(), 5)
			for _, r := range e.recv.requests() {
				if strings.Contains(string(r.body), p.Doorcode) {
					t.Fatalf("%s carries the doorcode: %s", r.event.Type, r.body)
				}
			}
		})
	})
}

func mustOne(t *testing.T, st *store.Store, e *env) domain.Webhook {
	t.Helper()
	ws, err := st.ListWebhooks(ctx, e.f.PM, "")
	if err != nil || len(ws) != 1 {
		t.Fatalf("webhooks %v %+v", err, ws)
	}
	return ws[0]
}

// TestReceiverDownThenUp: a receiver that answers 503 for a while loses
// nothing, and sees each person's events in order, even though other
// people's events go on being attempted meanwhile.
func TestReceiverDownThenUp(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.hook("*")
		down := true
		e.recv.setAnswer(func(int) (int, time.Duration) {
			if down {
				return http.StatusServiceUnavailable, 0
			}
			return http.StatusOK, 0
		})
		var people []domain.PersonView
		for i, name := range []string{"Ana", "Bob", "Cy"} {
			p := e.invite(name, strings.ToLower(name)+"@example.com", e.f.Building.ID)
			people = append(people, p)
			e.clock.Add(time.Second)
			if _, err := st.GiveKey(ctx, e.f.PM, e.f.Property.ID, p.ID, e.f.Home.ID, domain.GrantChange{}); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(time.Second)
			if i != 1 {
				if _, err := st.Revoke(ctx, e.f.PM, e.f.Property.ID, p.ID); err != nil {
					t.Fatal(err)
				}
			}
		}
		w := e.worker()
		for range 6 { // down for several rounds, over about a day
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			e.clock.Add(4 * time.Hour)
		}
		// While down only the first event of each person was attempted.
		for _, r := range e.recv.requests() {
			if r.event.Type != domain.EventPersonInvited {
				t.Fatalf("attempted %s before the person's invite was delivered", r.event.Type)
			}
		}
		down = false
		drain(t, e, w, 50)
		want := map[string]map[string]bool{}
		acts, _, err := st.ListActivity(ctx, e.f.PM, e.f.Property.ID, store.ActivityFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range acts {
			if a.PersonID != "" {
				if want[a.PersonID] == nil {
					want[a.PersonID] = map[string]bool{}
				}
				want[a.PersonID][a.ID] = true
			}
		}
		got := map[string]map[string]bool{}
		lastAt := map[string]time.Time{}
		for _, r := range e.recv.requests() {
			pid := r.event.Data.PersonID
			if pid == "" || r.status != http.StatusOK {
				continue
			}
			if r.event.Data.At.Before(lastAt[pid]) {
				t.Errorf("person %s: %s (%v) delivered after an event of %v", pid, r.event.Type, r.event.Data.At, lastAt[pid])
			}
			lastAt[pid] = r.event.Data.At
			if got[pid] == nil {
				got[pid] = map[string]bool{}
			}
			got[pid][r.event.ID] = true
		}
		for _, p := range people {
			if len(got[p.ID]) != len(want[p.ID]) || len(want[p.ID]) < 2 {
				t.Errorf("%s: delivered %d distinct events, Activity has %d", p.FirstName, len(got[p.ID]), len(want[p.ID]))
			}
			for id := range want[p.ID] {
				if !got[p.ID][id] {
					t.Errorf("%s: event %s lost", p.FirstName, id)
				}
			}
		}
		wh := mustOne(t, st, e)
		if wh.Status != domain.WebhookEnabled {
			t.Fatalf("endpoint %s after recovering: %s", wh.Status, wh.DisabledReason)
		}
		log, _, _ := st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 100)
		for _, d := range log {
			if d.State != store.WebhookDelivered {
				t.Errorf("delivery %s of %s is %s", d.ID, d.Kind, d.State)
			}
		}
	})
}

// TestErrorsAndTimeoutsRetried: a 500 and a request that times out are
// retried after a backoff, and the log shows each attempt's outcome.
func TestErrorsAndTimeoutsRetried(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		wh, _ := e.hook("person.invited")
		e.recv.setAnswer(func(n int) (int, time.Duration) {
			switch n {
			case 0:
				return http.StatusInternalServerError, 0
			case 1:
				return http.StatusOK, 3 * time.Second // past the worker's 300 ms timeout
			}
			return http.StatusOK, 0
		})
		e.invite("Ana", "ana@example.com")
		w := e.worker()
		w.Timeout = 300 * time.Millisecond
		w.Backoff = time.Minute
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		log, _, _ := st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 10)
		if len(log) != 1 || log[0].State != store.WebhookPending || log[0].LastStatus != 500 || !strings.Contains(log[0].LastError, "500") || log[0].NextAttemptAt == nil {
			t.Fatalf("after a 500: %+v", log)
		}
		if !log[0].NextAttemptAt.After(e.clock.Now().Add(29 * time.Second)) {
			t.Fatalf("retry due at %v, now %v: no backoff", log[0].NextAttemptAt, e.clock.Now())
		}
		if n, _ := w.RunOnce(ctx); n != 0 {
			t.Fatal("retried before the backoff")
		}
		e.clock.Add(time.Minute)
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		log, _, _ = st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 10)
		if log[0].State != store.WebhookPending || log[0].LastStatus != 0 || !strings.Contains(log[0].LastError, "Timeout") {
			t.Fatalf("after a timeout: %+v", log[0])
		}
		e.clock.Add(2 * time.Minute)
		if _, err := w.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		log, _, _ = st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 10)
		if log[0].State != store.WebhookDelivered || log[0].Attempts != 3 || log[0].DeliveredAt == nil {
			t.Fatalf("third attempt: %+v", log[0])
		}
		ids := map[string]bool{}
		for _, r := range e.recv.requests() {
			ids[r.header.Get(webhook.IdempotencyHeader)] = true
		}
		if len(e.recv.requests()) != 3 || len(ids) != 1 {
			t.Fatalf("3 attempts of one event expected, got %d requests, ids %v", len(e.recv.requests()), ids)
		}
	})
}

// TestDisabledEndpoint: deliveries failing for 3 days disable the endpoint
// with the reason; while disabled nothing is queued or sent; enabling it
// again resumes.
func TestDisabledEndpoint(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		wh, _ := e.hook("person.*")
		e.recv.setAnswer(func(int) (int, time.Duration) { return http.StatusInternalServerError, 0 })
		e.invite("Ana", "ana@example.com")
		w := e.worker()
		for i := 0; i < 200; i++ {
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if got, _ := st.Webhook(ctx, e.f.PM, wh.ID); got.Status != domain.WebhookEnabled {
				break
			}
			e.clock.Add(time.Hour)
		}
		got, err := st.Webhook(ctx, e.f.PM, wh.ID)
		if err != nil || got.Status != domain.WebhookDisabled || !strings.Contains(got.DisabledReason, "72h") || !strings.Contains(got.DisabledReason, "500") {
			t.Fatalf("after 3 days of 500s: %v %+v", err, got)
		}
		attempts := len(e.recv.requests())
		if attempts < 10 || attempts > 80 {
			t.Fatalf("%d attempts over 3 days: backoff not exponential-with-cap", attempts)
		}
		log, _, _ := st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 10)
		if len(log) != 1 || log[0].State != store.WebhookFailed {
			t.Fatalf("log %+v", log)
		}
		e.recv.setAnswer(nil)
		e.invite("Bob", "bob@example.com")
		e.clock.Add(time.Hour)
		if n, _ := w.RunOnce(ctx); n != 0 || len(e.recv.requests()) != attempts {
			t.Fatal("a disabled endpoint was sent to")
		}
		if log, _, _ = st.WebhookDeliveries(ctx, e.f.PM, wh.ID, "", 10); len(log) != 1 {
			t.Fatalf("queued %d deliveries for a disabled endpoint", len(log)-1)
		}
		t.Run("ResendAndEnable", func(t *testing.T) {
			on := true
			if _, err := st.UpdateWebhook(ctx, e.f.PM, allowLocal, wh.ID, domain.WebhookPatch{Enabled: &on}); err != nil {
				t.Fatal(err)
			}
			d, err := st.ResendWebhookDelivery(ctx, e.f.PM, wh.ID, log[0].ID)
			if err != nil || d.ResendOf != log[0].ID || d.EventID != log[0].EventID {
				t.Fatalf("resend %v %+v", err, d)
			}
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			rs := e.recv.requests()
			if len(rs) != attempts+1 || rs[len(rs)-1].event.ID != log[0].EventID {
				t.Fatalf("resend not delivered: %d requests", len(rs))
			}
			if _, err := st.ResendWebhookDelivery(ctx, e.f.PM, wh.ID, "whd_nope"); domain.ErrorCode(err) != domain.ENotFound {
				t.Fatalf("resend of an unknown delivery: %v", err)
			}
		})
	})
}

// TestRolledSecret: during the grace period both secrets sign; after it
// only the new one.
func TestRolledSecret(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		wh, old := e.hook("person.invited")
		_, fresh, err := st.RollWebhookSecret(ctx, e.f.PM, e.keys, wh.ID, time.Hour)
		if err != nil || fresh == old || !strings.HasPrefix(fresh, "whsec_") {
			t.Fatalf("roll: %v", err)
		}
		e.invite("Ana", "ana@example.com")
		e.worker().RunOnce(ctx)
		r := e.recv.requests()[0]
		sig := r.header.Get(webhook.SignatureHeader)
		if strings.Count(sig, "v1=") != 2 {
			t.Fatalf("grace: want two signatures, got %q", sig)
		}
		for _, s := range []string{old, fresh} {
			if err := webhook.Verify(sig, r.body, s, time.Now(), webhook.DefaultTolerance); err != nil {
				t.Fatalf("grace: %v", err)
			}
		}
		e.clock.Add(time.Hour + time.Second)
		e.invite("Bob", "bob@example.com")
		e.worker().RunOnce(ctx)
		r = e.recv.requests()[1]
		sig = r.header.Get(webhook.SignatureHeader)
		if webhook.Verify(sig, r.body, old, time.Now(), webhook.DefaultTolerance) == nil || webhook.Verify(sig, r.body, fresh, time.Now(), webhook.DefaultTolerance) != nil {
			t.Fatalf("after grace: %q", sig)
		}
	})
}

// TestSSRFRefused: the delivery client connects to no loopback, private or
// link-local address, checked on the resolved address; a name resolving to
// loopback is refused too, and nothing reaches the receiver. An endpoint
// that turns out to point there is disabled with the reason.
func TestSSRFRefused(t *testing.T) {
	c := webhook.NewClient(domain.WebhookPolicy{}, 2*time.Second)
	recv := newReceiver(t)
	port := recv.srv.URL[strings.LastIndex(recv.srv.URL, ":"):]
	for _, u := range []string{
		recv.srv.URL,                       // 127.0.0.1
		"http://localhost" + port,          // a name resolving to loopback
		"http://[::1]" + port,              // IPv6 loopback
		"http://10.1.2.3" + port,           // private
		"http://169.254.169.254/latest/",   // cloud metadata, link-local
		"http://[::ffff:127.0.0.1]" + port, // IPv4-mapped loopback
		"http://0.0.0.0" + port,
	} {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader("{}"))
		resp, err := c.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: connected (status %d)", u, resp.StatusCode)
			continue
		}
		if !strings.Contains(err.Error(), "refused to connect") {
			t.Errorf("%s: %v, want the safety refusal", u, err)
		}
	}
	if n := len(recv.requests()); n != 0 {
		t.Fatalf("receiver got %d requests", n)
	}
	t.Run("RedirectNotFollowed", func(t *testing.T) {
		target := newReceiver(t)
		redir := httptest.NewServer(http.RedirectHandler(target.srv.URL, http.StatusFound))
		defer redir.Close()
		resp, err := webhook.NewClient(allowLocal, 2*time.Second).Post(redir.URL, "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || len(target.requests()) != 0 {
			t.Fatalf("redirect followed: %d, target got %d", resp.StatusCode, len(target.requests()))
		}
	})
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		wh, _ := e.hook("*") // accepted while the operator allowed local receivers
		e.invite("Ana", "ana@example.com")
		w := e.worker()
		w.Policy = domain.WebhookPolicy{}
		w.RunOnce(ctx)
		if n := len(e.recv.requests()); n != 0 {
			t.Fatalf("receiver on loopback got %d requests", n)
		}
		got, _ := st.Webhook(ctx, e.f.PM, wh.ID)
		if got.Status != domain.WebhookDisabled || !strings.Contains(got.DisabledReason, "http") {
			t.Fatalf("endpoint %+v", got)
		}
	})
}

// TestTwoInstancesDeliverOnce: two workers on two connections to one
// PostgreSQL database deliver every event exactly once, in order per
// person.
func TestTwoInstancesDeliverOnce(t *testing.T) {
	url := storetest.PostgresURL(t)
	open := func() *store.Store {
		st, err := store.Open(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st1, st2 := open(), open()
	if err := st1.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, st1)
	st2.Now = e.clock.Now
	e.hook("*")
	var people []string
	for i := range 20 {
		p := e.invite("P", "p"+string(rune('a'+i))+"@example.com", e.f.Building.ID)
		people = append(people, p.ID)
		if _, err := st1.TakeKey(ctx, e.f.PM, e.f.Property.ID, p.ID, e.f.Building.ID); err != nil {
			t.Fatal(err)
		}
	}
	// Slow answers keep claims overlapping.
	e.recv.setAnswer(func(int) (int, time.Duration) { return http.StatusOK, 5 * time.Millisecond })
	var wg sync.WaitGroup
	for _, st := range []*store.Store{st1, st2} {
		w := &webhook.Worker{Store: st, Keys: e.keys, Policy: allowLocal, Batch: 5, Concurrency: 4}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for idle := 0; idle < 3; {
				n, err := w.RunOnce(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if n == 0 {
					idle++
					time.Sleep(20 * time.Millisecond)
				} else {
					idle = 0
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	order := map[string][]string{}
	for _, r := range e.recv.requests() {
		seen[r.event.ID]++
		if pid := r.event.Data.PersonID; pid != "" {
			order[pid] = append(order[pid], r.event.Type)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s delivered %d times", id, n)
		}
	}
	if len(seen) != 40 {
		t.Errorf("delivered %d events, want 40 (20 invites, 20 keys taken)", len(seen))
	}
	for _, p := range people {
		if strings.Join(order[p], ",") != "person.invited,person.key_taken" {
			t.Errorf("person %s: %v", p, order[p])
		}
	}
}
