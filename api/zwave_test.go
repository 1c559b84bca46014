package api_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/zwave"
	"github.com/dooros/dooros/zwave/zwavetest"
)

// TestZWaveAPI drives the Z-Wave routes against the real Z-Wave JS server
// on the mock network: every input that can be wrong is refused with
// nothing written, and the right ones reach the node.
func TestZWaveAPI(t *testing.T) {
	n := zwavetest.Start(t)
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		n.Reset(t, 2)
		e := apitest.New(t, st)
		kr := storetest.Keyring(t, st)
		e.API.Keys = kr
		ctx := context.Background()
		prop := e.F.Property.ID
		base := "/api/v1/properties/" + prop
		viewer := storetest.Manager(t, st, e.F.PM, "viewer@example.com", &domain.Assignment{PropertyID: prop, KeyManagement: domain.KeyManagementFull})
		viewerToken := storetest.Token(t, st, "viewer@example.com")
		_ = viewer

		gateways := func() []store.ZWaveGateway {
			t.Helper()
			var out struct{ Gateways []store.ZWaveGateway }
			e.Do("GET", base+"/zwave/gateways", e.PMToken, nil).Decode(t, &out)
			return out.Gateways
		}
		for _, c := range []struct{ name, body, token, code string }{
			{"http URL", `{"name":"Hub","url":"http://127.0.0.1:3000"}`, e.PMToken, "invalid"},
			{"no host", `{"name":"Hub","url":"ws://"}`, e.PMToken, "invalid"},
			{"credentials in URL", `{"name":"Hub","url":"ws://u:p@127.0.0.1:3000"}`, e.PMToken, "invalid"},
			{"no name", `{"name":" ","url":"` + n.URL() + `"}`, e.PMToken, "invalid"},
			{"unknown field", `{"name":"Hub","url":"` + n.URL() + `","port":1}`, e.PMToken, "invalid"},
			{"no Device Management", `{"name":"Hub","url":"` + n.URL() + `"}`, viewerToken, "forbidden"},
		} {
			r := e.Do("POST", base+"/zwave/gateways", c.token, c.body)
			if r.ErrorCode() != c.code {
				t.Fatalf("%s: %d %s, want %s", c.name, r.Status, r.Body, c.code)
			}
		}
		if len(gateways()) != 0 {
			t.Fatal("a refused gateway was written")
		}

		var gw store.ZWaveGateway
		r := e.Do("POST", base+"/zwave/gateways", e.PMToken, map[string]any{"name": "Hub", "url": n.URL(), "token": "s3cret-token"})
		if r.Status != 201 {
			t.Fatalf("add gateway: %d %s", r.Status, r.Body)
		}
		r.Decode(t, &gw)
		if !gw.HasToken {
			t.Fatal("gateway with a token says it has none")
		}
		if body := string(e.Do("GET", base+"/zwave/gateways", e.PMToken, nil).Body); strings.Contains(body, "s3cret") || !strings.Contains(body, gw.ID) {
			t.Fatalf("gateway list leaks the token or misses the gateway: %s", body)
		}

		// Nodes, from the gateway itself.
		var nodes struct {
			Nodes []struct {
				NodeID  int      `json:"node_id"`
				IsLock  bool     `json:"is_lock"`
				Status  string   `json:"status"`
				LockCCs []string `json:"lock_command_classes"`
			}
		}
		e.Do("GET", base+"/zwave/gateways/"+gw.ID+"/nodes", e.PMToken, nil).Decode(t, &nodes)
		found := false
		for _, nd := range nodes.Nodes {
			if nd.NodeID == 2 && nd.IsLock && nd.Status == "alive" && strings.Join(nd.LockCCs, ",") == "User Code,Door Lock,Notification,Battery" {
				found = true
			}
		}
		if !found {
			t.Fatalf("node 2 not listed as a lock: %+v", nodes)
		}
		if r := e.Do("GET", base+"/zwave/gateways/zgw_nope/nodes", e.PMToken, nil); r.ErrorCode() != "not_found" {
			t.Fatalf("unknown gateway: %d %s", r.Status, r.Body)
		}
		if r := e.Do("GET", base+"/zwave/gateways/"+gw.ID+"/nodes", viewerToken, nil); r.ErrorCode() != "forbidden" {
			t.Fatalf("nodes without Device Management: %d %s", r.Status, r.Body)
		}
		var dead store.ZWaveGateway
		e.Do("POST", base+"/zwave/gateways", e.PMToken, map[string]any{"name": "Gone", "url": "ws://" + closedAddr(t)}).Decode(t, &dead)
		if r := e.Do("GET", base+"/zwave/gateways/"+dead.ID+"/nodes", e.PMToken, nil); r.ErrorCode() != "conflict" || !strings.Contains(string(r.Body), "did not answer") {
			t.Fatalf("gateway down: %d %s", r.Status, r.Body)
		}

		// Binding a door to a node.
		lobby := base + "/doors/" + e.F.Lobby.ID + "/zwave"
		for _, c := range []struct {
			name, path, token string
			body              any
			code              string
		}{
			{"no gateway", lobby, e.PMToken, map[string]any{"node_id": 2}, "invalid"},
			{"node 0", lobby, e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 0}, "invalid"},
			{"controller node", lobby, e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 1}, "invalid"},
			{"offline door", base + "/doors/" + e.F.Gym.ID + "/zwave", e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 2}, "invalid"},
			{"unknown gateway", lobby, e.PMToken, map[string]any{"gateway_id": "zgw_nope", "node_id": 2}, "not_found"},
			{"unknown door", base + "/doors/dor_nope/zwave", e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 2}, "not_found"},
			{"no Device Management", lobby, viewerToken, map[string]any{"gateway_id": gw.ID, "node_id": 2}, "forbidden"},
			{"no Device Management, empty body", lobby, viewerToken, map[string]any{}, "forbidden"},
		} {
			if r := e.Do("PUT", c.path, c.token, c.body); r.ErrorCode() != c.code {
				t.Fatalf("bind, %s: %d %s, want %s", c.name, r.Status, r.Body, c.code)
			}
		}
		if locks, _ := st.ListZWaveLocks(ctx, e.F.PM, prop); len(locks) != 0 {
			t.Fatal("a refused binding was written")
		}
		if r := e.Do("PUT", lobby, e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 2}); r.Status != 200 {
			t.Fatalf("bind: %d %s", r.Status, r.Body)
		}
		garage, err := st.CreateDoor(ctx, e.F.PM, prop, domain.DoorInput{Name: "Garage", Type: domain.DoorCommunal, Connectivity: domain.Online})
		if err != nil {
			t.Fatal(err)
		}
		if r := e.Do("PUT", base+"/doors/"+garage.ID+"/zwave", e.PMToken, map[string]any{"gateway_id": gw.ID, "node_id": 2}); r.ErrorCode() != "conflict" {
			t.Fatalf("one node for two doors: %d %s", r.Status, r.Body)
		}

		// Lock/Unlock now: refused without a connection (and logged), then
		// through a running syncer.
		now := lobby + "/lock-now"
		if r := e.Do("POST", now, e.PMToken, map[string]any{"locked": true}); r.ErrorCode() != "conflict" {
			t.Fatalf("lock now with no syncer: %d %s", r.Status, r.Body)
		}
		syncer := &zwave.Syncer{Store: st, Sealer: kr, Poll: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { syncer.Run(runCtx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		e.API.ZWave = syncer
		deadline := time.Now().Add(60 * time.Second)
		for {
			l, err := st.ZWaveLockOf(ctx, prop, e.F.Lobby.ID)
			if err != nil {
				t.Fatal(err)
			}
			if l.Acked == l.Version && l.Status == "alive" && l.Battery != nil && *l.Battery == 90 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("lock never synced: %+v", l)
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, c := range []struct {
			name, path, token string
			body              any
			code              string
		}{
			{"locked missing", now, e.PMToken, map[string]any{}, "invalid"},
			{"not a Z-Wave door", base + "/doors/" + e.F.Gym.ID + "/zwave/lock-now", e.PMToken, map[string]any{"locked": true}, "not_found"},
			{"no Device Management", now, viewerToken, map[string]any{"locked": false}, "forbidden"},
		} {
			if r := e.Do("POST", c.path, c.token, c.body); r.ErrorCode() != c.code {
				t.Fatalf("lock now, %s: %d %s, want %s", c.name, r.Status, r.Body, c.code)
			}
		}
		if r := e.Do("POST", now, e.PMToken, map[string]any{"locked": false}); r.Status != 200 {
			t.Fatalf("unlock now: %d %s", r.Status, r.Body)
		}
		evs, _, err := st.ListActivity(ctx, e.F.PM, prop, store.ActivityFilter{Kind: store.EventZWaveLockNow})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || !strings.Contains(evs[0].Detail, "unlocked") || !strings.Contains(evs[1].Detail, "failed") {
			t.Fatalf("lock-now Activity: %+v", evs)
		}

		var locks struct {
			Locks []struct {
				DoorID   string `json:"door_id"`
				Capacity int    `json:"capacity"`
				Battery  *int   `json:"battery"`
			}
		}
		e.Do("GET", base+"/zwave/locks", e.PMToken, nil).Decode(t, &locks)
		if len(locks.Locks) != 1 || locks.Locks[0].DoorID != e.F.Lobby.ID || locks.Locks[0].Capacity != 10 || locks.Locks[0].Battery == nil {
			t.Fatalf("locks: %+v", locks)
		}

		// Battery and status in /metrics; a low battery is counted.
		scrape := func() string {
			rec := httptest.NewRecorder()
			e.API.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			return rec.Body.String()
		}
		body := scrape()
		for _, want := range []string{`dooros_zwave_lock_battery_percent{door_id="` + e.F.Lobby.ID + `"} 90`, `dooros_zwave_locks{status="alive"} 1`, "dooros_zwave_locks_low_battery 0"} {
			if !strings.Contains(body, "\n"+want+"\n") {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		n.Do(t, "/battery", map[string]any{"node": 2, "level": 9}, nil)
		deadline = time.Now().Add(30 * time.Second)
		for !strings.Contains(scrape(), "\ndooros_zwave_locks_low_battery 1\n") {
			if time.Now().After(deadline) {
				t.Fatalf("low battery not in /metrics:\n%s", scrape())
			}
			time.Sleep(50 * time.Millisecond)
		}
		n.Do(t, "/battery", map[string]any{"node": 2, "level": 90}, nil)
	})
}

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return fmt.Sprint(addr)
}
