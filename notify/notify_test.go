package notify_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var ctx = context.Background()

type env struct {
	*apitest.Env
	t    *testing.T
	smtp *mailtest.Server
	keys *keyring.Keyring
	mu   sync.Mutex
	now  time.Time
}

func newEnv(t *testing.T, st *store.Store) *env {
	t.Helper()
	e := &env{Env: apitest.New(t, st), t: t, smtp: mailtest.NewServer(t), now: time.Now().UTC()}
	st.Now = func() time.Time {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.now
	}
	e.keys = storetest.Keyring(t, st)
	return e
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *env) worker() *notify.Worker {
	e.t.Helper()
	s, err := mail.NewSMTPSender(e.smtp.URL(), "DOOR OS <door@example.com>")
	if err != nil {
		e.t.Fatal(err)
	}
	return &notify.Worker{Store: e.Store, Sender: s, Keys: e.keys, Backoff: time.Minute, MaxBackoff: 10 * time.Minute}
}

func (e *env) invite(email string) domain.PersonView {
	e.t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people", e.PMToken, map[string]any{"first_name": "Dee", "last_name": "Code",
		"email": email, "access": "doorcode", "keys": []map[string]any{{"key_id": e.F.Home.ID}}})
	if r.Status != 201 {
		e.t.Fatalf("invite = %d: %s", r.Status, r.Body)
	}
	var v domain.PersonView
	r.Decode(e.t, &v)
	return v
}

func (e *env) emails(personID string) []store.OutboxStatus {
	e.t.Helper()
	r := e.Do("GET", "/api/v1/properties/"+e.F.Property.ID+"/people/"+personID+"/emails", e.PMToken, nil)
	if r.Status != 200 {
		e.t.Fatalf("emails = %d: %s", r.Status, r.Body)
	}
	var l struct{ Items []store.OutboxStatus }
	r.Decode(e.t, &l)
	return l.Items
}

func runOnce(t *testing.T, w *notify.Worker) int {
	t.Helper()
	n, err := w.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOutbox(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)

		t.Run("DoorcodeWelcome", func(t *testing.T) {
			v := e.invite("dee@example.com")
			runOnce(t, e.worker())
			got := e.smtp.MessagesTo("dee@example.com")
			if len(got) != 1 {
				t.Fatalf("got %d emails, want 1", len(got))
			}
			m := got[0].MustParse(t)
			if !strings.Contains(m.Text, "Your doorcode: ") || !strings.Contains(m.HTML, "Unit 101") {
				t.Errorf("doorcode welcome:\n%s\n%s", m.Text, m.HTML)
			}
			if es := e.emails(v.ID); len(es) != 1 || es[0].DeliveredAt == nil {
				t.Errorf("emails on the person = %+v, want one delivered", es)
			}
		})

		t.Run("TemporaryFailureRetriedAndDeliveredOnce", func(t *testing.T) {
			e.smtp.SetRecipientReply("temp@example.com", 451)
			v := e.invite("temp@example.com")
			w := e.worker()
			runOnce(t, w)
			es := e.emails(v.ID)
			if len(es) != 1 || es[0].DeliveredAt != nil || es[0].FailedAt != nil || es[0].Attempts != 1 || !strings.Contains(es[0].LastError, "451") {
				t.Fatalf("after a 451: %+v", es)
			}
			if n := runOnce(t, w); n != 0 {
				t.Errorf("retried %d rows before the backoff ran out", n)
			}
			e.smtp.SetRecipientReply("temp@example.com", 0)
			e.advance(time.Minute)
			runOnce(t, w)
			e.advance(time.Hour)
			runOnce(t, w)
			if got := len(e.smtp.MessagesTo("temp@example.com")); got != 1 {
				t.Errorf("delivered %d times, want once", got)
			}
			if es := e.emails(v.ID); es[0].DeliveredAt == nil || es[0].Attempts != 2 {
				t.Errorf("after the retry: %+v", es)
			}
		})

		t.Run("PermanentFailureVisibleOnPerson", func(t *testing.T) {
			e.smtp.SetRecipientReply("bounce@example.com", 550)
			v := e.invite("bounce@example.com")
			runOnce(t, e.worker())
			es := e.emails(v.ID)
			if len(es) != 1 || es[0].FailedAt == nil || !strings.Contains(es[0].LastError, "550") {
				t.Fatalf("after a 550: %+v", es)
			}
			r := e.Do("GET", "/api/v1/properties/"+e.F.Property.ID+"/activity?kind="+store.EventEmailFailed+"&person_id="+v.ID, e.PMToken, nil)
			if !strings.Contains(string(r.Body), "bounce@example.com") {
				t.Errorf("no email.failed entry in Activity: %s", r.Body)
			}
			e.advance(time.Hour)
			if n := runOnce(t, e.worker()); n != 0 {
				t.Errorf("a failed email was tried again")
			}
		})

		t.Run("DeadWorkersRowDeliveredOnceWithItsID", func(t *testing.T) {
			e.invite("crash@example.com")
			// A worker claims the row and dies before marking it.
			items, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
			if err != nil || len(items) != 1 {
				t.Fatalf("claim = %v, %v", items, err)
			}
			box, err := mail.OpenMailbox(t.TempDir(), "")
			if err != nil {
				t.Fatal(err)
			}
			w := e.worker()
			w.Sender = multi{box, w.Sender}
			e.advance(store.OutboxLease + time.Second) // the dead worker's lease runs out
			runOnce(t, w)
			runOnce(t, w) // and a second run sends nothing
			e.advance(store.OutboxLease + time.Second)
			runOnce(t, w)
			got := e.smtp.MessagesTo("crash@example.com")
			if len(got) != 1 {
				t.Fatalf("SMTP got %d messages, want 1", len(got))
			}
			if id := got[0].MustParse(t).Header.Get("Message-Id"); !strings.HasPrefix(id, "<"+items[0].ID+"@") {
				t.Errorf("Message-ID %s is not the outbox row %s", id, items[0].ID)
			}
			// Sending the same row again (the crash case) keeps one message
			// in the mailbox.
			if err := box.Send(ctx, mail.Message{ID: items[0].ID, To: mail.Address{Email: "crash@example.com"}, Subject: "again", Text: "again"}); err != nil {
				t.Fatal(err)
			}
			if l, _ := box.List(0); len(l) != 1 {
				t.Errorf("mailbox holds %d messages for one outbox row", len(l))
			}
		})

		t.Run("TwoWorkersDeliverEachEmailOnce", func(t *testing.T) {
			for i := range 6 {
				e.invite("many" + string(rune('a'+i)) + "@example.com")
			}
			var wg sync.WaitGroup
			for range 2 {
				w := e.worker()
				wg.Go(func() {
					for range 5 {
						w.RunOnce(ctx)
					}
				})
			}
			wg.Wait()
			for i := range 6 {
				if got := len(e.smtp.MessagesTo("many" + string(rune('a'+i)) + "@example.com")); got != 1 {
					t.Errorf("recipient %d got %d emails, want 1", i, got)
				}
			}
		})
	})
}

// multi sends through every sender (a test double that records too).
type multi []mail.Sender

func (m multi) Send(ctx context.Context, msg mail.Message) error {
	for _, s := range m {
		if err := s.Send(ctx, msg); err != nil {
			return err
		}
	}
	return nil
}
