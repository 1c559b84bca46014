package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// world is a running DOOR OS: the real API over HTTP on a real store, the
// email worker sending over real SMTP to an in-process server, and a keyring.
type world struct {
	t    *testing.T
	e    *apitest.Env
	st   *store.Store
	smtp *mailtest.Server
	keys *keyring.Keyring
}

func newWorld(t *testing.T, st *store.Store) *world {
	t.Helper()
	w := &world{t: t, st: st, smtp: mailtest.NewServer(t)}
	w.e = apitest.New(t, st)
	w.keys = storetest.Keyring(t, st)
	w.e.API.Keys = w.keys
	sender, err := mail.NewSMTPSender(w.smtp.URL(), "DOOR OS <door@example.com>")
	if err != nil {
		t.Fatal(err)
	}
	worker := &notify.Worker{Store: st, Sender: sender, Keys: w.keys, PublicURL: w.e.Server.URL, Poll: 20 * time.Millisecond, Backoff: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { worker.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *world) prop() string { return w.e.F.Property.ID }

// do is a manager request, validated against the OpenAPI document.
func (w *world) do(method, path string, body any, want int) *apitest.Response {
	w.t.Helper()
	r := w.e.Do(method, path, w.e.PMToken, body)
	if r.Status != want {
		w.t.Fatalf("%s %s = %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// mailTo waits for the n-th (1-based) email to addr and parses it.
func (w *world) mailTo(addr string, n int) mailtest.Email {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if ms := w.smtp.MessagesTo(addr); len(ms) >= n {
			return ms[n-1].MustParse(w.t)
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Fatalf("no email #%d to %s arrived (got %d)", n, addr, len(w.smtp.MessagesTo(addr)))
	return mailtest.Email{}
}

var codePattern = regexp.MustCompile(`login code for the DOOR app:\s+(\d{6})`)

// loginCode waits for the n-th login-code email to addr and returns the code.
func (w *world) loginCode(addr string, n int) string {
	w.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var codes []string
		for _, m := range w.smtp.MessagesTo(addr) {
			if c := codePattern.FindStringSubmatch(m.MustParse(w.t).Text); c != nil {
				codes = append(codes, c[1])
			}
		}
		if len(codes) >= n {
			return codes[n-1]
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.t.Fatalf("no login code #%d for %s", n, addr)
	return ""
}

// phone is one doorapp state directory.
type phone struct {
	w     *world
	state string
}

func (w *world) phone() *phone { return &phone{w: w, state: w.t.TempDir()} }

// run runs doorapp in-process with stdin.
func (p *phone) run(stdin io.Reader, args ...string) (string, error) {
	var out, errb bytes.Buffer
	full := append([]string{"--server", p.w.e.Server.URL, "--state", p.state}, args...)
	err := run(context.Background(), full, func(string) string { return "" }, stdin, &out, &errb)
	return out.String() + errb.String(), err
}

func (p *phone) must(args ...string) string {
	p.w.t.Helper()
	out, err := p.run(strings.NewReader(""), args...)
	if err != nil {
		p.w.t.Fatalf("doorapp %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// login runs `doorapp login --email` and types the code from the n-th
// login email on stdin, as a person would.
func (p *phone) login(email string, n int) {
	p.w.t.Helper()
	pr, pw := io.Pipe()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := p.run(pr, "login", "--email", email, "--device-name", "Test phone")
		done <- result{out, err}
	}()
	code := p.w.loginCode(email, n)
	fmt.Fprintln(pw, code)
	r := <-done
	pw.Close()
	if r.err != nil {
		p.w.t.Fatalf("doorapp login: %v\n%s", r.err, r.out)
	}
	if !strings.Contains(r.out, "Logged in as "+email) {
		p.w.t.Fatalf("login output: %s", r.out)
	}
}

func (p *phone) devicePublic() ed25519.PublicKey {
	b, err := os.ReadFile(filepath.Join(p.state, deviceKeyFile))
	if err != nil {
		p.w.t.Fatal(err)
	}
	seed, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	return ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
}

func (p *phone) credentials() []storedCredential {
	var l list[storedCredential]
	b, err := os.ReadFile(filepath.Join(p.state, credentialsFile))
	if err != nil {
		p.w.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		p.w.t.Fatal(err)
	}
	return l.Items
}

func (p *phone) token() string {
	var s session
	b, err := os.ReadFile(filepath.Join(p.state, sessionFile))
	if err != nil {
		p.w.t.Fatal(err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		p.w.t.Fatal(err)
	}
	return s.Token
}

func (w *world) invite(in map[string]any) domain.PersonView {
	w.t.Helper()
	var v domain.PersonView
	w.do("POST", "/api/v1/properties/"+w.prop()+"/people", in, 201).Decode(w.t, &v)
	return v
}

func (w *world) activity(kind string) []domain.Event {
	w.t.Helper()
	var l struct{ Items []domain.Event }
	w.do("GET", "/api/v1/properties/"+w.prop()+"/activity?kind="+kind, nil, 200).Decode(w.t, &l)
	return l.Items
}

// TestResidentFlow is the story end to end: invite → welcome email
// over SMTP → doorapp login with the emailed code → credentials refresh
// (verified with the property key) → guests → the manager revokes the
// resident → resident and guest refreshes are refused and logged.
func TestResidentFlow(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		w := newWorld(t, st)
		f := w.e.F
		expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
		rita := w.invite(map[string]any{"first_name": "Rita", "last_name": "Resident", "email": "rita@example.com", "access": "app", "resident": true,
			"keys": []map[string]any{{"key_id": f.Building.ID, "may_share": true}, {"key_id": f.Home.ID, "may_share": true}}, "expires_at": expires})

		// The welcome email arrives over SMTP.
		welcome := w.mailTo("rita@example.com", 1)
		if got, want := welcome.Subject, "Your access to Elm Court"; got != want {
			t.Errorf("welcome subject = %q, want %q", got, want)
		}
		if got := welcome.To.Email; got != "rita@example.com" {
			t.Errorf("welcome To = %q", got)
		}
		if got := welcome.HeaderValue(mail.KindHeader); got != mail.KindWelcome {
			t.Errorf("X-DoorOS-Kind = %q", got)
		}
		if !strings.HasPrefix(welcome.Header.Get("Message-Id"), "<obx_") {
			t.Errorf("Message-ID %q is not derived from the outbox row", welcome.Header.Get("Message-Id"))
		}
		for _, want := range []string{"Building", "Home 101", "Lobby", "doorapp --server " + w.e.Server.URL + " login --email rita@example.com"} {
			if !strings.Contains(welcome.Text, want) {
				t.Errorf("welcome text lacks %q:\n%s", want, welcome.Text)
			}
		}
		if !strings.Contains(welcome.HTML, "<strong>Elm Court</strong>") {
			t.Errorf("welcome HTML lacks the property:\n%s", welcome.HTML)
		}
		// Every link points at this server (--public-url).
		for _, l := range welcome.Links {
			if !strings.HasPrefix(l, w.e.Server.URL) {
				t.Errorf("welcome link %s is not under %s", l, w.e.Server.URL)
			}
		}

		// Login with the emailed code.
		ritaPhone := w.phone()
		ritaPhone.login("rita@example.com", 1)
		if out := ritaPhone.must("keys"); !strings.Contains(out, "key Building") || !strings.Contains(out, "door Gym") || !strings.Contains(out, "mon,tue,wed,thu,fri 06:00-22:00") {
			t.Errorf("doorapp keys:\n%s", out)
		}
		before := ritaPhone.must("doorcode")
		if !regexp.MustCompile(`Elm Court: \d{7} \(Lobby, Unit 101\)`).MatchString(before) {
			t.Errorf("doorapp doorcode:\n%s", before)
		}
		// Reset Doorcode: a new code, shown by name; a property that is not
		// hers is refused by name and changes nothing.
		if out, err := ritaPhone.run(strings.NewReader(""), "doorcode", "reset", "--property", "Nowhere Towers"); err == nil ||
			!strings.Contains(err.Error(), `no access at a property named "Nowhere Towers"`) || !strings.Contains(err.Error(), "Elm Court") {
			t.Errorf("doorcode reset at another property: %v\n%s", err, out)
		}
		if out, err := ritaPhone.run(strings.NewReader(""), "doorcode", "reset", "now"); err == nil {
			t.Errorf("doorcode reset with an argument succeeded:\n%s", out)
		}
		if after := ritaPhone.must("doorcode"); after != before {
			t.Errorf("refused resets changed the doorcode:\n%s\n%s", before, after)
		}
		reset := ritaPhone.must("doorcode", "reset", "--property", "elm court")
		m := regexp.MustCompile(`^Elm Court: your new doorcode is (\d{7}) \(Lobby, Unit 101\)`).FindStringSubmatch(reset)
		if m == nil {
			t.Fatalf("doorapp doorcode reset:\n%s", reset)
		}
		if after := ritaPhone.must("doorcode"); !strings.Contains(after, m[1]) || after == before {
			t.Errorf("doorcode after reset:\n%s\nwant %s, not as before:\n%s", after, m[1], before)
		}

		// Credentials: signed by the property key, bound to this phone.
		ritaPhone.must("credentials", "refresh")
		creds := ritaPhone.credentials()
		if len(creds) != 1 {
			t.Fatalf("credentials = %d, want 1", len(creds))
		}
		pub, err := w.keys.PropertyPublicKey(context.Background(), w.prop())
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(creds[0].Credential)
		c, err := lockproto.VerifyCredential(pub, raw)
		if err != nil {
			t.Fatalf("credential does not verify with the property key: %v", err)
		}
		if c.PersonID != rita.ID {
			t.Errorf("credential person = %s, want %s", c.PersonID, rita.ID)
		}
		if !c.SameDevice(ritaPhone.devicePublic()) {
			t.Error("credential is not bound to the phone's device key")
		}
		// Beside it, the cloud's signed time for the property's locks.
		tok, err := lockproto.VerifyTimeToken(pub, creds[0].timeToken())
		if err != nil {
			t.Fatalf("stored time token: %v", err)
		}
		if d := tok.Time.Sub(c.IssuedAt); d < -time.Second || d > time.Second {
			t.Errorf("time token %v, credential issued %v", tok.Time, c.IssuedAt)
		}
		var lockIDs []string
		for _, l := range c.Locks {
			lockIDs = append(lockIDs, l.LockID)
			if l.LockID == f.Gym.ID && len(l.Schedule) != 5 {
				t.Errorf("gym schedule = %v, want 5 weekday windows", l.Schedule)
			}
			if l.LockID == f.Lobby.ID && len(l.Schedule) != 0 {
				t.Errorf("lobby schedule = %v, want none", l.Schedule)
			}
		}
		wantLocks := []string{f.Lobby.ID, f.Gym.ID, f.Unit101.ID}
		slices.Sort(wantLocks)
		if !slices.Equal(lockIDs, wantLocks) {
			t.Errorf("credential locks = %v, want %v", lockIDs, wantLocks)
		}
		if life := c.NotAfter.Sub(c.IssuedAt); life != lockproto.DefaultCredentialLifetime {
			t.Errorf("credential lifetime = %v, want %v", life, lockproto.DefaultCredentialLifetime)
		}
		if !c.ValidAt(time.Now()) {
			t.Errorf("credential not valid now: %v – %v", c.NotBefore, c.NotAfter)
		}

		// An app guest and a day-code guest.
		// A key by its name and a local time, as a person types them.
		ny, _ := time.LoadLocation(f.Property.TimeZone)
		guestExpires := time.Now().In(ny).AddDate(0, 0, 7).Format("2006-01-02") + " 18:00"
		if _, err := ritaPhone.run(strings.NewReader(""), "guests", "invite", "--email", "gus@example.com", "--first", "Gus", "--last", "Guest", "--key", "Pool"); err == nil || !strings.Contains(err.Error(), `no key called "Pool"`) {
			t.Fatalf("invite with an unknown key name: %v", err)
		}
		ritaPhone.must("guests", "invite", "--email", "gus@example.com", "--first", "Gus", "--last", "Guest", "--key", "building", "--expires", guestExpires)
		if out := ritaPhone.must("guests", "list"); !strings.Contains(out, "until "+guestExpires) || !strings.Contains(out, "(America/New_York)") {
			t.Errorf("guests list does not show the end in the property's zone (%s):\n%s", guestExpires, out)
		}
		gusWelcome := w.mailTo("gus@example.com", 1)
		if got, want := gusWelcome.Subject, "Rita Resident invited you to Elm Court"; got != want {
			t.Errorf("guest welcome subject = %q, want %q", got, want)
		}
		gusPhone := w.phone()
		gusPhone.login("gus@example.com", 1)
		gusPhone.must("credentials", "refresh")
		if cs := gusPhone.credentials(); len(cs) != 1 || len(cs[0].Doors) != 2 {
			t.Errorf("guest credentials = %+v, want one for the Building doors", cs)
		}
		// Dana's day code is checked and then revoked on the real clock:
		// not across the property's midnight.
		storetest.AwayFromMidnight(t, f.Property.Location(), 2*time.Minute)
		out := ritaPhone.must("guests", "invite", "--kind", "day_code", "--email", "dana@example.com", "--first", "Dana", "--last", "Day", "--key", f.Home.ID)
		codeMail := w.mailTo("dana@example.com", 1)
		code := regexp.MustCompile(`Your doorcode: (\d+)`).FindStringSubmatch(codeMail.Text)
		if code == nil || !strings.Contains(out, "code "+code[1]) {
			t.Fatalf("day code email:\n%s\ninvite output: %s", codeMail.Text, out)
		}
		// The lock of Unit 101 computes the same code from the key's secret.
		dks, err := st.DayKeysForDoor(context.Background(), w.keys, f.Unit101.ID)
		if err != nil || len(dks) != 1 {
			t.Fatalf("day keys of Unit 101 = %v, %v", dks, err)
		}
		loc, _ := time.LoadLocation(f.Property.TimeZone)
		if got := lockproto.GuestCode(dks[0].Secret, lockproto.DayCode, lockproto.DayNumber(time.Now(), loc), 0, int(dks[0].Digits)); got != code[1] {
			t.Errorf("lock computes %s, email says %s", got, code[1])
		}
		if out := ritaPhone.must("guests", "list"); !strings.Contains(out, "gus@example.com") || !strings.Contains(out, "day_code") {
			t.Errorf("guests list:\n%s", out)
		}
		var person domain.PersonView
		w.do("GET", "/api/v1/properties/"+w.prop()+"/people/"+rita.ID, nil, 200).Decode(t, &person)
		if len(person.Guests) != 2 {
			t.Errorf("manager sees %d guests on Rita's page, want 2", len(person.Guests))
		}
		var devs struct{ Items []store.Device }
		w.do("GET", "/api/v1/properties/"+w.prop()+"/people/"+rita.ID+"/devices", nil, 200).Decode(t, &devs)
		if len(devs.Items) != 1 || devs.Items[0].Name != "Test phone" {
			t.Errorf("manager sees devices %+v", devs.Items)
		}

		// Tokens do not cross: a resident token is no manager token, and back.
		if r := w.e.Do("GET", "/api/v1/properties", ritaPhone.token(), nil); r.Status != 401 {
			t.Errorf("resident token on a manager endpoint = %d, want 401", r.Status)
		}
		if r := w.e.Do("GET", "/api/v1/me/keys", w.e.PMToken, nil); r.Status != 401 {
			t.Errorf("manager token on a resident endpoint = %d, want 401", r.Status)
		}

		// The manager revokes Rita: her guests go with her.
		w.do("POST", "/api/v1/properties/"+w.prop()+"/people/"+rita.ID+"/revoke", nil, 200)
		for _, p := range []*phone{ritaPhone, gusPhone} {
			out, err := p.run(strings.NewReader(""), "credentials", "refresh")
			if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "revoked") {
				t.Errorf("refresh after revoke: err %v, out %s; want a 403 naming the revocation", err, out)
			}
		}
		refused := w.activity(store.EventCredentialRefused)
		names := map[string]bool{}
		for _, e := range refused {
			names[e.PersonName] = true
		}
		if !names["Rita Resident"] || !names["Gus Guest"] {
			t.Errorf("credential.refused in Activity for %v, want Rita and Gus", names)
		}
		// Dana's code is gone at the locks too: the key's secret rotated.
		dks2, err := st.DayKeysForDoor(context.Background(), w.keys, f.Unit101.ID)
		if err != nil || bytes.Equal(dks2[0].Secret, dks[0].Secret) {
			t.Errorf("day secret of Home 101 did not rotate after the host was revoked (err %v)", err)
		}
	})
}
