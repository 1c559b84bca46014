package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
)

// mosquittoAddr is the host:port of DOOROS_TEST_MQTT_URL (an anonymous
// Mosquitto), or skips the test.
func mosquittoAddr(t *testing.T) string {
	t.Helper()
	u := os.Getenv("DOOROS_TEST_MQTT_URL")
	if u == "" {
		t.Skip("DOOROS_TEST_MQTT_URL not set: set it to a Mosquitto with anonymous access, e.g. mqtt://127.0.0.1:1883")
	}
	return strings.TrimPrefix(u, "mqtt://")
}

// serveProc is one `dooros serve` run in-process through run().
type serveProc struct {
	base string
	errb *syncBuffer
	stop func() error
}

func startServe(t *testing.T, args []string) *serveProc {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	p := &serveProc{base: "http://" + addr, errb: &syncBuffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"serve", "--addr", addr}, args...), noEnv, nil, &out, p.errb)
	}()
	var once sync.Once
	var err error
	p.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not stop within 30s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { p.stop() })
	waitHealthy(t, p.base, done, p.errb)
	return p
}

type healthDoc struct {
	Status       string `json:"status"`
	Ready        bool   `json:"ready"`
	Dependencies []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"dependencies"`
}

func (h healthDoc) dep(name string) string {
	for _, d := range h.Dependencies {
		if d.Name == name {
			return d.Status
		}
	}
	return ""
}

func health(t *testing.T, base string) (int, healthDoc) {
	t.Helper()
	res, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h healthDoc
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		t.Fatalf("/healthz is not JSON: %v", err)
	}
	return res.StatusCode, h
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
	}
}

// proxy forwards every connection accepted on ln to target: a broker
// "starting" at ln's address.
func proxy(t *testing.T, ln net.Listener, target string) {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer b.Close()
				go io.Copy(b, c)
				io.Copy(c, b)
			}()
		}
	}()
}

// property sets up, through the API, a property with an online Lobby whose
// key provides doorcodes, and boots the Lobby's lock (firmware in memory)
// on broker; it returns the property path, the key and the lock.
func property(t *testing.T, c *client, broker string) (string, string, *lock.Lock) {
	t.Helper()
	var prop, door, key struct {
		ID string `json:"id"`
	}
	c.do("POST", "/api/v1/properties", map[string]any{"name": "Elm Court " + freeAddr(t), "time_zone": "Europe/Madrid"}, 201, &prop)
	p := "/api/v1/properties/" + prop.ID
	c.do("POST", p+"/doors", map[string]any{"name": "Lobby", "type": "entrance", "connectivity": "online"}, 201, &door)
	c.do("POST", p+"/keys", map[string]any{"name": "Residents", "doors": []map[string]any{{"door_id": door.ID, "doorcodes": true}}}, 201, &key)
	var prov doorsync.Provisioned
	c.do("POST", p+"/doors/"+door.ID+"/lock", nil, 201, &prov)
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, prov.Provisioning); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go locksim.RunMQTT(ctx, "mqtt://"+broker, prov.MQTTPassword, l, nil)
	return p, key.ID, l
}

func login(t *testing.T, base string) *client {
	t.Helper()
	c := &client{t: t, base: base}
	var out struct {
		Token string `json:"token"`
	}
	c.do("POST", "/api/v1/auth/login", map[string]any{"email": testEmail, "password": testPassword}, 200, &out)
	c.token = out.Token
	return c
}

// TestServeWithBrokerDown starts serve with --mqtt-url on a port where no
// broker listens yet: it serves at once and /healthz and /metrics say the
// broker is down; a change made meanwhile waits in the outbox. Then a
// broker appears on that port: the server connects by itself, reports it
// up, and the waiting change and the next ones reach the online lock.
func TestServeWithBrokerDown(t *testing.T) {
	target := mosquittoAddr(t)
	dir := t.TempDir()
	initData(t, dir)
	brokerAddr := freeAddr(t) // nothing listens there yet
	srv := startServe(t, []string{"--data", dir, "--mqtt-url", "mqtt://" + brokerAddr})

	status, h := health(t, srv.base)
	if status != 200 || !h.Ready || h.Status != "degraded" || h.dep("mqtt_broker") != "down" || h.dep("database") != "up" {
		t.Fatalf("/healthz with the broker down: %d %+v", status, h)
	}
	c := login(t, srv.base)
	if m := c.raw("GET", "/metrics"); !strings.Contains(m, `dooros_dependency_up{dependency="mqtt_broker"} 0`) || !strings.Contains(m, `dooros_dependency_up{dependency="database"} 1`) {
		t.Errorf("/metrics does not show the broker down and the database up")
	}
	p, key, l := property(t, c, brokerAddr)
	var ana struct {
		ID string `json:"id"`
	}
	c.do("POST", p+"/people", map[string]any{"first_name": "Ana", "last_name": "Alvarez", "email": "ana@example.com", "access": "app",
		"keys": []map[string]any{{"key_id": key}}}, 201, &ana)

	ln, err := net.Listen("tcp", brokerAddr)
	if err != nil {
		t.Fatalf("the broker's port was taken meanwhile: %v", err)
	}
	proxy(t, ln, target)
	eventually(t, 60*time.Second, "/healthz reports the broker up", func() bool {
		_, h := health(t, srv.base)
		return h.dep("mqtt_broker") == "up" && h.Status == "ok"
	})
	if m := c.raw("GET", "/metrics"); !strings.Contains(m, `dooros_dependency_up{dependency="mqtt_broker"} 1`) {
		t.Errorf("/metrics does not show the broker up")
	}
	eventually(t, 60*time.Second, "Ana's doorcode, given while the broker was down, reaches the online lock", func() bool { return l.Status().Doorcodes == 1 })
	before := l.Status()
	c.do("POST", p+"/people/"+ana.ID+"/revoke", nil, 200, nil)
	eventually(t, 30*time.Second, "the revocation reaches the online lock", func() bool {
		s := l.Status()
		return s.Doorcodes == 0 && s.Revoked > before.Revoked && s.Version > before.Version
	})
	if err := srv.stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
}
