package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// newFreshBrowser is a headless chromium on a console over a brand-new
// database (no organisation), with Door Sync running as under
// `dooros serve`.
func newFreshBrowser(t *testing.T) *browser {
	path := chromium(t)
	st := storetest.OpenSQLite(t)
	svc := startDoorSync(t, st)
	mb, err := mail.OpenMailbox(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	console.New(st, mb, nil, console.Options{DoorSync: svc}).Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	bctx, cancel = context.WithTimeout(bctx, 3*time.Minute)
	t.Cleanup(cancel)
	b := &browser{t: t, ctx: bctx, base: srv.URL, st: st, svc: svc, shot: t.TempDir(), dl: t.TempDir(), mb: mb}
	if os.Getenv("DOOROS_UPDATE_SCREENSHOTS") == "1" {
		b.shot = filepath.Join("..", "docs", "screenshots")
	}
	return b
}

// TestBrowserFreshInstall drives a brand-new install, in the browser
// only, to a first resident unlocking: the first-run page, a property, a
// door, its lock provisioned from the downloaded file, a key with
// doorcodes, a resident invited; then the lock, loaded with that file and
// synced like a phone would, opens for the resident's doorcode, and the
// opening shows in Activity.
func TestBrowserFreshInstall(t *testing.T) {
	b := newFreshBrowser(t)
	ctx := context.Background()
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }
	fill := func(sel, v string) { b.t.Helper(); b.do(chromedp.SendKeys(css(sel), v)) }

	// 1. The first-run page, with a mistake shown beside its field.
	b.open("/")
	b.do(chromedp.WaitVisible(css("#setup")))
	if loc := b.location(); !strings.HasSuffix(loc, "/setup") {
		t.Fatalf("a fresh install opens at %s, want /setup", loc)
	}
	b.screenshot("first-run")
	fill("#org", "Acme Homes")
	fill("#first_name", "Pat")
	fill("#last_name", "Lee")
	fill("#email", "pat@example.com")
	fill("#password", storetest.PMPassword)
	fill("#password2", "not the same password")
	b.submit("#setup-submit", "#err-password2")
	b.see("Password again does not match the password")
	if ok, _ := b.st.Initialized(ctx); ok {
		t.Fatal("a refused first-run form created the organisation")
	}
	fill("#password", storetest.PMPassword)
	fill("#password2", storetest.PMPassword)
	b.submit("#setup-submit", "#property-form")
	b.see("Welcome to DOOR OS", "Pat Lee · Portfolio Manager")

	// 2. The property, then its setup checklist.
	fill("#name", "Harbor View")
	fill("#time_zone", "America/New_York")
	b.submit("#property-save", "#setup-steps")
	b.see("Property Harbor View created", "Doors: 0 added")
	b.screenshot("property-setup")

	// 3. A door (offline: phones sync it), from the checklist.
	b.do(chromedp.Click(css("#step-door")), chromedp.WaitVisible(css("#door-form")))
	fill("#name", "Main Entrance")
	b.submit("#door-save", "#doors")
	b.see("Door Main Entrance added", "Main Entrance")

	// 4. Its lock: provisioned in the browser; the file shown once is what
	// `doorlock provision` loads.
	b.submit(`button[aria-label="Provision the lock of Main Entrance"]`, "#provisioned")
	file, err := chromedp.Run(b.ctx, chromedp.TextContent(css("#provisioning-file")))
	if err != nil {
		t.Fatal(err)
	}
	var prov lockproto.Provisioning
	if err := json.Unmarshal([]byte(file), &prov); err != nil {
		t.Fatalf("provisioning file: %v\n%s", err, file)
	}
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, &prov); err != nil {
		t.Fatal(err)
	}
	lk, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}

	// 5. A key with doorcodes at that door, from the checklist.
	b.open("/")
	b.do(chromedp.WaitVisible(css("nav.tabs")))
	b.do(chromedp.Click(css("#nav-settings")), chromedp.WaitVisible(css("#setup-steps")))
	b.see("Locks: 1 of 1 provisioned")
	b.do(chromedp.Click(css("#step-key")), chromedp.WaitVisible(css("#key-form")))
	fill("#name", "Residents")
	b.do(chromedp.Click(css(`#key-form input[name=door]`)), chromedp.Click(css(`#key-form input[name=doorcodes]`)))
	b.submit(`#key-form button[type=submit]`, ".flash")
	b.see("Saved key Residents")

	// 6. The first resident.
	b.do(chromedp.Click(css("#nav-settings")), chromedp.WaitVisible(css("#setup-steps")))
	b.do(chromedp.Click(css("#step-invite")), chromedp.WaitVisible(css("#invite-form")))
	b.do(chromedp.Click(css(`input[name=access][value=doorcode]`)))
	fill("#first_name", "Ana")
	fill("#last_name", "Garcia")
	fill("#email", "ana@example.com")
	b.do(chromedp.Click(css(`#invite-form input[name=key]`)))
	b.submit(`#invite-form button[type=submit]`, "#person-status")
	code, err := chromedp.Run(b.ctx, chromedp.Text(css("#doorcode")))
	if err != nil {
		t.Fatal(err)
	}
	code = strings.TrimSpace(code)
	if len(code) != domain.DefaultDoorcodeLength {
		t.Fatalf("doorcode %q", code)
	}

	// 7. A phone syncs the door (the bundle in, the lock's ack back), then
	// Ana types her code at the keypad.
	org, err := b.st.Organisation(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sys := domain.System(org.ID, "browser test")
	props, err := b.st.ListProperties(ctx, sys)
	if err != nil || len(props) != 1 {
		t.Fatalf("properties %v %v", props, err)
	}
	doors, err := b.st.ListDoors(ctx, sys, props[0].ID)
	if err != nil || len(doors) != 1 {
		t.Fatalf("doors %v %v", doors, err)
	}
	door := doors[0].ID
	if d, _ := lk.EnterCode(code); d.Granted {
		t.Fatal("the lock opened before it was synced")
	}
	syncLock(t, b.svc, door, lk)
	d, err := lk.EnterCode(code)
	if err != nil || !d.Granted {
		t.Fatalf("Ana's doorcode at Main Entrance: %+v %v", d, err)
	}
	if d, _ := lk.EnterCode(wrongCode(code)); d.Granted {
		t.Fatal("a wrong code opened the door")
	}

	// 8. The next phone carries the lock's log up: the opening is in
	// Activity.
	batch, err := lk.EventsSince(0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.HandleEvents(ctx, door, batch, "browser test phone"); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.Click(css("#nav-activity")), chromedp.WaitVisible(css("table.activity")))
	b.see("When (America/New_York)", "Ana Garcia opened Main Entrance", "Unknown doorcode at Main Entrance", "Doorcode",
		"Pat Lee invited Ana Garcia (a doorcode only, 1 key)", "Pat Lee created entrance door Main Entrance (offline)",
		"Pat Lee provisioned the lock of Main Entrance")
	if txt := b.text(); strings.Contains(txt, "door.unlocked") || strings.Contains(txt, "lock event") || strings.Contains(txt, "applied version") {
		t.Errorf("Activity shows codes or Door Sync bookkeeping:\n%s", txt)
	}
	b.screenshot("activity-words")
	// The detail view has the codes; Door Sync's bookkeeping is a tick away.
	// (The lock's own entry, not the newest row: a lock stamps whole
	// seconds, so in a fast run the invitation may sort above it.)
	b.do(chromedp.Click(`//table[contains(@class,"activity")]//tr[contains(., "Ana Garcia opened Main Entrance")]//details/summary`))
	b.see("Recorded by", "lock event")
	b.do(chromedp.Click(css("#system")))
	b.submit(`form[aria-label="Filter activity"] button[type=submit]`, "table.activity")
	b.see("Door Sync: lock of Main Entrance applied version")
}

// wrongCode is a code of the same length that differs in every digit.
func wrongCode(code string) string {
	out := []byte(code)
	for i := range out {
		out[i] = '0' + (out[i]-'0'+5)%10
	}
	return string(out)
}

// syncLock is a phone's Door Sync of one door: the pending bundle in, the
// lock's ack back, until the door is in sync.
func syncLock(t *testing.T, svc *doorsync.Service, door string, lk *lock.Lock) {
	t.Helper()
	ctx := context.Background()
	for i := 0; ; i++ {
		bd, err := svc.Bundle(ctx, door)
		if errors.Is(err, store.ErrInSync) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		ack, err := lk.ApplyBundle(bd.Sealed)
		if ack == nil {
			t.Fatalf("bundle refused by the lock: %v", err)
		}
		res, err := svc.HandleAck(ctx, door, ack, "test phone")
		if err != nil {
			t.Fatal(err)
		}
		if !res.Pending {
			return
		}
		if i == 3 {
			t.Fatal("door still pending after three syncs")
		}
	}
}
