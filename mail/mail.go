// Package mail sends DOOR OS email: welcome emails, login codes and
// invitations.
//
// Two Senders exist. Mailbox is the embedded default: it keeps every message
// as an .eml file in a local directory that the console can show, so a fresh
// install needs no mail setup. SMTPSender delivers through a real relay,
// configured from an smtp:// or smtps:// URL.
//
// Delivery is meant to be driven by the transactional outbox: the outbox row
// id becomes Message.ID and therefore the Message-ID header, so a message
// sent twice after a crash is recognisable as the same message (and the
// Mailbox keeps it once). Send errors are classified with IsPermanent so the
// outbox worker knows whether to retry.
//
// The package takes plain structs and knows nothing about the store or the
// domain types.
package mail

import (
	"context"
	"errors"
	"fmt"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strings"
	"time"
)

// Sender delivers one message. Implementations are safe for concurrent use.
type Sender interface {
	// Send delivers m. Sending the same m.ID again must be harmless: it is
	// how the outbox retries after a crash or a temporary failure.
	Send(ctx context.Context, m Message) error
}

// Address is a mailbox: an email address and an optional display name.
type Address struct {
	Name  string
	Email string
}

// String formats a as an RFC 5322 address, quoting and encoding the name as
// needed.
func (a Address) String() string {
	return (&netmail.Address{Name: a.Name, Address: a.Email}).String()
}

// Message is one outgoing email.
type Message struct {
	// ID identifies the message for its whole life, across retries. It is
	// written as the Message-ID header <ID@sender-domain> and names the
	// Mailbox file, so it is limited to letters, digits and . _ - + =
	// (at most 200 characters). Use the outbox row id.
	ID string
	// From is the sender; zero means the Sender's configured default.
	From Address
	To   Address
	// Subject is one line; line breaks are folded into spaces.
	Subject string
	// Text is the plain-text body; it is required. HTML, when set, is sent
	// as the alternative part of a multipart/alternative message.
	Text string
	HTML string
	// Headers are extra headers such as X-DoorOS-Kind. They cannot replace
	// the headers this package writes itself (From, To, Subject, Date,
	// Message-ID, MIME and Content- headers).
	Headers map[string]string
	// Date is the Date header; zero means the time of sending.
	Date time.Time
}

// HeaderValue returns the value of the extra header name, ignoring case (a
// parsed message has canonical keys such as X-Dooros-Kind).
func (m Message) HeaderValue(name string) string {
	if v, ok := m.Headers[name]; ok {
		return v
	}
	for k, v := range m.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Sentinel errors, wrapped in a permanent *Error by Send.
var (
	// ErrInvalidAddress: a sender or recipient address does not parse.
	ErrInvalidAddress = errors.New("invalid email address")
	// ErrInvalidMessage: the message cannot be sent as it is (missing ID,
	// text or subject, forbidden header …). Retrying will not help.
	ErrInvalidMessage = errors.New("invalid message")
)

// Error is a failed delivery, classified for the outbox worker.
type Error struct {
	// Permanent reports that retrying the same message cannot succeed: the
	// relay answered 5xx to it, or the message or an address is invalid.
	// Everything else (4xx, a relay that cannot be reached, timeouts, TLS or
	// authentication trouble with the relay) is temporary.
	Permanent bool
	// Code is the SMTP reply code when the relay answered, else 0.
	Code int
	Err  error
}

func (e *Error) Error() string {
	kind := "temporary"
	if e.Permanent {
		kind = "permanent"
	}
	return fmt.Sprintf("mail: %s failure: %v", kind, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a delivery failure that retrying cannot
// fix. Errors that do not come from this package are not permanent: the
// outbox retries them and gives up by its own attempt limit.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

func permanent(format string, args ...any) error {
	return &Error{Permanent: true, Err: fmt.Errorf(format, args...)}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+=-]{0,199}$`)

// ownHeaders are written by this package from Message fields; Headers may
// not set them.
var ownHeaders = map[string]bool{
	"From": true, "To": true, "Cc": true, "Bcc": true, "Sender": true,
	"Subject": true, "Date": true, "Message-Id": true, "Mime-Version": true,
	"Content-Type": true, "Content-Transfer-Encoding": true, "Content-Disposition": true,
	"Return-Path": true,
}

var headerName = regexp.MustCompile(`^[!-9;-~]+$`) // RFC 5322 ftext

// validate checks m and fills in the sender; the result is ready to render.
func (m Message) validate(defaultFrom Address) (Message, error) {
	if !idPattern.MatchString(m.ID) {
		return m, permanent("%w: ID %q must be 1-200 letters, digits or . _ - + =", ErrInvalidMessage, m.ID)
	}
	if m.From.Email == "" {
		m.From = defaultFrom
	}
	for _, a := range []struct {
		role string
		addr Address
	}{{"sender", m.From}, {"recipient", m.To}} {
		if err := checkAddress(a.addr); err != nil {
			return m, permanent("%w: %s %q: %v", ErrInvalidAddress, a.role, a.addr.Email, err)
		}
	}
	m.Subject = strings.Join(strings.Fields(m.Subject), " ")
	if m.Subject == "" {
		return m, permanent("%w: subject is empty", ErrInvalidMessage)
	}
	if strings.TrimSpace(m.Text) == "" {
		return m, permanent("%w: text body is empty", ErrInvalidMessage)
	}
	for k, v := range m.Headers {
		canon := textproto.CanonicalMIMEHeaderKey(k)
		if !headerName.MatchString(k) || ownHeaders[canon] || strings.HasPrefix(canon, "Content-") {
			return m, permanent("%w: header %q cannot be set", ErrInvalidMessage, k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return m, permanent("%w: header %q has a line break", ErrInvalidMessage, k)
		}
	}
	return m, nil
}

// checkAddress accepts exactly one bare addr-spec with a domain.
func checkAddress(a Address) error {
	if a.Email == "" {
		return errors.New("empty")
	}
	if strings.ContainsAny(a.Name, "\r\n") {
		return errors.New("name has a line break")
	}
	p, err := netmail.ParseAddress(a.Email)
	if err != nil {
		return err
	}
	if p.Address != a.Email || p.Name != "" {
		return errors.New("must be a bare address like name@example.com")
	}
	return nil
}

// ParseAddress reads "Name <email>" or a bare email into an Address.
func ParseAddress(s string) (Address, error) {
	p, err := netmail.ParseAddress(s)
	if err != nil {
		return Address{}, fmt.Errorf("%w: %q: %v", ErrInvalidAddress, s, err)
	}
	return Address{Name: p.Name, Email: p.Address}, nil
}

// messageIDDomain is the right-hand side of the Message-ID header.
func messageIDDomain(from Address) string {
	if i := strings.LastIndexByte(from.Email, '@'); i >= 0 && i < len(from.Email)-1 {
		return from.Email[i+1:]
	}
	return "dooros.invalid"
}
