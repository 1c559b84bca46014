package locksim

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mqtt"
)

// Manager is a DOOR OS API client with a manager's bearer token: what the
// fleet driver needs to set up its doors and locks as an operator would.
type Manager struct {
	// Server is the API's base URL (http://host:port).
	Server string
	Token  string
	// HTTP is the client used; nil means a client with a 60 s timeout.
	HTTP *http.Client
}

// APIError is an answer of the API outside 2xx.
type APIError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d: %s", e.Method, e.Path, e.Status, strings.TrimSpace(e.Body))
}

var defaultHTTP = &http.Client{Timeout: 60 * time.Second}

// Do sends in as JSON (nil: no body) and decodes the answer into out (nil:
// discarded).
func (m *Manager) Do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(m.Server, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+m.Token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c := m.HTTP
	if c == nil {
		c = defaultHTTP
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Body: string(data)}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// FleetLock is one provisioned online lock of a fleet: the answer of
// POST /api/v1/properties/{p}/doors/{d}/lock.
type FleetLock struct {
	DoorID       string                  `json:"door_id"`
	LockID       string                  `json:"lock_id"`
	Provisioning *lockproto.Provisioning `json:"provisioning"`
	MQTTURL      string                  `json:"mqtt_url"`
	MQTTPassword string                  `json:"mqtt_password"`
}

// ProvisionFleet creates n online doors in the property through the API
// and provisions each door's lock, parallel requests at a time (1 when
// less than 1). The doors are named "Fleet door 00001" and so on.
func ProvisionFleet(ctx context.Context, m *Manager, propertyID string, n, parallel int) ([]FleetLock, error) {
	if n < 1 {
		return nil, fmt.Errorf("fleet: %d locks: at least 1 is needed", n)
	}
	parallel = max(parallel, 1)
	out := make([]FleetLock, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range min(parallel, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				var door struct {
					ID string `json:"id"`
				}
				if err := m.Do(ctx, "POST", "/api/v1/properties/"+url.PathEscape(propertyID)+"/doors", map[string]any{
					"name": fmt.Sprintf("Fleet door %05d", i+1), "type": "entrance", "connectivity": "online"}, &door); err != nil {
					cancel(err)
					return
				}
				var p FleetLock
				if err := m.Do(ctx, "POST", "/api/v1/properties/"+url.PathEscape(propertyID)+"/doors/"+url.PathEscape(door.ID)+"/lock", nil, &p); err != nil {
					cancel(err)
					return
				}
				if p.Provisioning == nil || p.MQTTPassword == "" {
					cancel(fmt.Errorf("fleet: door %s: the server gave no MQTT credentials (is it an online door, is Door Sync running?)", door.ID))
					return
				}
				out[i] = p
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// FleetConfig describes a fleet of simulated online locks run in one
// process, each exactly as RunMQTT runs a lock (its own MQTT connection,
// signed acks carrying its new events, the rest of its log uploaded in
// batches), with its state
// in memory (lock.NewMemFS).
type FleetConfig struct {
	Locks []FleetLock
	// MQTTURL, when set, is the broker every lock connects to instead of
	// the mqtt_url its provisioning named.
	MQTTURL string
	// Parallel is how many locks connect at a time (16 when 0).
	Parallel int
	// ConnectTimeout bounds StartFleet's wait for every lock to connect
	// (2 minutes when 0).
	ConnectTimeout time.Duration
	Log            *slog.Logger
}

// Applied is a bundle a fleet lock applied: when, and the lock's status
// right after it.
type Applied struct {
	At     time.Time
	Status lock.Status
	// Notice: a revocation notice, not a bundle.
	Notice bool
	// Received is when a notice reached the lock's handler from its MQTT
	// client (zero for a bundle): At − Received is the lock's own work on
	// it, Received − the revoke its delivery (server, broker, network and
	// the simulator's scheduling).
	Received time.Time
}

// historyMax is how many applied bundles a fleet lock remembers.
const historyMax = 64

type fleetLock struct {
	id  string
	l   *lock.Lock
	key []byte // the lock's symmetric key: CheckedFloor seals its probes under it
	f   *Fleet

	mu      sync.Mutex
	applied []Applied            // newest last, at most historyMax
	probes  map[string]time.Time // fan-out probe nonce → received
	// records counts every Applied ever recorded (applied keeps the
	// last historyMax): waitAll looks again only at locks it moved.
	records atomic.Uint64
}

// Fleet is a running fleet of simulated locks.
type Fleet struct {
	locks   []*fleetLock
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	dropped atomic.Int64
	// staleNotices: revocation notices that came after their bundle;
	// refusedNotices: notices refused for anything else.
	staleNotices, refusedNotices atomic.Int64
	// probeKey signs CheckedFloor's probes; the locks check them with
	// its public half (not the property's key: the fleet has none).
	probeKey ed25519.PrivateKey
	// probeRefused counts checked probes a lock could not open.
	probeRefused atomic.Int64
}

// Notices says how many revocation notices the locks did not apply:
// stale (their bundle came first) and refused (anything else: none
// expected).
func (f *Fleet) Notices() (stale, refused int64) {
	return f.staleNotices.Load(), f.refusedNotices.Load()
}

// probePrefix starts a fan-out probe on a lock's bundle topic (Floor); a
// fleet lock notes it and does not treat it as a bundle. checkedPrefix
// starts CheckedFloor's: the nonce, a NUL, then a revocation notice
// sealed for the lock, which it opens and verifies before noting it.
var (
	probePrefix   = []byte("doorlock-fleet-probe:")
	checkedPrefix = []byte("doorlock-fleet-checked-probe:")
)

// StartFleet provisions every lock in memory, connects them all and
// returns once every one is connected and subscribed. A lock that cannot
// connect (refused credentials, unreachable broker) fails the start.
func StartFleet(ctx context.Context, cfg FleetConfig) (*Fleet, error) {
	if len(cfg.Locks) == 0 {
		return nil, errors.New("fleet: no locks")
	}
	if cfg.MQTTURL != "" {
		if _, err := mqtt.ParseBrokerURL(cfg.MQTTURL); err != nil {
			return nil, fmt.Errorf("fleet: MQTT URL: %w", err)
		}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 16
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 2 * time.Minute
	}
	_, probeKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f := &Fleet{probeKey: probeKey}
	for i, p := range cfg.Locks {
		if p.Provisioning == nil {
			return nil, fmt.Errorf("fleet: lock %d (door %q) has no provisioning", i, p.DoorID)
		}
		if p.MQTTURL == "" && cfg.MQTTURL == "" {
			return nil, fmt.Errorf("fleet: lock %s has no MQTT URL: give one for the fleet", p.Provisioning.LockID)
		}
		fs := lock.NewMemFS()
		if err := lock.Provision(fs, p.Provisioning); err != nil {
			return nil, fmt.Errorf("fleet: lock %s: %w", p.Provisioning.LockID, err)
		}
		l, err := lock.Open(lock.Options{FS: fs})
		if err != nil {
			return nil, fmt.Errorf("fleet: lock %s: %w", p.Provisioning.LockID, err)
		}
		f.locks = append(f.locks, &fleetLock{id: l.LockID(), l: l, key: p.Provisioning.LockSymmetricKey, f: f, probes: map[string]time.Time{}})
	}
	ctx, f.cancel = context.WithCancel(ctx)
	sem := make(chan struct{}, cfg.Parallel)
	connected := make(chan struct{}, len(f.locks))
	failed := make(chan error, len(f.locks))
	for i, fl := range f.locks {
		p := cfg.Locks[i]
		broker := p.MQTTURL
		if cfg.MQTTURL != "" {
			broker = cfg.MQTTURL
		}
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var once sync.Once
			release := func() { once.Do(func() { <-sem }) }
			defer release()
			err := runMQTT(ctx, broker, p.MQTTPassword, fl.l, log.With("lock", fl.id), mqttHooks{
				applied: fl.record,
				probe:   fl.probe,
				dropped: func() { f.dropped.Add(1) },
				noticeRefused: func(err error) {
					if errors.Is(err, lockproto.ErrStale) {
						f.staleNotices.Add(1)
					} else {
						f.refusedNotices.Add(1)
					}
				},
				connected: func() {
					release()
					connected <- struct{}{}
				},
			})
			if err != nil && ctx.Err() == nil {
				failed <- fmt.Errorf("fleet: lock %s: %w", fl.id, err)
			}
		}()
	}
	timeout := time.NewTimer(cfg.ConnectTimeout)
	defer timeout.Stop()
	for n := 0; n < len(f.locks); {
		select {
		case <-connected:
			n++
		case err := <-failed:
			f.Close()
			return nil, err
		case <-timeout.C:
			f.Close()
			return nil, fmt.Errorf("fleet: %d of %d locks connected within %v", n, len(f.locks), cfg.ConnectTimeout)
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		}
	}
	return f, nil
}

func (fl *fleetLock) record(s lock.Status, received, at time.Time, notice bool) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.applied) == historyMax {
		copy(fl.applied, fl.applied[1:])
		fl.applied = fl.applied[:historyMax-1]
	}
	fl.applied = append(fl.applied, Applied{At: at, Status: s, Notice: notice, Received: received})
	fl.records.Add(1)
}

func (fl *fleetLock) probe(payload []byte) bool {
	var nonce string
	switch {
	case bytes.HasPrefix(payload, probePrefix):
		nonce = string(payload[len(probePrefix):])
	case bytes.HasPrefix(payload, checkedPrefix):
		rest := payload[len(checkedPrefix):]
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			fl.f.probeRefused.Add(1)
			return true
		}
		// What a lock does with a revocation notice before it acts on it
		// (lock.ApplyNotice): open the envelope under its own key, check
		// the signature.
		if _, _, err := lockproto.OpenRevocationNotice(fl.f.probeKey.Public().(ed25519.PublicKey), fl.id, fl.key, rest[i+1:]); err != nil {
			fl.f.probeRefused.Add(1)
			return true
		}
		nonce = string(rest[:i])
	default:
		return false
	}
	now := time.Now()
	fl.mu.Lock()
	fl.probes[nonce] = now
	fl.mu.Unlock()
	return true
}

// Len is the number of locks.
func (f *Fleet) Len() int { return len(f.locks) }

// LockIDs are the fleet's lock ids, in the order of FleetConfig.Locks.
func (f *Fleet) LockIDs() []string {
	ids := make([]string, len(f.locks))
	for i, fl := range f.locks {
		ids[i] = fl.id
	}
	return ids
}

// Lock is the i-th lock's firmware (in the order of FleetConfig.Locks).
func (f *Fleet) Lock(i int) *lock.Lock { return f.locks[i].l }

// Dropped is how many bundles found a lock's receive queue full (the
// cloud republishes them until acknowledged).
func (f *Fleet) Dropped() int64 { return f.dropped.Load() }

// Close disconnects every lock and waits.
func (f *Fleet) Close() {
	f.cancel()
	f.wg.Wait()
}

// WaitAll waits until every lock applied a bundle at or after since that
// left it in a state satisfying ok, and returns for each lock (in order)
// how long after since that was. It polls every 5 ms.
func (f *Fleet) WaitAll(ctx context.Context, since time.Time, ok func(lock.Status) bool) ([]time.Duration, error) {
	out, _, _, err := f.waitAll(ctx, since, ok)
	return out, err
}

// waitAll is WaitAll that also says, per lock, whether a revocation
// notice (not a bundle) first satisfied ok and, if so, when that notice
// reached the lock (Applied.Received − since).
func (f *Fleet) waitAll(ctx context.Context, since time.Time, ok func(lock.Status) bool) ([]time.Duration, []bool, []time.Duration, error) {
	out := make([]time.Duration, len(f.locks))
	byNotice := make([]bool, len(f.locks))
	received := make([]time.Duration, len(f.locks))
	done := make([]bool, len(f.locks))
	// seen[i]: how many of lock i's records were already checked. The
	// wait shares the cores with the locks it times, so a tick looks only
	// at the locks that applied something since the last one, and only at
	// what they applied (a scan of every lock's history every tick took
	// an eighth of the fleet's CPU at 10,000 locks).
	seen := make([]uint64, len(f.locks))
	left := len(f.locks)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		for i, fl := range f.locks {
			if done[i] {
				continue
			}
			n := fl.records.Load()
			if n == seen[i] {
				continue
			}
			fl.mu.Lock()
			n = fl.records.Load()
			fresh := fl.applied[len(fl.applied)-int(min(n-seen[i], uint64(len(fl.applied)))):]
			seen[i] = n
			for _, a := range fresh {
				if !a.At.Before(since) && ok(a.Status) {
					out[i], done[i], byNotice[i] = a.At.Sub(since), true, a.Notice
					if a.Notice {
						received[i] = a.Received.Sub(since)
					}
					left--
					break
				}
			}
			fl.mu.Unlock()
		}
		if left == 0 {
			return out, byNotice, received, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil, nil, fmt.Errorf("fleet: %d of %d locks still waiting: %w", left, len(f.locks), context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// Floor measures the broker's fan-out floor: c (a client allowed to
// publish on the locks' bundle topics, such as the cloud's service
// account) publishes one QoS 1 probe to each lock's bundle topic, from
// parallel publishers as the Door Sync pusher does (64 when 0), and Floor
// returns the time from the first publish until the last lock received
// its probe.
func (f *Fleet) Floor(ctx context.Context, c *mqtt.Client, parallel int) (time.Duration, error) {
	nonce := fmt.Sprintf("%d", time.Now().UnixNano())
	payload := append(append([]byte{}, probePrefix...), nonce...)
	return f.floor(ctx, c, parallel, nonce, func(int) []byte { return payload })
}

// CheckedFloor is Floor with the locks' own work on a revocation notice
// in it: each probe is a notice signed once (by a key of the fleet's)
// and sealed per lock, which the lock opens and whose signature it checks
// (lockproto.OpenRevocationNotice, as lock.ApplyNotice does) before it
// counts as received. The probes are sealed before the clock starts. On
// a rig where the simulated locks share the server's cores, this is what
// delivering and checking one notice per lock costs with no server work
// at all: the floor a revocation's notices can be compared with.
func (f *Fleet) CheckedFloor(ctx context.Context, c *mqtt.Client, parallel int) (time.Duration, error) {
	nonce := fmt.Sprintf("%d", time.Now().UnixNano())
	signed, err := lockproto.SignRevocationNotice(f.probeKey, lockproto.RevocationNotice{Persons: []string{"fleet-probe-" + nonce}})
	if err != nil {
		return 0, err
	}
	payloads := make([][]byte, len(f.locks))
	for i, fl := range f.locks {
		sealed, err := lockproto.SealRevocationNotice(signed, fl.id, fl.key, 1<<62)
		if err != nil {
			return 0, fmt.Errorf("fleet: checked probe for %s: %w", fl.id, err)
		}
		payloads[i] = append(append(append(append([]byte{}, checkedPrefix...), nonce...), 0), sealed...)
	}
	return f.floor(ctx, c, parallel, nonce, func(i int) []byte { return payloads[i] })
}

// ProbesRefused is how many checked probes (CheckedFloor's) a lock could
// not open or verify: none unless something altered them.
func (f *Fleet) ProbesRefused() int64 { return f.probeRefused.Load() }

// floor publishes payload(i) to lock i's bundle topic from parallel
// publishers (64 when 0) and returns the time from the first publish
// until the last lock noted nonce.
func (f *Fleet) floor(ctx context.Context, c *mqtt.Client, parallel int, nonce string, payload func(i int) []byte) (time.Duration, error) {
	if parallel <= 0 {
		parallel = 64
	}
	refused := f.probeRefused.Load()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, parallel)
	for range min(parallel, len(f.locks)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(f.locks) {
					return
				}
				if err := c.Publish(ctx, mqtt.MustTopic(mqtt.KindBundle, f.locks[i].id), payload(i), 1, false); err != nil {
					errs <- fmt.Errorf("fleet: fan-out probe to %s: %w", f.locks[i].id, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	var last time.Time
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < len(f.locks); {
		fl := f.locks[i]
		fl.mu.Lock()
		at, ok := fl.probes[nonce]
		if ok {
			delete(fl.probes, nonce)
		}
		fl.mu.Unlock()
		if ok {
			if at.After(last) {
				last = at
			}
			i++
			continue
		}
		if n := f.probeRefused.Load() - refused; n > 0 {
			return 0, fmt.Errorf("fleet: %d locks could not open a checked probe", n)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("fleet: fan-out probe: lock %s did not receive it: %w", fl.id, ctx.Err())
		case <-tick.C:
		}
	}
	return last.Sub(start), nil
}
