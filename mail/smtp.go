package mail

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTPSender delivers messages through an SMTP relay, one connection per
// message. It is safe for concurrent use.
type SMTPSender struct {
	host       string
	port       int
	implicit   bool // smtps: TLS from the first byte
	starttls   gomail.TLSPolicy
	skipVerify bool
	user, pass string
	auth       gomail.SMTPAuthType // "" without credentials
	timeout    time.Duration
	from       Address
	redacted   string
}

// Default ports: message submission (RFC 6409) with STARTTLS, and
// submission over implicit TLS (RFC 8314).
const (
	defaultSMTPPort  = 587
	defaultSMTPSPort = 465
	defaultTimeout   = 30 * time.Second
)

var authTypes = map[string]gomail.SMTPAuthType{
	"plain":         gomail.SMTPAuthPlain,
	"login":         gomail.SMTPAuthLogin,
	"cram-md5":      gomail.SMTPAuthCramMD5,
	"scram-sha-1":   gomail.SMTPAuthSCRAMSHA1,
	"scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
}

// NewSMTPSender configures delivery through the relay at rawURL:
//
//	smtp://user:pass@host:port   STARTTLS when offered (default port 587)
//	smtps://user:pass@host:port  implicit TLS (default port 465)
//
// Options in the query string:
//
//	starttls=opportunistic|required|none   smtp:// only; default opportunistic
//	insecure_skip_verify=true              accept any certificate (test relays only)
//	from=Name <addr>                       default sender
//	auth=plain|login|cram-md5|scram-sha-1|scram-sha-256
//	                                       mechanism; default: the best the relay offers
//	timeout=30s                            per-connection timeout
//
// User and password are percent-decoded. PLAIN and LOGIN are refused on a
// connection that is not encrypted (except to localhost), so a password
// never crosses the network in the clear. from, when not empty, takes
// precedence over the from= option; one of the two is required.
func NewSMTPSender(rawURL string, from string) (*SMTPSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Error repeats the URL, password included: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("mail: SMTP URL: %v", err)
	}
	s := &SMTPSender{starttls: gomail.TLSOpportunistic, timeout: defaultTimeout, redacted: u.Redacted()}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.port = defaultSMTPPort
	case "smtps":
		s.implicit, s.port, s.starttls = true, defaultSMTPSPort, gomail.NoTLS
	case "":
		return nil, errors.New("mail: SMTP URL: missing scheme (want smtp:// or smtps://)")
	default:
		return nil, fmt.Errorf("mail: SMTP URL: unknown scheme %q (want smtp or smtps)", u.Scheme)
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return nil, errors.New("mail: SMTP URL: missing host (want smtp://host:port)")
	}
	s.host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("mail: SMTP URL: bad port %q (want 1-65535)", p)
		}
		s.port = n
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, errors.New("mail: SMTP URL: bad port \"\" (want 1-65535)")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("mail: SMTP URL: unexpected path %q", u.Path)
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
		if s.user == "" {
			return nil, errors.New("mail: SMTP URL: password without user name")
		}
		s.auth = gomail.SMTPAuthOpportunistic
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("mail: SMTP URL: bad query: %v", err)
	}
	for key, values := range q {
		if len(values) != 1 {
			return nil, fmt.Errorf("mail: SMTP URL: option %s given %d times", key, len(values))
		}
		if err := s.setOption(key, values[0]); err != nil {
			return nil, fmt.Errorf("mail: SMTP URL: %w", err)
		}
	}
	if from != "" {
		if s.from, err = ParseAddress(from); err != nil {
			return nil, fmt.Errorf("mail: sender: %w", err)
		}
	}
	if s.from.Email == "" {
		return nil, errors.New("mail: no default sender: pass one or set from= in the SMTP URL")
	}
	return s, nil
}

func (s *SMTPSender) setOption(key, value string) error {
	switch key {
	case "starttls":
		if s.implicit {
			return errors.New("option starttls does not apply to smtps (TLS is implicit)")
		}
		switch value {
		case "opportunistic":
			s.starttls = gomail.TLSOpportunistic
		case "required":
			s.starttls = gomail.TLSMandatory
		case "none":
			s.starttls = gomail.NoTLS
		default:
			return fmt.Errorf("bad option starttls=%q (want required, opportunistic or none)", value)
		}
	case "insecure_skip_verify":
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("bad option insecure_skip_verify=%q (want true or false)", value)
		}
		s.skipVerify = b
	case "from":
		a, err := ParseAddress(value)
		if err != nil {
			return fmt.Errorf("bad option from: %w", err)
		}
		s.from = a
	case "auth":
		t, ok := authTypes[strings.ToLower(value)]
		if !ok {
			return fmt.Errorf("bad option auth=%q (want plain, login, cram-md5, scram-sha-1 or scram-sha-256)", value)
		}
		if s.user == "" {
			return errors.New("option auth needs a user in the URL")
		}
		s.auth = t
	case "timeout":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 {
			return fmt.Errorf("bad option timeout=%q (want a duration such as 30s)", value)
		}
		s.timeout = d
	default:
		return fmt.Errorf("unknown option %q (known: starttls, insecure_skip_verify, from, auth, timeout)", key)
	}
	return nil
}

// String is the relay URL with the password masked, for logs.
func (s *SMTPSender) String() string { return s.redacted }

// From is the default sender.
func (s *SMTPSender) From() Address { return s.from }

// client builds a go-mail client per message: go-mail's Client changes its
// own state while authenticating, so sharing one across goroutines races.
// go-mail honours ctx only while dialing; dial closes the connection when ctx
// ends, so a cancelled Send returns at once instead of after the timeout.
func (s *SMTPSender) client(ctx context.Context, timeout time.Duration) (*gomail.Client, func(), error) {
	tlsConfig := &tls.Config{
		ServerName:         s.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.skipVerify, // opt-in by URL, for test relays
	}
	var stops []func() bool
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		if s.implicit {
			tc := tls.Client(conn, tlsConfig)
			if err := tc.HandshakeContext(dctx); err != nil {
				conn.Close()
				return nil, err
			}
			conn = tc
		}
		stops = append(stops, context.AfterFunc(ctx, func() { conn.Close() }))
		return conn, nil
	}
	release := func() {
		for _, stop := range stops {
			stop()
		}
	}
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(timeout),
		gomail.WithTLSConfig(tlsConfig),
		gomail.WithDialContextFunc(dial),
	}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(s.starttls))
	}
	switch s.auth {
	case "":
	case gomail.SMTPAuthOpportunistic:
		opts = append(opts, gomail.WithOpportunisticSMTPAuth(
			gomail.SMTPAuthSCRAMSHA256, gomail.SMTPAuthSCRAMSHA1, gomail.SMTPAuthPlain,
			gomail.SMTPAuthLogin, gomail.SMTPAuthCramMD5),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	default:
		opts = append(opts, gomail.WithSMTPAuth(s.auth), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	return c, release, err
}

// Send delivers m. A failure is an *Error; see IsPermanent.
func (s *SMTPSender) Send(ctx context.Context, m Message) error {
	m, err := m.validate(s.from)
	if err != nil {
		return err
	}
	g, err := m.build(time.Now())
	if err != nil {
		return err
	}
	timeout := s.timeout
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(deadline))
	}
	if err := ctx.Err(); err != nil || timeout <= 0 {
		return &Error{Err: cmp.Or(err, context.DeadlineExceeded)}
	}
	c, release, err := s.client(ctx, timeout)
	if err != nil {
		return &Error{Err: fmt.Errorf("smtp client for %s: %w", s.redacted, err)}
	}
	err = c.DialAndSendWithContext(ctx, g)
	release()
	if g.IsDelivered() {
		// The relay accepted the message; a failing RSET or QUIT afterwards
		// must not make the outbox send it again.
		return nil
	}
	if err == nil {
		return &Error{Err: errors.New("relay did not confirm delivery")}
	}
	if ctx.Err() != nil {
		return &Error{Err: fmt.Errorf("%w: %w", ctx.Err(), err)}
	}
	return classify(err)
}

// classify turns a go-mail error into an *Error. Only an answer about this
// message (5xx to MAIL, RCPT or DATA) or an unusable message is permanent;
// failing to reach, secure or log in to the relay is the relay's problem and
// is retried.
func classify(err error) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return &Error{Err: err}
	}
	code := se.ErrorCode()
	switch {
	case code >= 500:
		return &Error{Permanent: true, Code: code, Err: err}
	case code >= 400:
		return &Error{Code: code, Err: err}
	}
	switch se.Reason {
	case gomail.ErrGetSender, gomail.ErrGetRcpts:
		return &Error{Permanent: true, Err: fmt.Errorf("%w: %w", ErrInvalidAddress, err)}
	case gomail.ErrNoUnencoded:
		return &Error{Permanent: true, Err: fmt.Errorf("%w: %w", ErrInvalidMessage, err)}
	}
	return &Error{Err: err}
}
