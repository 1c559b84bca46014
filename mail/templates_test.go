package mail_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
)

var (
	berlin = mustLocation("Europe/Berlin")
	now    = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ada    = mail.Address{Name: "Ada Lovelace", Email: "ada@example.com"}
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func welcomeData() mail.WelcomeData {
	return mail.WelcomeData{
		To: ada, FirstName: "Ada", Property: "Maple Court", Location: berlin,
		Access: mail.AccessApp, AppURL: "https://door.example.com/app",
		Doors:     []string{"Main entrance", "Bike room"},
		InvitedBy: "Pat Manager", Organisation: "Acme Homes", Now: now,
	}
}

// checkBoth asserts that every want string is in the text and in the HTML
// part and no dontWant string is in either.
func checkBoth(t *testing.T, m mail.Message, want, dontWant []string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(m.Text, w) {
			t.Errorf("text lacks %q:\n%s", w, m.Text)
		}
		if !strings.Contains(m.HTML, w) {
			t.Errorf("HTML lacks %q:\n%s", w, m.HTML)
		}
	}
	for _, w := range dontWant {
		if strings.Contains(m.Text, w) || strings.Contains(m.HTML, w) {
			t.Errorf("message has %q, want not", w)
		}
	}
}

func TestWelcome(t *testing.T) {
	for _, tt := range []struct {
		name     string
		change   func(*mail.WelcomeData)
		subject  string
		want     []string
		dontWant []string
	}{
		{
			name:    "OKApp",
			subject: "Your access to Maple Court",
			want: []string{"Hello Ada", "Pat Manager of Acme Homes has given you access to", "Maple Court",
				"open the DOOR app", "ada@example.com", "one-time login code", "Main entrance", "Bike room",
				"Acme Homes"},
			dontWant: []string{"doorcode", "starts on", "ends on"},
		},
		{
			name: "OKAppWithDoorcode",
			change: func(d *mail.WelcomeData) {
				d.Doorcode = "4711042"
			},
			want: []string{"DOOR app", "4711042"},
		},
		{
			name: "OKDoorcode",
			change: func(d *mail.WelcomeData) {
				d.Access, d.Doorcode, d.AppURL = mail.AccessDoorcode, "4711042", ""
			},
			want:     []string{"Your doorcode", "4711042", "Your doorcode opens", "Main entrance", "Bike room"},
			dontWant: []string{"DOOR app", "login code"},
		},
		{
			name: "OKFutureStart",
			change: func(d *mail.WelcomeData) {
				d.StartsAt = time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC)
			},
			// 07:30 UTC is 08:30 in Berlin in March (CET).
			want: []string{"Your access starts on", "Tuesday 3 March 2026 at 08:30 CET", "Europe/Berlin"},
		},
		{
			name: "OKStartPassed",
			change: func(d *mail.WelcomeData) {
				d.StartsAt = now.Add(-time.Hour)
			},
			dontWant: []string{"starts on"},
		},
		{
			name: "OKExpiration",
			change: func(d *mail.WelcomeData) {
				d.ExpiresAt = time.Date(2026, 8, 31, 22, 0, 0, 0, time.UTC)
			},
			// Summer time: UTC+2, so midnight of 1 September in Berlin.
			want: []string{"Your access ends on", "Tuesday 1 September 2026 at 00:00 CEST"},
		},
		{
			name: "OKNoInviter",
			change: func(d *mail.WelcomeData) {
				d.InvitedBy, d.Organisation = "", ""
			},
			want: []string{"Your property manager has given you access"},
		},
		{
			name: "OKKeysWithOwnWindows",
			change: func(d *mail.WelcomeData) {
				d.Doors = nil
				d.Keys = []mail.KeyAccess{
					{Name: "Building", Doors: []string{"Main entrance", "Gym"}},
					{Name: "Pool", Doors: []string{"Pool gate"}, ExpiresAt: time.Date(2026, 9, 30, 20, 0, 0, 0, time.UTC)},
				}
			},
			want:     []string{"Your keys:", "Building", "Main entrance, Gym", "Pool", "Pool gate (until Wednesday 30 September 2026 at 22:00 CEST)"},
			dontWant: []string{"Building: Main entrance, Gym ("},
		},
		{
			name: "OKAppDoorcodeDoors",
			change: func(d *mail.WelcomeData) {
				d.Doorcode, d.DoorcodeDoors = "4711042", []string{"Main entrance"}
			},
			want: []string{"4711042", "It opens: Main entrance"},
		},
		{
			name: "OKCommandLineLogin",
			change: func(d *mail.WelcomeData) {
				d.ServerURL = "https://door.example.com"
			},
			want: []string{"doorapp --server https://door.example.com login --email ada@example.com"},
		},
		{
			name: "OKNoCommandLineForDoorcodePeople",
			change: func(d *mail.WelcomeData) {
				d.Access, d.Doorcode, d.AppURL, d.ServerURL = mail.AccessDoorcode, "4711042", "", "https://door.example.com"
			},
			dontWant: []string{"doorapp"},
		},
		{
			name: "OKEscaped",
			change: func(d *mail.WelcomeData) {
				d.FirstName = "<script>alert(1)</script>"
				d.Property = `Maple "Court" & <b>Co</b>`
				d.Doors = []string{"<img src=x onerror=alert(1)>"}
			},
			subject: `Your access to Maple "Court" & <b>Co</b>`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := welcomeData()
			if tt.change != nil {
				tt.change(&d)
			}
			m, err := mail.Welcome(d)
			if err != nil {
				t.Fatalf("Welcome: %v", err)
			}
			if tt.subject != "" && m.Subject != tt.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, tt.subject)
			}
			if m.To != ada {
				t.Errorf("To = %+v, want %+v", m.To, ada)
			}
			if got := m.Headers[mail.KindHeader]; got != mail.KindWelcome {
				t.Errorf("%s = %q, want %q", mail.KindHeader, got, mail.KindWelcome)
			}
			checkBoth(t, m, tt.want, tt.dontWant)
			if tt.name == "OKEscaped" {
				for _, bad := range []string{"<script>", "<img", "<b>Co"} {
					if strings.Contains(m.HTML, bad) {
						t.Errorf("HTML contains unescaped %q", bad)
					}
				}
				for _, good := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&amp; &lt;b&gt;Co&lt;/b&gt;"} {
					if !strings.Contains(m.HTML, good) {
						t.Errorf("HTML lacks escaped %q", good)
					}
				}
				if !strings.Contains(m.Text, "Hello <script>alert(1)</script>,") {
					t.Errorf("text part should keep the name as written:\n%s", m.Text)
				}
			}
		})
	}
}

func TestWelcomeInvalid(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(*mail.WelcomeData)
		want   error
	}{
		{"ErrAccess", func(d *mail.WelcomeData) { d.Access = "keycard" }, mail.ErrInvalidMessage},
		{"ErrDoorcodeMissing", func(d *mail.WelcomeData) { d.Access = mail.AccessDoorcode }, mail.ErrInvalidMessage},
		{"ErrPropertyMissing", func(d *mail.WelcomeData) { d.Property = "" }, mail.ErrInvalidMessage},
		{"ErrRecipient", func(d *mail.WelcomeData) { d.To.Email = "nobody" }, mail.ErrInvalidAddress},
		{"ErrAppURLScheme", func(d *mail.WelcomeData) { d.AppURL = "javascript:alert(1)" }, mail.ErrInvalidMessage},
		{"ErrServerURLScheme", func(d *mail.WelcomeData) { d.ServerURL = "ftp://door.example.com" }, mail.ErrInvalidMessage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := welcomeData()
			tt.change(&d)
			if _, err := mail.Welcome(d); !errors.Is(err, tt.want) || !mail.IsPermanent(err) {
				t.Errorf("Welcome = %v, want permanent %v", err, tt.want)
			}
		})
	}
}

func TestLoginCode(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		m, err := mail.LoginCode(mail.LoginCodeData{To: ada, FirstName: "Ada", Code: "482913", ValidFor: 10 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		checkBoth(t, m, []string{"Hello Ada", "482913", "10 minutes", "If you did not ask for this, ignore this email"}, nil)
		if strings.Contains(m.Subject, "482913") {
			t.Errorf("Subject %q shows the code on lock screens", m.Subject)
		}
	})
	t.Run("ErrNoCode", func(t *testing.T) {
		if _, err := mail.LoginCode(mail.LoginCodeData{To: ada, ValidFor: time.Minute}); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("LoginCode = %v, want ErrInvalidMessage", err)
		}
	})
	t.Run("ErrNoLifetime", func(t *testing.T) {
		if _, err := mail.LoginCode(mail.LoginCodeData{To: ada, Code: "1"}); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("LoginCode = %v, want ErrInvalidMessage", err)
		}
	})
}

func TestManagerInvitation(t *testing.T) {
	d := mail.ManagerInvitationData{
		To: ada, FirstName: "Ada", Organisation: "Acme Homes", Role: "Property Manager", InvitedBy: "Pat",
		SetPasswordURL: "https://door.example.com/set-password?token=abc&x=1",
		LinkExpiresAt:  time.Date(2026, 3, 8, 10, 0, 0, 0, time.UTC), Location: berlin,
	}
	t.Run("OK", func(t *testing.T) {
		m, err := mail.ManagerInvitation(d)
		if err != nil {
			t.Fatal(err)
		}
		checkBoth(t, m, []string{"Pat has added you to", "Property Manager", "Set your password", "Sunday 8 March 2026 at 11:00 CET"}, []string{"With the API"})
		if !strings.Contains(m.Text, "CET. After that, ask Pat for a new invitation.\n\nIf you were") {
			t.Errorf("text paragraphs:\n%s", m.Text)
		}
		if !strings.Contains(m.Text, d.SetPasswordURL) {
			t.Errorf("text lacks the link %q", d.SetPasswordURL)
		}
		if got := mailtest.Links(m.HTML, ""); len(got) == 0 || got[0] != d.SetPasswordURL {
			t.Errorf("HTML links = %q, want %q first", got, d.SetPasswordURL)
		}
	})
	t.Run("OKWithAPIFallback", func(t *testing.T) {
		d := d
		d.AcceptAPIURL, d.Token = "https://door.example.com/api/v1/auth/accept-invitation", "tok_123"
		m, err := mail.ManagerInvitation(d)
		if err != nil {
			t.Fatal(err)
		}
		checkBoth(t, m, []string{"POST https://door.example.com/api/v1/auth/accept-invitation", "tok_123", "If you were not expecting this"}, nil)
		if !strings.Contains(m.Text, "new invitation.\n\nWith the API instead") || !strings.Contains(m.Text, "…\"}.\n\nIf you were") {
			t.Errorf("text paragraphs run together:\n%s", m.Text)
		}
	})
	t.Run("ErrAPIFallbackWithoutToken", func(t *testing.T) {
		d := d
		d.AcceptAPIURL = "https://door.example.com/api/v1/auth/accept-invitation"
		if _, err := mail.ManagerInvitation(d); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("ManagerInvitation = %v, want ErrInvalidMessage", err)
		}
	})
	t.Run("ErrNoURL", func(t *testing.T) {
		d := d
		d.SetPasswordURL = ""
		if _, err := mail.ManagerInvitation(d); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("ManagerInvitation = %v, want ErrInvalidMessage", err)
		}
	})
	t.Run("ErrURLScheme", func(t *testing.T) {
		d := d
		d.SetPasswordURL = "javascript:alert(1)//https://x"
		if _, err := mail.ManagerInvitation(d); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("ManagerInvitation = %v, want ErrInvalidMessage", err)
		}
	})
}

func TestGuestInvitation(t *testing.T) {
	base := mail.GuestInvitationData{
		To: mail.Address{Email: "gus@example.com"}, FirstName: "Gus", ResidentName: "Ada Lovelace",
		Property: "Maple Court", Location: berlin, Doors: []string{"Main entrance"}, Now: now,
	}
	for _, tt := range []struct {
		name     string
		change   func(*mail.GuestInvitationData)
		subject  string
		want     []string
		dontWant []string
	}{
		{
			name: "OKAppWindow",
			change: func(d *mail.GuestInvitationData) {
				d.Kind = mail.GuestApp
				d.StartsAt = time.Date(2026, 4, 10, 16, 0, 0, 0, time.UTC)
				d.ExpiresAt = time.Date(2026, 4, 12, 16, 0, 0, 0, time.UTC)
			},
			want: []string{"Ada Lovelace has invited you", "from Friday 10 April 2026 at 18:00 CEST until Sunday 12 April 2026 at 18:00 CEST",
				"DOOR app", "gus@example.com", "Main entrance"},
			dontWant: []string{"doorcode"},
		},
		{
			name:   "OKAppNoEnd",
			change: func(d *mail.GuestInvitationData) { d.Kind = mail.GuestApp },
			want:   []string{"from now, with no end date"},
		},
		{
			name: "OKDayCode",
			change: func(d *mail.GuestInvitationData) {
				d.Kind, d.Doorcode = mail.GuestDayCode, "12345678"
				// 23:30 UTC on the 9th is already the 10th in Berlin.
				d.StartsAt = time.Date(2026, 4, 9, 23, 30, 0, 0, time.UTC)
			},
			want:     []string{"12345678", "It works on", "Friday 10 April 2026", "from midnight to midnight", "Europe/Berlin"},
			dontWant: []string{"DOOR app", "15 minutes"},
		},
		{
			name: "OKFifteenMinuteCode",
			change: func(d *mail.GuestInvitationData) {
				d.Kind, d.Doorcode = mail.GuestFifteenMinuteCode, "87654321"
				d.ExpiresAt = now.Add(24 * time.Hour)
			},
			want:     []string{"87654321", "15 minutes from the first time you use it", "before Monday 2 March 2026 at 11:00 CET"},
			dontWant: []string{"midnight"},
		},
		{
			name: "OKChangedCode",
			change: func(d *mail.GuestInvitationData) {
				d.Kind, d.Doorcode, d.Changed = mail.GuestDayCode, "55501234", true
				d.StartsAt = time.Date(2026, 4, 10, 8, 0, 0, 0, time.UTC)
			},
			subject:  "Your new doorcode for Maple Court",
			want:     []string{"has changed", "instead of the earlier code", "55501234", "Friday 10 April 2026"},
			dontWant: []string{"has invited you"},
		},
		{
			name: "OKAppCommandLineLogin",
			change: func(d *mail.GuestInvitationData) {
				d.Kind, d.ServerURL = mail.GuestApp, "http://127.0.0.1:8080"
			},
			want: []string{"doorapp --server http://127.0.0.1:8080 login --email gus@example.com"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			tt.change(&d)
			m, err := mail.GuestInvitation(d)
			if err != nil {
				t.Fatalf("GuestInvitation: %v", err)
			}
			want := "Ada Lovelace invited you to Maple Court"
			if tt.subject != "" {
				want = tt.subject
			}
			if got := m.Subject; got != want {
				t.Errorf("Subject = %q, want %q", got, want)
			}
			checkBoth(t, m, tt.want, tt.dontWant)
		})
	}
	for _, tt := range []struct {
		name   string
		change func(*mail.GuestInvitationData)
	}{
		{"ErrKind", func(d *mail.GuestInvitationData) { d.Kind = "forever" }},
		{"ErrCodeMissing", func(d *mail.GuestInvitationData) { d.Kind = mail.GuestFifteenMinuteCode }},
		{"ErrDayMissing", func(d *mail.GuestInvitationData) { d.Kind, d.Doorcode = mail.GuestDayCode, "1234" }},
		{"ErrResidentMissing", func(d *mail.GuestInvitationData) { d.Kind, d.ResidentName = mail.GuestApp, "" }},
		{"ErrChangedAppAccess", func(d *mail.GuestInvitationData) { d.Kind, d.Changed = mail.GuestApp, true }},
		{"ErrServerURLScheme", func(d *mail.GuestInvitationData) { d.Kind, d.ServerURL = mail.GuestApp, "javascript:x" }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := base
			tt.change(&d)
			if _, err := mail.GuestInvitation(d); !errors.Is(err, mail.ErrInvalidMessage) {
				t.Errorf("GuestInvitation = %v, want ErrInvalidMessage", err)
			}
		})
	}
}

// TestWelcomeOverSMTP sends a rendered welcome through a real SMTP exchange
// and reads it back as a mail client would.
func TestWelcomeOverSMTP(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.WithSTARTTLS())
	s := mustSender(t, srv.URL())
	d := welcomeData()
	d.FirstName = "<script>Ada</script>"
	m, err := mail.Welcome(d)
	if err != nil {
		t.Fatal(err)
	}
	m.ID = "outbox-7"
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	e := srv.Wait(t, 1)[0].MustParse(t)
	if e.Subject != m.Subject || e.Text != m.Text || e.HTML != m.HTML {
		t.Errorf("message changed in transit:\nsubject %q\ntext %q\nhtml %q", e.Subject, e.Text, e.HTML)
	}
	if got, want := e.HeaderValue(mail.KindHeader), mail.KindWelcome; got != want {
		t.Errorf("kind header = %q, want %q", got, want)
	}
	if got, want := e.Links, []string{"https://door.example.com/app"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("Links = %q, want %q", got, want)
	}
	if strings.Contains(e.HTML, "<script>") {
		t.Error("HTML part carries an unescaped <script>")
	}
}

func TestSyncRequest(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		m, err := mail.SyncRequest(mail.SyncRequestData{To: ada, FirstName: "Ada", Property: "Elm Court", Door: "Bike <Room>", RequestedBy: "Pat"})
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != "Please open the DOOR app near Bike <Room>" {
			t.Errorf("Subject %q", m.Subject)
		}
		checkBoth(t, m, []string{"Hello Ada", "Pat asks for your help at", "Elm Court", "within Bluetooth range"}, nil)
		if strings.Contains(m.HTML, "Bike <Room>") || !strings.Contains(m.HTML, "Bike &lt;Room&gt;") {
			t.Errorf("door name not escaped in HTML: %s", m.HTML)
		}
	})
	t.Run("NoManagerName", func(t *testing.T) {
		m, err := mail.SyncRequest(mail.SyncRequestData{To: ada, FirstName: "Ada", Property: "Elm Court", Door: "Gym"})
		if err != nil || !strings.Contains(m.Text, "Your property manager asks") {
			t.Fatalf("SyncRequest = %v\n%s", err, m.Text)
		}
	})
	t.Run("ErrNoDoor", func(t *testing.T) {
		if _, err := mail.SyncRequest(mail.SyncRequestData{To: ada, FirstName: "Ada", Property: "Elm Court"}); !errors.Is(err, mail.ErrInvalidMessage) {
			t.Errorf("SyncRequest = %v, want ErrInvalidMessage", err)
		}
	})
}
