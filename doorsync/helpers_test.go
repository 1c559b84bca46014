package doorsync_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// env is the whole cloud in one process: API over HTTP with a keyring, an
// embedded MQTT broker (or the one at brokerURL), Door Sync's pusher, and
// the email worker writing to a local mailbox for login codes.
type env struct {
	*apitest.Env
	t      testing.TB
	ctx    context.Context
	keys   *keyring.Keyring
	svc    *doorsync.Service
	broker *mqtt.Embedded
	url    string
	// servicePassword logs in the cloud's service account (embedded broker).
	servicePassword string
	box             *mail.Mailbox
	worker          *notify.Worker
	doors           map[string]domain.Door
	key             domain.Key // "Residents": Lobby (online) + Bike Room (offline), doorcodes on both
}

func newEnv(t testing.TB, st *store.Store, brokerURL string) *env {
	t.Helper()
	return newEnvWith(t, st, brokerURL, nil)
}

// newEnvWith is newEnv with Door Sync's configuration changed by tune.
func newEnvWith(t testing.TB, st *store.Store, brokerURL string, tune func(*doorsync.Config)) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e := &env{Env: apitest.New(t, st), t: t, ctx: ctx, doors: map[string]domain.Door{}}
	e.keys = storetest.Keyring(t, st)
	e.API.Keys = e.keys
	e.servicePassword, _ = mqtt.NewSecret()
	cfg := doorsync.Config{Addr: "127.0.0.1:0", URL: brokerURL, ServicePassword: e.servicePassword, ClientID: "dooros-test-" + domain.NewID("c"), Poll: 50 * time.Millisecond, Backoff: 500 * time.Millisecond}
	if tune != nil {
		tune(&cfg)
	}
	svc, stop, err := doorsync.Start(ctx, st, e.keys, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.svc, e.url = svc, svc.LockMQTTURL
	e.API.DoorSync = e.svc
	e.broker, _ = svc.Broker.(*mqtt.Embedded)

	if e.box, err = mail.OpenMailbox(t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	e.worker = &notify.Worker{Store: st, Sender: e.box, Keys: e.keys}
	// The Lobby (online) of the fixture and an offline Bike Room.
	e.doors["lobby"] = e.F.Lobby
	bike, err := st.CreateDoor(ctx, e.F.PM, e.F.Property.ID, domain.DoorInput{Name: "Bike Room", Type: domain.DoorCommunal, Connectivity: domain.Offline})
	if err != nil {
		t.Fatal(err)
	}
	e.doors["bike"] = bike
	e.key, err = st.CreateKey(ctx, e.F.PM, e.F.Property.ID, domain.KeyInput{Name: "Residents", Doors: []domain.KeyDoor{
		{DoorID: e.F.Lobby.ID, Doorcodes: true}, {DoorID: bike.ID, Doorcodes: true}}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) prop() string { return e.F.Property.ID }

// simLock is a lock firmware in memory, reachable over MQTT (online) or
// the simulated BLE link (offline).
type simLock struct {
	*lock.Lock
	id  string
	ble string // BLE address, offline locks
}

// provision provisions door's lock through the API and boots it.
func (e *env) provision(door string, clock ...lock.Clock) (*simLock, doorsync.Provisioned) {
	e.t.Helper()
	var opts lock.Options
	if len(clock) > 0 {
		opts.Clock = clock[0]
	}
	return e.provisionWith(door, opts)
}

// provisionWith is provision with lock options (FS is set here).
func (e *env) provisionWith(door string, opts lock.Options) (*simLock, doorsync.Provisioned) {
	e.t.Helper()
	d := e.doors[door]
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/doors/"+d.ID+"/lock", e.PMToken, nil)
	if r.Status != 201 {
		e.t.Fatalf("provision %s = %d: %s", door, r.Status, r.Body)
	}
	var p doorsync.Provisioned
	r.Decode(e.t, &p)
	return &simLock{Lock: bootLock(e.t, p.Provisioning, opts), id: d.ID}, p
}

// bootLock loads a provisioning file into a fresh lock's flash and boots
// it with opts (FS is set here).
func bootLock(t testing.TB, provisioning *lockproto.Provisioning, opts lock.Options) *lock.Lock {
	t.Helper()
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, provisioning); err != nil {
		t.Fatal(err)
	}
	opts.FS = fs
	l, err := lock.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// connectMQTT runs the lock's MQTT side: apply pushed bundles and
// revocation notices, publish the ack and the new events.
func connectMQTT(ctx context.Context, t testing.TB, url, password string, l *lock.Lock) *mqtt.Client {
	t.Helper()
	return connectMQTTHolding(ctx, t, url, password, l, nil)
}

// connectMQTTHolding is connectMQTT whose lock drops every bundle while
// hold is set (a lost or slow bundle; revocation notices still arrive).
func connectMQTTHolding(ctx context.Context, t testing.TB, url, password string, l *lock.Lock, hold *atomic.Bool) *mqtt.Client {
	t.Helper()
	cfg, err := mqtt.LockConfig(url, l.LockID(), password)
	if err != nil {
		t.Fatal(err)
	}
	c, err := mqtt.Connect(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	bundles := make(chan []byte, 16)
	if err := c.Subscribe(ctx, mqtt.MustTopic(mqtt.KindBundle, l.LockID()), 1, func(m mqtt.Message) {
		if lockproto.IsRevocationNotice(m.Payload) {
			l.ApplyNotice(m.Payload)
			return
		}
		if hold != nil && hold.Load() {
			return
		}
		select {
		case bundles <- m.Payload:
		default:
		}
	}); err != nil {
		t.Fatal(err)
	}
	go func() {
		next := uint64(1)
		for {
			select {
			case <-ctx.Done():
				return
			case b := <-bundles:
				ack, _ := l.ApplyBundle(b)
				if ack != nil {
					c.Publish(ctx, mqtt.MustTopic(mqtt.KindAck, l.LockID()), ack, 1, false)
				}
				for end := l.Status().LogNext; next < end; next = min(next+256, end) {
					batch, err := l.EventsSince(next)
					if err != nil {
						break
					}
					c.Publish(ctx, mqtt.MustTopic(mqtt.KindEvents, l.LockID()), batch, 1, false)
				}
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return c
}

// serveBLE opens the lock's simulated BLE link (unthrottled).
func serveBLE(ctx context.Context, t testing.TB, l *simLock) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.ble = ln.Addr().String()
	go ble.Serve(ctx, ln, locksim.BLEHandler(l.Lock), ble.Config{Rate: -1}, nil)
}

// phone is a resident's DOOR App: token, device key, credentials.
type phone struct {
	e     *env
	email string
	token string
	priv  ed25519.PrivateKey
	cred  []byte
	// lockKeys are the lock keys certified by the property, by lock id.
	lockKeys map[string]ed25519.PublicKey
}

var codeRE = regexp.MustCompile(`login code for the DOOR app:\s+(\d{6})`) // mail.LoginCode keeps the code out of the subject

func (e *env) invite(email string) domain.PersonView {
	e.t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Res", "last_name": email[:3],
		"email": email, "access": "app", "resident": true, "keys": []map[string]any{{"key_id": e.key.ID}}})
	if r.Status != 201 {
		e.t.Fatalf("invite %s = %d: %s", email, r.Status, r.Body)
	}
	var v domain.PersonView
	r.Decode(e.t, &v)
	return v
}

// login runs the app login with the emailed code and refreshes credentials.
func (e *env) login(email string) *phone {
	e.t.Helper()
	if r := e.Do("POST", "/api/v1/app/login/start", "", map[string]string{"email": email}); r.Status != 202 {
		e.t.Fatalf("login start = %d: %s", r.Status, r.Body)
	}
	if _, err := e.worker.RunOnce(e.ctx); err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.box.List(0)
	if err != nil {
		e.t.Fatal(err)
	}
	var code string
	for _, m := range msgs {
		if c := codeRE.FindStringSubmatch(m.Text); c != nil && m.To.Email == email && code == "" {
			code = c[1]
		}
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	r := e.Do("POST", "/api/v1/app/login/verify", "", map[string]string{"email": email, "code": code,
		"device_public_key": base64.StdEncoding.EncodeToString(pub), "device_name": "test phone"})
	if r.Status != 200 {
		e.t.Fatalf("login %s = %d: %s", email, r.Status, r.Body)
	}
	var s store.ResidentSession
	r.Decode(e.t, &s)
	p := &phone{e: e, email: email, token: s.Token, priv: priv}
	r = e.Do("POST", "/api/v1/me/credentials", p.token, nil)
	if r.Status != 200 {
		e.t.Fatalf("credentials %s = %d: %s", email, r.Status, r.Body)
	}
	var creds struct{ Items []store.IssuedCredential }
	r.Decode(e.t, &creds)
	if p.cred, err = base64.StdEncoding.DecodeString(creds.Items[0].Credential); err != nil {
		e.t.Fatal(err)
	}
	propPub, _ := base64.StdEncoding.DecodeString(creds.Items[0].PropertyPublicKey)
	p.lockKeys = map[string]ed25519.PublicKey{}
	for door, c := range creds.Items[0].LockCertificates {
		raw, _ := base64.StdEncoding.DecodeString(c)
		cert, err := lockproto.VerifyLockCertificate(propPub, raw)
		if err != nil || cert.LockID != door {
			e.t.Fatalf("lock certificate of %s: %v", door, err)
		}
		p.lockKeys[door] = cert.PublicKey
	}
	return p
}

// unlockDirect opens a channel to l and unlocks in it, calling the
// firmware directly (an online lock in these tests).
func (p *phone) unlockDirect(l *simLock) lock.Decision {
	p.e.t.Helper()
	t := p.e.t
	hs, hello, err := lockproto.NewPhoneHandshake(l.id, l.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	s, accept, err := l.OpenSession(hello)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		t.Fatal(err)
	}
	req, err := lockproto.NewUnlockRequest(ch, p.cred, p.priv, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.Encode()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, b)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ch.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	typ, body, err := lockproto.DecodeChannelMsg(plain)
	if err != nil || typ != lockproto.ChanResult {
		t.Fatalf("unlock reply %d: %v", typ, err)
	}
	res, err := lockproto.DecodeUnlockResult(body)
	if err != nil {
		t.Fatal(err)
	}
	return lock.Decision{Granted: res.Granted, Reason: res.Reason, Seq: res.Seq}
}

type mailboxItem struct {
	DoorID  string `json:"door_id"`
	LockID  string `json:"lock_id"`
	Version int64  `json:"version"`
	Bundle  []byte `json:"bundle"`
	LogNext uint64 `json:"log_next"`
}

func (p *phone) mailbox() []mailboxItem {
	p.e.t.Helper()
	r := p.e.Do("GET", "/api/v1/me/mailbox", p.token, nil)
	if r.Status != 200 {
		p.e.t.Fatalf("mailbox = %d: %s", r.Status, r.Body)
	}
	var out struct{ Items []mailboxItem }
	r.Decode(p.e.t, &out)
	return out.Items
}

// unlockBLE is `doorapp unlock`: challenge–response over BLE, then in the
// same session the pending bundle (passive sync), the lock's log, and the
// upload of ack and log. It returns whether the door opened.
func (p *phone) unlockBLE(l *simLock) bool {
	p.e.t.Helper()
	ctx, cancel := context.WithTimeout(p.e.ctx, 20*time.Second)
	defer cancel()
	pub, ok := p.lockKeys[l.id]
	if !ok {
		p.e.t.Fatalf("no lock certificate for %s", l.id)
	}
	s, err := ble.DialLock(ctx, l.ble, ble.Config{Rate: -1}, l.id, pub)
	if err != nil {
		p.e.t.Fatal(err)
	}
	defer s.Close()
	res, err := s.Unlock(ctx, p.cred, p.priv, nil)
	if err != nil {
		p.e.t.Fatal(err)
	}
	// A refused phone may still sync (a schedule refusal), a revoked one not.
	if res.Authenticated {
		if err := p.relay(ctx, s, l.id); err != nil {
			p.e.t.Fatal(err)
		}
	}
	return res.Granted
}

// relay hands the lock its pending bundle and uploads the ack and log.
func (p *phone) relay(ctx context.Context, s *ble.Session, lockID string) error {
	var ack []byte
	from := uint64(0)
	for _, it := range p.mailbox() {
		if it.LockID != lockID {
			continue
		}
		from = it.LogNext
		var err error
		ack, err = s.DeliverBundle(ctx, it.Bundle)
		var re *ble.RemoteError
		if errors.As(err, &re) {
			ack = re.Ack
		} else if err != nil {
			return err
		}
	}
	if from == 0 {
		from = 1
	}
	report := map[string]any{"door_id": lockID}
	if ack != nil {
		report["ack"] = ack
	}
	for range 40 {
		batch, err := s.FetchLog(ctx, from)
		if err != nil {
			return err
		}
		report["events"] = [][]byte{batch}
		r := p.e.Do("POST", "/api/v1/me/sync-reports", p.token, report)
		if r.Status != 200 {
			return fmt.Errorf("sync report = %d: %s", r.Status, r.Body)
		}
		delete(report, "ack")
		var out struct {
			Events []store.LogResult
		}
		json.Unmarshal(r.Body, &out)
		if out.Events[0].Added == 0 {
			return nil
		}
		from = out.Events[0].LogNext
	}
	return nil
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v", what, within)
	return 0
}

// manyDoors creates n doors with the given connectivity (each provisioned
// right after it is created when provision is set) and puts them all in
// keys of at most 500 doors, the most a key holds.
func (e *env) manyDoors(n int, conn domain.Connectivity, doorcodes, provision bool) (ids []string, keys []domain.Key) {
	e.t.Helper()
	doors := make([]domain.KeyDoor, n)
	ids = make([]string, n)
	for i := range n {
		d, err := e.Store.CreateDoor(e.ctx, e.F.PM, e.prop(), domain.DoorInput{Name: fmt.Sprintf("Door %04d", i), Type: domain.DoorEntrance, Connectivity: conn})
		if err != nil {
			e.t.Fatal(err)
		}
		if provision {
			if _, err := e.svc.Provision(e.ctx, e.F.PM, e.prop(), d.ID); err != nil {
				e.t.Fatal(err)
			}
		}
		doors[i], ids[i] = domain.KeyDoor{DoorID: d.ID, Doorcodes: doorcodes}, d.ID
	}
	for i := 0; i < n; i += 500 {
		k, err := e.Store.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: fmt.Sprintf("Doors %d", i), Doors: doors[i:min(i+500, n)]})
		if err != nil {
			e.t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return ids, keys
}
