package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSyncFlagsRefused: sync and staff sync refuse a negative retry count
// and a non-positive idle timeout before touching the network.
func TestSyncFlagsRefused(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"sync", "--door", "d", "--ble", "127.0.0.1:1", "--retries", "-1"}, "--retries must be 0 or more"},
		{[]string{"sync", "--door", "d", "--ble", "127.0.0.1:1", "--idle-timeout", "0s"}, "--idle-timeout must be positive"},
		{[]string{"sync", "--door", "d", "--ble", "127.0.0.1:1", "--idle-timeout", "-3s"}, "--idle-timeout must be positive"},
		{[]string{"sync", "--door", "d", "--ble", "127.0.0.1:1", "--idle-timeout", "soon"}, "invalid value"},
		{[]string{"staff", "sync", "--property", "p", "--door", "d", "--ble", "127.0.0.1:1", "--retries", "-2"}, "--retries must be 0 or more"},
		{[]string{"staff", "sync", "--property", "p", "--door", "d", "--ble", "127.0.0.1:1", "--idle-timeout", "0"}, "--idle-timeout must be positive"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"--state", t.TempDir(), "--server", "http://127.0.0.1:1"}, c.args...), noEnv, strings.NewReader(""), &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), c.want) {
			t.Errorf("doorapp %s: %v (stderr %q), want %q", strings.Join(c.args, " "), err, errb.String(), c.want)
		}
	}
}
