package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mqtt"
)

// maxFleet bounds --locks: each lock is an MQTT connection (a file
// descriptor here and in the broker) and about 75 KB of this process
// (0.74 GB at 10,000 locks, session 10).
const maxFleet = 50000

// fleet runs N simulated online locks in this process. It creates a
// property and N online doors through the API as a manager, provisions
// each door's lock, connects them all, and either runs until interrupted
// or, with --revocations, runs the revocation benchmark
// (locksim.RevokeBench) and prints its figures as JSON.
func fleet(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "DOOR OS API base URL (http://host:port); the manager's API token comes from DOORLOCK_API_TOKEN")
	n := fs.Int("locks", 0, fmt.Sprintf("number of online locks to create and run (1–%d)", maxFleet))
	mqttURL := fs.String("mqtt-url", "", "broker the locks connect to (default: the mqtt_url the server gives with each lock)")
	parallel := fs.Int("parallel", 16, "API requests and MQTT connects at a time while setting up (1–1024)")
	rounds := fs.Int("revocations", 0, "run the revocation benchmark with this many invite+revoke rounds, print its JSON and exit (0: just run the locks until interrupted)")
	settle := fs.Duration("settle", time.Second, "benchmark: pause between a resident reaching every lock and their revocation")
	quiet := fs.Duration("quiet", 0, "benchmark: before each revocation (after --settle), wait until the server's Door Sync inbound counters on its /metrics held still this long (the grant's acks and logs recorded; 0: do not wait)")
	idle := fs.Duration("idle", 0, "pause after every lock connected, before the benchmark (for measuring the server with the fleet idle)")
	ready := fs.String("ready", "", "file to create once every lock is connected")
	provisioned := fs.String("provisioned", "", "file to create once every lock is provisioned; the fleet then waits --idle before connecting (for measuring the server without connections)")
	timeout := fs.Duration("timeout", 5*time.Minute, "bound on connecting the fleet and on each wait for the locks")
	serverPID := fs.Int("server-pid", 0, "benchmark: the server's process id on this machine (Linux): each round also reports the CPU the fleet and the server used in its refusal window")
	cpuProfile := fs.String("cpuprofile", "", "benchmark: write this process's CPU profile over the revocation benchmark to this file (go tool pprof)")
	floorUser := fs.String("floor-user", mqtt.DefaultServiceUser, "benchmark: MQTT user that may publish to the locks' bundle topics, for the fan-out floor; its password comes from DOORLOCK_FLOOR_PASSWORD (no password: no floor)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		return fmt.Errorf("fleet: unexpected arguments %q", fs.Args())
	}
	token := getenv("DOORLOCK_API_TOKEN")
	floorPassword := getenv("DOORLOCK_FLOOR_PASSWORD")
	switch {
	case *server == "":
		return errors.New("fleet: --server URL is required (the DOOR OS API, e.g. http://127.0.0.1:8080)")
	case token == "":
		return errors.New("fleet: DOORLOCK_API_TOKEN is not set: log in as a manager (POST /api/v1/auth/login) and export the token")
	case *n < 1 || *n > maxFleet:
		return fmt.Errorf("fleet: --locks %d: give 1 to %d", *n, maxFleet)
	case *parallel < 1 || *parallel > 1024:
		return fmt.Errorf("fleet: --parallel %d: give 1 to 1024", *parallel)
	case *rounds < 0:
		return fmt.Errorf("fleet: --revocations %d: cannot be negative", *rounds)
	case *settle < 0 || *idle < 0 || *quiet < 0:
		return errors.New("fleet: --settle, --idle and --quiet cannot be negative")
	case *serverPID < 0:
		return fmt.Errorf("fleet: --server-pid %d: cannot be negative", *serverPID)
	case *timeout <= 0:
		return fmt.Errorf("fleet: --timeout %v: must be positive", *timeout)
	}
	if u, err := url.Parse(*server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("fleet: --server %q: want http(s)://host:port", *server)
	}
	if *mqttURL != "" {
		if _, err := mqtt.ParseBrokerURL(*mqttURL); err != nil {
			return fmt.Errorf("fleet: --mqtt-url: %w", err)
		}
	}
	var cpu func() (time.Duration, time.Duration, error)
	if *serverPID > 0 {
		pid := strconv.Itoa(*serverPID)
		if _, err := locksim.ProcessCPU(pid); err != nil {
			return fmt.Errorf("fleet: --server-pid %d: %w", *serverPID, err)
		}
		cpu = func() (time.Duration, time.Duration, error) {
			self, err := locksim.ProcessCPU("self")
			if err != nil {
				return 0, 0, err
			}
			server, err := locksim.ProcessCPU(pid)
			return self, server, err
		}
	}
	var prof *os.File
	if *cpuProfile != "" {
		if *rounds == 0 {
			return errors.New("fleet: --cpuprofile profiles the revocation benchmark: give --revocations too")
		}
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("fleet: --cpuprofile: %w", err)
		}
		defer f.Close()
		prof = f
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "fleet: "+format+"\n", a...) }

	m := &locksim.Manager{Server: *server, Token: token}
	prop, err := m.CreateProperty(ctx, fmt.Sprintf("Fleet of %d (%s)", *n, time.Now().UTC().Format(time.RFC3339)), "UTC")
	if err != nil {
		return fmt.Errorf("fleet: creating the fleet's property: %w", err)
	}
	t := time.Now()
	locks, err := locksim.ProvisionFleet(ctx, m, prop, *n, *parallel)
	if err != nil {
		return err
	}
	progress("property %s: %d doors created and their locks provisioned in %v", prop, *n, time.Since(t).Round(time.Millisecond))
	if *provisioned != "" {
		if err := os.WriteFile(*provisioned, []byte(prop+"\n"), 0o644); err != nil {
			return err
		}
		select {
		case <-time.After(*idle):
		case <-ctx.Done():
			return nil
		}
	}
	t = time.Now()
	f, err := locksim.StartFleet(ctx, locksim.FleetConfig{Locks: locks, MQTTURL: *mqttURL, Parallel: *parallel, ConnectTimeout: *timeout, Log: log})
	if err != nil {
		return err
	}
	defer f.Close()
	progress("%d locks connected in %v", f.Len(), time.Since(t).Round(time.Millisecond))
	// A newly provisioned lock gets its first bundle when it reports
	// online: the fleet is ready (idle, then the benchmark) once every
	// lock applied it, not while 10,000 first bundles are on their way.
	wctx, cancel := context.WithTimeout(ctx, *timeout)
	_, err = f.WaitAll(wctx, t, func(s lock.Status) bool { return s.Version > 0 })
	cancel()
	if err != nil {
		return fmt.Errorf("fleet: waiting for every lock's first bundle: %w", err)
	}
	progress("every lock applied its first bundle %v after connecting began", time.Since(t).Round(time.Millisecond))
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte(prop+"\n"), 0o644); err != nil {
			return err
		}
	}
	select {
	case <-time.After(*idle):
	case <-ctx.Done():
		return nil
	}
	if *rounds == 0 {
		<-ctx.Done()
		return nil
	}
	keys, err := locksim.CreateFleetKeys(ctx, m, prop, locks)
	if err != nil {
		return fmt.Errorf("fleet: creating keys: %w", err)
	}
	cfg := locksim.BenchConfig{Manager: m, PropertyID: prop, KeyIDs: keys, Fleet: f, Rounds: *rounds, Settle: *settle, Timeout: *timeout, CPU: cpu,
		Progress: func(i int, r locksim.Round) {
			sorted := slices.Sorted(slices.Values(r.Refusal))
			at := func(q float64) time.Duration { return locksim.Quantile(sorted, q).Round(time.Millisecond) }
			if *quiet > 0 {
				progress("round %d: the server recorded the grant's acks %v after the settle", i, r.Quiet.Round(time.Millisecond))
			}
			progress("round %d: grant %v, revoke call %v, every lock refusing %v (first %v, half %v, 90%% %v, 99%% %v, 99.9%% %v), every lock holding the bundle %v, floor %v; checked floor %v; %d locks refused on the bundle first (slowest %v)", i,
				r.Grant.Round(time.Millisecond), r.RevokeCall.Round(time.Millisecond), r.Every.Round(time.Millisecond),
				sorted[0].Round(time.Millisecond), at(.5), at(.9), at(.99), at(.999), r.EveryBundle.Round(time.Millisecond), r.Floor.Round(time.Microsecond),
				r.CheckedFloor.Round(time.Microsecond), r.ByBundle, r.SlowestByBundle.Round(time.Millisecond))
			if r.SlowestReceived > 0 {
				progress("round %d: the slowest lock (#%d) got its notice at %v and refused at %v", i, r.Slowest, r.SlowestReceived.Round(time.Millisecond), r.Every.Round(time.Millisecond))
			}
			if cpu != nil {
				progress("round %d: refusal window %v: CPU fleet %v, server %v", i, r.Window.Round(time.Millisecond), r.FleetCPU, r.ServerCPU)
			}
		}}
	if *quiet > 0 {
		metricsURL := strings.TrimSuffix(*server, "/") + "/metrics"
		cfg.Quiet = func(ctx context.Context) (time.Duration, error) {
			return locksim.WaitInboundQuiet(ctx, http.DefaultClient, metricsURL, *quiet, 250*time.Millisecond)
		}
	}
	if floorPassword != "" {
		broker := *mqttURL
		if broker == "" {
			broker = locks[0].MQTTURL
		}
		c, err := mqtt.Connect(ctx, mqtt.ClientConfig{URL: broker, ClientID: fmt.Sprintf("doorlock-fleet-floor-%d", time.Now().UnixNano()), Username: *floorUser, Password: floorPassword})
		if err != nil {
			return fmt.Errorf("fleet: floor client (--floor-user, DOORLOCK_FLOOR_PASSWORD): %w", err)
		}
		defer c.Close()
		cfg.FloorClient = c
	}
	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return fmt.Errorf("fleet: --cpuprofile: %w", err)
		}
	}
	res, err := locksim.RevokeBench(ctx, cfg)
	if prof != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	out, _ := json.MarshalIndent(res, "", "  ")
	fmt.Fprintln(stdout, string(out))
	return nil
}
