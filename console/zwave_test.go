package console_test

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/zwave"
	"github.com/dooros/dooros/zwave/zwavetest"
)

// TestZWaveConsole: the Doors page shows a Z-Wave lock's battery, the
// Door Sync page alerts on a low one, and the Z-Wave page's Lock/Unlock
// now reaches the node (the real Z-Wave JS on the mock network), is
// logged, and is refused without Device Management or with a bad form.
func TestZWaveConsole(t *testing.T) {
	n := zwavetest.Start(t)
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		n.Reset(t, 2)
		ctx := context.Background()
		kr := storetest.Keyring(t, st)
		syncer := &zwave.Syncer{Store: st, Sealer: kr, Poll: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		e := newEnvWith(t, st, func(storetest.Fixture) console.Options { return console.Options{ZWave: syncer} })
		prop := e.f.Property.ID
		gw, err := st.AddZWaveGateway(ctx, e.f.PM, kr, prop, store.ZWaveGatewayInput{Name: "Hub", URL: n.URL()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.BindZWaveLock(ctx, e.f.PM, prop, e.f.Lobby.ID, gw.ID, 2); err != nil {
			t.Fatal(err)
		}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { syncer.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		waitFor := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(60 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatal("timeout: " + what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitFor("lock synced with its battery read", func() bool {
			l, err := st.ZWaveLockOf(ctx, prop, e.f.Lobby.ID)
			return err == nil && l.Acked == l.Version && l.Battery != nil && *l.Battery == 90
		})

		c := e.login(storetest.PMEmail)
		doors := c.get(e.p("doors")).Body
		mustContain(t, doors, "Z-Wave node 2</a> · battery 90%")
		if strings.Count(doors, "Z-Wave node") != 1 {
			t.Fatal("doors without a Z-Wave lock shown as Z-Wave")
		}
		mustNotContain(t, c.get(e.p("sync")).Body, `id="low-battery"`)

		page := c.get(e.p("zwave")).Body
		mustContain(t, page, `id="zwave-`+e.f.Lobby.ID+`"`, `aria-label="Unlock Lobby now"`, "90%", "up to date")

		// Lock/Unlock now.
		path := e.p("doors", e.f.Lobby.ID, "zwave", "lock-now")
		r := c.submit(path, url.Values{"locked": {"0"}})
		if r.Status != 303 || !strings.HasSuffix(r.Header.Get("Location"), "/zwave") {
			t.Fatalf("unlock now: %d %s", r.Status, r.Body)
		}
		mustContain(t, c.get(e.p("zwave")).Body, "Lobby unlocked.")
		logged := func() int {
			evs, _, err := st.ListActivity(ctx, e.f.PM, prop, store.ActivityFilter{Kind: store.EventZWaveLockNow})
			if err != nil {
				t.Fatal(err)
			}
			return len(evs)
		}
		if logged() != 1 {
			t.Fatal("unlock now not logged")
		}
		for _, bad := range []struct {
			name string
			r    func() *resp
			code int
		}{
			{"bad value", func() *resp { return c.submit(path, url.Values{"locked": {"maybe"}}) }, 400},
			{"no CSRF", func() *resp { return c.post(path, url.Values{"locked": {"1"}}) }, 403},
			{"door without a Z-Wave lock", func() *resp {
				return c.submit(e.p("doors", e.f.Gym.ID, "zwave", "lock-now"), url.Values{"locked": {"1"}})
			}, 404},
		} {
			if r := bad.r(); r.Status != bad.code {
				t.Fatalf("%s: %d, want %d", bad.name, r.Status, bad.code)
			}
		}
		e.manager("keys@example.com", &domain.Assignment{PropertyID: prop, KeyManagement: domain.KeyManagementFull})
		k := e.login("keys@example.com")
		mustNotContain(t, k.get(e.p("zwave")).Body, `aria-label="Unlock Lobby now"`)
		if r := k.submit(path, url.Values{"locked": {"0"}}); r.Status != 403 {
			t.Fatalf("unlock without Device Management: %d", r.Status)
		}
		if logged() != 1 {
			t.Fatal("a refused lock-now was logged")
		}

		// A low battery: alert on the Door Sync page, badge on the Doors page.
		n.Do(t, "/battery", map[string]any{"node": 2, "level": 11}, nil)
		waitFor("battery 11%", func() bool {
			l, _ := st.ZWaveLockOf(ctx, prop, e.f.Lobby.ID)
			return l.Battery != nil && *l.Battery == 11
		})
		mustContain(t, c.get(e.p("sync")).Body, `id="low-battery"`, "Lobby (11%)")
		mustContain(t, c.get(e.p("doors")).Body, "battery 11%", "low battery")
	})
}
