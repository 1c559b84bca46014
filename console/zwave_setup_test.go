package console_test

import (
	"context"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/zwave/zwavetest"
)

// TestZWaveConsoleSetup: a manager with Device Management registers a
// Z-Wave JS gateway and binds a door to one of its nodes from the Z-Wave
// page (the same store use cases as the API), choosing the node from the
// list the gateway reports (the real Z-Wave JS on the mock network); every
// wrong form is refused with nothing written.
func TestZWaveConsoleSetup(t *testing.T) {
	n := zwavetest.Start(t)
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		kr := storetest.Keyring(t, st)
		e := newEnvWith(t, st, func(storetest.Fixture) console.Options { return console.Options{Keys: kr} })
		prop := e.f.Property.ID
		gateways := func() []store.ZWaveGateway {
			gs, err := st.ListZWaveGateways(ctx, e.f.PM, prop)
			if err != nil {
				t.Fatal(err)
			}
			return gs
		}
		locks := func() []store.ZWaveLock {
			ls, err := st.ListZWaveLocks(ctx, e.f.PM, prop)
			if err != nil {
				t.Fatal(err)
			}
			return ls
		}
		c := e.login(storetest.PMEmail)
		page := c.get(e.p("zwave")).Body
		mustContain(t, page, `id="zwave-add-gateway"`, "None registered.")
		mustNotContain(t, page, `id="zwave-bind"`) // no gateway yet

		add := e.p("zwave", "gateways")
		for _, bad := range []struct {
			name string
			form url.Values
			code int
			post bool
		}{
			{"http URL", url.Values{"name": {"Hub"}, "url": {"http://hub.example:3000"}}, 400, false},
			{"no name", url.Values{"url": {"ws://hub.example:3000"}}, 400, false},
			{"credentials in the URL", url.Values{"name": {"Hub"}, "url": {"ws://u:p@hub.example:3000"}}, 400, false},
			{"no CSRF", url.Values{"name": {"Hub"}, "url": {"ws://hub.example:3000"}}, 403, true},
		} {
			var r *resp
			if bad.post {
				r = c.post(add, bad.form)
			} else {
				r = c.submit(add, bad.form)
			}
			if r.Status != bad.code {
				t.Fatalf("%s: %d, want %d: %s", bad.name, r.Status, bad.code, r.Body)
			}
			if len(gateways()) != 0 {
				t.Fatalf("%s: a gateway was written", bad.name)
			}
		}
		r := c.submit(add, url.Values{"name": {"Hub"}, "url": {"ws://hub.example:3000"}, "token": {"s3cret-token"}})
		if r.Status != 303 || !strings.HasSuffix(r.Header.Get("Location"), "/zwave") {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		gs := gateways()
		if len(gs) != 1 || gs[0].Name != "Hub" || !gs[0].HasToken {
			t.Fatalf("gateways after register: %+v", gs)
		}
		gw := gs[0]
		page = c.get(e.p("zwave")).Body
		mustContain(t, page, "Gateway Hub registered.", "ws://hub.example:3000", `id="zwave-pick-gateway"`)
		mustNotContain(t, page, "s3cret-token", `id="zwave-bind"`) // a node is chosen from a gateway's list

		// A gateway that does not answer: the page says so, no binding form.
		if r := c.submit(add, url.Values{"name": {"Gone"}, "url": {"ws://" + closedAddr(t)}}); r.Status != 303 {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		if r := c.submit(add, url.Values{"name": {"Mock"}, "url": {n.URL()}}); r.Status != 303 {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		byName := map[string]store.ZWaveGateway{}
		for _, g := range gateways() {
			byName[g.Name] = g
		}
		gone, gw := byName["Gone"], byName["Mock"]
		page = c.get(e.p("zwave") + "?gateway=" + gone.ID).Body
		mustContain(t, page, `id="zwave-nodes-error"`, "did not answer")
		mustNotContain(t, page, `id="zwave-bind"`)

		// The mock gateway's nodes: the three locks, by number, name, command
		// classes and slots, each offered for binding.
		page = c.get(e.p("zwave") + "?gateway=" + gw.ID).Body
		mustContain(t, page, `id="zwave-nodes"`, `id="zwave-node-2"`, `id="zwave-node-3"`, `id="zwave-node-4"`, "User Code, Door Lock, Notification, Battery",
			`id="zwave-bind"`, `name="gateway_id" value="`+gw.ID+`"`, `<option value="2">Node 2`, `<option value="3">Node 3`, `value="`+e.f.Lobby.ID+`"`)
		mustNotContain(t, page, `id="zwave-node-1"`) // the controller

		bind := e.p("zwave", "bind")
		for _, bad := range []struct {
			name string
			form url.Values
			code int
		}{
			{"node 1 (the controller)", url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {gw.ID}, "node_id": {"1"}}, 400},
			{"node not a number", url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {gw.ID}, "node_id": {"two"}}, 400},
			{"a node the gateway does not report", url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {gw.ID}, "node_id": {"99"}}, 400},
			{"unknown gateway", url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {"nope"}, "node_id": {"2"}}, 404},
			{"gateway not answering", url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {gone.ID}, "node_id": {"2"}}, 409},
			{"unknown door", url.Values{"door_id": {"nope"}, "gateway_id": {gw.ID}, "node_id": {"2"}}, 404},
		} {
			if r := c.submit(bind, bad.form); r.Status != bad.code {
				t.Fatalf("%s: %d, want %d: %s", bad.name, r.Status, bad.code, r.Body)
			}
			if len(locks()) != 0 {
				t.Fatalf("%s: a lock was bound", bad.name)
			}
		}
		r = c.submit(bind, url.Values{"door_id": {e.f.Lobby.ID}, "gateway_id": {gw.ID}, "node_id": {"2"}})
		if r.Status != 303 {
			t.Fatalf("bind: %d %s", r.Status, r.Body)
		}
		ls := locks()
		if len(ls) != 1 || ls[0].DoorID != e.f.Lobby.ID || ls[0].NodeID != 2 || ls[0].GatewayID != gw.ID {
			t.Fatalf("locks after bind: %+v", ls)
		}
		page = c.get(e.p("zwave")).Body
		mustContain(t, page, "Lobby is bound to Z-Wave node 2.", `id="zwave-`+e.f.Lobby.ID+`"`)
		page = c.get(e.p("zwave") + "?gateway=" + gw.ID).Body
		mustNotContain(t, page, `<option value="`+e.f.Lobby.ID+`"`, `<option value="2">`) // neither the bound door nor the bound node offered again
		mustContain(t, page, `id="zwave-node-2"`, `<td data-label="Lock of">Lobby</td>`)
		// The same node for another door is refused.
		if r := c.submit(bind, url.Values{"door_id": {e.f.Gym.ID}, "gateway_id": {gw.ID}, "node_id": {"2"}}); r.Status < 400 || len(locks()) != 1 {
			t.Fatalf("node bound twice: %d, %d locks", r.Status, len(locks()))
		}

		// Without Device Management: no forms, and both posts refused.
		e.manager("keys@example.com", &domain.Assignment{PropertyID: prop, KeyManagement: domain.KeyManagementFull})
		k := e.login("keys@example.com")
		mustNotContain(t, k.get(e.p("zwave")).Body, `id="zwave-add-gateway"`, `id="zwave-bind"`)
		if r := k.submit(add, url.Values{"name": {"Other"}, "url": {"ws://other.example:3000"}}); r.Status != 403 || len(gateways()) != 3 {
			t.Fatalf("register without Device Management: %d", r.Status)
		}
		if r := k.submit(bind, url.Values{"door_id": {e.f.Gym.ID}, "gateway_id": {gw.ID}, "node_id": {"3"}}); r.Status != 403 || len(locks()) != 1 {
			t.Fatalf("bind without Device Management: %d", r.Status)
		}
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
	return addr
}
