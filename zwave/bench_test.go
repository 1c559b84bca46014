package zwave_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/zwave"
)

// BenchmarkZWave_RevokeToSlotCleared is the figure: from the
// moment store.Revoke is called to the lock node no longer holding the
// code (read from the mock lock's own slots, polled every 2ms), over 100
// revocations, with the Syncer as `dooros serve` runs it (woken by the
// store's commit hook, 1s safety poll), on SQLite. The floor is one
// node.get_value round trip to the same Z-Wave JS server, in the same
// run; the load average is logged before and after.
//
//	DOOROS_TEST_ZWAVE=1 go test ./zwave/ -run '^$' -bench RevokeToSlotCleared -benchtime 1x -v
func BenchmarkZWave_RevokeToSlotCleared(b *testing.B) {
	b.Run("served", func(b *testing.B) { benchRevoke(b, 0) })
}

func loadavg() string {
	out, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(out))[:3], " / ")
}

func benchRevoke(b *testing.B, poll time.Duration) {
	for range b.N {
		n := network(b)
		st := storetest.OpenSQLite(b)
		f := storetest.Seed(b, st)
		kr := storetest.Keyring(b, st)
		ctx := context.Background()
		n.Reset(b, 2)
		gw, err := st.AddZWaveGateway(ctx, f.PM, kr, f.Property.ID, store.ZWaveGatewayInput{Name: "Hub", URL: n.URL()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.BindZWaveLock(ctx, f.PM, f.Property.ID, f.Lobby.ID, gw.ID, 2); err != nil {
			b.Fatal(err)
		}
		syncer := &zwave.Syncer{Store: st, Sealer: kr, Poll: poll, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { syncer.Run(runCtx); close(done) }()

		wait := func(what string, cond func() bool) {
			deadline := time.Now().Add(30 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					b.Fatalf("timeout: %s", what)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		b.Logf("load average before: %s", loadavg())
		var revoke []time.Duration
		for i := range 100 {
			v, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "P", LastName: fmt.Sprint(i), Email: fmt.Sprintf("p%d@example.com", i),
				Access: domain.AccessDoorcode, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}})
			if err != nil {
				b.Fatal(err)
			}
			wait("code in slot", func() bool { return n.Holds(b, 2, v.Doorcode) > 0 })
			start := time.Now()
			if _, err := st.Revoke(ctx, f.PM, f.Property.ID, v.ID); err != nil {
				b.Fatal(err)
			}
			wait("slot cleared", func() bool { return n.Holds(b, 2, v.Doorcode) == 0 })
			revoke = append(revoke, time.Since(start))
		}
		cancel()
		<-done

		// Floor: node.get_value round trips on a connection of their own.
		c, err := zwave.Dial(ctx, n.URL(), "")
		if err != nil {
			b.Fatal(err)
		}
		var floor []time.Duration
		for range 100 {
			start := time.Now()
			if _, err := c.GetValue(ctx, 2, zwave.CCUserCode, "userIdStatus", 1); err != nil {
				b.Fatal(err)
			}
			floor = append(floor, time.Since(start))
		}
		c.Close()
		b.Logf("load average after: %s", loadavg())
		b.ReportMetric(ms(pct(revoke, 50)), "revoke_p50_ms")
		b.ReportMetric(ms(pct(revoke, 99)), "revoke_p99_ms")
		b.ReportMetric(ms(pct(floor, 50)), "get_value_p50_ms")
		b.ReportMetric(ms(pct(floor, 99)), "get_value_p99_ms")
	}
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
