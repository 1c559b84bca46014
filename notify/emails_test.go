package notify_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

const publicURL = "https://door.example.com"

// only returns the single email to addr, after a worker run.
func (e *env) only(t *testing.T, w *notify.Worker, addr string) mailtest.Email {
	t.Helper()
	runOnce(t, w)
	got := e.smtp.MessagesTo(addr)
	if len(got) != 1 {
		t.Fatalf("%d emails to %s, want 1", len(got), addr)
	}
	return got[0].MustParse(t)
}

func wantIn(t *testing.T, what, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, text)
		}
	}
}

// resident invites an app resident who may share Building and returns
// their login as the store sees it.
func (e *env) resident(t *testing.T, email string) store.Resident {
	t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people", e.PMToken, map[string]any{"first_name": "Rita", "last_name": "Resident",
		"email": email, "access": "app", "resident": true, "keys": []map[string]any{{"key_id": e.F.Building.ID, "may_share": true}}})
	if r.Status != 201 {
		t.Fatalf("invite = %d: %s", r.Status, r.Body)
	}
	var v domain.PersonView
	r.Decode(t, &v)
	return store.Resident{Email: v.Email, People: []store.ResidentPerson{{Person: v.Person}}}
}

// TestEmails: every outbox email is rendered by package mail's templates,
// with links and app instructions under the worker's public URL.
func TestEmails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		w := e.worker()
		w.PublicURL = publicURL + "/"

		t.Run("AppWelcome", func(t *testing.T) {
			end := e.now.Add(90 * 24 * time.Hour)
			r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people", e.PMToken, map[string]any{"first_name": "Ana", "last_name": "App",
				"email": "ana@example.com", "access": "app", "expires_at": end,
				"keys": []map[string]any{{"key_id": e.F.Building.ID}, {"key_id": e.F.Home.ID}}})
			if r.Status != 201 {
				t.Fatalf("invite = %d: %s", r.Status, r.Body)
			}
			m := e.only(t, w, "ana@example.com")
			if got, want := m.Subject, "Your access to Elm Court"; got != want {
				t.Errorf("Subject = %q, want %q", got, want)
			}
			if got := m.HeaderValue(mail.KindHeader); got != mail.KindWelcome {
				t.Errorf("kind = %q, want %q", got, mail.KindWelcome)
			}
			loc, _ := time.LoadLocation("America/New_York")
			wantIn(t, "welcome text", m.Text, "Hello Ana", "Pat Portfolio of Acme Residential", "Your keys:", "Building: Gym, Lobby", "Home 101: Unit 101",
				"doorapp --server "+publicURL+" login --email ana@example.com", "It opens: Lobby, Unit 101",
				"Your access ends on "+end.In(loc).Format("Monday 2 January 2006 at 15:04 MST"), "America/New_York")
			wantIn(t, "welcome HTML", m.HTML, "Elm Court", "Building", "Unit 101")
			code := regexp.MustCompile(`Your doorcode: (\d{7})`).FindStringSubmatch(m.Text)
			if code == nil {
				t.Fatalf("no 7-digit doorcode in:\n%s", m.Text)
			}
		})

		t.Run("DoorcodeWelcomeShowsTheCodesDoors", func(t *testing.T) {
			e.invite("dee@example.com")
			m := e.only(t, w, "dee@example.com")
			wantIn(t, "doorcode welcome", m.Text, "Your doorcode: ", "Your doorcode opens:", "- Unit 101")
			if strings.Contains(m.Text, "doorapp") || strings.Contains(m.Text, "DOOR app") {
				t.Errorf("doorcode-only welcome talks about the app:\n%s", m.Text)
			}
		})

		host := e.resident(t, "rita@example.com")
		runOnce(t, w)

		t.Run("AppGuestInvitation", func(t *testing.T) {
			end := e.now.Add(48 * time.Hour)
			if _, err := st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestApp, FirstName: "Gil", LastName: "Guest",
				Email: "gil@example.com", Keys: []string{e.F.Building.ID}, ExpiresAt: &end}); err != nil {
				t.Fatal(err)
			}
			m := e.only(t, w, "gil@example.com")
			if got, want := m.Subject, "Rita Resident invited you to Elm Court"; got != want {
				t.Errorf("Subject = %q, want %q", got, want)
			}
			wantIn(t, "guest text", m.Text, "Rita Resident has invited you as a guest", "- Lobby", "- Gym",
				"doorapp --server "+publicURL+" login --email gil@example.com")
		})

		t.Run("CodeGuestAndChangedCode", func(t *testing.T) {
			g, err := st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestQuarterHourCode, FirstName: "Gus", LastName: "Guest",
				Email: "gus@example.com", Keys: []string{e.F.Building.ID}})
			if err != nil {
				t.Fatal(err)
			}
			m := e.only(t, w, "gus@example.com")
			wantIn(t, "code text", m.Text, "Your doorcode: "+g.Code, "15 minutes from the first time", "The code opens:", "- Lobby")
			if strings.Contains(m.Text, "Gym") {
				t.Errorf("the code's doors include a door without doorcodes:\n%s", m.Text)
			}
			// Another code guest of the key is revoked the same day: the key's
			// codes rotate and Gus gets his new one.
			h, err := st.InviteGuest(ctx, e.keys, host, store.GuestInput{Kind: domain.GuestDayCode, FirstName: "Hal", LastName: "Guest",
				Email: "hal@example.com", Keys: []string{e.F.Building.ID}})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.RevokeMyGuest(ctx, host, h.ID); err != nil {
				t.Fatal(err)
			}
			runOnce(t, w)
			if n := len(e.smtp.MessagesTo("hal@example.com")); n != 0 {
				t.Errorf("the revoked guest got %d emails, want none", n)
			}
			got := e.smtp.MessagesTo("gus@example.com")
			if len(got) != 2 {
				t.Fatalf("%d emails to gus, want 2", len(got))
			}
			m = got[1].MustParse(t)
			if got, want := m.Subject, "Your new doorcode for Elm Court"; got != want {
				t.Errorf("Subject = %q, want %q", got, want)
			}
			gs, err := st.MyGuests(ctx, e.keys, host)
			if err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(gs, func(x store.ResidentGuest) bool { return x.ID == g.ID })
			if i < 0 || gs[i].Code == g.Code {
				t.Fatalf("code did not change: %+v", gs)
			}
			wantIn(t, "changed code text", m.Text, "has changed", "Your doorcode: "+gs[i].Code)
		})

		t.Run("LoginCode", func(t *testing.T) {
			if err := st.StartResidentLogin(ctx, e.keys, "rita@example.com"); err != nil {
				t.Fatal(err)
			}
			runOnce(t, w)
			got := e.smtp.MessagesTo("rita@example.com")
			m := got[len(got)-1].MustParse(t)
			if got := m.HeaderValue(mail.KindHeader); got != mail.KindLoginCode {
				t.Fatalf("kind = %q, want %q", got, mail.KindLoginCode)
			}
			if !regexp.MustCompile(`\n\s+\d{6}\n`).MatchString(m.Text) || !strings.Contains(m.Text, "10 minutes") {
				t.Errorf("login code text:\n%s", m.Text)
			}
		})

		t.Run("ManagerInvitationLinkSetsThePassword", func(t *testing.T) {
			r := e.Do("POST", "/api/v1/managers", e.PMToken, map[string]any{"email": "mia@example.com", "first_name": "Mia",
				"last_name": "Manager", "role": "property_manager"})
			if r.Status != 201 {
				t.Fatalf("create manager = %d: %s", r.Status, r.Body)
			}
			m := e.only(t, w, "mia@example.com")
			wantIn(t, "invitation text", m.Text, "Pat Portfolio has added you to Acme Residential on DOOR OS as Property Manager",
				"POST "+publicURL+"/api/v1/auth/accept-invitation")
			var link string
			for _, l := range m.Links {
				if strings.HasPrefix(l, publicURL+notify.AcceptInvitationPath+"?token=") {
					link = l
				}
			}
			if link == "" {
				t.Fatalf("no set-password link under %s in %v", publicURL, m.Links)
			}
			u, err := url.Parse(link)
			if err != nil {
				t.Fatal(err)
			}
			token := u.Query().Get("token")
			if r := e.Do("POST", "/api/v1/auth/accept-invitation", "", map[string]string{"token": token, "password": "chosen password 1"}); r.Status != 204 {
				t.Fatalf("accept with the link's token = %d: %s", r.Status, r.Body)
			}
			if r := e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": "mia@example.com", "password": "chosen password 1"}); r.Status != 200 {
				t.Errorf("login with the chosen password = %d", r.Status)
			}
		})
	})
}

// gate is a sender that holds each message until released, to stop a
// worker in the middle of sending.
type gate struct {
	mail.Sender
	sending chan string
	release chan struct{}
}

func (g *gate) Send(ctx context.Context, m mail.Message) error {
	g.sending <- m.To.Email
	<-g.release
	return g.Sender.Send(ctx, m)
}

// TestStop: stopping the worker finishes the message in flight (sent once,
// marked delivered) and hands the other claimed rows back at once.
func TestStop(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		a, b := e.invite("first@example.com"), e.invite("second@example.com")
		g := &gate{Sender: e.worker().Sender, sending: make(chan string, 1), release: make(chan struct{})}
		w := e.worker()
		w.Sender = g
		stop := w.Start(context.Background())
		first := <-g.sending // the worker is in the middle of the first message
		var stopped sync.WaitGroup
		stopped.Go(stop)
		time.Sleep(50 * time.Millisecond) // stop has cancelled the worker
		close(g.release)
		stopped.Wait()

		sent, held := a, b
		if first == b.Email {
			sent, held = b, a
		}
		if n := len(e.smtp.MessagesTo(sent.Email)); n != 1 {
			t.Errorf("message in flight sent %d times, want once", n)
		}
		if es := e.emails(sent.ID); len(es) != 1 || es[0].DeliveredAt == nil {
			t.Errorf("message in flight: %+v, want delivered", es)
		}
		if n := len(e.smtp.MessagesTo(held.Email)); n != 0 {
			t.Errorf("a message was started after stop")
		}
		// The other row is due again now, not after its lease.
		items, err := st.ClaimOutbox(ctx, store.TopicWelcomeEmail, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].SubjectID != held.ID {
			t.Errorf("claimable after stop: %+v, want the unsent row of %s", items, held.Email)
		}
	})
}

func TestPublicURL(t *testing.T) {
	for _, tc := range []struct {
		name, flag, want string
		err              bool
	}{
		{name: "OKDefaultIsTheListenAddress", want: "http://127.0.0.1:8080"},
		{name: "OKHTTPS", flag: "https://door.example.com", want: "https://door.example.com"},
		{name: "OKTrailingSlashDropped", flag: "https://door.example.com/dooros/", want: "https://door.example.com/dooros"},
		{name: "ErrNoScheme", flag: "door.example.com", err: true},
		{name: "ErrOtherScheme", flag: "ftp://door.example.com", err: true},
		{name: "ErrQuery", flag: "https://door.example.com/?a=1", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := notify.PublicURL(tc.flag, "127.0.0.1:8080")
			if tc.err {
				if err == nil {
					t.Fatalf("PublicURL(%q) = %q, want an error", tc.flag, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("PublicURL(%q) = %q, %v; want %q", tc.flag, got, err, tc.want)
			}
		})
	}
}

func TestInvitationPage(t *testing.T) {
	t.Run("APIDocsWithoutAConsolePage", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("GET /{$}", http.NotFoundHandler())
		mux.Handle("GET /api/v1/openapi.json", http.NotFoundHandler())
		if got := notify.InvitationPage(mux); got != notify.APIDocsPath {
			t.Errorf("InvitationPage = %q, want %q", got, notify.APIDocsPath)
		}
	})
	t.Run("ConsolePageWhenServed", func(t *testing.T) {
		mux := http.NewServeMux()
		mux.Handle("GET "+notify.AcceptInvitationPath, http.NotFoundHandler())
		if got := notify.InvitationPage(mux); got != notify.AcceptInvitationPath {
			t.Errorf("InvitationPage = %q, want %q", got, notify.AcceptInvitationPath)
		}
	})
}

// TestKeycardEmails: activating and deactivating a resident's keycard each
// send them an email through the outbox and real SMTP; a refused activation
// sends nothing.
func TestKeycardEmails(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		w := e.worker()
		e.resident(t, "kay@example.com")
		runOnce(t, w) // the welcome email
		if n := len(e.smtp.MessagesTo("kay@example.com")); n != 1 {
			t.Fatalf("%d emails before the card, want the welcome only", n)
		}
		ps, _, err := st.ListPeople(ctx, e.F.PM, e.F.Property.ID, domain.PeopleFilter{Query: "kay@example.com"})
		if err != nil || len(ps) != 1 {
			t.Fatalf("resident: %v %v", ps, err)
		}
		id := ps[0].ID
		last := func() mailtest.Email {
			t.Helper()
			runOnce(t, w)
			got := e.smtp.MessagesTo("kay@example.com")
			return got[len(got)-1].MustParse(t)
		}

		t.Run("Activated", func(t *testing.T) {
			if _, err := st.ActivateKeycard(ctx, e.F.PM, e.F.Property.ID, id, "04:A2:19:7F"); err != nil {
				t.Fatal(err)
			}
			m := last()
			if got := m.HeaderValue(mail.KindHeader); got != mail.KindKeycard {
				t.Errorf("kind = %q, want %q", got, mail.KindKeycard)
			}
			wantIn(t, "subject", m.Subject, "Your keycard is active", "Elm Court")
			wantIn(t, "text", m.Text, "Hello Rita", "card 04:A2:19:7F", "It opens:", "Lobby", "Gym")
			wantIn(t, "html", m.HTML, "<strong>04:A2:19:7F</strong>", "<li>Lobby</li>")
		})
		t.Run("Deactivated", func(t *testing.T) {
			if _, err := st.DeactivateKeycard(ctx, e.F.PM, e.F.Property.ID, id); err != nil {
				t.Fatal(err)
			}
			m := last()
			wantIn(t, "subject", m.Subject, "Your keycard was deactivated")
			wantIn(t, "text", m.Text, "04:A2:19:7F", "no longer opens doors")
			if strings.Contains(m.Text, "It opens:") {
				t.Errorf("deactivation lists doors:\n%s", m.Text)
			}
		})
		t.Run("ErrRefusedSendsNothing", func(t *testing.T) {
			before := len(e.smtp.MessagesTo("kay@example.com"))
			if _, err := st.DeactivateKeycard(ctx, e.F.PM, e.F.Property.ID, id); domain.ErrorCode(err) != domain.ENotFound {
				t.Fatalf("second deactivation: %v, want not found", err)
			}
			runOnce(t, w)
			if after := len(e.smtp.MessagesTo("kay@example.com")); after != before {
				t.Fatalf("%d emails after a refused deactivation, want %d", after, before)
			}
		})
	})
}
