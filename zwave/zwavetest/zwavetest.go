// Package zwavetest runs the real Z-Wave JS stack with no hardware for
// tests: zwave-js's mock serial controller with the keypad locks of
// zwave/testdata/mock-locks.cjs and @zwave-js/server on top, installed by
// `npm ci` at the repository root.
package zwavetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/zwave"
)

// Net is the real Z-Wave JS stack with no hardware: zwave-js's mock
// serial controller with the keypad locks of testdata/mock-locks.cjs
// (node 2: 10 slots, node 3: 2 slots, node 4: 10 slots and asleep unless
// woken), and @zwave-js/server on top of it,
// serving the WebSocket API DOOR OS uses.
type Net struct {
	root      string
	cacheDir  string
	serial    int
	wsPort    int
	control   int
	mock, srv *exec.Cmd
	srvLog    *syncBuffer
	mockLog   *syncBuffer
	srvExited chan struct{}
}

// Start starts a network for one test (stopped when it ends). It skips the
// test when Node or the npm packages are missing, unless DOOROS_TEST_ZWAVE=1
// makes them mandatory.
func Start(t testing.TB) *Net {
	t.Helper()
	n, err := Open(t)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Stop)
	return n
}

// Open starts a network the caller stops (Stop); it skips t as Start does.
func Open(t testing.TB) (*Net, error) {
	t.Helper()
	n, skip, err := startNet()
	if skip != "" {
		if os.Getenv("DOOROS_TEST_ZWAVE") == "1" {
			t.Fatalf("DOOROS_TEST_ZWAVE=1 but %s", skip)
		}
		t.Skip(skip + " (run `npm ci` at the repository root; DOOROS_TEST_ZWAVE=1 makes this mandatory)")
	}
	return n, err
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startNet() (*Net, string, error) {
	if _, err := exec.LookPath("node"); err != nil {
		return nil, "node is not installed", nil
	}
	root, err := repoRoot()
	if err != nil {
		return nil, "", err
	}
	for _, p := range []string{"node_modules/zwave-js/package.json", "node_modules/@zwave-js/server/package.json"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return nil, "npm package missing: " + p, nil
		}
	}
	dir, err := os.MkdirTemp("", "dooros-zwave-")
	if err != nil {
		return nil, "", err
	}
	n := &Net{root: root, cacheDir: dir, serial: freePort(), wsPort: freePort(), control: freePort()}
	n.mock = exec.Command("node", "zwave/testdata/mock-server.cjs", fmt.Sprint(n.serial), "zwave/testdata/mock-locks.cjs")
	n.mock.Dir = root
	n.mock.Env = append(os.Environ(), fmt.Sprintf("ZWAVE_MOCK_CONTROL_PORT=%d", n.control))
	mockLog := &syncBuffer{}
	n.mockLog = mockLog
	n.mock.Stdout, n.mock.Stderr = mockLog, mockLog
	if err := n.mock.Start(); err != nil {
		return nil, "", err
	}
	if err := waitTCP(n.serial, 30*time.Second); err != nil {
		n.Stop()
		return nil, "", fmt.Errorf("mock serial controller did not start: %v\n%s", err, mockLog.String())
	}
	if err := n.StartServer(); err != nil {
		n.Stop()
		return nil, "", err
	}
	return n, "", nil
}

func waitTCP(port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StartServer starts @zwave-js/server on the mock serial port and waits
// until the three lock nodes are interviewed (waking the sleeping one). A server that exits while
// starting (the driver gives up when a loaded machine starves it) is
// started again, up to three times.
func (n *Net) StartServer() error {
	var err error
	for range 3 {
		if err = n.startServer(); err == nil {
			return nil
		}
		n.StopServer()
	}
	return err
}

func (n *Net) startServer() error {
	n.srv = exec.Command("node", "node_modules/@zwave-js/server/dist-esm/bin/server.js", fmt.Sprintf("tcp://127.0.0.1:%d", n.serial),
		"--config", "zwave/testdata/zwave-server.config.cjs", "--port", fmt.Sprint(n.wsPort), "--host", "127.0.0.1", "--disable-dns-sd")
	n.srv.Dir = n.root
	n.srv.Env = append(os.Environ(), "ZWAVE_CACHE_DIR="+n.cacheDir)
	n.srvLog = &syncBuffer{}
	n.srv.Stdout, n.srv.Stderr = n.srvLog, n.srvLog
	if err := n.srv.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	proc := n.srv
	go func() { proc.Wait(); close(exited) }()
	n.srvExited = exited
	deadline := time.Now().Add(90 * time.Second)
	var woke time.Time
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("zwave-server exited while starting:\n%s\nmock network:\n%s", n.srvLog.String(), n.mockLog.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		nodes, err := zwave.ListNodes(ctx, n.URL(), "")
		cancel()
		ready := 0
		for _, nd := range nodes {
			if (nd.ID == 2 || nd.ID == 3 || nd.ID == 4) && nd.Ready {
				ready++
			}
			// A new sleeping node is interviewed when it wakes up: wake
			// it (every 5s, a wake-up too early is missed).
			if nd.ID == 4 && !nd.Ready && nd.Status == zwave.StatusAsleep && time.Since(woke) > 5*time.Second {
				woke = time.Now()
				n.wake(4)
			}
		}
		if err == nil && ready == 3 {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("zwave-server did not get the lock nodes ready:\n%s", n.srvLog.String())
}

// StopServer stops the Z-Wave JS server (the gateway drops); the mock
// network and its nodes' state stay.
func (n *Net) StopServer() {
	if n.srv != nil && n.srv.Process != nil {
		n.srv.Process.Kill()
		<-n.srvExited
		n.srv = nil
	}
}

// ServerRunning reports whether the Z-Wave JS server runs.
func (n *Net) ServerRunning() bool { return n.srv != nil }

// Stop ends both processes.
func (n *Net) Stop() {
	n.StopServer()
	if n.mock != nil && n.mock.Process != nil {
		n.mock.Process.Kill()
		n.mock.Wait()
	}
	os.RemoveAll(n.cacheDir)
}

// URL is the WebSocket URL of the Z-Wave JS server.
func (n *Net) URL() string { return fmt.Sprintf("ws://127.0.0.1:%d", n.wsPort) }

// Do calls the mock's control port (the lock's own side: keypad, slots,
// battery, reachability); body nil is a GET.
func (n *Net) Do(t testing.TB, path string, body map[string]any, out any) {
	t.Helper()
	var req *http.Request
	url := fmt.Sprintf("http://127.0.0.1:%d%s", n.control, path)
	if body == nil {
		req, _ = http.NewRequest(http.MethodGet, url, nil)
	} else {
		b, _ := json.Marshal(body)
		req, _ = http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("mock %s: %s", path, res.Status)
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// Slot is a User Code slot as the lock holds it.
type Slot struct {
	Slot   int    `json:"slot"`
	Status int    `json:"status"`
	Code   string `json:"code"`
}

// Slots returns the node's slots as the lock itself holds them.
func (n *Net) Slots(t testing.TB, node int) []Slot {
	t.Helper()
	var out []Slot
	n.Do(t, fmt.Sprintf("/slots?node=%d", node), nil, &out)
	return out
}

// Holds reports the slot holding code enabled (0: none).
func (n *Net) Holds(t testing.TB, node int, code string) int {
	for _, s := range n.Slots(t, node) {
		if s.Status == 1 && s.Code == code {
			return s.Slot
		}
	}
	return 0
}

// Keypad enters a code at the node's keypad.
func (n *Net) Keypad(t testing.TB, node int, code string) (unlocked bool, slot int) {
	t.Helper()
	var r struct {
		Unlocked bool `json:"unlocked"`
		Slot     int  `json:"slot"`
	}
	n.Do(t, "/keypad", map[string]any{"node": node, "code": code}, &r)
	return r.Unlocked, r.Slot
}

// Wake wakes a sleeping node (node 4): it sends Wake Up Notification and
// answers until Sleep.
func (n *Net) Wake(t testing.TB, node int) {
	n.Do(t, "/wake", map[string]any{"node": node}, nil)
}

// Sleep ends a sleeping node's wake period: it no longer acknowledges or
// answers, until Wake.
func (n *Net) Sleep(t testing.TB, node int) {
	n.Do(t, "/sleep", map[string]any{"node": node}, nil)
}

func (n *Net) wake(node int) {
	b, _ := json.Marshal(map[string]any{"node": node})
	res, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/wake", n.control), "application/json", bytes.NewReader(b))
	if err == nil {
		res.Body.Close()
	}
}

// Awake reports whether a sleeping node is awake, as the node sees it.
func (n *Net) Awake(t testing.TB, node int) bool {
	t.Helper()
	var r struct {
		Awake bool `json:"awake"`
	}
	n.Do(t, fmt.Sprintf("/awake?node=%d", node), nil, &r)
	return r.Awake
}

// Reset empties the nodes' slots and makes them reachable.
func (n *Net) Reset(t testing.TB, nodes ...int) {
	for _, nd := range nodes {
		n.Do(t, "/reset", map[string]any{"node": nd}, nil)
	}
}

// repoRoot finds the repository root (where package.json is) from the
// working directory of a test.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "package.json")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("zwavetest: no repository root with package.json above the working directory")
		}
		dir = parent
	}
}

// syncBuffer is a process's output, read while the process may still
// write it.
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
