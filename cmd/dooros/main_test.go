package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer the server goroutine and the test can share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// noEnv keeps the developer's DOOROS_* variables out of the tests.
func noEnv(string) string { return "" }

// freeAddr picks a free local port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

const (
	testEmail    = "pm@example.com"
	testPassword = "correct horse battery"
)

func initData(t *testing.T, dir string) {
	t.Helper()
	var out, errb syncBuffer
	err := run(context.Background(), []string{"init", "--data", dir, "--org", "Acme", "--email", testEmail, "--password", testPassword}, noEnv, nil, &out, &errb)
	if err != nil {
		t.Fatalf("init: %v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "created organisation") {
		t.Errorf("init printed %q", out.String())
	}
}

// TestServeEndToEnd runs the real program in-process: init, serve on a free
// port, then the first steps of a property manager over HTTP, metrics and
// the OpenAPI document, and a clean shutdown.
func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	initData(t, dir)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--addr", addr, "--mqtt-addr", "127.0.0.1:0"}, noEnv, nil, &out, &errb)
	}()
	base := "http://" + addr
	waitHealthy(t, base, done, &errb)
	if !strings.Contains(out.String(), "listening on http://"+addr) {
		t.Errorf("serve printed %q", out.String())
	}
	if !regexp.MustCompile(`broker_addr=127\.0\.0\.1:[1-9][0-9]*`).MatchString(errb.String()) {
		t.Errorf("serve did not log the embedded broker's bound address:\n%s", errb.String())
	}

	c := &client{t: t, base: base}
	var login struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	c.do("POST", "/api/v1/auth/login", map[string]any{"email": testEmail, "password": testPassword}, 200, &login)
	if login.Token == "" || !login.ExpiresAt.After(time.Now()) {
		t.Fatalf("login %+v", login)
	}
	c.token = login.Token
	var prop, door, key, person struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	c.do("POST", "/api/v1/properties", map[string]any{"name": "Elm Court", "time_zone": "America/New_York"}, 201, &prop)
	p := "/api/v1/properties/" + prop.ID
	c.do("POST", p+"/doors", map[string]any{"name": "Lobby", "type": "entrance", "connectivity": "offline"}, 201, &door)
	c.do("POST", p+"/keys", map[string]any{"name": "Building", "doors": []map[string]any{{"door_id": door.ID, "doorcodes": true}}}, 201, &key)
	c.do("POST", p+"/people", map[string]any{"first_name": "Alice", "last_name": "Archer", "email": "alice@example.com", "access": "app",
		"keys": []map[string]any{{"key_id": key.ID}}}, 201, &person)
	if person.Status != "active" {
		t.Errorf("invited person status %q", person.Status)
	}
	var tasks struct {
		Items []struct {
			DoorID string `json:"door_id"`
		} `json:"items"`
	}
	c.do("GET", p+"/sync-tasks", nil, 200, &tasks)
	if len(tasks.Items) != 1 || tasks.Items[0].DoorID != door.ID {
		t.Errorf("sync tasks %+v, want the offline Lobby", tasks.Items)
	}
	c.do("GET", "/api/v1/me", nil, 401, nil, withToken(""))

	metrics := c.raw("GET", "/metrics")
	for _, want := range []string{"dooros_http_requests_total", `route="POST /api/v1/properties/{p}/people"`, "dooros_store_transaction_duration_seconds", `op="invite"`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(c.raw("GET", "/api/v1/openapi.json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Paths["/api/v1/properties/{p}/people"] == nil {
		t.Errorf("openapi.json: version %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("serve returned %v after shutdown\n%s", err, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop within 20s of cancel")
	}
	if _, err := os.Stat(filepath.Join(dir, "dooros.db")); err != nil {
		t.Errorf("SQLite file under --data: %v", err)
	}
}

func waitHealthy(t *testing.T, base string, done <-chan error, errb *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("serve stopped before becoming healthy: %v\n%s", err, errb.String())
		default:
		}
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/healthz not 200 within 30s\n%s", errb.String())
}

type client struct {
	t     *testing.T
	base  string
	token string
}

type reqOpt func(*http.Request)

func withToken(tok string) reqOpt {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		if tok != "" {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
	}
}

func (c *client) do(method, path string, body any, status int, out any, opts ...reqOpt) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for _, o := range opts {
		o(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != status {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (c *client) raw(method, path string) string {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		c.t.Fatalf("%s %s: %d: %s", method, path, res.StatusCode, b)
	}
	return string(b)
}

// TestCLIErrors: bad command lines fail with a message saying what is wrong.
func TestCLIErrors(t *testing.T) {
	initialised := t.TempDir()
	initData(t, initialised)
	fresh := t.TempDir()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "missing command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--mqtt-addr", "127.0.0.1:0", "--bogus"}, "flag provided but not defined: -bogus"},
		{"init without email", []string{"init", "--data", fresh, "--org", "Acme", "--password", testPassword}, "--email"},
		{"init without org", []string{"init", "--data", fresh, "--email", testEmail, "--password", testPassword}, "--org"},
		{"init with invalid email", []string{"init", "--data", fresh, "--org", "Acme", "--email", "nobody", "--password", testPassword}, "email"},
		{"init with short password", []string{"init", "--data", fresh, "--org", "Acme", "--email", testEmail, "--password", "short"}, "password"},
		{"init twice", []string{"init", "--data", initialised, "--org", "Acme", "--email", "other@example.com", "--password", testPassword}, "already has an organisation"},
		{"stray argument to serve", []string{"serve", "--data", fresh, "--mqtt-addr", "127.0.0.1:0", "now"}, `unexpected argument "now"`},
		{"stray argument to init", []string{"init", "--data", fresh, "--org", "Acme", "--email", testEmail, "--password", testPassword, "extra"}, `unexpected argument "extra"`},
		{"unreachable postgres", []string{"serve", "--db", "postgres://nobody@127.0.0.1:1/dooros?connect_timeout=2", "--addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0"}, "connect"},
		{"shared group with a slash", []string{"serve", "--data", fresh, "--mqtt-url", "mqtt://127.0.0.1:1", "--mqtt-shared-group", "a/b"}, "--mqtt-shared-group"},
		{"shared group with a wildcard", []string{"serve", "--data", fresh, "--mqtt-url", "mqtt://127.0.0.1:1", "--mqtt-shared-group", "dooros+"}, `contains '+'`},
		{"empty shared group", []string{"serve", "--data", fresh, "--mqtt-url", "mqtt://127.0.0.1:1", "--mqtt-shared-group", ""}, "must be 1-64 characters"},
		{"address in use", []string{"serve", "--data", initialised, "--addr", "busy", "--mqtt-addr", "127.0.0.1:0"}, "address"},
		{"pprof on a public address", []string{"serve", "--data", fresh, "--mqtt-addr", "127.0.0.1:0", "--pprof-addr", "0.0.0.0:6060"}, "loopback address only"},
		{"pprof on a hostname", []string{"serve", "--data", fresh, "--mqtt-addr", "127.0.0.1:0", "--pprof-addr", "example.com:6060"}, "loopback address only"},
		{"revocation notices not a boolean", []string{"serve", "--data", fresh, "--mqtt-addr", "127.0.0.1:0", "--revocation-notices=maybe"}, "revocation-notices"},
		{"pprof without a port", []string{"serve", "--data", fresh, "--mqtt-addr", "127.0.0.1:0", "--pprof-addr", "127.0.0.1"}, "--pprof-addr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := c.args
			if c.name == "address in use" {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				args = []string{"serve", "--data", initialised, "--addr", ln.Addr().String(), "--mqtt-addr", "127.0.0.1:0"}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errb syncBuffer
			err := run(ctx, args, noEnv, nil, &out, &errb)
			if err == nil {
				t.Fatalf("run(%q) succeeded; stdout %q", args, out.String())
			}
			if msg := err.Error() + "\n" + errb.String(); !strings.Contains(msg, c.want) {
				t.Errorf("run(%q) = %v; stderr %q; want it to mention %q", args, err, errb.String(), c.want)
			}
		})
	}
	t.Run("shared group from the environment", func(t *testing.T) {
		empty := t.TempDir()
		env := func(k string) string {
			return map[string]string{"DOOROS_DATA": empty, "DOOROS_MQTT_URL": "mqtt://127.0.0.1:1", "DOOROS_MQTT_SHARED_GROUP": "#"}[k]
		}
		var out, errb syncBuffer
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0"}, env, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "DOOROS_MQTT_SHARED_GROUP") || !strings.Contains(err.Error(), `"none"`) {
			t.Fatalf("serve with DOOROS_MQTT_SHARED_GROUP=# = %v, want an error naming the variable and how to turn sharing off", err)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Errorf("a refused configuration left %v in the data directory", entries)
		}
	})
	t.Run("revocation notices from the environment", func(t *testing.T) {
		empty := t.TempDir()
		env := func(k string) string {
			return map[string]string{"DOOROS_DATA": empty, "DOOROS_REVOCATION_NOTICES": "sometimes"}[k]
		}
		var out, errb syncBuffer
		err := run(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--mqtt-addr", "127.0.0.1:0"}, env, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), "DOOROS_REVOCATION_NOTICES") || !strings.Contains(err.Error(), "true or false") {
			t.Fatalf("serve with DOOROS_REVOCATION_NOTICES=sometimes = %v, want an error naming the variable and its values", err)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Errorf("a refused configuration left %v in the data directory", entries)
		}
	})
	t.Run("unsupported database scheme", func(t *testing.T) {
		t.Chdir(t.TempDir())
		for _, dsn := range []string{"mysql://x", "sqlserver://sa@db/dooros", "MYSQL://root@localhost/db"} {
			var out, errb syncBuffer
			err := run(context.Background(), []string{"migrate", "--db", dsn}, noEnv, nil, &out, &errb)
			if err == nil || !strings.Contains(err.Error(), "unsupported database") || !strings.Contains(err.Error(), "postgres://") {
				t.Errorf("migrate --db %s = %v, want an unsupported-database error naming postgres://", dsn, err)
			}
			if entries, _ := os.ReadDir("."); len(entries) != 0 {
				t.Errorf("migrate --db %s left %v in the working directory", dsn, entries)
			}
		}
	})
	t.Run("migrate an initialised directory", func(t *testing.T) {
		var out, errb syncBuffer
		if err := run(context.Background(), []string{"migrate", "--data", initialised}, noEnv, nil, &out, &errb); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "up to date") {
			t.Errorf("migrate printed %q", out.String())
		}
	})
	t.Run("help", func(t *testing.T) {
		var out, errb syncBuffer
		if err := run(context.Background(), []string{"help"}, noEnv, nil, &out, &errb); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "usage: dooros") {
			t.Errorf("help printed %q", out.String())
		}
	})
}
