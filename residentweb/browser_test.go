package residentweb_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/residentweb"
	"github.com/dooros/dooros/store/storetest"
)

// chromium finds the browser as the console's browser tests do: skipped
// without one unless DOOROS_TEST_BROWSER=1.
func chromium(t *testing.T) string {
	if p := os.Getenv("DOOROS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("DOOROS_TEST_BROWSER") == "1" {
		t.Fatal("DOOROS_TEST_BROWSER=1 but no chromium found (install Debian's chromium or set DOOROS_CHROMIUM)")
	}
	t.Skip("no chromium binary found: browser tests skipped (set DOOROS_TEST_BROWSER=1 to make this a failure)")
	return ""
}

// phoneEnv is `dooros serve` in one process (API, resident web app, Door
// Sync with its embedded broker, the email worker) with the fixture's
// online Lobby lock running over MQTT, and a headless Chromium in a
// 390×844 phone viewport.
type phoneEnv struct {
	t *testing.T
	*apitest.Env
	ctx    context.Context // the browser's
	box    *mail.Mailbox
	worker *notify.Worker
	lobby  *lock.Lock
	shot   string
	// beforeVerify, when set, runs in the page just before the emailed
	// code is submitted (when the app makes the device key).
	beforeVerify string
}

func newPhoneEnv(t *testing.T) *phoneEnv {
	path := chromium(t)
	st := storetest.OpenSQLite(t)
	app, err := residentweb.New()
	if err != nil {
		t.Fatal(err)
	}
	e := &phoneEnv{t: t, Env: apitest.New(t, st, app.Routes), shot: t.TempDir()}
	if os.Getenv("DOOROS_UPDATE_SCREENSHOTS") == "1" {
		e.shot = filepath.Join("..", "docs", "screenshots")
	}
	keys := storetest.Keyring(t, st)
	e.API.Keys = keys
	bg, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	svc, stop, err := doorsync.Start(bg, st, keys, doorsync.Config{Addr: "127.0.0.1:0", ClientID: "residentweb-browser-test", Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.API.DoorSync = svc
	if e.box, err = mail.OpenMailbox(t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	e.worker = &notify.Worker{Store: st, Sender: e.box, Keys: keys, PublicURL: e.Server.URL}

	r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/doors/"+e.F.Lobby.ID+"/lock", e.PMToken, nil)
	if r.Status != 201 {
		t.Fatalf("provision = %d: %s", r.Status, r.Body)
	}
	var p doorsync.Provisioned
	r.Decode(t, &p)
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, p.Provisioning); err != nil {
		t.Fatal(err)
	}
	if e.lobby, err = lock.Open(lock.Options{FS: fs}); err != nil {
		t.Fatal(err)
	}
	go locksim.RunMQTT(bg, svc.LockMQTTURL, p.MQTTPassword, e.lobby, nil)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(390, 844))
	actx, cancelA := chromedp.NewExecAllocator(bg, opts...)
	t.Cleanup(cancelA)
	bctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(cancelB)
	e.ctx, cancel = context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	e.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	return e
}

func (e *phoneEnv) do(actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	if err := chromedp.Do(e.ctx, actions...); err != nil {
		e.t.Fatal(err)
	}
}

func (e *phoneEnv) js(expr string) string {
	e.t.Helper()
	s, err := chromedp.Run(e.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		e.t.Fatalf("%s: %v", expr, err)
	}
	return s
}

// wait polls a JavaScript condition.
func (e *phoneEnv) wait(what, cond string) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(e.ctx, chromedp.Evaluate[bool]("!!("+cond+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: timed out; status %q; page:\n%s", what, e.js(`document.getElementById('status').textContent`), e.js(`document.body.innerText`))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *phoneEnv) status() string { return e.js(`document.getElementById('status').textContent`) }

func (e *phoneEnv) screenshot(name string) {
	e.t.Helper()
	png, err := chromedp.Run(e.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.shot, name+".png"), png, 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// synced waits until the Lobby's lock holds the door's desired version.
func (e *phoneEnv) synced() {
	e.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		v, _, _, err := e.Store.DoorVersion(context.Background(), e.F.Lobby.ID)
		if err == nil && int64(e.lobby.Status().Version) == v {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the Lobby's lock did not get its update")
		}
	}
}

var codeRE = regexp.MustCompile(`login code for the DOOR app:\s+(\d{6})`)

// mail runs the email worker and returns the newest message to email
// whose text matches re.
func (e *phoneEnv) mail(email string, re *regexp.Regexp) mail.Message {
	e.t.Helper()
	if _, err := e.worker.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.box.List(0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out *mail.StoredMessage
	for i := range msgs {
		if m := &msgs[i]; m.To.Email == email && re.MatchString(m.Text) && (out == nil || !m.SentAt.Before(out.SentAt)) {
			out = m
		}
	}
	if out == nil {
		e.t.Fatalf("no email to %s matching %s", email, re)
	}
	return out.Message
}

// invite invites Ana with the fixture's Building key (Lobby with
// doorcodes, and the offline Gym), shareable with guests.
func (e *phoneEnv) invite() string {
	r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people", e.PMToken, map[string]any{"first_name": "Ana", "last_name": "Garcia",
		"email": "ana@example.com", "access": "app", "resident": true, "keys": []map[string]any{{"key_id": e.F.Building.ID, "may_share": true}}})
	if r.Status != 201 {
		e.t.Fatalf("invite = %d: %s", r.Status, r.Body)
	}
	var v struct{ ID string }
	r.Decode(e.t, &v)
	return v.ID
}

// signIn follows the welcome email's link and signs in with the emailed code.
func (e *phoneEnv) signIn() time.Duration {
	e.t.Helper()
	welcome := e.mail("ana@example.com", regexp.MustCompile(`/app/`))
	link := e.Server.URL + "/app/?email=ana%40example.com"
	if !strings.Contains(welcome.Text, link) {
		e.t.Fatalf("the welcome email does not link to the app (%s):\n%s", link, welcome.Text)
	}
	// The floor: one navigation to the smallest file the app serves.
	floor := time.Now()
	e.do(chromedp.Navigate(e.Server.URL + "/app/icon.svg"))
	e.t.Logf("floor (navigation to the 231-byte icon): %v", time.Since(floor))
	start := time.Now()
	e.do(chromedp.Navigate(link))
	e.wait("app ready", `document.body.dataset.ready === '1'`)
	tti := time.Since(start)
	// The page's own clock: from navigation start to the script's ready mark
	// (sign-in form interactive), and the bytes the shell's requests moved.
	e.t.Logf("navigation → ready mark: %s ms; domInteractive: %s ms; transferred: %s bytes (%s resources)",
		e.js(`String(Math.round(performance.getEntriesByName('dooros-ready')[0].startTime))`),
		e.js(`String(Math.round(performance.getEntriesByType('navigation')[0].domInteractive))`),
		e.js(`String(performance.getEntriesByType('navigation')[0].transferSize + performance.getEntriesByType('resource').filter(r => r.name.includes('/app/')).reduce((a, r) => a + r.transferSize, 0))`),
		e.js(`String(performance.getEntriesByType('resource').filter(r => r.name.includes('/app/')).length)`))
	if got := e.js(`document.getElementById('email').value`); got != "ana@example.com" {
		e.t.Fatalf("email field %q: the link's email is not filled in", got)
	}
	e.do(chromedp.Click(chromedp.CSS(`#start-form button[type=submit]`)))
	e.wait("code form", `!document.getElementById('verify-form').hidden`)
	m := codeRE.FindStringSubmatch(e.mail("ana@example.com", codeRE).Text)
	if m == nil {
		e.t.Fatal("no login code emailed")
	}
	if e.beforeVerify != "" {
		e.js(e.beforeVerify)
	}
	e.do(chromedp.SendKeys(chromedp.CSS(`#code`), m[1]), chromedp.Click(chromedp.CSS(`#verify-form button[type=submit]`)))
	e.wait("keys", `!document.getElementById('home').hidden && document.getElementById('keys-list').innerText.includes('Lobby')`)
	return tti
}

// TestBrowser_ResidentFlow is the story on a phone: emailed code →
// sign-in → keys → doorcode reset (the old code refused at the lock after
// sync) → day-code guest created and used at the lock → guest revoked →
// remote unlock of the online Lobby granted, then refused after Revoke
// All Keys.
func TestBrowser_ResidentFlow(t *testing.T) {
	e := newPhoneEnv(t)
	anaID := e.invite()
	tti := e.signIn()
	t.Logf("time to interactive (navigation to app ready, 390x844): %v", tti)
	keys := e.js(`document.getElementById('keys-list').innerText`)
	for _, want := range []string{"Building", "Lobby", "Gym", "online", "offline", "Offline door: open it with the DOOR App near the door.", e.F.Property.TimeZone} {
		if !strings.Contains(keys, want) {
			t.Errorf("keys page lacks %q:\n%s", want, keys)
		}
	}
	e.wait("an Unlock button for the online Lobby only", `document.querySelectorAll('button[data-door]').length === 1 && document.querySelector('button[data-door="`+e.F.Lobby.ID+`"]')`)
	e.screenshot("residentapp-keys")

	// Doorcode and Reset Doorcode with confirmation.
	e.do(chromedp.Navigate(e.Server.URL + "/app/#doorcode"))
	e.wait("doorcode", `document.querySelector('#doorcode-list .code')`)
	old := e.js(`document.querySelector('#doorcode-list .code').textContent`)
	e.synced()
	if d, _ := e.lobby.EnterCode(old); !d.Granted {
		t.Fatalf("Ana's doorcode at the Lobby: %s", d.Reason)
	}
	e.do(chromedp.Click(chromedp.CSS(`button[data-reset]`)))
	e.wait("confirmation", `document.getElementById('confirm').open`)
	e.screenshot("residentapp-doorcode-reset")
	// Cancel changes nothing.
	e.do(chromedp.Click(chromedp.CSS(`#confirm button[value=cancel]`)))
	e.wait("cancelled", `document.getElementById('status').textContent.includes('not changed')`)
	if got := e.js(`document.querySelector('#doorcode-list .code').textContent`); got != old {
		t.Fatalf("cancel changed the doorcode to %s", got)
	}
	e.do(chromedp.Click(chromedp.CSS(`button[data-reset]`)))
	e.wait("confirmation", `document.getElementById('confirm').open`)
	e.do(chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	e.wait("new code", `document.getElementById('status').textContent.includes('Your new doorcode is')`)
	e.wait("new code shown", `document.querySelector('#doorcode-list .code').textContent !== `+fmt.Sprintf("%q", old))
	fresh := e.js(`document.querySelector('#doorcode-list .code').textContent`)
	e.synced()
	if d, _ := e.lobby.EnterCode(old); d.Granted {
		t.Fatal("the old doorcode still opens the Lobby after the reset reached it")
	}
	if d, _ := e.lobby.EnterCode(fresh); !d.Granted {
		t.Fatalf("the new doorcode at the Lobby: %s", d.Reason)
	}

	// A day-code guest, used at the lock, then revoked (today's code: not
	// across the property's midnight).
	storetest.AwayFromMidnight(t, e.F.Property.Location(), time.Minute)
	e.do(chromedp.Navigate(e.Server.URL + "/app/#guests"))
	e.wait("guest form", `document.querySelectorAll('#g-key option').length === 1`)
	// Invalid: no first name. A clear error, nobody invited.
	e.do(chromedp.Click(chromedp.CSS(`#guest-form button[type=submit]`)))
	e.wait("error", `document.getElementById('status').className.includes('bad')`)
	if n := e.js(`String(document.querySelectorAll('#guest-list [data-guest]').length)`); n != "0" {
		t.Fatalf("%s guests after an invalid invite", n)
	}
	e.do(chromedp.SendKeys(chromedp.CSS(`#g-first`), "Gus"), chromedp.SendKeys(chromedp.CSS(`#g-last`), "Guest"),
		chromedp.SendKeys(chromedp.CSS(`#g-email`), "gus@example.com"), chromedp.Click(chromedp.CSS(`#guest-form button[type=submit]`)))
	e.wait("guest code", `document.querySelector('#guest-list [data-guest] .code')`)
	guestCode := e.js(`document.querySelector('#guest-list [data-guest] .code').textContent`)
	if !strings.Contains(e.js(`document.querySelector('#guest-list [data-guest] a').href`), "sms:") {
		t.Error("no text-message link for the guest's code")
	}
	e.screenshot("residentapp-guests")
	e.synced()
	if d, _ := e.lobby.EnterCode(guestCode); !d.Granted {
		t.Fatalf("the guest's day code at the Lobby: %s", d.Reason)
	}
	e.do(chromedp.Click(chromedp.CSS(`#guest-list button.danger`)))
	e.wait("confirmation", `document.getElementById('confirm').open`)
	e.do(chromedp.Click(chromedp.CSS(`#confirm-ok`)))
	e.wait("revoked", `document.getElementById('status').textContent.includes('revoked')`)
	e.wait("guest listed as revoked", `document.querySelector('#guest-list [data-guest] .badge').textContent === 'revoked'`)
	e.synced()
	if d, _ := e.lobby.EnterCode(guestCode); d.Granted {
		t.Fatal("the revoked guest's code still opens the Lobby")
	}

	// An outsider's name is data, never markup: a guest named with HTML
	// shows as text and runs nothing.
	evil := `<img src=x onerror="window.__pwned=1">`
	e.do(chromedp.SetValue(chromedp.CSS(`#g-kind`), "quarter_hour_code"),
		chromedp.SendKeys(chromedp.CSS(`#g-first`), "Eve"), chromedp.SendKeys(chromedp.CSS(`#g-last`), evil),
		chromedp.SendKeys(chromedp.CSS(`#g-email`), "eve@example.com"), chromedp.Click(chromedp.CSS(`#guest-form button[type=submit]`)))
	e.wait("second guest", `document.querySelectorAll('#guest-list [data-guest]').length === 2`)
	if got := e.js(`document.getElementById('guest-list').innerText`); !strings.Contains(got, evil) || !strings.Contains(got, "Code for 15 minutes") {
		t.Errorf("the guest's name is not shown as typed:\n%s", got)
	}
	if e.js(`String(window.__pwned === undefined && document.querySelector('#guest-list img') === null)`) != "true" {
		t.Fatal("a guest's name was rendered as HTML")
	}

	// Remote unlock, granted.
	e.do(chromedp.Navigate(e.Server.URL + "/app/#keys"))
	e.wait("unlock button", `document.querySelector('button[data-door]')`)
	before := e.lobby.Status().LogNext
	e.do(chromedp.Click(chromedp.CSS(`button[data-door]`)))
	e.wait("unlocked", `document.getElementById('status').textContent === 'Lobby unlocked.'`)
	if e.lobby.Status().LogNext <= before {
		t.Fatal("the lock logged no remote unlock")
	}
	e.screenshot("residentapp-unlocked")

	// Revoke All Keys: the next Unlock is refused.
	if r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people/"+anaID+"/revoke", e.PMToken, nil); r.Status != 200 {
		t.Fatalf("revoke = %d: %s", r.Status, r.Body)
	}
	e.do(chromedp.Click(chromedp.CSS(`button[data-door]`)))
	e.wait("refused", `document.getElementById('status').className.includes('bad') || !document.getElementById('signin').hidden`)
	if s := e.status(); !strings.Contains(s, "revoked") {
		t.Fatalf("after Revoke All Keys the app says %q, want a refusal naming the revocation", s)
	}
	e.screenshot("residentapp-refused")
}

// TestBrowser_OfflineShell: once the service worker has the shell and the
// keys, the app opens with the server stopped and shows the last-known
// keys and doorcode, saying it is offline.
func TestBrowser_OfflineShell(t *testing.T) {
	e := newPhoneEnv(t)
	e.invite()
	e.signIn()
	e.wait("service worker in control", `navigator.serviceWorker.controller !== null`)
	// Both reads go through the worker, which keeps them.
	e.do(chromedp.Navigate(e.Server.URL + "/app/#doorcode"))
	e.wait("doorcode", `document.querySelector('#doorcode-list .code')`)
	code := e.js(`document.querySelector('#doorcode-list .code').textContent`)
	e.do(chromedp.Navigate(e.Server.URL + "/app/#devices"))
	e.wait("devices", `document.querySelector('#device-list [data-device]')`)
	if !strings.Contains(e.js(`document.getElementById('device-list').innerText`), "this device") {
		t.Error("the devices list does not mark this device")
	}
	e.do(chromedp.Navigate(e.Server.URL + "/app/#activity"))
	e.wait("activity", `document.querySelector('#activity-list li')`)
	e.do(chromedp.Navigate(e.Server.URL + "/app/#keys"))
	e.wait("keys", `document.getElementById('keys-list').innerText.includes('Lobby')`)

	e.Server.Close() // the server is gone
	if r, err := http.Get(e.Server.URL + "/app/"); err == nil {
		r.Body.Close()
		t.Fatal("the server still answers")
	}
	e.do(chromedp.Reload())
	e.wait("shell from the service worker", `document.body.dataset.ready === '1'`)
	e.wait("last-known keys", `document.getElementById('keys-list').innerText.includes('Lobby')`)
	e.wait("offline banner", `!document.getElementById('offline').hidden`)
	e.screenshot("residentapp-offline")
	e.do(chromedp.Navigate(e.Server.URL + "/app/#doorcode"))
	e.wait("last-known doorcode", `document.querySelector('#doorcode-list .code')`)
	if got := e.js(`document.querySelector('#doorcode-list .code').textContent`); got != code {
		t.Fatalf("offline doorcode %q, want %q", got, code)
	}
}
