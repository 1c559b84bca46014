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
// Store.ClaimOutbox hands each row to one worker at a time.
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
var Topics = []string{store.TopicWelcomeEmail, store.TopicManagerInvitation, store.TopicLoginCode, store.TopicGuestCode}

// Worker delivers email outbox rows.
type Worker struct {
	Store  *store.Store
	Sender mail.Sender
	// Keys opens sealed login codes and computes guest codes.
	Keys store.Sealer
	Log  *slog.Logger
	// BaseURL is the server's public URL, used in links and app instructions.
	BaseURL string
	// Poll is how often the worker looks for due rows when idle (default
	// 500 ms); Wake makes it look at once.
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

	wake chan struct{}
}

// permanentError marks a failure retrying cannot fix (bad payload, unknown
// person).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(format string, args ...any) error {
	return permanentError{fmt.Errorf(format, args...)}
}

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
	if w.wake == nil {
		w.wake = make(chan struct{}, 1)
	}
}

// Wake makes a running worker look for due rows now (call it after a
// commit that enqueued an email, when in the same process).
func (w *Worker) Wake() {
	if w.wake == nil {
		return
	}
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.defaults()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.wake:
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
// it handled.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.defaults()
	n := 0
	for _, topic := range Topics {
		items, err := w.Store.ClaimOutbox(ctx, topic, w.Batch)
		if err != nil {
			return n, err
		}
		for _, it := range items {
			if err := w.handle(ctx, it); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
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
	case ctx.Err() != nil:
		return ctx.Err() // shutting down: the lease runs out and another worker retries
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
	msg := mail.Message{ID: it.ID, Headers: map[string]string{"X-DoorOS-Kind": it.Topic}}
	switch it.Topic {
	case store.TopicManagerInvitation:
		m, err := w.Store.ManagerByID(ctx, p["manager_id"])
		if domain.ErrorCode(err) == domain.ENotFound {
			return msg, true, nil
		}
		if err != nil {
			return msg, false, err
		}
		if m.HasPassword {
			return msg, true, nil // accepted meanwhile
		}
		msg.To = mail.Address{Name: m.FirstName + " " + m.LastName, Email: m.Email}
		return msg, false, fill(&msg, managerInvitation, map[string]any{"Manager": m, "InvitedBy": p["invited_by"],
			"Link": w.link("/accept-invitation?token=" + p["token"]), "Token": p["token"], "BaseURL": w.BaseURL})
	case store.TopicLoginCode:
		if w.Keys == nil {
			return msg, false, errors.New("notify: no keyring to open login codes")
		}
		code, err := w.Keys.Open(p["code_sealed"], store.LoginCodeAAD(p["email"]))
		if err != nil {
			return msg, false, permanent("login code: %v", err)
		}
		d, err := w.Store.MailPerson(ctx, nil, p["person_id"])
		if err != nil && domain.ErrorCode(err) != domain.ENotFound {
			return msg, false, err
		}
		msg.To = mail.Address{Name: d.Person.Name(), Email: p["email"]}
		return msg, false, fill(&msg, loginCode, map[string]any{"Code": string(code), "Minutes": int(store.LoginCodeTTL / time.Minute), "Name": d.Person.FirstName})
	}
	d, err := w.Store.MailPerson(ctx, w.Keys, p["person_id"])
	if domain.ErrorCode(err) == domain.ENotFound {
		return msg, true, nil
	}
	if err != nil {
		return msg, false, err
	}
	if d.Status == domain.StatusDeleted || d.Status == domain.StatusRevoked {
		return msg, true, nil
	}
	msg.To = mail.Address{Name: d.Person.Name(), Email: d.Person.Email}
	data := newPersonData(d, w.BaseURL)
	switch it.Topic {
	case store.TopicWelcomeEmail:
		return msg, false, fill(&msg, welcome, data)
	case store.TopicGuestCode:
		if d.GuestCode == nil || d.Status == domain.StatusExpired {
			return msg, true, nil
		}
		data.Changed = p["changed"] == "true"
		return msg, false, fill(&msg, guestCode, data)
	}
	return msg, false, permanent("notify: unknown topic %s", it.Topic)
}

func (w *Worker) link(path string) string {
	if w.BaseURL == "" {
		return "http://127.0.0.1:8080" + path
	}
	return w.BaseURL + path
}
