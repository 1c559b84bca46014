package doorsync_test

import (
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestMetrics_LocksAndBundles: after an online lock connects and receives a
// pushed bundle, /metrics counts it connected and the bundle built.
func TestMetrics_LocksAndBundles(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		scrape := func() string {
			rec := httptest.NewRecorder()
			e.API.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			return rec.Body.String()
		}
		pushed := regexp.MustCompile(`\ndooros_doorsync_bundles_total\{via="mqtt"\} (\d+)\n`)
		count := func(body string) int {
			m := pushed.FindStringSubmatch(body)
			if m == nil {
				return 0
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		before := count(scrape())
		lobby, lp := e.provision("lobby")
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		e.invite("mo@example.com")
		eventually(t, 10*time.Second, "the lock connected and a bundle pushed", func() bool {
			body := scrape()
			return strings.Contains(body, "\ndooros_online_locks 1\n") && strings.Contains(body, "\ndooros_online_locks_connected 1\n") && count(body) > before
		})
		groups := regexp.MustCompile(`\ndooros_doorsync_inbound_group_size_count (\d+)\n`)
		eventually(t, 10*time.Second, "the lock's ack recorded in a group commit", func() bool {
			m := groups.FindStringSubmatch(scrape())
			return m != nil && m[1] != "0"
		})
	})
}
