package console_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/demo"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// chromium finds the browser: $DOOROS_CHROMIUM, else chromium on PATH.
// Without one the browser tests skip, unless DOOROS_TEST_BROWSER=1 (CI),
// where a missing browser is a failure.
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

// browser is one headless chromium with a fresh profile, driving a
// console that runs on the demo data, with the demo's simulated locks
// running behind Door Sync as under `dooros serve --demo`.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	st    *store.Store
	demo  demo.Result
	svc   *doorsync.Service
	locks *demo.Locks
	shot  string // screenshot directory
	dl    string // download directory
	mb    *mail.Mailbox
}

// startDoorSync runs what `dooros serve` runs for Door Sync: keyring,
// embedded MQTT broker and the pusher.
func startDoorSync(t *testing.T, st *store.Store) *doorsync.Service {
	t.Helper()
	svc, stop, err := doorsync.Start(context.Background(), st, storetest.Keyring(t, st), doorsync.Config{Addr: "127.0.0.1:0", ClientID: "console-browser-test", Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return svc
}

// relay is a phone's Door Sync over a demo lock's BLE link: the door's
// pending bundle in, the lock's ack back.
func (b *browser) relay(door string) {
	b.t.Helper()
	ctx := context.Background()
	var lk *demo.Lock
	for i := range b.locks.Locks {
		if b.locks.Locks[i].Door.Name == door {
			lk = &b.locks.Locks[i]
		}
	}
	if lk == nil {
		b.t.Fatalf("no demo lock for %s", door)
	}
	for range 3 { // a lock that asks for a snapshot gets one next round
		bd, err := b.svc.Bundle(ctx, lk.Door.ID)
		if errors.Is(err, store.ErrInSync) {
			return
		}
		if err != nil {
			b.t.Fatal(err)
		}
		// A phone's relay, handed straight to the firmware: this test has
		// no resident phone to open the lock's channel with.
		ack, err := lk.Firmware.ApplyBundle(bd.Sealed)
		if ack == nil {
			b.t.Fatalf("relay to %s: %v", door, err)
		}
		res, err := b.svc.HandleAck(ctx, lk.Door.ID, ack, "browser test phone")
		if err != nil {
			b.t.Fatal(err)
		}
		if !res.Pending {
			return
		}
	}
	b.t.Fatalf("%s still pending after three relays", door)
}

func newBrowser(t *testing.T) *browser {
	path := chromium(t)
	st := storetest.OpenSQLite(t)
	ctx := context.Background()
	res, err := demo.Seed(ctx, st, demo.Options{Password: storetest.PMPassword})
	if err != nil {
		t.Fatal(err)
	}
	// A door whose lock is still to be provisioned, from the browser.
	org, err := st.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateDoor(ctx, domain.System(org.ID, "browser test"), res.Property.ID, domain.DoorInput{Name: "Bike Room", Type: domain.DoorCommunal, Connectivity: domain.Offline}); err != nil {
		t.Fatal(err)
	}
	svc := startDoorSync(t, st)
	locks, err := demo.StartLocks(ctx, svc, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locks.Close() })
	mb, err := mail.OpenMailbox(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	mb.Send(ctx, mail.Message{ID: "demo-welcome-ana", To: mail.Address{Name: "Ana Garcia", Email: "ana.garcia@example.com"},
		Subject: "Welcome to " + res.Property.Name, Text: "Hello Ana,\n\nDana Demo invited you to " + res.Property.Name + ".\nInstall the DOOR App and sign in with this email address.\n"})
	mux := http.NewServeMux()
	console.New(st, mb, nil, console.Options{DoorSync: svc}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancel = context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: bctx, base: srv.URL, st: st, demo: res, svc: svc, locks: locks, shot: t.TempDir(), dl: t.TempDir(), mb: mb}
	allow := true
	if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: b.dl, EventsEnabled: &allow})
		return err
	})); err != nil {
		t.Fatal(err)
	}
	// Phones synced two offline doors: their locks hold Ben's card and
	// Ana's doorcode.
	b.relay("Mail Room")
	b.relay("Unit 101")
	if os.Getenv("DOOROS_UPDATE_SCREENSHOTS") == "1" {
		b.shot = filepath.Join("..", "docs", "screenshots")
	}
	return b
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) open(path string) {
	b.t.Helper()
	b.do(chromedp.Navigate(b.base + path))
}

// text is the visible text of the page's main region.
func (b *browser) text() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

func (b *browser) see(want ...string) {
	b.t.Helper()
	txt := b.text()
	for _, w := range want {
		if !strings.Contains(txt, w) {
			b.t.Errorf("page does not show %q; it shows:\n%s", w, txt)
		}
	}
}

func (b *browser) location() string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	return s
}

// present reports whether an element exists, without waiting.
func (b *browser) present(sel string) bool {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool]("document.querySelector("+jsString(sel)+") !== null"))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

func jsString(s string) string { return "'" + strings.ReplaceAll(s, "'", "\\'") + "'" }

// submit clicks a submit button, waits until the browser has left the
// current document, then for an element of the next page.
func (b *browser) submit(button, waitFor string) {
	b.t.Helper()
	b.do(chromedp.Evaluate[chromedp.Void](`window.__doorosOld = true`), chromedp.Click(chromedp.CSS(button)))
	for deadline := time.Now().Add(20 * time.Second); ; {
		old, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.__doorosOld === true || document.readyState !== 'complete'`))
		if err == nil && !old {
			break
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("clicking %s did not load a new page", button)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.do(chromedp.WaitVisible(chromedp.CSS(waitFor)))
}

func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.shot, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) login(email string) {
	b.t.Helper()
	b.open("/login")
	b.do(chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), storetest.PMPassword))
	b.submit(`button[type=submit]`, "nav.tabs")
}

func (b *browser) logout() {
	b.t.Helper()
	b.submit(`.who button[type=submit]`, "#email")
}

func (b *browser) sys() domain.Actor {
	b.t.Helper()
	org, err := b.st.Organisation(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return domain.System(org.ID, "browser test")
}

func (b *browser) personID(email string) string {
	b.t.Helper()
	ps, _, err := b.st.ListPeople(context.Background(), b.sys(), b.demo.Property.ID, domain.PeopleFilter{Query: email, IncludeExpired: true})
	if err == nil && len(ps) == 1 {
		return ps[0].ID
	}
	b.t.Fatalf("person %s: %v %v", email, ps, err)
	return ""
}

// TestBrowser walks the console's main flows in a real chromium and saves
// screenshots of the main pages (into docs/screenshots with
// DOOROS_UPDATE_SCREENSHOTS=1).
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	pp := "/p/" + b.demo.Property.ID

	t.Run("log in", func(t *testing.T) {
		b.t = t
		b.open(pp + "/people")
		if !strings.Contains(b.location(), "/login") {
			t.Fatalf("not sent to the login page: %s", b.location())
		}
		b.do(chromedp.SendKeys(chromedp.CSS("#email"), b.demo.Email), chromedp.SendKeys(chromedp.CSS("#password"), "wrong password"))
		b.submit(`button[type=submit]`, ".error")
		b.see("Wrong email or password.")
		b.do(chromedp.SendKeys(chromedp.CSS("#password"), storetest.PMPassword))
		b.submit(`button[type=submit]`, "#people")
		b.see("Garcia, Ana", "Okafor, Ben", "pending", "active")
		if strings.Contains(b.text(), "Martin, Eve") {
			t.Error("expired person shown without Show Expired Users")
		}
		b.screenshot("people")
	})

	t.Run("search", func(t *testing.T) {
		b.t = t
		b.do(chromedp.SendKeys(chromedp.CSS("#q"), "okaf"))
		b.submit(`form[role=search] button`, "#people")
		b.see("Okafor, Ben")
		if strings.Contains(b.text(), "Garcia") {
			t.Error("search shows people who do not match")
		}
	})

	t.Run("invite with the app", func(t *testing.T) {
		b.t = t
		b.open(pp + "/people")
		b.do(chromedp.Click(chromedp.CSS("#invite-button")), chromedp.WaitVisible(chromedp.CSS("#invite-form")))
		b.see("receives the welcome email today", "Expiration (recommended)")
		exp, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#expires_at")))
		// A year from today where the property is (on New Year's Eve the
		// machine's own zone may already be in the next year).
		if err != nil || !strings.HasPrefix(exp, b.st.Now().In(b.demo.Property.Location()).AddDate(1, 0, 0).Format("2006")) {
			t.Errorf("expiration pre-filled with %q, want a year from today", exp)
		}
		b.do(chromedp.SendKeys(chromedp.CSS("#first_name"), "Hana"), chromedp.SendKeys(chromedp.CSS("#last_name"), "Sato"),
			chromedp.SendKeys(chromedp.CSS("#email"), "hana.sato@example.com"), chromedp.SendKeys(chromedp.CSS("#phone"), "+1 212 555 0142"))
		// The Building key is checked via its label text, whatever its order.
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#invite-form .keyrow').forEach(function (row) {
			if (row.textContent.indexOf('Building') >= 0) { row.querySelector('input[name=key]').checked = true; row.querySelector('input[name=share]').checked = true; } })`))
		b.screenshot("invite")
		b.submit(`#invite-form button[type=submit]`, "#person-status")
		b.see("Invited Hana Sato. The welcome email goes out now", "Building", "active")
		b.screenshot("person")
	})

	t.Run("invite with a doorcode", func(t *testing.T) {
		b.t = t
		b.open(pp + "/people/invite")
		b.do(chromedp.Click(chromedp.CSS(`input[name=access][value=doorcode]`)),
			chromedp.SendKeys(chromedp.CSS("#first_name"), "Ivan"), chromedp.SendKeys(chromedp.CSS("#last_name"), "Petrov"),
			chromedp.SendKeys(chromedp.CSS("#email"), "ivan.petrov@example.com"),
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#invite-form .keyrow').forEach(function (row) {
				if (row.textContent.indexOf('Home 102') >= 0) { row.querySelector('input[name=key]').checked = true; } })`))
		b.submit(`#invite-form button[type=submit]`, "#person-status")
		b.see("Invited Ivan Petrov", "Doorcode only", "Home 102")
		if !b.present("#doorcode") {
			t.Error("no doorcode shown to a Portfolio Manager")
		}
	})

	t.Run("give and take a key", func(t *testing.T) {
		b.t = t
		id := b.personID("hana.sato@example.com")
		b.open(pp + "/people/" + id)
		b.do(chromedp.Evaluate[chromedp.Void](`(function () { var s = document.getElementById('give-key');
			for (var i = 0; i < s.options.length; i++) { if (s.options[i].text.indexOf('Amenities') === 0) { s.selectedIndex = i; } } })()`))
		b.submit(`#give-key-form button[type=submit]`, ".flash")
		b.see("Gave a key to Hana Sato")
		if !strings.Contains(b.text(), "Amenities") {
			t.Fatal("Amenities not listed after giving it")
		}
		// Accept the confirmation dialog the button asks for.
		b.do(chromedp.Evaluate[chromedp.Void](`window.confirm = function () { return true; }`))
		b.submit(`button[aria-label="Remove key Amenities"]`, ".flash")
		b.see("Took the key from Hana Sato")
		keys, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#person-keys")))
		if strings.Contains(keys, "Amenities") {
			t.Fatal("Amenities still listed after taking it")
		}
	})

	t.Run("Door Sync task appears after a change", func(t *testing.T) {
		b.t = t
		ctx := context.Background()
		tasks, err := b.st.ListSyncTasks(ctx, b.sys(), b.demo.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range tasks {
			if err := b.st.AckDoor(ctx, tk.DoorID, tk.Version); err != nil {
				t.Fatal(err)
			}
		}
		b.open(pp + "/sync")
		b.see("Every offline door is up to date.")
		id := b.personID("hana.sato@example.com")
		b.open(pp + "/people/" + id)
		b.do(chromedp.Evaluate[chromedp.Void](`(function () { var s = document.getElementById('give-key');
			for (var i = 0; i < s.options.length; i++) { if (s.options[i].text.indexOf('Amenities') === 0) { s.selectedIndex = i; } } })()`))
		b.submit(`#give-key-form button[type=submit]`, ".flash")
		b.open(pp + "/sync")
		b.see("Gym", "Roof Terrace")
		if b.present("#exposure") {
			t.Error("giving a key shows a revocation exposure")
		}
	})

	t.Run("keycard: activate, then deactivate and see where it still works", func(t *testing.T) {
		b.t = t
		id := b.personID("hana.sato@example.com")
		b.open(pp + "/people/" + id + "#keycard")
		b.see("No keycard.", "A deactivated card keeps working on doors that are not internet-connected until they are synced.")
		b.do(chromedp.SendKeys(chromedp.CSS("#card-serial"), "04:b7:22:91"))
		b.submit(`#keycard-form button[type=submit]`, ".flash")
		b.see("Activated keycard 04:B7:22:91", "active")
		// A phone syncs the Mail Room: its lock now holds the card.
		b.relay("Mail Room")
		b.do(chromedp.Evaluate[chromedp.Void](`window.confirm = function () { return true; }`))
		b.submit("#keycard-deactivate", "#keycard-pending")
		b.see("Deactivated keycard 04:B7:22:91. It still works at", "This deactivated card still opens", "Mail Room")
		b.screenshot("keycard")
	})

	t.Run("revoke all keys and find the person under Show Expired Users", func(t *testing.T) {
		b.t = t
		id := b.personID("ana.garcia@example.com")
		b.open(pp + "/people/" + id)
		b.do(chromedp.Click(chromedp.CSS("#revoke-link")), chromedp.WaitVisible(chromedp.CSS("#consequences")))
		b.see("Gina Rossi", "Unit 101", "Gym", "may still work there")
		b.screenshot("revoke-confirm")
		b.submit("#confirm-button", ".flash")
		b.see("Revoked all keys of Ana Garcia", "revoked")
		b.open(pp + "/people")
		if strings.Contains(b.text(), "Garcia, Ana") {
			t.Error("revoked person listed without Show Expired Users")
		}
		// Ticking Show Expired Users applies at once, without Search.
		b.submit(`input[name=expired]`, "#people")
		b.see("Garcia, Ana", "revoked", "Martin, Eve", "expired")
		if !strings.Contains(b.location(), "expired=1") {
			t.Errorf("Show Expired Users did not reload the list: %s", b.location())
		}
		// The name as the list shows it finds the person.
		b.do(chromedp.SendKeys(chromedp.CSS("#q"), "Garcia, Ana"))
		b.submit(`form[role=search] button`, "#people")
		b.see("Garcia, Ana")
		if strings.Contains(b.text(), "Martin, Eve") {
			t.Error(`search "Garcia, Ana" lists Eve Martin`)
		}
		b.open(pp + "/sync")
		b.see("Revocation pending", "Bluetooth only")
		b.screenshot("sync-tasks")
		b.do(chromedp.Click(chromedp.CSS("#exposure-link")), chromedp.WaitVisible(chromedp.CSS("#exposure-list")))
		b.see("Revocation exposure", "Ana Garcia", "Unit 101", "doorcode still on the lock", "until the lock syncs")
		b.screenshot("exposure")
		b.open(pp + "/people/" + id)
		b.do(chromedp.Click(chromedp.CSS(`#person-exposure + a`)), chromedp.WaitVisible(chromedp.CSS("#exposure-list")))
		b.see("Showing Ana Garcia only")
		if strings.Contains(b.text(), "Frank Liu") {
			t.Error("the exposure of Ana shows someone else")
		}
	})

	t.Run("delete a person and find their activity", func(t *testing.T) {
		b.t = t
		id := b.personID("ben.okafor@example.com")
		b.open(pp + "/people/" + id)
		b.do(chromedp.Click(chromedp.CSS("#delete-link")), chromedp.WaitVisible(chromedp.CSS("#consequences")))
		b.see("leaves the People tab", "Unit 102")
		b.submit("#confirm-button", ".flash")
		b.see("Deleted Ben Okafor", "Dana Demo deleted Ben Okafor", "invited Ben Okafor")
		if !strings.Contains(b.location(), "/activity") {
			t.Errorf("after deleting: %s, want the Activity tab", b.location())
		}
		b.open(pp + "/people?expired=1")
		if strings.Contains(b.text(), "Okafor") {
			t.Error("deleted person still on People")
		}
		b.open(pp + "/activity")
		b.see("Okafor", "deleted Ben Okafor", "When (America/New_York)")
		b.screenshot("activity")
		if strings.Contains(b.text(), "applied version") {
			t.Error("Door Sync bookkeeping shown without asking")
		}
		b.open(pp + "/activity?system=1")
		b.see("applied version")
		b.open(pp + "/activity?kind=door.unlocked")
		b.see("opened", "Ana Garcia")
	})

	t.Run("doors: each lock's state, and provisioning a lock", func(t *testing.T) {
		b.t = t
		// The online demo locks report over MQTT within moments.
		for deadline := time.Now().Add(10 * time.Second); ; {
			b.open(pp + "/doors")
			if strings.Count(b.text(), "connected") >= 2 && !strings.Contains(b.text(), "never connected") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("online locks not shown connected:\n%s", b.text())
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.see("Main Entrance", "online", "offline", "Bluetooth only", "provisioned", "not provisioned", "1 door has no lock provisioned yet")
		b.screenshot("doors")
		b.submit(`button[aria-label="Provision the lock of Bike Room"]`, "#provisioned")
		b.see("Lock provisioned: Bike Room", "shown only this once", "doorlock provision --state ./lock-bike-room lock-bike-room.json")
		b.screenshot("provision-lock")
		b.do(chromedp.Click(chromedp.CSS("#provisioning-download")))
		var file []byte
		for deadline := time.Now().Add(10 * time.Second); ; {
			var err error
			if file, err = os.ReadFile(filepath.Join(b.dl, "lock-bike-room.json")); err == nil && len(file) > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the provisioning file was not downloaded")
			}
			time.Sleep(50 * time.Millisecond)
		}
		p, err := lockproto.ParseProvisioning(file)
		if err != nil {
			t.Fatalf("downloaded file: %v", err)
		}
		b.open(pp + "/doors")
		b.see("Bike Room")
		if !b.present(`button[aria-label="Re-provision the lock of Bike Room"]`) {
			t.Error("Bike Room not shown provisioned")
		}
		if !strings.Contains(b.text(), "Bike Room") || p.LockID == "" {
			t.Error("no lock id in the file")
		}
	})

	t.Run("keys, staff and mailbox pages", func(t *testing.T) {
		b.t = t
		b.open(pp + "/keys")
		b.see("Building", "Amenities", "doorcodes")
		b.screenshot("keys")
		b.open(pp + "/keys/new")
		b.see("Schedule")
		b.screenshot("key-edit")
		b.open("/staff")
		b.see("Morgan Lee", "Property Manager")
		b.screenshot("staff")
		b.open("/mailbox")
		b.see("Welcome to " + b.demo.Property.Name)
		b.screenshot("mailbox")
	})

	t.Run("reports: the keycards report downloaded", func(t *testing.T) {
		b.t = t
		b.open(pp + "/people")
		b.do(chromedp.Click(chromedp.CSS("#nav-reports")), chromedp.WaitVisible(chromedp.CSS("#reports")))
		b.see("Admin actions", "Assigned access", "Keys", "Devices", "Keycards", "People × keys")
		b.screenshot("reports")
		b.do(chromedp.Click(chromedp.CSS("#report-keycards")))
		file := b.download("keycards-*.csv")
		if !strings.Contains(file, "04:B7:22:91") || !strings.Contains(file, "deactivated") {
			t.Errorf("keycards report:\n%s", file)
		}
	})

	t.Run("imports: reached from the nav", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Click(chromedp.CSS("#nav-imports")), chromedp.WaitVisible(chromedp.CSS("#import-form")))
		b.see("CSV import", "Download the template")
	})

	t.Run("PMS: settings, a dry run, the sync and its review", func(t *testing.T) {
		b.t = t
		b.do(chromedp.Click(chromedp.CSS("#nav-pms")), chromedp.WaitVisible(chromedp.CSS("#pms-settings-form")))
		b.see("PMS User Sync is not set up")
		b.do(chromedp.SetValue(chromedp.CSS("#pms-provider"), "generic"),
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll('#pms-settings-form input[name=keys]').forEach(function (c) {
				if (c.parentNode.textContent.indexOf('Building') >= 0) { c.checked = true; } })`))
		b.submit(`#pms-settings-form button[type=submit]`, ".flash")
		b.see("PMS User Sync settings saved.")
		roster := filepath.Join(t.TempDir(), "roster.json")
		if err := os.WriteFile(roster, genericRoster(t, b.st.Now(), [4]string{"y-1", "Kai", "Lee", "kai.lee@example.com"},
			[4]string{"y-2", "Hannah", "Sato", "hana.sato@example.com"}), 0o600); err != nil {
			t.Fatal(err)
		}
		b.do(chromedp.SetUploadFiles(chromedp.CSS(`#pms-roster-form input[name=roster]`), []string{roster}))
		b.submit(`#pms-roster-form button[type=submit]`, "#pms-plan")
		b.see("Dry run of roster.json", "kai.lee@example.com", "the email belongs to a person with another name", "Nothing was changed")
		b.screenshot("pms-dry-run")
		b.do(chromedp.SetUploadFiles(chromedp.CSS(`#pms-roster-form input[name=roster]`), []string{roster}),
			chromedp.Click(chromedp.CSS(`#pms-roster-form input[name=dry_run]`)))
		b.submit(`#pms-roster-form button[type=submit]`, "#pms-run-items")
		b.see("Queued: the sync runs in the background")
		if err := (&imports.Runner{Store: b.st, Pause: -1}).Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		b.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#pms-run-items")))
		b.see("1 created", "kai.lee@example.com", "approval_required")
		b.screenshot("pms-run")
		b.open(pp + "/pms")
		b.see("Review queue", "the email belongs to a person with another name", "changes need your approval")
		b.screenshot("pms")
		b.submit(`#pms-reviews tr:has(td[data-label=Reason]) button[id^=approve-]`, ".flash")
		b.see("Review approved")
	})

	t.Run("phone screen", func(t *testing.T) {
		b.t = t
		b.do(chromedp.EmulateViewport(390, 844))
		b.open(pp + "/people")
		b.see("Invite")
		b.screenshot("people-phone")
		b.do(chromedp.EmulateViewport(1280, 900))
	})

	t.Run("no Invite button without Key Management", func(t *testing.T) {
		b.t = t
		b.logout()
		b.login(b.demo.LimitedEmail)
		b.open(pp + "/people")
		if b.present("#invite-button") {
			t.Fatal("Invite button shown to a manager without Key Management")
		}
		b.see("You need Key Management on this property", "Dana Demo")
		b.screenshot("people-no-key-management")
	})

	t.Run("Card Activation without Key Management: the Keycards page", func(t *testing.T) {
		b.t = t
		ms, err := b.st.ListManagers(context.Background(), b.sys())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.Email == b.demo.LimitedEmail {
				if _, err := b.st.SetAssignment(context.Background(), b.sys(), m.ID, domain.Assignment{PropertyID: b.demo.Property.ID,
					KeyManagement: domain.KeyManagementNone, DeviceManagement: true, CardActivation: true}); err != nil {
					t.Fatal(err)
				}
			}
		}
		b.open(pp + "/people")
		b.do(chromedp.Click(chromedp.CSS("#nav-keycards")), chromedp.WaitVisible(chromedp.CSS("#keycards-search")))
		b.do(chromedp.SendKeys(chromedp.CSS("#keycards-q"), "hana.sato@example.com"))
		b.submit(`#keycards-search button`, "#keycard-holders")
		b.see("Hana Sato", "04:B7:22:91", "deactivated")
		id := b.personID("hana.sato@example.com")
		b.do(chromedp.SendKeys(chromedp.CSS("#serial-"+id), "04:c1:00:07"))
		b.submit(`#holder-`+id+` form.toolbar button[type=submit]`, ".flash")
		b.see("Activated keycard 04:C1:00:07", "Active cards")
		b.screenshot("keycards")
	})

	t.Run("manager invitation: the emailed link sets the password", func(t *testing.T) {
		b.t = t
		b.logout()
		b.login(b.demo.Email)
		b.open("/staff")
		b.do(chromedp.SendKeys(chromedp.CSS("#m-first"), "Nia"), chromedp.SendKeys(chromedp.CSS("#m-last"), "Novak"),
			chromedp.SendKeys(chromedp.CSS("#m-email"), "nia.novak@example.com"))
		b.submit(`#add-manager button[type=submit]`, "main")
		b.logout()
		// The email worker as serve runs it, into the console's mailbox.
		mux := http.NewServeMux()
		console.New(b.st, nil, nil, console.Options{}).Routes(mux)
		w := &notify.Worker{Store: b.st, Sender: b.mb, PublicURL: b.base, InvitationPage: notify.InvitationPage(mux)}
		if _, err := w.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		msgs, err := b.mb.List(50)
		if err != nil {
			t.Fatal(err)
		}
		link := ""
		for _, m := range msgs {
			if m.To.Email == "nia.novak@example.com" {
				for _, l := range mailtest.Links(m.HTML, m.Text) {
					if strings.HasPrefix(l, b.base+notify.AcceptInvitationPath+"?token=") {
						link = l
					}
				}
			}
		}
		if link == "" {
			t.Fatal("no set-password link in Nia's invitation")
		}
		b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#password_confirm")))
		b.see("Set your password", "nia.novak@example.com")
		b.do(chromedp.SendKeys(chromedp.CSS("#password"), "nia's new password"), chromedp.SendKeys(chromedp.CSS("#password_confirm"), "nia's other password"))
		b.submit(`#invite-accept button[type=submit]`, ".error")
		b.see("The two passwords are not the same")
		b.do(chromedp.SendKeys(chromedp.CSS("#password"), "nia's new password"), chromedp.SendKeys(chromedp.CSS("#password_confirm"), "nia's new password"))
		b.screenshot("invite-accept")
		b.submit(`#invite-accept button[type=submit]`, "#login-notice")
		b.see("Your password is set")
		b.do(chromedp.SendKeys(chromedp.CSS("#email"), "nia.novak@example.com"), chromedp.SendKeys(chromedp.CSS("#password"), "nia's new password"))
		b.submit(`button[type=submit]`, "main")
		if strings.Contains(b.location(), "/login") {
			t.Fatalf("Nia's new password did not log her in: %s", b.text())
		}
		b.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#invite-broken")))
		b.see("already been used")
	})
}

// download waits for a file matching pattern in the download directory
// and returns its content.
func (b *browser) download(pattern string) string {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if m, _ := filepath.Glob(filepath.Join(b.dl, pattern)); len(m) > 0 {
			if f, err := os.ReadFile(m[0]); err == nil && len(f) > 0 {
				return string(f)
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no %s downloaded", pattern)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
