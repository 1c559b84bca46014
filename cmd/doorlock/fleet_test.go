package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
