package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store/storetest"
)

func TestFleetFlags(t *testing.T) {
	env := func(token string) func(string) string {
		return func(k string) string {
			if k == "DOORLOCK_API_TOKEN" {
				return token
			}
			return ""
		}
	}
	ok := []string{"--server", "http://127.0.0.1:1", "--locks", "3"}
	for _, tc := range []struct {
		name  string
		args  []string
		token string
		want  string
	}{
		{"NoServer", []string{"--locks", "3"}, "t", "--server URL is required"},
		{"NoToken", ok, "", "DOORLOCK_API_TOKEN is not set"},
		{"NoLocks", []string{"--server", "http://127.0.0.1:1"}, "t", "--locks 0"},
		{"TooManyLocks", []string{"--server", "http://127.0.0.1:1", "--locks", "50001"}, "t", "--locks 50001"},
		{"NegativeLocks", []string{"--server", "http://127.0.0.1:1", "--locks", "-1"}, "t", "--locks -1"},
		{"LocksNotANumber", []string{"--server", "http://127.0.0.1:1", "--locks", "many"}, "t", "invalid value"},
		{"ServerNotHTTP", []string{"--server", "ftp://x", "--locks", "1"}, "t", "want http(s)://host:port"},
		{"ServerNoHost", []string{"--server", "http://", "--locks", "1"}, "t", "want http(s)://host:port"},
		{"BadMQTTURL", append(ok[:4:4], "--mqtt-url", "http://x:1"), "t", "--mqtt-url"},
		{"ParallelZero", append(ok[:4:4], "--parallel", "0"), "t", "--parallel 0"},
		{"ParallelHuge", append(ok[:4:4], "--parallel", "5000"), "t", "--parallel 5000"},
		{"NegativeRevocations", append(ok[:4:4], "--revocations", "-2"), "t", "--revocations -2"},
		{"NegativeSettle", append(ok[:4:4], "--settle", "-1s"), "t", "cannot be negative"},
		{"NegativeIdle", append(ok[:4:4], "--idle", "-1s"), "t", "cannot be negative"},
		{"NegativeQuiet", append(ok[:4:4], "--quiet", "-1s"), "t", "cannot be negative"},
		{"BadQuiet", append(ok[:4:4], "--quiet", "soon"), "t", "invalid value"},
		{"BadSettle", append(ok[:4:4], "--settle", "soon"), "t", "invalid value"},
		{"ZeroTimeout", append(ok[:4:4], "--timeout", "0s"), "t", "--timeout"},
		{"ExtraArgument", append(ok[:4:4], "extra"), "t", "unexpected arguments"},
		{"NegativeServerPID", append(ok[:4:4], "--server-pid", "-3"), "t", "--server-pid -3"},
		{"NoSuchServerPID", append(ok[:4:4], "--server-pid", "999999999"), "t", "--server-pid 999999999"},
		{"ProfileWithoutBenchmark", append(ok[:4:4], "--cpuprofile", filepath.Join(t.TempDir(), "cpu.pprof")), "t", "give --revocations too"},
		{"ProfileUnwritable", append(ok[:4:4], "--revocations", "1", "--cpuprofile", filepath.Join(t.TempDir(), "no-such-dir", "cpu.pprof")), "t", "--cpuprofile"},
		{"UnknownFlag", append(ok[:4:4], "--lock", "3"), "t", "flag provided but not defined"},
		// Valid flags, but nothing answers at the server: a clear error.
		{"ServerDown", ok, "t", "creating the fleet's property"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errs syncBuffer
			err := run(t.Context(), append([]string{"fleet"}, tc.args...), env(tc.token), nil, &out, &errs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

// TestFleetCommand runs `doorlock fleet` with a few locks and a short
// benchmark against a real server (SQLite, Door Sync on the embedded
// broker) and reads its JSON.
func TestFleetCommand(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := apitest.New(t, st)
	keys := storetest.Keyring(t, st)
	e.API.Keys = keys
	pw, _ := mqtt.NewSecret()
	svc, stop, err := doorsync.Start(t.Context(), st, keys, doorsync.Config{Addr: "127.0.0.1:0", ServicePassword: pw, Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.API.DoorSync = svc
	getenv := func(k string) string {
		switch k {
		case "DOORLOCK_API_TOKEN":
			return e.PMToken
		case "DOORLOCK_FLOOR_PASSWORD":
			return pw
		}
		return ""
	}
	t.Run("WrongFloorPassword", func(t *testing.T) {
		var out, errs syncBuffer
		bad := func(k string) string {
			if k == "DOORLOCK_FLOOR_PASSWORD" {
				return "wrong"
			}
			return getenv(k)
		}
		err := run(t.Context(), []string{"fleet", "--server", e.Server.URL, "--locks", "2", "--revocations", "1"}, bad, nil, &out, &errs)
		if err == nil || !strings.Contains(err.Error(), "floor client") {
			t.Fatalf("wrong floor password: %v", err)
		}
	})
	var out, errs syncBuffer
	ready := t.TempDir() + "/ready"
	if err := run(t.Context(), []string{"fleet", "--server", e.Server.URL, "--locks", "4", "--revocations", "2", "--settle", "10ms", "--ready", ready}, getenv, nil, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	var res struct {
		Locks      int     `json:"locks"`
		Rounds     int     `json:"rounds"`
		RefusalP99 float64 `json:"refusal_p99_ms"`
		EveryP99   float64 `json:"every_lock_p99_ms"`
		FloorP99   float64 `json:"floor_p99_ms"`
		Drops      *int64  `json:"lock_queue_drops"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatalf("output is not the JSON result: %v\n%s", err, out.String())
	}
	if res.Locks != 4 || res.Rounds != 2 || res.RefusalP99 <= 0 || res.EveryP99 < res.RefusalP99 || res.FloorP99 <= 0 || res.Drops == nil {
		t.Fatalf("result: %+v\n%s", res, out.String())
	}
	if b, err := os.ReadFile(ready); err != nil || !strings.HasPrefix(string(b), "prp_") {
		t.Errorf("--ready file: %q %v, want the fleet's property id", b, err)
	}
	if !strings.Contains(errs.String(), "4 locks connected") || !strings.Contains(errs.String(), "every lock applied its first bundle") || !strings.Contains(errs.String(), "round 2:") {
		t.Errorf("progress lines missing:\n%s", errs.String())
	}
}

// TestWaitInboundQuiet: the benchmark's wait for the server to record
// what the locks sent returns only once the inbound counters held still
// for the quiet time (labelled and unlabelled samples summed, other
// metrics ignored), and a server that cannot tell is an error, not a
// wait that proves nothing.
func TestWaitInboundQuiet(t *testing.T) {
	var polls atomic.Int64
	// Reads 1–5 move the unlabelled sum and the ack sample, reads 6–8
	// only the log sample (a labelled sample is counted), and the decoys —
	// a longer name with the same prefix, another metric — move on every
	// read (they are not counted, or the wait would never end).
	const moving = 8
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := polls.Add(1)
		fmt.Fprintf(w, "# HELP dooros_doorsync_inbound_messages_total x\n# TYPE dooros_doorsync_inbound_messages_total counter\n")
		fmt.Fprintf(w, "dooros_doorsync_inbound_messages_total{kind=\"ack\"} %d\n", min(n, 5))
		fmt.Fprintf(w, "dooros_doorsync_inbound_messages_total{kind=\"log\"} %d\n", min(max(n, 5), moving))
		fmt.Fprintf(w, "dooros_doorsync_inbound_group_size_sum %d\n", 2*min(n, 5))
		fmt.Fprintf(w, "dooros_doorsync_inbound_messages_total_other %d\ngo_goroutines %d\n", n, n)
	}))
	defer srv.Close()
	wctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	waited, err := waitInboundQuiet(wctx, srv.Client(), srv.URL, 50*time.Millisecond, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if p := polls.Load(); p < moving+1 || waited < 50*time.Millisecond {
		t.Fatalf("returned after %d reads and %v; want past the %d moving ones and at least the quiet 50ms", p, waited, moving)
	}

	for _, tc := range []struct {
		name, body string
		status     int
		want       string
	}{
		{"NoMetrics", "not found", http.StatusNotFound, "404"},
		{"NoCounters", "go_goroutines 3\n", http.StatusOK, "has none of"},
		{"BadValue", "dooros_doorsync_inbound_group_size_sum many\n", http.StatusOK, "invalid syntax"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer bad.Close()
			if _, err := waitInboundQuiet(t.Context(), bad.Client(), bad.URL, time.Millisecond, time.Millisecond); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	t.Run("NeverQuiet", func(t *testing.T) {
		var n atomic.Int64
		busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "dooros_doorsync_inbound_group_size_sum %d\n", n.Add(1))
		}))
		defer busy.Close()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if _, err := waitInboundQuiet(ctx, busy.Client(), busy.URL, time.Hour, 5*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still moving") {
			t.Fatalf("err = %v, want the counters still moving", err)
		}
	})
}
