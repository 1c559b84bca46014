package locksim

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/mqtt"
)

// BenchConfig is a revocation benchmark over a running fleet, driven
// through the API as a manager would.
type BenchConfig struct {
	Manager *Manager
	// PropertyID is the fleet's own property: the benchmark's residents are
	// the only ones holding doorcodes there (see RevokeBench).
	PropertyID string
	// KeyIDs together cover every door of the fleet, with doorcodes.
	KeyIDs []string
	Fleet  *Fleet
	// Rounds is how many residents are invited and revoked (at least 1).
	Rounds int
	// Settle is the pause between a resident reaching every lock and
	// their revocation (lets the grant's acks and logs be recorded).
	Settle time.Duration
	// Quiet, when set, is called after Settle and before the floor and
	// the revocation; it returns once the server has recorded what the
	// locks sent (the grant's acks and logs: at 10,000 locks seconds of
	// the server's CPU, which a fixed Settle may not cover), and says how
	// long it waited.
	Quiet func(ctx context.Context) (time.Duration, error)
	// FloorClient, when set, measures the fan-out floor (Fleet.Floor) and
	// the checked floor (Fleet.CheckedFloor) in every round, just before
	// the revocation.
	FloorClient *mqtt.Client
	// Timeout bounds each wait for the locks (5 minutes when 0).
	Timeout time.Duration
	// Progress, when set, is told about each round.
	Progress func(round int, r Round)
	// CPU, when set, reads the CPU time the fleet's process and the
	// server's have used so far (ProcessCPU); each round then reports how
	// much of the two went into its refusal window.
	CPU func() (fleet, server time.Duration, err error)
}

// Round is one invite-and-revoke of the benchmark.
type Round struct {
	// Grant is how long after the invite was sent every lock held the
	// resident's doorcode.
	Grant time.Duration
	// Quiet is how long BenchConfig.Quiet waited after the settle.
	Quiet time.Duration
	// RevokeCall is how long the revoke request took.
	RevokeCall time.Duration
	// Refusal is, per lock, how long after the revoke request was sent the
	// lock refused the resident's doorcode: a revocation notice suspended
	// the resident, or the bundle that removes the code was applied,
	// whichever came first.
	Refusal []time.Duration
	// Bundle is, per lock, how long after the revoke request was sent the
	// lock applied the bundle that removes the code (the durable path).
	Bundle []time.Duration
	// EveryBundle is the slowest lock's Bundle.
	EveryBundle time.Duration
	// ByBundle is how many locks first refused on the bundle (their
	// notice came later, was stale or was lost; all of them when the
	// server sends no notices); SlowestByBundle the slowest of those.
	ByBundle        int
	SlowestByBundle time.Duration
	// Every is the slowest lock's refusal: revoke → every lock refusing.
	Every time.Duration
	// Slowest is the slowest lock's index in the fleet (the order the
	// doors were created in) and SlowestReceived, when a notice refused
	// there, when that notice reached the lock's handler: Every −
	// SlowestReceived is the lock's own work on it, the rest its
	// delivery.
	Slowest         int
	SlowestReceived time.Duration
	// Floor is the fan-out floor measured in this round (0: not measured);
	// CheckedFloor the same with each lock opening and checking a sealed,
	// signed notice (Fleet.CheckedFloor), measured right after it.
	Floor, CheckedFloor time.Duration
	// Window is the refusal window: from the revoke request sent until the
	// wait saw every lock refusing (Every, plus at most one 5 ms poll).
	// FleetCPU and ServerCPU are the CPU time the two processes used in it
	// (BenchConfig.CPU; zero without it): the simulated locks share the
	// machine's cores with the server, real locks do not.
	Window, FleetCPU, ServerCPU time.Duration
}

// BenchResult summarises the rounds; durations are in milliseconds in JSON.
type BenchResult struct {
	Locks  int `json:"locks"`
	Rounds int `json:"rounds"`
	// Refusal percentiles over every lock of every round (locks × rounds
	// samples), from the moment the revoke request was sent.
	RefusalP50 Millis `json:"refusal_p50_ms"`
	RefusalP99 Millis `json:"refusal_p99_ms"`
	RefusalMax Millis `json:"refusal_max_ms"`
	// Every lock refusing: the slowest lock of each round, over rounds.
	EveryP50 Millis `json:"every_lock_p50_ms"`
	EveryP99 Millis `json:"every_lock_p99_ms"`
	// Every lock holding the bundle that removed the code (its revocation
	// notice, when the server sends them, refused the resident earlier):
	// the slowest lock of each round, over rounds; and per lock.
	EveryBundleP50 Millis `json:"every_lock_bundle_p50_ms"`
	EveryBundleP99 Millis `json:"every_lock_bundle_p99_ms"`
	BundleP99      Millis `json:"bundle_p99_ms"`
	// The fan-out floor (time until the last lock received one message
	// each), over rounds; zero when not measured.
	FloorP50 Millis `json:"floor_p50_ms"`
	FloorP99 Millis `json:"floor_p99_ms"`
	// The checked floor (Fleet.CheckedFloor), over rounds.
	CheckedFloorP50 Millis `json:"checked_floor_p50_ms"`
	CheckedFloorP99 Millis `json:"checked_floor_p99_ms"`
	// RevokeCallP50/Max: how long the revoke request itself took.
	RevokeCallP50 Millis `json:"revoke_call_p50_ms"`
	RevokeCallMax Millis `json:"revoke_call_max_ms"`
	// The cores the fleet and the server used on average in the refusal
	// windows (their CPU time over the windows' wall time; BenchConfig.CPU).
	WindowFleetCores  float64 `json:"refusal_window_fleet_cores"`
	WindowServerCores float64 `json:"refusal_window_server_cores"`
	// Dropped bundles at the locks' receive queues during the benchmark.
	Dropped int64 `json:"lock_queue_drops"`
	// Revocation notices the locks did not apply during the benchmark:
	// stale (the bundle came first) and refused (anything else).
	StaleNotices   int64   `json:"notices_stale"`
	RefusedNotices int64   `json:"notices_refused"`
	Each           []Round `json:"-"`
}

// Millis is a duration written in JSON as milliseconds.
type Millis time.Duration

// MarshalJSON writes the duration in milliseconds with microsecond
// precision.
func (m Millis) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.3f", float64(time.Duration(m).Microseconds())/1000), nil
}

func (m Millis) String() string { return time.Duration(m).Round(time.Millisecond).String() }

// Quantile is the p-th quantile (nearest rank) of sorted d; 0 when d is
// empty.
func Quantile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

// RevokeBench runs the revocation benchmark: per round it invites a new
// resident holding every key (so every lock gets their doorcode), waits
// until every lock holds it, measures the fan-out floor, then revokes the
// resident through the API and times, from the moment the revoke request
// is sent, until each lock refuses the resident's doorcode (a revocation
// notice suspended the resident, or the bundle that removed the doorcode
// was applied), and until each lock applied that bundle. The property must be the
// fleet's own: a lock's doorcode count tells whether it holds the
// resident's code, so nobody else may hold codes there.
func RevokeBench(ctx context.Context, cfg BenchConfig) (*BenchResult, error) {
	if cfg.Rounds < 1 {
		return nil, fmt.Errorf("bench: %d rounds: at least 1 is needed", cfg.Rounds)
	}
	if len(cfg.KeyIDs) == 0 {
		return nil, fmt.Errorf("bench: no keys")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Minute
	}
	prop := "/api/v1/properties/" + url.PathEscape(cfg.PropertyID)
	grants := make([]map[string]any, len(cfg.KeyIDs))
	for i, k := range cfg.KeyIDs {
		grants[i] = map[string]any{"key_id": k}
	}
	dropped0 := cfg.Fleet.Dropped()
	stale0, refused0 := cfg.Fleet.Notices()
	res := &BenchResult{Locks: cfg.Fleet.Len(), Rounds: cfg.Rounds}
	var all, every, floors, checked, calls, bundles, everyBundle []time.Duration
	var windows, fleetCPU, serverCPU time.Duration
	tag := time.Now().UnixNano()
	for round := range cfg.Rounds {
		var r Round
		var person struct {
			ID string `json:"id"`
		}
		sent := time.Now()
		if err := cfg.Manager.Do(ctx, "POST", prop+"/people", map[string]any{
			"first_name": "Fleet", "last_name": fmt.Sprintf("Resident %d", round+1),
			"email":  fmt.Sprintf("fleet-%d-%d@example.com", tag, round+1),
			"access": "app", "resident": true, "keys": grants}, &person); err != nil {
			return nil, err
		}
		wctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		granted, err := cfg.Fleet.WaitAll(wctx, sent, func(s lock.Status) bool { return s.Doorcodes > 0 })
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench round %d: waiting for the grant: %w", round+1, err)
		}
		r.Grant = slices.Max(granted)
		select {
		case <-time.After(cfg.Settle):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if cfg.Quiet != nil {
			qctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			r.Quiet, err = cfg.Quiet(qctx)
			cancel()
			if err != nil {
				return nil, fmt.Errorf("bench round %d: waiting for the server to record the grant: %w", round+1, err)
			}
		}
		if cfg.FloorClient != nil {
			fctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			r.Floor, err = cfg.Fleet.Floor(fctx, cfg.FloorClient, 0)
			if err == nil {
				r.CheckedFloor, err = cfg.Fleet.CheckedFloor(fctx, cfg.FloorClient, 0)
			}
			cancel()
			if err != nil {
				return nil, fmt.Errorf("bench round %d: %w", round+1, err)
			}
			floors = append(floors, r.Floor)
			checked = append(checked, r.CheckedFloor)
		}
		var fleet0, server0 time.Duration
		if cfg.CPU != nil {
			if fleet0, server0, err = cfg.CPU(); err != nil {
				return nil, fmt.Errorf("bench round %d: %w", round+1, err)
			}
		}
		start := time.Now()
		if err := cfg.Manager.Do(ctx, "POST", prop+"/people/"+url.PathEscape(person.ID)+"/revoke", nil, nil); err != nil {
			return nil, err
		}
		r.RevokeCall = time.Since(start)
		wctx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		// The resident's code is the only one at the property: refused once
		// no held code is usable (a notice suspended its holder, or the
		// bundle removed it).
		var byNotice []bool
		var received []time.Duration
		r.Refusal, byNotice, received, err = cfg.Fleet.waitAll(wctx, start, func(s lock.Status) bool { return s.Doorcodes-s.SuspendedDoorcodes == 0 })
		r.Window = time.Since(start)
		if cfg.CPU != nil && err == nil {
			fleet1, server1, cerr := cfg.CPU()
			if cerr != nil {
				cancel()
				return nil, fmt.Errorf("bench round %d: %w", round+1, cerr)
			}
			r.FleetCPU, r.ServerCPU = fleet1-fleet0, server1-server0
			windows += r.Window
			fleetCPU += r.FleetCPU
			serverCPU += r.ServerCPU
		}
		for i, n := range byNotice {
			if !n {
				r.ByBundle++
				if r.Refusal[i] > r.SlowestByBundle {
					r.SlowestByBundle = r.Refusal[i]
				}
			}
		}
		if err == nil {
			r.Bundle, err = cfg.Fleet.WaitAll(wctx, start, func(s lock.Status) bool { return s.Doorcodes == 0 })
		}
		cancel()
		if err != nil {
			return nil, fmt.Errorf("bench round %d: waiting for the revocation: %w", round+1, err)
		}
		r.Every = slices.Max(r.Refusal)
		r.Slowest = slices.Index(r.Refusal, r.Every)
		r.SlowestReceived = received[r.Slowest]
		r.EveryBundle = slices.Max(r.Bundle)
		bundles = append(bundles, r.Bundle...)
		everyBundle = append(everyBundle, r.EveryBundle)
		all = append(all, r.Refusal...)
		every = append(every, r.Every)
		calls = append(calls, r.RevokeCall)
		res.Each = append(res.Each, r)
		if cfg.Progress != nil {
			cfg.Progress(round+1, r)
		}
	}
	for _, d := range [][]time.Duration{all, every, floors, checked, calls, bundles, everyBundle} {
		slices.Sort(d)
	}
	res.EveryBundleP50, res.EveryBundleP99, res.BundleP99 = Millis(Quantile(everyBundle, .5)), Millis(Quantile(everyBundle, .99)), Millis(Quantile(bundles, .99))
	res.RefusalP50, res.RefusalP99, res.RefusalMax = Millis(Quantile(all, .5)), Millis(Quantile(all, .99)), Millis(all[len(all)-1])
	res.EveryP50, res.EveryP99 = Millis(Quantile(every, .5)), Millis(Quantile(every, .99))
	res.FloorP50, res.FloorP99 = Millis(Quantile(floors, .5)), Millis(Quantile(floors, .99))
	res.CheckedFloorP50, res.CheckedFloorP99 = Millis(Quantile(checked, .5)), Millis(Quantile(checked, .99))
	res.RevokeCallP50, res.RevokeCallMax = Millis(Quantile(calls, .5)), Millis(calls[len(calls)-1])
	if windows > 0 {
		res.WindowFleetCores = float64(fleetCPU) / float64(windows)
		res.WindowServerCores = float64(serverCPU) / float64(windows)
	}
	res.Dropped = cfg.Fleet.Dropped() - dropped0
	stale1, refused1 := cfg.Fleet.Notices()
	res.StaleNotices, res.RefusedNotices = stale1-stale0, refused1-refused0
	return res, nil
}

// CreateFleetKeys creates keys (at most 500 doors each, the API's limit)
// that together open every door of locks, with doorcodes.
func CreateFleetKeys(ctx context.Context, m *Manager, propertyID string, locks []FleetLock) ([]string, error) {
	var ids []string
	for i := 0; i < len(locks); i += 500 {
		doors := []map[string]any{}
		for _, l := range locks[i:min(i+500, len(locks))] {
			doors = append(doors, map[string]any{"door_id": l.DoorID, "doorcodes": true})
		}
		var k struct {
			ID string `json:"id"`
		}
		if err := m.Do(ctx, "POST", "/api/v1/properties/"+url.PathEscape(propertyID)+"/keys",
			map[string]any{"name": fmt.Sprintf("Fleet doors %d–%d", i+1, min(i+500, len(locks))), "doors": doors}, &k); err != nil {
			return nil, err
		}
		ids = append(ids, k.ID)
	}
	return ids, nil
}

// CreateProperty creates a property and returns its id.
func (m *Manager) CreateProperty(ctx context.Context, name, timeZone string) (string, error) {
	var p struct {
		ID string `json:"id"`
	}
	if err := m.Do(ctx, "POST", "/api/v1/properties", map[string]any{"name": name, "time_zone": timeZone}, &p); err != nil {
		return "", err
	}
	return p.ID, nil
}

// ProcessCPU reads the CPU time (user and system) a Linux process has used,
// from /proc/PID/stat ("self" for this one), in clock ticks of 10 ms.
func ProcessCPU(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("process CPU: %w", err)
	}
	return parseProcStat(b, pid)
}

// parseProcStat reads utime + stime from a /proc/PID/stat line.
func parseProcStat(b []byte, pid string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces:
	// the fields counted are those after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("process CPU: unexpected /proc/%s/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("process CPU: unexpected /proc/%s/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("process CPU: unexpected /proc/%s/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
