// Package notify delivers the email outbox: it claims email.* rows written
// by the store in the same transaction as the change that caused them
// (invites, manager invitations, app login codes, guest codes), renders the
// message from current store data, and sends it through a mail.Sender (the
// local Mailbox by default, an SMTP relay with --smtp-url).
//
// Delivery is at-least-once with a stable identity: the outbox row id is the
// message's ID (Message-ID header, Mailbox file name), so a crash between
// sending and marking the row delivered re-sends the same message — the
// Mailbox keeps it once; an SMTP recipient may see it twice with the same
// Message-ID, which mail clients collapse. Temporary failures are retried
// with capped exponential backoff; permanent ones (5xx, invalid address, or
// too many attempts) mark the row failed and add an email.failed Activity
// entry on the person, where managers see it.
//
// Several `dooros serve` instances may run workers on one database:
// Store.ClaimOutbox hands each row to one worker at a time. On shutdown a
// worker finishes the message it is sending, marks it, and hands the rows it
// claimed but did not start back at once (Start's stop waits for that).
//
// The messages are package mail's templates (emails.go maps store data onto
// them); every link in them starts with PublicURL.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
)

// Topics the worker delivers.
var Topics = []string{store.TopicWelcomeEmail, store.TopicManagerInvitation, store.TopicLoginCode, store.TopicGuestCode, store.TopicKeycardEmail, store.TopicSyncRequest}

// Worker delivers email outbox rows.
type Worker struct {
	Store  *store.Store
	Sender mail.Sender
	// Keys opens sealed login codes and computes guest codes.
	Keys store.Sealer
	Log  *slog.Logger
	// PublicURL is the server's address as people reach it (--public-url):
	// every link and the app's login instructions start with it. Default
	// DefaultPublicURL.
	PublicURL string
	// InvitationPage is the path the manager invitation's set-password link
	// opens (with ?token=); default AcceptInvitationPath. Serve sets it with
	// InvitationPage(mux).
	InvitationPage string
	// Poll is how often the worker looks for due rows when idle (default
	// 500 ms).
	Poll time.Duration
	// Backoff is the first retry delay after a temporary failure; it doubles
	// per attempt up to MaxBackoff (defaults 30 s and 1 h).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxAttempts turns a row that keeps failing temporarily into a
	// permanent failure (default 12, about half a day with the defaults).
	MaxAttempts int
	// Batch is how many rows one claim takes (default 20).
	Batch int
	// SendTimeout bounds one message: rendering, sending and marking it
	// (default 1 min, under the outbox lease). A message in flight at
	// shutdown is finished within it rather than cut off mid-SMTP.
	SendTimeout time.Duration
}

// permanentError marks a failure retrying cannot fix (bad payload, unknown
// person).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return permanentError{fmt.Errorf(format, args...)}
}

// DefaultPublicURL is PublicURL when none is set: the default listen
// address.
const DefaultPublicURL = "http://127.0.0.1:8080"

func (w *Worker) defaults() {
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	if w.Poll <= 0 {
		w.Poll = 500 * time.Millisecond
	}
	if w.Backoff <= 0 {
		w.Backoff = 30 * time.Second
	}
	if w.MaxBackoff <= 0 {
		w.MaxBackoff = time.Hour
	}
	if w.MaxAttempts <= 0 {
		w.MaxAttempts = 12
	}
	if w.Batch <= 0 {
		w.Batch = 20
	}
	if w.SendTimeout <= 0 {
		w.SendTimeout = time.Minute
	}
}

// Start runs the worker in the background until ctx ends or stop is
// called; stop returns once the worker has finished the message in flight
// and handed back the rows it had claimed.
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

// Run delivers until ctx ends; see Start.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		n, err := w.RunOnce(ctx)
		if err != nil && ctx.Err() == nil {
			w.Log.Error("email outbox", "err", err)
		}
		next := w.Poll
		if n > 0 {
			next = 0 // more may be due
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(next)
	}
}

// RunOnce claims and handles every due row once; it returns how many rows
// it handled. When ctx ends it stops between messages: the message in
// flight is finished, the claimed rows not started are handed back.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	n := 0
	for _, topic := range Topics {
		if ctx.Err() != nil {
			return n, nil
		}
		items, err := w.Store.ClaimOutbox(ctx, topic, w.Batch)
		if err != nil {
			return n, err
		}
		for i, it := range items {
			if ctx.Err() != nil {
				return n, w.release(ctx, items[i:])
			}
			if err := w.handle(ctx, it); err != nil {
				return n, errors.Join(err, w.release(ctx, items[i+1:]))
			}
			n++
		}
	}
	return n, nil
}

// errStopped is the note on a row handed back at shutdown.
var errStopped = errors.New("not sent yet: the email worker stopped; the next worker sends it")

// release hands claimed rows back, due now, so another worker (or the next
// start) need not wait for their lease to run out.
func (w *Worker) release(ctx context.Context, items []store.OutboxItem) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.SendTimeout)
	defer cancel()
	var errs []error
	for _, it := range items {
		errs = append(errs, w.Store.RetryOutbox(ctx, it.ID, errStopped, 0))
	}
	return errors.Join(errs...)
}

// backoff is the delay before attempt+1.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.Backoff
	for i := 1; i < attempts && d < w.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.MaxBackoff)
}

func (w *Worker) handle(ctx context.Context, it store.OutboxItem) error {
	// Shutdown does not cut a message off: it is finished within SendTimeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.SendTimeout)
	defer cancel()
	msg, skip, err := w.render(ctx, it)
	if err == nil && !skip {
		err = w.Sender.Send(ctx, msg)
	}
	switch {
	case err == nil:
		if skip {
			w.Log.Info("email not needed any more", "outbox", it.ID, "topic", it.Topic)
		} else {
			w.Log.Info("email sent", "outbox", it.ID, "topic", it.Topic, "to", msg.To.Email)
		}
		return w.Store.CompleteOutbox(ctx, it.ID)
	case mail.IsPermanent(err) || errors.As(err, new(permanentError)):
		w.Log.Warn("email failed permanently", "outbox", it.ID, "topic", it.Topic, "err", err)
		return w.Store.FailEmail(ctx, it, err)
	case it.Attempts >= w.MaxAttempts:
		w.Log.Warn("email failed too often; giving up", "outbox", it.ID, "topic", it.Topic, "attempts", it.Attempts, "err", err)
		return w.Store.FailEmail(ctx, it, fmt.Errorf("gave up after %d attempts: %w", it.Attempts, err))
	}
	d := w.backoff(it.Attempts)
	w.Log.Info("email failed; will retry", "outbox", it.ID, "topic", it.Topic, "attempt", it.Attempts, "retry_in", d, "err", err)
	return w.Store.RetryOutbox(ctx, it.ID, err, d)
}

// render builds the message of an outbox row; skip reports that it is no
// longer needed (the person was deleted, the guest code revoked).
func (w *Worker) render(ctx context.Context, it store.OutboxItem) (mail.Message, bool, error) {
	var p map[string]string
	if err := json.Unmarshal([]byte(it.Payload), &p); err != nil {
		return mail.Message{}, false, permanent("outbox %s: bad payload: %v", it.ID, err)
	}
	msg, skip, err := w.message(ctx, it.Topic, p)
	if err != nil || skip {
		return msg, skip, err
	}
	msg.ID = it.ID
	return msg, false, nil
}

func (w *Worker) message(ctx context.Context, topic string, p map[string]string) (mail.Message, bool, error) {
	switch topic {
	case store.TopicManagerInvitation:
		d, err := w.Store.MailManager(ctx, p["manager_id"])
		if domain.ErrorCode(err) == domain.ENotFound {
			return mail.Message{}, true, nil
		}
		if err != nil {
			return mail.Message{}, false, err
		}
		if d.Manager.HasPassword {
			return mail.Message{}, true, nil // accepted meanwhile
		}
		msg, err := w.managerInvitation(d, p["token"], p["invited_by"])
		return msg, false, err
	case store.TopicLoginCode:
		if w.Keys == nil {
			return mail.Message{}, false, errors.New("notify: no keyring to open login codes")
		}
		code, err := w.Keys.Open(p["code_sealed"], store.LoginCodeAAD(p["email"]))
		if err != nil {
			return mail.Message{}, false, permanent("login code: %v", err)
		}
		d, err := w.Store.MailPerson(ctx, nil, p["person_id"])
		if err != nil && domain.ErrorCode(err) != domain.ENotFound {
			return mail.Message{}, false, err
		}
		msg, err := loginCode(d, p["email"], string(code))
		return msg, false, err
	case store.TopicSyncRequest:
		d, err := w.Store.MailPerson(ctx, nil, p["person_id"])
		if domain.ErrorCode(err) == domain.ENotFound {
			return mail.Message{}, true, nil
		}
		if err != nil {
			return mail.Message{}, false, err
		}
		if !d.Status.HoldsAccess() || d.Person.Email == "" {
			return mail.Message{}, true, nil // revoked or deleted meanwhile
		}
		msg, err := mail.SyncRequest(mail.SyncRequestData{To: to(d.Person), FirstName: d.Person.FirstName, Property: d.Property.Name,
			Door: p["door_name"], RequestedBy: p["requested_by"], Organisation: d.Organisation})
		return msg, false, err
	case store.TopicWelcomeEmail, store.TopicGuestCode, store.TopicKeycardEmail:
	default:
		return mail.Message{}, false, permanent("notify: unknown topic %s", topic)
	}
	d, err := w.Store.MailPerson(ctx, w.Keys, p["person_id"])
	if domain.ErrorCode(err) == domain.ENotFound {
		return mail.Message{}, true, nil
	}
	if err != nil {
		return mail.Message{}, false, err
	}
	if topic == store.TopicKeycardEmail {
		if d.Person.DeletedAt != nil || d.Person.Email == "" {
			return mail.Message{}, true, nil
		}
		msg, err := keycard(d, p)
		return msg, false, err
	}
	if topic == store.TopicWelcomeEmail {
		if !domain.MailStillDue(domain.MailWelcome, d.Status) {
			return mail.Message{}, true, nil
		}
		return w.welcome(d, p["invited_by"])
	}
	if d.GuestCode == nil || !domain.MailStillDue(domain.MailGuestCode, d.Status) {
		return mail.Message{}, true, nil
	}
	msg, err := guestCode(d, p["invited_by"], p["changed"] == "true", w.Store.Now())
	return msg, false, err
}
