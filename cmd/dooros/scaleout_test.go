package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// serveCmd is one `dooros serve` run as its own process.
type serveCmd struct {
	name, base string
	cmd        *exec.Cmd
	log        string // its stdout and stderr
}

// buildDooros builds the dooros binary into a temporary directory.
func buildDooros(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "dooros")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startServeCmd(t *testing.T, bin, name string, args ...string) *serveCmd {
	t.Helper()
	addr := freeAddr(t)
	s := &serveCmd{name: name, base: "http://" + addr, log: filepath.Join(t.TempDir(), name+".log")}
	f, err := os.Create(s.log)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = f, f
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait(); f.Close() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(s.log)
			t.Logf("%s's log (last 3000 bytes):\n%s", name, b[max(0, len(b)-3000):])
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-done:
			b, _ := os.ReadFile(s.log)
			t.Fatalf("%s stopped before becoming healthy: %v\n%s", name, err, b)
		default:
		}
		if st, h := healthMaybe(s.base); st == 200 && h.dep("mqtt_broker") == "up" {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not healthy with the broker up within 60s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// kill9 kills the process at once (SIGKILL): no shutdown, no goodbye to
// the broker or the database.
func (s *serveCmd) kill9(t *testing.T) {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Error(err)
	}
}

func healthMaybe(base string) (int, healthDoc) {
	var h healthDoc
	res, err := http.Get(base + "/healthz")
	if err != nil {
		return 0, h
	}
	defer res.Body.Close()
	json.NewDecoder(res.Body).Decode(&h)
	return res.StatusCode, h
}

var inboundRE = regexp.MustCompile(`dooros_doorsync_inbound_messages_total\{kind="(\w+)"\} (\d+)`)

// inbound is what the server's /metrics says it received, by kind.
func (s *serveCmd) inbound(t *testing.T) map[string]int {
	t.Helper()
	c := &client{t: t, base: s.base}
	out := map[string]int{}
	for _, m := range inboundRE.FindAllStringSubmatch(c.raw("GET", "/metrics"), -1) {
		out[m[1]], _ = strconv.Atoi(m[2])
	}
	return out
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// p99 of durations (nearest rank).
func p99(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*99+99)/100-1)]
}

func p50(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// TestScaleOut_TwoProcesses builds dooros and runs two `dooros serve`
// processes, A and B, on one PostgreSQL database and one Mosquitto, in one
// shared subscription group, with online locks (locksim.RunMQTT, in this
// process) on that broker:
//   - both servers receive and record a share of the locks' acks and event
//     logs (their /metrics), and every change reaches every lock;
//   - a revocation made on A reaches every lock (revoke → refusal timed
//     from the moment the request is sent);
//   - a resident's remote unlocks through B are granted, whichever server
//     gets the lock's other traffic;
//   - A killed with SIGKILL right after a revocation made on B loses
//     nothing: every lock applies it, every door's push is acknowledged and
//     its outbox row delivered, and B receives every ack from then on.
//
// It prints the inbound split and revoke → refusal with two servers and
// then with B alone (DOOROS_SCALEOUT_LOCKS locks, default 20, and
// DOOROS_SCALEOUT_ROUNDS revocations each, default 5; docs/bench-fleet.md
// "Two instances"), beside the broker fan-out floor measured in the same
// run and the load average.
func TestScaleOut_TwoProcesses(t *testing.T) {
	broker := mosquittoAddr(t)
	dsn := storetest.PostgresURL(t)
	if testing.Short() {
		t.Skip("builds dooros and runs two servers: skipped with -short")
	}
	nLocks := envInt(t, "DOOROS_SCALEOUT_LOCKS", 20)
	rounds := envInt(t, "DOOROS_SCALEOUT_ROUNDS", 5)
	bin := buildDooros(t)
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
	data := t.TempDir() // shared: one mailbox for both servers' emails
	group := "scale-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	args := []string{"--db", dsn, "--data", data, "--master-key-file", keyFile, "--mqtt-url", "mqtt://" + broker, "--mqtt-shared-group", group}
	a := startServeCmd(t, bin, "A", args...)
	b := startServeCmd(t, bin, "B", args...)
	ca, cb := login(t, a.base), login(t, b.base)

	st, err := store.Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// A property with nLocks online doors, provisioned on A and B
	// alternately; each lock runs on Mosquitto.
	var prop struct {
		ID string `json:"id"`
	}
	ca.do("POST", "/api/v1/properties", map[string]any{"name": "Scale Court", "time_zone": "Europe/Madrid"}, 201, &prop)
	p := "/api/v1/properties/" + prop.ID
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var locks []*lock.Lock
	var keyDoors []map[string]any
	for i := range nLocks {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		var door struct {
			ID string `json:"id"`
		}
		c.do("POST", p+"/doors", map[string]any{"name": fmt.Sprintf("Door %04d", i), "type": "entrance", "connectivity": "online"}, 201, &door)
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
		go locksim.RunMQTT(ctx, "mqtt://"+broker, prov.MQTTPassword, l, nil)
		locks = append(locks, l)
		keyDoors = append(keyDoors, map[string]any{"door_id": door.ID, "doorcodes": true})
	}
	var keyIDs []map[string]any
	for i := 0; i < len(keyDoors); i += 500 { // a key holds at most 500 doors
		var k struct {
			ID string `json:"id"`
		}
		ca.do("POST", p+"/keys", map[string]any{"name": fmt.Sprintf("Residents %d", i), "doors": keyDoors[i:min(i+500, len(keyDoors))]}, 201, &k)
		keyIDs = append(keyIDs, map[string]any{"key_id": k.ID})
	}
	every := func(within time.Duration, what string, cond func(l *lock.Lock) bool) {
		t.Helper()
		eventually(t, within, what, func() bool {
			for _, l := range locks {
				if !cond(l) {
					return false
				}
			}
			return true
		})
	}
	allAcked := func(within time.Duration, what string) {
		t.Helper()
		eventually(t, within, what, func() bool {
			for _, l := range locks {
				v, acked, _, err := st.DoorVersion(ctx, l.LockID())
				if err != nil || acked != v || int64(l.Status().Version) != v {
					return false
				}
			}
			return true
		})
	}
	allAcked(60*time.Second, "every lock acknowledges its provisioning")

	n := 0
	invite := func(c *client) string {
		t.Helper()
		n++
		var person struct {
			ID string `json:"id"`
		}
		c.do("POST", p+"/people", map[string]any{"first_name": "Res", "last_name": fmt.Sprint("Number ", n), "email": fmt.Sprintf("res%d@example.com", n),
			"access": "app", "resident": true, "keys": keyIDs}, 201, &person)
		return person.ID
	}
	refusing := func(before []lock.Status) func() bool {
		return func() bool {
			for i, l := range locks {
				if s := l.Status(); s.Doorcodes != 0 || s.Revoked <= before[i].Revoked {
					return false
				}
			}
			return true
		}
	}
	statuses := func() []lock.Status {
		var s []lock.Status
		for _, l := range locks {
			s = append(s, l.Status())
		}
		return s
	}
	// revoke invites someone on via, waits until every lock has the code,
	// then revokes on on and returns how long until every lock refuses,
	// from the moment the request is sent.
	revoke := func(via, on *client) time.Duration {
		t.Helper()
		id := invite(via)
		every(60*time.Second, "every lock has the new code", func(l *lock.Lock) bool { return l.Status().Doorcodes == 1 })
		before := statuses()
		sent := time.Now()
		on.do("POST", p+"/people/"+id+"/revoke", nil, 200, nil)
		eventually(t, 60*time.Second, "every lock refuses the revoked person", refusing(before))
		return time.Since(sent)
	}

	// Two servers: invitations on B, revocations on A.
	inA0, inB0 := a.inbound(t), b.inbound(t)
	var two []time.Duration
	for range rounds {
		two = append(two, revoke(cb, ca))
	}
	allAcked(60*time.Second, "every door's pushes are acknowledged")
	floor := fanoutFloor(t, broker, nLocks)
	t.Logf("two servers, %d locks: revoke on A → every lock refusing, %d rounds: p50 %v p99 %v max %v; broker fan-out floor %v; load %s",
		nLocks, rounds, p50(two), p99(two), slices.Max(two), floor, loadavg())
	inA, inB := a.inbound(t), b.inbound(t)
	acksA, acksB := inA["ack"]-inA0["ack"], inB["ack"]-inB0["ack"]
	evA, evB := inA["events"]-inA0["events"], inB["events"]-inB0["events"]
	t.Logf("inbound split over those rounds: acks A %d / B %d, event logs A %d / B %d", acksA, acksB, evA, evB)
	if acksA == 0 || acksB == 0 || evA == 0 || evB == 0 {
		t.Errorf("one server got no share of the acks (%d / %d) or event logs (%d / %d)", acksA, acksB, evA, evB)
	}

	// Remote unlocks through B, for a resident logged in on B.
	resident := invite(ca)
	every(60*time.Second, "every lock has the resident's code", func(l *lock.Lock) bool { return l.Status().Doorcodes == 1 })
	token := residentLogin(t, b.base, data, fmt.Sprintf("res%d@example.com", n))
	for i, l := range locks[:min(4, len(locks))] {
		var res doorsync.RemoteResult
		began := time.Now()
		(&client{t: t, base: b.base, token: token}).do("POST", "/api/v1/me/doors/"+l.LockID()+"/unlock", nil, 200, &res)
		if !res.Granted || res.DoorID != l.LockID() {
			t.Fatalf("remote unlock %d through B: %+v", i, res)
		}
		t.Logf("remote unlock %d through B answered in %v", i, time.Since(began).Round(time.Millisecond))
	}
	inA1, inB1 := a.inbound(t), b.inbound(t)
	if inA1["result"] != inB1["result"] || inB1["result"] < 4 {
		t.Errorf("results: A received %d, B %d; want every result on both", inA1["result"], inB1["result"])
	}
	cb.do("POST", p+"/people/"+resident+"/revoke", nil, 200, nil)
	every(60*time.Second, "the resident's revocation reaches every lock", func(l *lock.Lock) bool { return l.Status().Doorcodes == 0 })
	allAcked(60*time.Second, "every door's pushes are acknowledged before A is killed")

	// Kill A right after a revocation made on B.
	victim := invite(cb)
	every(60*time.Second, "every lock has the new code", func(l *lock.Lock) bool { return l.Status().Doorcodes == 1 })
	before := statuses()
	inB0 = b.inbound(t)
	sent := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); time.Sleep(20 * time.Millisecond); a.kill9(t) }()
	cb.do("POST", p+"/people/"+victim+"/revoke", nil, 200, nil)
	wg.Wait()
	eventually(t, 90*time.Second, "with A killed, every lock refuses the person revoked on B", refusing(before))
	t.Logf("revocation on B, A killed 20 ms after it was sent: every lock refusing after %v", time.Since(sent).Round(time.Millisecond))
	allAcked(90*time.Second, "with A killed, every door's push is acknowledged (recorded by B)")
	eventually(t, 90*time.Second, "no door.state row is left undelivered", func() bool {
		var pending int
		err := st.DB().QueryRow(`SELECT count(*) FROM outbox WHERE topic = $1 AND delivered_at IS NULL AND failed_at IS NULL`, store.TopicDoorState).Scan(&pending)
		return err == nil && pending == 0
	})
	if in := b.inbound(t); in["ack"]-inB0["ack"] < nLocks {
		t.Errorf("B received %d acks after A was killed, want at least every lock's (%d)", in["ack"]-inB0["ack"], nLocks)
	}

	// B alone.
	var one []time.Duration
	for range rounds {
		one = append(one, revoke(cb, cb))
	}
	floor = fanoutFloor(t, broker, nLocks)
	t.Logf("B alone, %d locks: revoke → every lock refusing, %d rounds: p50 %v p99 %v max %v; broker fan-out floor %v; load %s",
		nLocks, rounds, p50(one), p99(one), slices.Max(one), floor, loadavg())

	// Event logs: what was in flight to A when it was killed is dropped by
	// the broker (clean sessions); say how many locks' logs are behind.
	behind := func() int {
		n := 0
		for _, l := range locks {
			var next int64
			if err := st.DB().QueryRow(`SELECT log_next FROM door_locks WHERE door_id = $1`, l.LockID()).Scan(&next); err == nil && uint64(next) < l.Status().LogNext {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); behind() > 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
	}
	t.Logf("%d of %d locks' logs are still behind on the cloud 30 s after the last round", behind(), nLocks)
	for _, s := range []*serveCmd{a, b} {
		t.Logf("%s's warnings and errors: %s", s.name, logSummary(s.log))
	}
}

var logMsgRE = regexp.MustCompile(`level=(WARN|ERROR) msg="([^"]*)"`)

// logSummary counts a server log's warnings and errors by message.
func logSummary(path string) string {
	b, _ := os.ReadFile(path)
	counts := map[string]int{}
	for _, m := range logMsgRE.FindAllStringSubmatch(string(b), -1) {
		counts[m[1]+" "+m[2]]++
	}
	if len(counts) == 0 {
		return "none"
	}
	var out []string
	for k, v := range counts {
		out = append(out, fmt.Sprintf("%d× %s", v, k))
	}
	slices.Sort(out)
	for i, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=ERROR") && i < 100000 && len(out) < 20 {
			out = append(out, "\n    "+line)
		}
	}
	return strings.Join(out, "; ")
}

// fanoutFloor is the broker's fan-out floor: one QoS 1 message of 600
// bytes published to each of n topics, from the first publish until a
// subscriber has them all.
func fanoutFloor(t *testing.T, broker string, n int) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	prefix := "dooros-floor/" + id
	sub, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "mqtt://" + broker, ClientID: "floor-sub-" + id})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := make(chan struct{}, n)
	if err := sub.Subscribe(ctx, prefix+"/+", 1, func(mqtt.Message) { got <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	pub, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: "mqtt://" + broker, ClientID: "floor-pub-" + id})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	began := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub.Publish(ctx, fmt.Sprintf("%s/%d", prefix, i), make([]byte, 600), 1, false)
		}()
	}
	for range n {
		select {
		case <-got:
		case <-ctx.Done():
			t.Fatal("fan-out floor: messages missing")
		}
	}
	d := time.Since(began)
	wg.Wait()
	return d
}

var loginCodeRE = regexp.MustCompile(`login code for the DOOR app:\s+(\d{6})`)

// residentLogin logs a resident in on base with the code emailed to the
// mailbox under data, and returns the session token.
func residentLogin(t *testing.T, base, data, email string) string {
	t.Helper()
	c := &client{t: t, base: base}
	c.do("POST", "/api/v1/app/login/start", map[string]string{"email": email}, 202, nil)
	box, err := mail.OpenMailbox(filepath.Join(data, "mailbox"), "")
	if err != nil {
		t.Fatal(err)
	}
	var code string
	eventually(t, 30*time.Second, "the login code is emailed", func() bool {
		msgs, _ := box.List(0)
		for _, m := range msgs {
			if c := loginCodeRE.FindStringSubmatch(m.Text); c != nil && m.To.Email == email {
				code = c[1]
				return true
			}
		}
		return false
	})
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	var s struct {
		Token string `json:"token"`
	}
	c.do("POST", "/api/v1/app/login/verify", map[string]string{"email": email, "code": code,
		"device_public_key": base64.StdEncoding.EncodeToString(pub), "device_name": "test phone"}, 200, &s)
	return s.Token
}
