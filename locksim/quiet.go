package locksim

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// inboundCounters are the Door Sync counters WaitInboundQuiet watches:
// inbound messages received, and recorded (the group commits' sizes).
var inboundCounters = []string{"dooros_doorsync_inbound_messages_total", "dooros_doorsync_inbound_group_size_sum"}

// WaitInboundQuiet polls a DOOR OS server's Prometheus metrics at url
// (its /metrics) every poll until the sum of its inboundCounters held
// still for quiet, and returns how long it waited: the server has recorded
// what the locks sent (BenchConfig.Quiet; `doorlock fleet --quiet`). A server without them (no /metrics, or no Door Sync) is an
// error: the wait would prove nothing.
func WaitInboundQuiet(ctx context.Context, c *http.Client, url string, quiet, poll time.Duration) (time.Duration, error) {
	start := time.Now()
	read := func() (float64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("quiet wait: GET %s: %s", url, resp.Status)
		}
		sum, found := 0.0, 0
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			for _, name := range inboundCounters {
				rest, ok := strings.CutPrefix(line, name)
				if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
					continue
				}
				f := strings.Fields(rest[strings.LastIndexByte(rest, '}')+1:])
				if len(f) == 0 {
					continue
				}
				v, err := strconv.ParseFloat(f[0], 64)
				if err != nil {
					return 0, fmt.Errorf("quiet wait: %s: %q: %w", name, line, err)
				}
				sum += v
				found++
			}
		}
		if err := sc.Err(); err != nil {
			return 0, err
		}
		if found == 0 {
			return 0, fmt.Errorf("quiet wait: %s has none of %s", url, strings.Join(inboundCounters, ", "))
		}
		return sum, nil
	}
	last, err := read()
	if err != nil {
		return 0, err
	}
	still := time.Now()
	for time.Since(still) < quiet {
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("quiet wait: the inbound counters still moving: %w", context.Cause(ctx))
		case <-time.After(poll):
		}
		v, err := read()
		if err != nil && ctx.Err() != nil {
			return time.Since(start), fmt.Errorf("quiet wait: the inbound counters still moving: %w", context.Cause(ctx))
		}
		if err != nil {
			return time.Since(start), err
		}
		if v != last {
			last, still = v, time.Now()
		}
	}
	return time.Since(start), nil
}
