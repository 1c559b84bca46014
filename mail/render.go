package mail

import (
	"bytes"
	"maps"
	"net/textproto"
	"slices"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// userAgent replaces go-mail's default, which names the library and its
// version to every recipient.
const userAgent = "DOOR OS"

// build turns a validated message into a go-mail message. The Mailbox and
// SMTPSender both use it, so the local outbox shows exactly the bytes a
// relay would receive.
func (m Message) build(now time.Time) (*gomail.Msg, error) {
	g := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	if err := g.FromFormat(m.From.Name, m.From.Email); err != nil {
		return nil, permanent("%w: sender %q: %v", ErrInvalidAddress, m.From.Email, err)
	}
	if err := g.AddToFormat(m.To.Name, m.To.Email); err != nil {
		return nil, permanent("%w: recipient %q: %v", ErrInvalidAddress, m.To.Email, err)
	}
	g.Subject(m.Subject)
	g.SetMessageIDWithValue(m.ID + "@" + messageIDDomain(m.From))
	date := m.Date
	if date.IsZero() {
		date = now
	}
	g.SetDateWithValue(date)
	g.SetUserAgent(userAgent)
	// RFC 3834: keeps vacation responders from answering a login code.
	g.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	for _, k := range slices.Sorted(maps.Keys(m.Headers)) {
		g.SetGenHeader(gomail.Header(textproto.CanonicalMIMEHeaderKey(k)), m.Headers[k])
	}
	g.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		g.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return g, nil
}

// render writes m as an RFC 5322 message.
func (m Message) render(now time.Time) ([]byte, error) {
	g, err := m.build(now)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := g.WriteTo(&buf); err != nil {
		return nil, permanent("%w: %v", ErrInvalidMessage, err)
	}
	return buf.Bytes(), nil
}
