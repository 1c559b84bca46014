package api

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the Prometheus metrics of one server process.
type Metrics struct {
	Registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	storeOps *prometheus.HistogramVec
}

func NewMetrics() *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dooros_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dooros_http_request_duration_seconds", Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"route"})
	m.storeOps = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "dooros_store_transaction_duration_seconds", Help: "Store transaction latency by operation.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)}, []string{"op"})
	m.Registry.MustRegister(m.requests, m.latency, m.storeOps, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.Registry.MustRegister(doorsync.Collectors()...)
	return m
}

// WatchStore adds the numbers an operator watches, sampled from the
// database at each scrape (store.OperatorStats): outbox backlog and
// failures per topic, Door Sync tasks (with a pending revocation),
// online locks connected. A second call for the same registry is a no-op.
func (m *Metrics) WatchStore(st *store.Store, log *slog.Logger) {
	for _, c := range []prometheus.Collector{&storeCollector{st: st, log: log}, &zwaveCollector{st: st, log: log}} {
		if err := m.Registry.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				log.Error("metrics: register store collector", "err", err)
			}
		}
	}
}

var (
	descOutboxPending = prometheus.NewDesc("dooros_outbox_pending", "Outbox rows waiting for delivery, by topic (email.*: emails; door.state: pushes to online locks; door.refresh: scheduled door versions).", []string{"topic"}, nil)
	descOutboxFailed  = prometheus.NewDesc("dooros_outbox_failed", "Outbox rows given up on, by topic (email.*: emails that failed permanently).", []string{"topic"}, nil)
	descSyncTasks     = prometheus.NewDesc("dooros_sync_tasks", "Door Sync tasks: doors whose lock has not acknowledged the latest version and that no connected lock receives over MQTT.", nil, nil)
	descSyncRevoke    = prometheus.NewDesc("dooros_sync_tasks_with_revocation", "Door Sync tasks with a pending revocation (someone whose access was narrowed may still get in).", nil, nil)
	descOnlineLocks   = prometheus.NewDesc("dooros_online_locks", "Provisioned locks of online doors.", nil, nil)
	descLocksUp       = prometheus.NewDesc("dooros_online_locks_connected", "Locks of online doors whose last MQTT status is online.", nil, nil)
)

// storeCollector samples store.OperatorStats when Prometheus scrapes.
type storeCollector struct {
	st  *store.Store
	log *slog.Logger
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descOutboxPending, descOutboxFailed, descSyncTasks, descSyncRevoke, descOnlineLocks, descLocksUp} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.st.OperatorStats(ctx)
	if err != nil {
		c.log.Error("metrics: sample the database", "err", err)
		ch <- prometheus.NewInvalidMetric(descSyncTasks, err)
		return
	}
	// The topics every deployment has are always reported, at 0 too, so
	// alerts on them do not go silent.
	for _, topic := range []string{store.TopicWelcomeEmail, store.TopicManagerInvitation, store.TopicDoorState} {
		if _, ok := s.OutboxPending[topic]; !ok {
			s.OutboxPending[topic], s.OutboxFailed[topic] = 0, 0
		}
	}
	for topic, n := range s.OutboxPending {
		ch <- prometheus.MustNewConstMetric(descOutboxPending, prometheus.GaugeValue, float64(n), topic)
		ch <- prometheus.MustNewConstMetric(descOutboxFailed, prometheus.GaugeValue, float64(s.OutboxFailed[topic]), topic)
	}
	ch <- prometheus.MustNewConstMetric(descSyncTasks, prometheus.GaugeValue, float64(s.SyncTasks))
	ch <- prometheus.MustNewConstMetric(descSyncRevoke, prometheus.GaugeValue, float64(s.SyncTasksRevocation))
	ch <- prometheus.MustNewConstMetric(descOnlineLocks, prometheus.GaugeValue, float64(s.OnlineLocks))
	ch <- prometheus.MustNewConstMetric(descLocksUp, prometheus.GaugeValue, float64(s.OnlineLocksConnected))
}

// ObserveStore records one store transaction (wired to store.Observe).
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	m.storeOps.WithLabelValues(op).Observe(d.Seconds())
}

// Handler serves /metrics. A collector that fails (the database samples
// while the database is down) leaves out its own metrics, not the whole
// scrape: dooros_dependency_up must be readable exactly then.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Instrument counts and times requests by route pattern (not raw path, so
// ids do not explode the label set).
func (m *Metrics) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, strconv.Itoa(rec.status)).Inc()
		m.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}
