package mail

import (
	"bytes"
	"fmt"
	"maps"
	netmail "net/mail"
	"net/textproto"
	"slices"
	"strings"
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
	from, err := headerAddress(m.From)
	if err != nil {
		return nil, permanent("%w: sender %q: %v", ErrInvalidAddress, m.From.Email, err)
	}
	g.FromMailAddress(from)
	to, err := headerAddress(m.To)
	if err != nil {
		return nil, permanent("%w: recipient %q: %v", ErrInvalidAddress, m.To.Email, err)
	}
	g.ToMailAddress(to)
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

// headerAddress checks the address itself and pairs it with the display
// name as a value: formatting `"name" <addr>` and parsing it back (go-mail's
// *Format methods) fails for names holding quotes, commas or brackets,
// which people's names may (`Ann (x","y) Lee`), and would fail the email for
// good. net/mail quotes or encodes the name when the header is written.
func headerAddress(a Address) (*netmail.Address, error) {
	addr, err := netmail.ParseAddress(a.Email)
	if err != nil {
		return nil, err
	}
	if addr.Name != "" || addr.Address != strings.TrimSpace(a.Email) {
		return nil, fmt.Errorf("not a bare address")
	}
	name := strings.Join(strings.Fields(a.Name), " ") // one line, whatever came in
	return &netmail.Address{Name: name, Address: addr.Address}, nil
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
