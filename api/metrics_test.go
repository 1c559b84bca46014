package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestMetrics_OperatorGauges: /metrics shows what an operator watches —
// outbox backlog and failures per topic, Door Sync tasks and those with a
// revocation, online locks connected, Door Sync counters — and the gauges
// follow changes in the database.
func TestMetrics_OperatorGauges(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		scrape := func() string {
			rec := httptest.NewRecorder()
			e.API.Metrics.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
			if rec.Code != 200 {
				t.Fatalf("/metrics = %d", rec.Code)
			}
			return rec.Body.String()
		}
		has := func(body string, lines ...string) {
			t.Helper()
			for _, l := range lines {
				if !strings.Contains(body, "\n"+l+"\n") {
					t.Errorf("/metrics lacks %q", l)
				}
			}
		}
		e.ackAll()
		has(scrape(), `dooros_outbox_pending{topic="email.welcome"} 0`, `dooros_outbox_failed{topic="email.welcome"} 0`,
			"dooros_sync_tasks 0", "dooros_sync_tasks_with_revocation 0", "dooros_online_locks 0", "dooros_online_locks_connected 0")
		if !strings.Contains(scrape(), "# TYPE dooros_doorsync_mqtt_publish_failures_total counter") {
			t.Error("/metrics lacks the Door Sync counters")
		}

		// An invite queues a welcome email; taking the key back is a
		// revocation at the offline Gym (a Door Sync task).
		p := e.invite(map[string]any{"first_name": "Mia", "last_name": "Metric", "email": "mia@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		e.ok("DELETE", e.prop+"/people/"+p.ID+"/keys/"+e.F.Building.ID, nil, 200)
		body := scrape()
		has(body, `dooros_outbox_pending{topic="email.welcome"} 1`)
		tasks := e.syncTasks()
		if !strings.Contains(body, "\ndooros_sync_tasks "+itoa(int64(len(tasks)))+"\n") || len(tasks) == 0 {
			t.Errorf("dooros_sync_tasks does not match the %d sync tasks:\n%s", len(tasks), grepLines(body, "dooros_sync"))
		}
		has(body, "dooros_sync_tasks_with_revocation "+itoa(int64(len(tasks))))

		// A permanently failed email.
		if _, err := st.DB().Exec(`UPDATE outbox SET failed_at = 1 WHERE topic = 'email.welcome'`); err != nil {
			t.Fatal(err)
		}
		has(scrape(), `dooros_outbox_pending{topic="email.welcome"} 0`, `dooros_outbox_failed{topic="email.welcome"} 1`)
	})
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
