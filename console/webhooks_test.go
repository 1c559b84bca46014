package console_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/webhook"
)

var allowLocal = domain.WebhookPolicy{AllowPrivate: true}

// TestWebhooksPagePermissions: only Portfolio Managers and Property
// Managers with full Key Management see the page and its nav link; a
// refused add writes nothing and says why.
func TestWebhooksPagePermissions(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnvWith(t, st, func(storetest.Fixture) console.Options {
		return console.Options{Keys: storetest.Keyring(t, st), Webhooks: domain.WebhookPolicy{}}
	})
	p := e.f.Property.ID
	e.manager("full@example.com", &domain.Assignment{PropertyID: p, KeyManagement: domain.KeyManagementFull})
	e.manager("limited@example.com", &domain.Assignment{PropertyID: p, KeyManagement: domain.KeyManagementLimited, DeviceManagement: true})

	limited := e.login("limited@example.com")
	if r := limited.get(e.p("people")); strings.Contains(r.Body, `id="nav-webhooks"`) {
		t.Fatal("nav link shown without full Key Management")
	}
	if r := limited.get(e.p("webhooks")); r.Status != http.StatusForbidden {
		t.Fatalf("limited manager: %d", r.Status)
	}
	if r := limited.submit(e.p("webhooks"), url.Values{"url": {"https://hooks.example.com/x"}, "kinds": {"*"}}); r.Status != http.StatusForbidden {
		t.Fatalf("limited manager add: %d", r.Status)
	}

	full := e.login("full@example.com")
	r := full.get(e.p("webhooks"))
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `id="nav-webhooks"`) || strings.Contains(r.Body, `id="webhook-org"`) {
		t.Fatalf("full manager page: %d (org checkbox must be a Portfolio Manager's)", r.Status)
	}
	for _, c := range []struct{ url, kinds, want string }{
		{"http://hooks.example.com/x", "*", "https://"},
		{"https://169.254.169.254/latest", "*", "private, loopback or link-local"},
		{"https://hooks.example.com/x", "person.teleported", "unknown event kind"},
		{"https://hooks.example.com/x", "", "kinds is required"},
	} {
		r := full.submit(e.p("webhooks"), url.Values{"url": {c.url}, "kinds": {c.kinds}})
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Body, c.want) || !strings.Contains(r.Body, `id="webhook-error"`) {
			t.Errorf("%s %q: %d, want 400 saying %q", c.url, c.kinds, r.Status, c.want)
		}
	}
	// The organisation box sent by hand is refused for a Property Manager.
	if r := full.submit(e.p("webhooks"), url.Values{"url": {"https://hooks.example.com/x"}, "kinds": {"*"}, "org": {"1"}}); r.Status != http.StatusForbidden {
		t.Fatalf("full manager, organisation webhook: %d", r.Status)
	}
	if ws, _ := st.ListWebhooks(context.Background(), e.f.PM, ""); len(ws) != 0 {
		t.Fatalf("refused adds wrote %d webhooks", len(ws))
	}
	r = full.submit(e.p("webhooks"), url.Values{"url": {"https://hooks.example.com/x"}, "kinds": {"person.*, door.unlocked"}})
	if r.Status != http.StatusCreated || !strings.Contains(r.Body, "whsec_") {
		t.Fatalf("add: %d", r.Status)
	}
	if r := full.get(e.p("webhooks")); strings.Contains(r.Body, "whsec_") || !strings.Contains(r.Body, "door.unlocked, person.*") {
		t.Fatal("the secret is shown again, or the kinds are not listed")
	}
}

// TestWebhooksBrowser drives the page in headless Chromium: add an
// endpoint, see its secret once, see a delivery in the log, resend it, and
// see why the platform disabled an endpoint.
func TestWebhooksBrowser(t *testing.T) {
	path := chromium(t)
	ctx := context.Background()
	st := storetest.OpenSQLite(t)
	f := storetest.Seed(t, st)
	keys := storetest.Keyring(t, st)
	var fail atomic.Bool
	var got atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got.Add(1)
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer recv.Close()
	mux := http.NewServeMux()
	console.New(st, nil, nil, console.Options{Keys: keys, Webhooks: allowLocal}).Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(ctx, opts...)
	defer cancel()
	bctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	bctx, cancel = context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	b := &browser{t: t, ctx: bctx, base: srv.URL, st: st}
	b.login(storetest.PMEmail)
	pp := "/p/" + f.Property.ID
	b.open(pp + "/people")
	b.submit("#nav-webhooks", "#webhook-form")
	b.see("No webhooks yet.")
	b.do(chromedp.SendKeys(chromedp.CSS("#webhook-url"), recv.URL+"/hook"), chromedp.SendKeys(chromedp.CSS("#webhook-description"), "Front desk"))
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#webhook-kinds').value = 'person.invited'`))
	b.submit("#webhook-add", "#webhook-secret")
	secret, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#webhook-secret-value")))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q %v", secret, err)
	}
	b.see("Front desk", "person.invited", "enabled")

	if _, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Ana", LastName: "Lopez", Email: "ana@example.com", Access: domain.AccessApp}); err != nil {
		t.Fatal(err)
	}
	w := &webhook.Worker{Store: st, Keys: keys, Policy: allowLocal}
	if n, err := w.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("worker: %d %v", n, err)
	}
	ws, _ := st.ListWebhooks(ctx, f.PM, "")
	b.open(pp + "/webhooks/" + ws[0].ID)
	b.see("person.invited", "delivered", "HTTP 200")
	if secretShown := strings.Contains(b.text(), secret); secretShown {
		t.Fatal("the delivery page shows the secret")
	}
	b.submit("button[id^=resend-]", "#webhook-deliveries")
	b.see("Queued person.invited", "pending")
	fail.Store(true)
	w.GiveUpAfter = time.Nanosecond // the 3 days, passed at once
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	b.open(pp + "/webhooks/" + ws[0].ID)
	b.see("disabled", "500")
	b.open(pp + "/webhooks")
	b.see("deliveries kept failing")
	b.submit("#enable-"+ws[0].ID, "#webhooks")
	b.see("Enabled " + recv.URL + "/hook")
	if got.Load() != 2 {
		t.Fatalf("receiver got %d requests, want 2", got.Load())
	}
}
