package console_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// inviteManager adds a manager without a password and delivers the
// invitation email over a real SMTP server, as serve does (the link
// chosen by notify.InvitationPage from the console's routes); it returns
// the emailed set-password link as a path on the test server.
func (e *env) inviteManager(smtp *mailtest.Server, email string) string {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.st.CreateManager(ctx, e.f.PM, domain.ManagerInput{Email: email, FirstName: "Nia", LastName: "New", Role: domain.RolePropertyManager}); err != nil {
		e.t.Fatal(err)
	}
	mux := http.NewServeMux()
	console.New(e.st, nil, nil, console.Options{}).Routes(mux)
	sender, err := mail.NewSMTPSender(smtp.URL(), "DOOR OS <door@example.com>")
	if err != nil {
		e.t.Fatal(err)
	}
	w := &notify.Worker{Store: e.st, Sender: sender, PublicURL: e.srv.URL, InvitationPage: notify.InvitationPage(mux)}
	if n, err := w.RunOnce(ctx); err != nil || n == 0 {
		e.t.Fatalf("invitation email: %d sent, %v", n, err)
	}
	msgs := smtp.MessagesTo(email)
	if len(msgs) != 1 {
		e.t.Fatalf("%d emails to %s, want 1", len(msgs), email)
	}
	for _, l := range msgs[0].MustParse(e.t).Links {
		if strings.HasPrefix(l, e.srv.URL+notify.AcceptInvitationPath+"?token=") {
			return strings.TrimPrefix(l, e.srv.URL)
		}
	}
	e.t.Fatalf("no console set-password link in the email: %v", msgs[0].MustParse(e.t).Links)
	return ""
}

func TestInviteAccept(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		smtp := mailtest.NewServer(t)
		link := e.inviteManager(smtp, "nia@example.com")
		loginWith := func(password string) int {
			c := e.anon()
			r := c.get("/login")
			return c.post("/login", url.Values{"email": {"nia@example.com"}, "password": {password}, "csrf": {csrfOf(r.Body)}}).Status
		}

		c := e.anon()
		r := c.get(link)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d: %s", link, r.Status, r.Body)
		}
		mustContain(t, r.Body, "Set your password", "nia@example.com", `name="password_confirm"`)
		form := func(pw, again string) url.Values {
			u, _ := url.Parse(link)
			return url.Values{"csrf": {c.csrf}, "token": {u.Query().Get("token")}, "password": {pw}, "password_confirm": {again}}
		}

		bad := []struct {
			name, pw, again string
			status          int
			want            string
		}{
			{"ErrPasswordsDiffer", "a long password 1", "a long password 2", http.StatusBadRequest, "not the same"},
			{"ErrPasswordTooShort", "short", "short", http.StatusBadRequest, "at least 10 characters"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := c.post(notify.AcceptInvitationPath, form(tc.pw, tc.again))
				if r.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
				}
				mustContain(t, r.Body, tc.want, `name="password"`)
				if loginWith(tc.pw) != http.StatusUnauthorized {
					t.Fatal("the password was set anyway")
				}
			})
		}
		t.Run("ErrForgedCSRF", func(t *testing.T) {
			f := form(storetest.PMPassword, storetest.PMPassword)
			f.Set("csrf", "forged")
			if r := c.post(notify.AcceptInvitationPath, f); r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			other := e.anon() // no cookie of the form at all
			if r := other.post(notify.AcceptInvitationPath, form(storetest.PMPassword, storetest.PMPassword)); r.Status != http.StatusForbidden {
				t.Fatalf("without the form's cookie: status %d, want 403", r.Status)
			}
			if loginWith(storetest.PMPassword) != http.StatusUnauthorized {
				t.Fatal("the password was set anyway")
			}
		})
		t.Run("OK", func(t *testing.T) {
			r := c.post(notify.AcceptInvitationPath, form(storetest.PMPassword, storetest.PMPassword))
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
				t.Fatalf("status %d location %q, want a redirect to /login: %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			r = c.get("/login")
			mustContain(t, r.Body, "Your password is set", "nia@example.com")
			e.login("nia@example.com") // fails the test unless the password works
		})
		t.Run("ErrLinkUsed", func(t *testing.T) {
			r := e.anon().get(link)
			if r.Status != http.StatusGone {
				t.Fatalf("status %d, want 410", r.Status)
			}
			mustContain(t, r.Body, "already been used")
			mustNotContain(t, r.Body, `name="password"`)
			f := form("another long password", "another long password")
			if r := c.post(notify.AcceptInvitationPath, f); r.Status != http.StatusForbidden && r.Status != http.StatusGone {
				t.Fatalf("posting a used link: status %d", r.Status)
			}
			if loginWith("another long password") != http.StatusUnauthorized {
				t.Fatal("a used link set the password again")
			}
		})
		t.Run("ErrLinkExpired", func(t *testing.T) {
			link := e.inviteManager(smtp, "late@example.com")
			c := e.anon()
			r := c.get(link)
			if r.Status != http.StatusOK {
				t.Fatalf("fresh link: status %d", r.Status)
			}
			now := st.Now
			st.Now = func() time.Time { return now().Add(store.InvitationTTL + time.Hour) }
			t.Cleanup(func() { st.Now = now })
			u, _ := url.Parse(link)
			r = c.post(notify.AcceptInvitationPath, url.Values{"csrf": {c.csrf}, "token": {u.Query().Get("token")}, "password": {storetest.PMPassword}, "password_confirm": {storetest.PMPassword}})
			if r.Status != http.StatusGone {
				t.Fatalf("status %d, want 410: %s", r.Status, r.Body)
			}
			mustContain(t, r.Body, "expired on")
			if r := e.anon().get(link); r.Status != http.StatusGone || !strings.Contains(r.Body, "expired on") {
				t.Fatalf("GET expired link: status %d", r.Status)
			}
		})
		t.Run("ErrNoToken", func(t *testing.T) {
			r := e.anon().get(notify.AcceptInvitationPath)
			if r.Status != http.StatusGone {
				t.Fatalf("status %d, want 410", r.Status)
			}
			mustContain(t, r.Body, "incomplete")
		})
	})
}
