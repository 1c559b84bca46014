package mail_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
)

const testFrom = "DOOR OS <door@example.com>"

func testMessage(id string) mail.Message {
	return mail.Message{
		ID:      id,
		To:      mail.Address{Name: "Ada Lövelace", Email: "ada@example.com"},
		Subject: "Welcome to Maple Court — your access",
		Text:    "Hello Ada,\n\nOpen the DOOR app: https://door.example.com/app?email=ada%40example.com\n\nA long line that goes on and on well past the seventy-six characters quoted-printable allows per line, with ünïcödé.\n",
		HTML:    `<p>Hello Ada,</p><p><a href="https://door.example.com/app?email=ada%40example.com&amp;x=1">Open the app</a></p>`,
		Headers: map[string]string{"X-DoorOS-Kind": "welcome"},
	}
}

func mustSender(t *testing.T, rawURL string) *mail.SMTPSender {
	t.Helper()
	s, err := mail.NewSMTPSender(rawURL, testFrom)
	if err != nil {
		t.Fatalf("NewSMTPSender(%q): %v", rawURL, err)
	}
	return s
}

func TestSMTPSender(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		want := testMessage("01JOUTBOX42")
		if err := mustSender(t, srv.URL()).Send(context.Background(), want); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r := srv.Wait(t, 1)[0]
		if got, want := r.From, "door@example.com"; got != want {
			t.Errorf("MAIL FROM = %q, want %q", got, want)
		}
		if got := r.To; len(got) != 1 || got[0] != "ada@example.com" {
			t.Errorf("RCPT TO = %q, want [ada@example.com]", got)
		}
		e := r.MustParse(t)
		if got, want := e.Header.Get("Message-Id"), "<01JOUTBOX42@example.com>"; got != want {
			t.Errorf("Message-ID = %q, want %q", got, want)
		}
		if got, want := e.ID, want.ID; got != want {
			t.Errorf("ID = %q, want %q", got, want)
		}
		if got, want := e.From, (mail.Address{Name: "DOOR OS", Email: "door@example.com"}); got != want {
			t.Errorf("From = %+v, want %+v", got, want)
		}
		if got := e.To; got != want.To {
			t.Errorf("To = %+v, want %+v", got, want.To)
		}
		if got := e.Subject; got != want.Subject {
			t.Errorf("Subject = %q, want %q", got, want.Subject)
		}
		if got := e.Text; got != want.Text {
			t.Errorf("Text = %q, want %q", got, want.Text)
		}
		if got := e.HTML; got != want.HTML {
			t.Errorf("HTML = %q, want %q", got, want.HTML)
		}
		if !strings.HasPrefix(e.Header.Get("Content-Type"), "multipart/alternative") {
			t.Errorf("Content-Type = %q, want multipart/alternative", e.Header.Get("Content-Type"))
		}
		if got, want := e.Headers["X-Dooros-Kind"], "welcome"; got != want {
			t.Errorf("X-DoorOS-Kind = %q, want %q", got, want)
		}
		if got, want := e.Header.Get("Auto-Submitted"), "auto-generated"; got != want {
			t.Errorf("Auto-Submitted = %q, want %q", got, want)
		}
		if time.Since(e.Date) > time.Minute {
			t.Errorf("Date = %v, want about now", e.Date)
		}
		if got, want := e.Links, []string{"https://door.example.com/app?email=ada%40example.com&x=1", "https://door.example.com/app?email=ada%40example.com"}; strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("Links = %q, want %q", got, want)
		}
	})

	t.Run("OKTextOnly", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		m := testMessage("text-only")
		m.HTML = ""
		if err := mustSender(t, srv.URL()).Send(context.Background(), m); err != nil {
			t.Fatalf("Send: %v", err)
		}
		e := srv.Wait(t, 1)[0].MustParse(t)
		if e.Text != m.Text || e.HTML != "" {
			t.Errorf("got Text %q HTML %q, want Text %q and no HTML", e.Text, e.HTML, m.Text)
		}
	})

	t.Run("OKAuthSTARTTLS", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithAuth("relay", "s3cret:/@"), mailtest.WithSTARTTLS())
		if err := mustSender(t, srv.URL()).Send(context.Background(), testMessage("auth-tls")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		r := srv.Wait(t, 1)[0]
		if r.User != "relay" || !r.TLS {
			t.Errorf("User = %q TLS = %v, want relay over TLS", r.User, r.TLS)
		}
	})

	t.Run("OKAuthSMTPS", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithAuth("relay", "pw"), mailtest.WithImplicitTLS())
		if err := mustSender(t, srv.URL()).Send(context.Background(), testMessage("smtps")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r := srv.Wait(t, 1)[0]; r.User != "relay" || !r.TLS {
			t.Errorf("User = %q TLS = %v, want relay over TLS", r.User, r.TLS)
		}
	})

	t.Run("OKAuthLocalhostPlain", func(t *testing.T) {
		// PLAIN without TLS is only allowed to localhost.
		srv := mailtest.NewServer(t, mailtest.WithAuth("relay", "pw"))
		if err := mustSender(t, srv.URL()).Send(context.Background(), testMessage("auth-plain")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r := srv.Wait(t, 1)[0]; r.User != "relay" || r.TLS {
			t.Errorf("User = %q TLS = %v, want relay without TLS", r.User, r.TLS)
		}
	})

	t.Run("OKOpportunisticSTARTTLS", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithSTARTTLS())
		s := mustSender(t, "smtp://"+srv.Addr+"?insecure_skip_verify=true")
		if err := s.Send(context.Background(), testMessage("opportunistic")); err != nil {
			t.Fatalf("Send: %v", err)
		}
		if r := srv.Wait(t, 1)[0]; !r.TLS {
			t.Error("TLS = false, want STARTTLS used when offered")
		}
	})

	t.Run("ErrUntrustedCertificate", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithSTARTTLS())
		s := mustSender(t, "smtp://"+srv.Addr+"?starttls=required")
		err := s.Send(context.Background(), testMessage("untrusted"))
		if err == nil {
			t.Fatal("Send accepted a self-signed certificate without insecure_skip_verify")
		}
		if mail.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want false: relay setup, not the message", err)
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("server received %d messages", n)
		}
	})

	t.Run("ErrSTARTTLSRequiredNotOffered", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		err := mustSender(t, "smtp://"+srv.Addr+"?starttls=required").Send(context.Background(), testMessage("no-tls"))
		if err == nil {
			t.Fatal("Send went on without the required STARTTLS")
		}
	})

	t.Run("ErrWrongPassword", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithAuth("relay", "right"), mailtest.WithSTARTTLS())
		u := strings.Replace(srv.URL(), ":right@", ":wrong@", 1)
		err := mustSender(t, u).Send(context.Background(), testMessage("wrong-pass"))
		if err == nil {
			t.Fatal("Send succeeded with a wrong password")
		}
		if mail.IsPermanent(err) {
			t.Errorf("IsPermanent(%v) = true, want false (relay configuration)", err)
		}
	})

	t.Run("ErrPermanent5xx", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithRecipientReply("ada@example.com", 550))
		err := mustSender(t, srv.URL()).Send(context.Background(), testMessage("rejected"))
		if !mail.IsPermanent(err) {
			t.Fatalf("IsPermanent(%v) = false, want true", err)
		}
		var me *mail.Error
		if !errors.As(err, &me) || me.Code != 550 {
			t.Errorf("error %v: want *mail.Error with Code 550", err)
		}
	})

	t.Run("ErrTemporary4xxThenRetryOK", func(t *testing.T) {
		srv := mailtest.NewServer(t, mailtest.WithRecipientReply("ada@example.com", 451))
		s := mustSender(t, srv.URL())
		err := s.Send(context.Background(), testMessage("retried"))
		if err == nil || mail.IsPermanent(err) {
			t.Fatalf("IsPermanent(%v) = true or no error, want a temporary error", err)
		}
		var me *mail.Error
		if !errors.As(err, &me) || me.Code != 451 {
			t.Errorf("error %v: want *mail.Error with Code 451", err)
		}
		srv.SetRecipientReply("ada@example.com", 0)
		if err := s.Send(context.Background(), testMessage("retried")); err != nil {
			t.Fatalf("retry: %v", err)
		}
		if got := srv.Wait(t, 1)[0].MustParse(t).ID; got != "retried" {
			t.Errorf("ID = %q, want retried", got)
		}
	})

	t.Run("ErrConnectionRefused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = mustSender(t, "smtp://"+addr+"?starttls=none").Send(context.Background(), testMessage("refused"))
		if err == nil || mail.IsPermanent(err) {
			t.Fatalf("IsPermanent(%v) = true or no error, want a temporary error", err)
		}
	})

	t.Run("ErrTimeout", func(t *testing.T) {
		// A listener that accepts and never greets.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err = mustSender(t, "smtp://"+ln.Addr().String()).Send(ctx, testMessage("timeout"))
		if err == nil || mail.IsPermanent(err) {
			t.Fatalf("IsPermanent(%v) = true or no error, want a temporary error", err)
		}
	})

	t.Run("ErrInvalidRecipient", func(t *testing.T) {
		srv := mailtest.NewServer(t)
		m := testMessage("bad-rcpt")
		m.To.Email = "not an address"
		err := mustSender(t, srv.URL()).Send(context.Background(), m)
		if !mail.IsPermanent(err) || !errors.Is(err, mail.ErrInvalidAddress) {
			t.Fatalf("err = %v, want permanent ErrInvalidAddress", err)
		}
	})
}

func TestMessageValidation(t *testing.T) {
	srv := mailtest.NewServer(t)
	s := mustSender(t, srv.URL())
	for _, tt := range []struct {
		name   string
		change func(*mail.Message)
		want   error
	}{
		{"ErrIDRequired", func(m *mail.Message) { m.ID = "" }, mail.ErrInvalidMessage},
		{"ErrIDPath", func(m *mail.Message) { m.ID = "../x" }, mail.ErrInvalidMessage},
		{"ErrIDAt", func(m *mail.Message) { m.ID = "a@b" }, mail.ErrInvalidMessage},
		{"ErrSubjectRequired", func(m *mail.Message) { m.Subject = " \n" }, mail.ErrInvalidMessage},
		{"ErrTextRequired", func(m *mail.Message) { m.Text = "" }, mail.ErrInvalidMessage},
		{"ErrHeaderOverride", func(m *mail.Message) { m.Headers = map[string]string{"message-id": "<x@y>"} }, mail.ErrInvalidMessage},
		{"ErrHeaderContent", func(m *mail.Message) { m.Headers = map[string]string{"Content-Type": "text/plain"} }, mail.ErrInvalidMessage},
		{"ErrHeaderInjection", func(m *mail.Message) { m.Headers = map[string]string{"X-A": "1\r\nBcc: evil@example.com"} }, mail.ErrInvalidMessage},
		{"ErrRecipientWithName", func(m *mail.Message) { m.To.Email = "Eve <eve@example.com>" }, mail.ErrInvalidAddress},
		{"ErrRecipientTwo", func(m *mail.Message) { m.To.Email = "a@example.com, b@example.com" }, mail.ErrInvalidAddress},
		{"ErrRecipientNameNewline", func(m *mail.Message) { m.To.Name = "Eve\r\nBcc: x@example.com" }, mail.ErrInvalidAddress},
		{"ErrSender", func(m *mail.Message) { m.From.Email = "door@" }, mail.ErrInvalidAddress},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := testMessage("valid")
			tt.change(&m)
			err := s.Send(context.Background(), m)
			if !errors.Is(err, tt.want) || !mail.IsPermanent(err) {
				t.Errorf("Send = %v, want permanent %v", err, tt.want)
			}
		})
	}
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server received %d invalid messages", n)
	}
	t.Run("OKSubjectFolded", func(t *testing.T) {
		m := testMessage("folded")
		m.Subject = "Line one\r\nBcc: evil@example.com"
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		e := srv.Wait(t, 1)[0].MustParse(t)
		if got, want := e.Subject, "Line one Bcc: evil@example.com"; got != want {
			t.Errorf("Subject = %q, want %q", got, want)
		}
		if e.Header.Get("Bcc") != "" {
			t.Error("Bcc header injected")
		}
	})
}

func TestNewSMTPSender(t *testing.T) {
	for _, tt := range []struct {
		name, url, from string
		wantErr         string // substring; "" means OK
	}{
		{"OK", "smtp://user:pass@mail.example.com:2525", testFrom, ""},
		{"OKDefaultPort", "smtp://mail.example.com", testFrom, ""},
		{"OKSMTPS", "smtps://u:p@mail.example.com", testFrom, ""},
		{"ErrAuthWithoutUser", "smtp://mail.example.com?auth=login", testFrom, "auth needs a user"},
		{"OKAllOptions", "smtp://u:p@mail.example.com:25?starttls=none&insecure_skip_verify=false&timeout=5s&auth=login", testFrom, ""},
		{"OKFromOption", "smtp://mail.example.com?from=DOOR+%3Cdoor%40example.com%3E", "", ""},
		{"OKIPv6", "smtp://[::1]:25", testFrom, ""},
		{"ErrUnknownScheme", "http://mail.example.com", testFrom, `unknown scheme "http"`},
		{"ErrNoScheme", "mail.example.com:25", testFrom, "scheme"},
		{"ErrMissingHost", "smtp://:25", testFrom, "missing host"},
		{"ErrMissingHostUser", "smtp://user:pass@", testFrom, "missing host"},
		{"ErrBadPort", "smtp://mail.example.com:abc", testFrom, "port"},
		{"ErrPortRange", "smtp://mail.example.com:70000", testFrom, "bad port"},
		{"ErrPortZero", "smtp://mail.example.com:0", testFrom, "bad port"},
		{"ErrEmptyPort", "smtp://mail.example.com:", testFrom, "bad port"},
		{"ErrPath", "smtp://mail.example.com/inbox", testFrom, "path"},
		{"ErrUnknownOption", "smtp://mail.example.com?tls=yes", testFrom, `unknown option "tls"`},
		{"ErrBadSTARTTLS", "smtp://mail.example.com?starttls=maybe", testFrom, `starttls="maybe"`},
		{"ErrSTARTTLSOnSMTPS", "smtps://mail.example.com?starttls=required", testFrom, "starttls does not apply"},
		{"ErrBadSkipVerify", "smtp://mail.example.com?insecure_skip_verify=yes please", testFrom, "insecure_skip_verify"},
		{"ErrBadTimeout", "smtp://mail.example.com?timeout=-1s", testFrom, "timeout"},
		{"ErrBadAuth", "smtp://u:p@mail.example.com?auth=kerberos", testFrom, "auth"},
		{"ErrRepeatedOption", "smtp://mail.example.com?starttls=none&starttls=required", testFrom, "2 times"},
		{"ErrNoFrom", "smtp://mail.example.com", "", "no default sender"},
		{"ErrBadFrom", "smtp://mail.example.com", "not an address", "sender"},
		{"ErrBadFromOption", "smtp://mail.example.com?from=nope", "", "from"},
		{"ErrPasswordWithoutUser", "smtp://:pw@mail.example.com", testFrom, "without user"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := mail.NewSMTPSender(tt.url, tt.from)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("NewSMTPSender(%q) = %v", tt.url, err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("NewSMTPSender(%q) accepted, want error containing %q", tt.url, tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("NewSMTPSender(%q) = %v, want error containing %q", tt.url, err, tt.wantErr)
			case err == nil && strings.Contains(s.String(), "pass@"):
				t.Errorf("String() = %q shows the password", s.String())
			}
		})
	}
	t.Run("ErrNoPasswordInError", func(t *testing.T) {
		_, err := mail.NewSMTPSender("smtp://user:hunter2@mail.example.com:abc", testFrom)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error %v shows the password", err)
		}
	})
}
