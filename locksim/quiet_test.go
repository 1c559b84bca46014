package locksim_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/locksim"
)

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
	waited, err := locksim.WaitInboundQuiet(wctx, srv.Client(), srv.URL, 50*time.Millisecond, 5*time.Millisecond)
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
			if _, err := locksim.WaitInboundQuiet(t.Context(), bad.Client(), bad.URL, time.Millisecond, time.Millisecond); err == nil || !strings.Contains(err.Error(), tc.want) {
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
		if _, err := locksim.WaitInboundQuiet(ctx, busy.Client(), busy.URL, time.Hour, 5*time.Millisecond); err == nil || !strings.Contains(err.Error(), "still moving") {
			t.Fatalf("err = %v, want the counters still moving", err)
		}
	})
}
