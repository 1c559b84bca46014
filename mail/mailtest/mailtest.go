// Package mailtest runs a real SMTP server in the test process, so tests of
// anything that sends email can read what actually arrived: envelope,
// headers, text and HTML parts, links.
//
//	srv := mailtest.NewServer(t, mailtest.WithAuth("u", "p"), mailtest.WithSTARTTLS())
//	sender, _ := mail.NewSMTPSender(srv.URL(), "DOOR OS <door@example.com>")
//	… send …
//	got := srv.Wait(t, 1)[0].MustParse(t)
package mailtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"html"
	"io"
	"log"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/dooros/dooros/mail"
)

// Server is an SMTP server on 127.0.0.1 that keeps every message it accepts.
type Server struct {
	// Addr is host:port of the listener.
	Addr string

	srv        *smtp.Server
	user, pass string
	starttls   bool
	implicit   bool
	certPool   *x509.CertPool

	mu       sync.Mutex
	received []Received
	replies  map[string]*smtp.SMTPError // lower-cased recipient → reply
	arrived  chan struct{}              // closed and replaced on every message
}

// Received is one accepted message.
type Received struct {
	// Envelope, as given in MAIL FROM and RCPT TO.
	From string
	To   []string
	// Data is the message exactly as transmitted after DATA.
	Data []byte
	// User is the authenticated user name, "" without AUTH.
	User string
	// TLS reports whether the session was encrypted (STARTTLS or implicit).
	TLS bool
}

// Option configures a Server.
type Option func(*Server)

// WithAuth requires AUTH PLAIN with this user and password before MAIL.
// Without WithSTARTTLS the server accepts AUTH on the plain connection.
func WithAuth(user, pass string) Option {
	return func(s *Server) { s.user, s.pass = user, pass }
}

// WithSTARTTLS offers STARTTLS with a self-signed certificate for
// 127.0.0.1 and localhost, generated at start.
func WithSTARTTLS() Option {
	return func(s *Server) { s.starttls = true }
}

// WithImplicitTLS speaks TLS from the first byte (smtps), with a
// self-signed certificate for 127.0.0.1 and localhost.
func WithImplicitTLS() Option {
	return func(s *Server) { s.implicit = true }
}

// WithRecipientReply makes RCPT TO:<rcpt> fail with the reply code (4xx or
// 5xx); see also Server.SetRecipientReply.
func WithRecipientReply(rcpt string, code int) Option {
	return func(s *Server) { s.setReply(rcpt, code) }
}

// NewServer starts a server on 127.0.0.1:0 and stops it when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{replies: map[string]*smtp.SMTPError{}, arrived: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout = 30 * time.Second
	srv.WriteTimeout = 30 * time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.MaxRecipients = 50
	srv.AllowInsecureAuth = !s.starttls
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var cfg *tls.Config
	if s.starttls || s.implicit {
		var err error
		if cfg, s.certPool, err = selfSigned(); err != nil {
			t.Fatalf("mailtest: certificate: %v", err)
		}
	}
	if s.starttls {
		srv.TLSConfig = cfg
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mailtest: listen: %v", err)
	}
	if s.implicit {
		ln = tls.NewListener(ln, cfg)
	}
	s.srv, s.Addr = srv, ln.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		// Close only knows the listener once Serve has run: close it too.
		_ = srv.Close()
		_ = ln.Close()
		<-done
	})
	return s
}

// URL is an smtp:// URL for mail.NewSMTPSender that reaches this server:
// with the credentials of WithAuth, starttls=required and
// insecure_skip_verify=true with WithSTARTTLS, smtps:// with
// WithImplicitTLS, starttls=none otherwise.
func (s *Server) URL() string {
	u := url.URL{Scheme: "smtp", Host: s.Addr}
	if s.user != "" {
		u.User = url.UserPassword(s.user, s.pass)
	}
	q := url.Values{}
	if s.implicit {
		u.Scheme = "smtps"
		q.Set("insecure_skip_verify", "true")
	} else if s.starttls {
		q.Set("starttls", "required")
		q.Set("insecure_skip_verify", "true")
	} else {
		q.Set("starttls", "none")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// CertPool holds the self-signed certificate of WithSTARTTLS or
// WithImplicitTLS, nil without.
func (s *Server) CertPool() *x509.CertPool { return s.certPool }

// SetRecipientReply makes every later RCPT TO:<rcpt> fail with code (4xx or
// 5xx); code 0 accepts the recipient again. A test can so fail a first
// attempt temporarily and let the retry through.
func (s *Server) SetRecipientReply(rcpt string, code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setReply(rcpt, code)
}

func (s *Server) setReply(rcpt string, code int) {
	key := strings.ToLower(rcpt)
	if code == 0 {
		delete(s.replies, key)
		return
	}
	s.replies[key] = &smtp.SMTPError{
		Code:         code,
		EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1},
		Message:      fmt.Sprintf("mailtest: recipient %s refused", rcpt),
	}
}

// Messages returns the messages received so far, oldest first.
func (s *Server) Messages() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

// MessagesTo returns the received messages with rcpt among the envelope
// recipients, oldest first.
func (s *Server) MessagesTo(rcpt string) []Received {
	var out []Received
	for _, m := range s.Messages() {
		for _, to := range m.To {
			if strings.EqualFold(to, rcpt) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Wait returns the received messages once there are at least n, failing
// the test after 10 seconds.
func (s *Server) Wait(t testing.TB, n int) []Received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := s.WaitContext(ctx, n)
	if err != nil {
		t.Fatalf("mailtest: %v", err)
	}
	return msgs
}

// WaitContext is Wait with the deadline of ctx.
func (s *Server) WaitContext(ctx context.Context, n int) ([]Received, error) {
	for {
		s.mu.Lock()
		got, arrived := len(s.received), s.arrived
		if got >= n {
			msgs := append([]Received(nil), s.received...)
			s.mu.Unlock()
			return msgs, nil
		}
		s.mu.Unlock()
		select {
		case <-arrived:
		case <-ctx.Done():
			return nil, fmt.Errorf("waited for %d messages, got %d: %w", n, got, ctx.Err())
		}
	}
}

func (s *Server) deliver(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, r)
	close(s.arrived)
	s.arrived = make(chan struct{})
}

// session implements smtp.Session and smtp.AuthSession.
type session struct {
	srv  *Server
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (se *session) AuthMechanisms() []string {
	if se.srv.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (se *session) Auth(mech string) (sasl.Server, error) {
	if se.srv.user == "" || mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if identity != "" && identity != user {
			return smtp.ErrAuthFailed
		}
		if user != se.srv.user || pass != se.srv.pass {
			return smtp.ErrAuthFailed
		}
		se.user = user
		return nil
	}), nil
}

func (se *session) Mail(from string, _ *smtp.MailOptions) error {
	if se.srv.user != "" && se.user == "" {
		return smtp.ErrAuthRequired
	}
	se.from = from
	return nil
}

func (se *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	se.srv.mu.Lock()
	reply := se.srv.replies[strings.ToLower(to)]
	se.srv.mu.Unlock()
	if reply != nil {
		return reply
	}
	se.to = append(se.to, to)
	return nil
}

func (se *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := se.conn.TLSConnectionState()
	se.srv.deliver(Received{From: se.from, To: se.to, Data: data, User: se.user, TLS: isTLS})
	return nil
}

func (se *session) Reset() { se.from, se.to = "", nil }

func (se *session) Logout() error { return nil }

// Email is a received message taken apart.
type Email struct {
	mail.Parsed
	// Links are the distinct http(s) URLs of the HTML hrefs and the text,
	// in order of appearance.
	Links []string
}

// Parse reads the message: headers, the text and HTML parts of a
// multipart/alternative (or single-part) body, and its links.
func (r Received) Parse() (Email, error) {
	p, err := mail.Parse(r.Data)
	if err != nil {
		return Email{}, err
	}
	return Email{Parsed: p, Links: Links(p.HTML, p.Text)}, nil
}

// MustParse is Parse failing the test on error.
func (r Received) MustParse(t testing.TB) Email {
	t.Helper()
	e, err := r.Parse()
	if err != nil {
		t.Fatalf("mailtest: parse message: %v\n%s", err, r.Data)
	}
	return e
}

var (
	hrefPattern = regexp.MustCompile(`(?i)href\s*=\s*"([^"]*)"`)
	urlPattern  = regexp.MustCompile(`https?://[^\s<>"]+`)
)

// Links returns the distinct http(s) URLs in the href attributes of
// htmlBody and in text, in order of appearance.
func Links(htmlBody, text string) []string {
	var links []string
	seen := map[string]bool{}
	add := func(u string) {
		u = strings.TrimRight(u, ".,;:!?)")
		if (strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "https://")) && !seen[u] {
			seen[u] = true
			links = append(links, u)
		}
	}
	for _, m := range hrefPattern.FindAllStringSubmatch(htmlBody, -1) {
		add(html.UnescapeString(m[1]))
	}
	for _, u := range urlPattern.FindAllString(text, -1) {
		add(u)
	}
	return links
}

// selfSigned makes a certificate for 127.0.0.1, ::1 and localhost.
func selfSigned() (*tls.Config, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "mailtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, pool, nil
}
