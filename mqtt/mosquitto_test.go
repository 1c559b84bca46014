package mqtt_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/mqtt"
)

// mosquittoURL returns DOOROS_TEST_MQTT_URL or skips the test.
func mosquittoURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("DOOROS_TEST_MQTT_URL")
	if u == "" {
		t.Skip("DOOROS_TEST_MQTT_URL not set: set it to a Mosquitto with anonymous access, e.g. mqtt://127.0.0.1:1883, to run this test")
	}
	return u
}

// Watcher runs mosquitto_sub on the topics of one lock and collects the
// "topic payload" lines it prints.
type Watcher struct {
	msgs chan string
	done chan error
}

// StartWatcher starts mosquitto_sub on every topic of lockID and returns
// once it is subscribed, so nothing published afterwards can be missed.
// mosquitto_sub does not flush its "Subscribed" line to a pipe, so the
// readiness signal is a retained probe message that it receives on
// subscribing (and that does not count towards count).
func StartWatcher(t *testing.T, brokerURL, lockID string, count int, publisher *mqtt.Client) *Watcher {
	t.Helper()
	bin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		t.Fatalf("DOOROS_TEST_MQTT_URL is set but mosquitto_sub is not installed (apt-get install mosquitto-clients): %v", err)
	}
	u, err := mqtt.ParseBrokerURL(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	probe := fmt.Sprintf("%s/locks/%s/probe", mqtt.Prefix, lockID)
	MustPublish(t, publisher, probe, "ready", true)
	t.Cleanup(func() { // Mosquitto may persist retained messages: leave none behind.
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = publisher.Publish(ctx, probe, nil, 1, true)
	})

	cmd := exec.Command(bin, "-h", u.Hostname(), "-p", u.Port(), "-V", "mqttv5",
		"-t", fmt.Sprintf("%s/locks/%s/+", mqtt.Prefix, lockID), "-q", "1", "-v",
		"-C", fmt.Sprint(count+1), "-W", "10")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	w := &Watcher{msgs: make(chan string, 16), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.msgs <- sc.Text()
		}
		w.done <- cmd.Wait()
		close(w.msgs)
	}()
	select {
	case line, ok := <-w.msgs:
		if !ok || line != probe+" ready" {
			t.Fatalf("mosquitto_sub: got %q before the probe (exit: %v)", line, <-w.done)
		}
	case <-time.After(wait):
		t.Fatal("mosquitto_sub did not subscribe")
	}
	return w
}

// Lines waits for mosquitto_sub to exit after its count of messages.
func (w *Watcher) Lines(t *testing.T) []string {
	t.Helper()
	var lines []string
	for line := range w.msgs {
		lines = append(lines, line)
	}
	if err := <-w.done; err != nil {
		t.Fatalf("mosquitto_sub: %v (saw %q)", err, lines)
	}
	return lines
}

func TestMosquitto_BundleAndAckRoundTrip(t *testing.T) {
	brokerURL := mosquittoURL(t)
	lockID := "test-" + uniqueID() // parallel runs never share topics
	bundleTopic := mqtt.MustTopic(mqtt.KindBundle, lockID)
	ackTopic := mqtt.MustTopic(mqtt.KindAck, lockID)
	statusTopic := mqtt.MustTopic(mqtt.KindStatus, lockID)

	cloud := MustConnect(t, mqtt.ClientConfig{URL: brokerURL, ClientID: "dooros-cloud-" + lockID})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_ = cloud.Publish(ctx, statusTopic, nil, 1, true)
	})
	acks := MustSubscribe(t, cloud, ackTopic)
	statuses := MustSubscribe(t, cloud, statusTopic)
	// Watch before the lock exists: its topics are new, so every message is seen live.
	watcher := StartWatcher(t, brokerURL, lockID, 4, cloud)

	lockCfg, err := mqtt.LockConfig(brokerURL, lockID, "anonymous-broker-ignores-this")
	if err != nil {
		t.Fatal(err)
	}
	lock := MustConnect(t, lockCfg)
	bundles := MustSubscribe(t, lock, bundleTopic)
	statuses.ExpectPayload(t, statusTopic, mqtt.StatusOnline)

	MustPublish(t, cloud, bundleTopic, "bundle-1", false)
	if m := bundles.Expect(t, bundleTopic); string(m.Payload) != "bundle-1" {
		t.Fatalf("lock got %q", m.Payload)
	}
	MustPublish(t, lock, ackTopic, "ack-1", false)
	if m := acks.Expect(t, ackTopic); string(m.Payload) != "ack-1" {
		t.Fatalf("cloud got %q", m.Payload)
	}
	_ = lock.Close() // asks Mosquitto for the will
	statuses.ExpectPayload(t, statusTopic, mqtt.StatusOffline)

	want := []string{statusTopic + " " + mqtt.StatusOnline, bundleTopic + " bundle-1", ackTopic + " ack-1", statusTopic + " " + mqtt.StatusOffline}
	if got := watcher.Lines(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("mosquitto_sub saw\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestMosquitto_ACLFile runs a private Mosquitto configured as docs/mqtt.md
// describes, with the acl_file from MosquittoACL, and checks that locks are
// confined to their own topics there too. It needs the mosquitto and
// mosquitto_passwd binaries, not DOOROS_TEST_MQTT_URL.
func TestMosquitto_ACLFile(t *testing.T) {
	mosquitto, err := lookPath("mosquitto")
	if err != nil {
		t.Skip("mosquitto binary not installed (apt-get install mosquitto): ", err)
	}
	passwd, err := lookPath("mosquitto_passwd")
	if err != nil {
		t.Skip("mosquitto_passwd not installed: ", err)
	}
	dir := t.TempDir()
	servicePassword, _ := mqtt.NewSecret()
	lockA, lockB := "lock-a", "lock-b"
	passwords := map[string]string{mqtt.DefaultServiceUser: servicePassword}
	for _, id := range []string{lockA, lockB} {
		passwords[id], _ = mqtt.NewSecret()
	}
	passwordFile := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwordFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for user, pw := range passwords {
		if out, err := exec.Command(passwd, "-b", passwordFile, user, pw).CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_passwd: %v: %s", err, out)
		}
	}
	acl, err := mqtt.MosquittoACL(mqtt.DefaultServiceUser)
	if err != nil {
		t.Fatal(err)
	}
	aclFile := filepath.Join(dir, "acl")
	if err := os.WriteFile(aclFile, []byte(acl), 0o600); err != nil {
		t.Fatal(err)
	}
	lockPort, cloudPort := freePort(t), freePort(t)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// Run as ourselves: started as root, mosquitto would switch to its own
	// user, who cannot read our temporary files.
	conf := fmt.Sprintf(`user %s
per_listener_settings false
allow_anonymous false
password_file %s
acl_file %s
persistence false
log_dest stderr

# Locks: the client id is forced to the username (= lock id).
listener %d 127.0.0.1
use_username_as_clientid true

# The cloud, on a private address.
listener %d 127.0.0.1
`, me.Username, passwordFile, aclFile, lockPort, cloudPort)
	confFile := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(mosquitto, "-c", confFile)
	logFile, err := os.Create(filepath.Join(dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr, cmd.Stdout = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logFile.Name())
			t.Logf("mosquitto log:\n%s", log)
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", lockPort))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", cloudPort))
	lockURL := fmt.Sprintf("mqtt://127.0.0.1:%d", lockPort)
	cloudURL := fmt.Sprintf("mqtt://127.0.0.1:%d", cloudPort)

	cloud := MustConnect(t, mqtt.ClientConfig{URL: cloudURL, ClientID: "cloud-1", Username: mqtt.DefaultServiceUser, Password: servicePassword})
	acks := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindAck))
	statuses := MustSubscribe(t, cloud, mqtt.Filter(mqtt.KindStatus))
	// A second server instance in a shared subscription group: the same
	// ACL line lets the service user subscribe to "$share/dooros/...".
	sharedFilter, _ := mqtt.SharedFilter("dooros", mqtt.KindAck)
	sharedAcks := MustSubscribe(t, MustConnect(t, mqtt.ClientConfig{URL: cloudURL, ClientID: "cloud-2", Username: mqtt.DefaultServiceUser, Password: servicePassword}), sharedFilter)

	cfgA, _ := mqtt.LockConfig(lockURL, lockA, passwords[lockA])
	cfgB, _ := mqtt.LockConfig(lockURL, lockB, passwords[lockB])
	a := MustConnect(t, cfgA)
	b := MustConnect(t, cfgB)
	statuses.ExpectPayloads(t, map[string]string{
		mqtt.MustTopic(mqtt.KindStatus, lockA): mqtt.StatusOnline,
		mqtt.MustTopic(mqtt.KindStatus, lockB): mqtt.StatusOnline,
	})
	bBundles := MustSubscribe(t, b, mqtt.MustTopic(mqtt.KindBundle, lockB))

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	stolen := NewInbox()
	// Mosquitto grants such subscriptions and then withholds every message
	// the ACL does not let the lock read, and it acknowledges a forbidden
	// publish and drops it: what matters is that nothing arrives.
	for _, filter := range []string{mqtt.MustTopic(mqtt.KindBundle, lockB), mqtt.Filter(mqtt.KindBundle), "#", "$share/g/" + mqtt.MustTopic(mqtt.KindBundle, lockB), "$share/g/" + mqtt.Filter(mqtt.KindBundle)} {
		if err := a.Subscribe(ctx, filter, 1, stolen.Handle); err != nil && !errors.Is(err, mqtt.ErrNotAuthorized) {
			t.Errorf("lock-a subscribe %s: %v", filter, err)
		}
	}
	_ = a.Publish(ctx, mqtt.MustTopic(mqtt.KindAck, lockB), []byte("forged"), 1, false)

	MustPublish(t, cloud, mqtt.MustTopic(mqtt.KindBundle, lockB), "for b", false)
	bBundles.Expect(t, mqtt.MustTopic(mqtt.KindBundle, lockB))
	MustPublish(t, a, mqtt.MustTopic(mqtt.KindAck, lockA), "a's own ack", false)
	if m := acks.Expect(t, mqtt.MustTopic(mqtt.KindAck, lockA)); string(m.Payload) != "a's own ack" {
		t.Fatalf("cloud got %q", m.Payload)
	}
	if m := sharedAcks.Expect(t, mqtt.MustTopic(mqtt.KindAck, lockA)); string(m.Payload) != "a's own ack" {
		t.Fatalf("the shared subscription got %q", m.Payload)
	}
	acks.ExpectNone(t, 300*time.Millisecond)
	sharedAcks.ExpectNone(t, 300*time.Millisecond)
	stolen.ExpectNone(t, 300*time.Millisecond)

	t.Run("ErrWrongPassword", func(t *testing.T) {
		cfg := cfgA
		cfg.Password = passwords[lockB]
		if _, err := mqtt.Connect(ctx, cfg); !errors.Is(err, mqtt.ErrRefused) {
			t.Fatalf("got %v, want ErrRefused", err)
		}
	})

	t.Run("ClientIDOfOtherLockIsReplaced", func(t *testing.T) {
		cfg := cfgA
		cfg.ClientID = lockB // use_username_as_clientid turns this back into lock-a
		cfg.Will, cfg.Birth = nil, nil
		MustConnect(t, cfg)
		// lock-b keeps its session: it still receives its bundles.
		MustPublish(t, cloud, mqtt.MustTopic(mqtt.KindBundle, lockB), "still b", false)
		bBundles.ExpectPayload(t, mqtt.MustTopic(mqtt.KindBundle, lockB), "still b")
	})
}

func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin or /usr/local/sbin", name)
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		conn, err := net.Dial("tcp", addr)
		if err == nil {
			_ = conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto not listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestMosquittoACL_Errors(t *testing.T) {
	if _, err := mqtt.MosquittoACL(); err == nil {
		t.Error("no service user accepted")
	}
	for _, user := range []string{"", "cloud\ntopic readwrite #", "a b", "a/b"} {
		if _, err := mqtt.MosquittoACL(user); err == nil {
			t.Errorf("service user %q accepted", user)
		}
	}
}
