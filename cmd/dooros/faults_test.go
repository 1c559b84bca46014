package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store/storetest"
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

// TestTwoInstancesOnPostgres runs two `dooros serve` on one PostgreSQL
// database sharing one external Mosquitto, as a scaled-out deployment
// does: a lock provisioned on A, a person invited on B and revoked on A,
// and the online lock follows both; wrong passwords tried on A and B count
// together; and a third instance with the embedded broker refuses to start.
func TestTwoInstancesOnPostgres(t *testing.T) {
	broker := mosquittoAddr(t)
	dsn := storetest.PostgresURL(t)
	keyFile := filepath.Join(t.TempDir(), "master.key")
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key)), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb syncBuffer
	if err := run(context.Background(), []string{"init", "--db", dsn, "--org", "Acme", "--email", testEmail, "--password", testPassword}, noEnv, nil, &out, &errb); err != nil {
		t.Fatalf("init: %v\n%s", err, errb.String())
	}
	args := func() []string {
		return []string{"--db", dsn, "--data", t.TempDir(), "--master-key-file", keyFile, "--mqtt-url", "mqtt://" + broker}
	}
	a := startServe(t, args())
	b := startServe(t, args())

	t.Run("a third instance with the embedded broker refuses to start", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, errb syncBuffer
		err := run(ctx, []string{"serve", "--db", dsn, "--data", t.TempDir(), "--master-key-file", keyFile, "--addr", freeAddr(t), "--mqtt-addr", "127.0.0.1:0"}, noEnv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "--mqtt-url") {
			t.Fatalf("serve with the embedded broker beside two instances: %v", err)
		}
	})

	ca, cb := login(t, a.base), login(t, b.base)
	p, key1, l := property(t, ca, broker)
	var ana struct {
		ID string `json:"id"`
	}
	cb.do("POST", p+"/people", map[string]any{"first_name": "Ana", "last_name": "Alvarez", "email": "ana@example.com", "access": "app",
		"keys": []map[string]any{{"key_id": key1}}}, 201, &ana)
	eventually(t, 30*time.Second, "Ana's doorcode, given on B, reaches the online lock", func() bool { return l.Status().Doorcodes == 1 })
	before := l.Status()
	start := time.Now()
	ca.do("POST", p+"/people/"+ana.ID+"/revoke", nil, 200, nil)
	eventually(t, 30*time.Second, "the revocation made on A reaches the online lock", func() bool {
		s := l.Status()
		return s.Doorcodes == 0 && s.Revoked > before.Revoked
	})
	t.Logf("revoke on A → applied by the online lock in %s", time.Since(start).Round(time.Millisecond))

	t.Run("failed logins count across instances", func(t *testing.T) {
		const who = "pat.limit@example.com"
		ca.do("POST", "/api/v1/managers", map[string]any{"email": who, "first_name": "Pat", "last_name": "Limit", "role": "portfolio_manager", "password": testPassword}, 201, nil)
		anon := func(c *client) *client { return &client{t: t, base: c.base} }
		for i := range 5 {
			c := anon(ca)
			if i%2 == 1 {
				c = anon(cb)
			}
			c.do("POST", "/api/v1/auth/login", map[string]any{"email": who, "password": "wrong password " + strconv.Itoa(i)}, 401, nil)
		}
		// The right password now: refused on both, the account is over its limit.
		anon(ca).do("POST", "/api/v1/auth/login", map[string]any{"email": who, "password": testPassword}, 429, nil)
		anon(cb).do("POST", "/api/v1/auth/login", map[string]any{"email": who, "password": testPassword}, 429, nil)
	})
	for _, s := range []*serveProc{a, b} {
		if err := s.stop(); err != nil {
			t.Errorf("serve: %v\n%s", err, s.errb.String())
		}
	}
}
