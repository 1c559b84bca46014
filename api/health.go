package api

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Dependency is the state of one thing the server needs, as /healthz
// reports it.
type Dependency struct {
	Name string `json:"name"`
	// Status is "up", "down" or "disabled" (not used by this server).
	Status string `json:"status"`
	// Required dependencies make the server not ready while down.
	Required bool `json:"required"`
	// Since is when the state last changed, where it is known.
	Since *time.Time `json:"since,omitempty"`
	// Error is why it is down.
	Error string `json:"error,omitempty"`
	// LatencyMS is how long the check took (the database's round trip).
	LatencyMS float64 `json:"latency_ms"`
	// Detail says what down means for the service.
	Detail string `json:"detail,omitempty"`
}

// Health is the /healthz answer. Ready means the server answers the API
// and the console with the database behind them: every change is
// committed or refused. A broker that is down does not make it unready:
// pushes to online locks wait in the outbox and go out when the broker is
// back (phones still carry every bundle).
type Health struct {
	Status       string       `json:"status"` // "ok", "degraded" (an optional dependency is down) or "unavailable"
	Ready        bool         `json:"ready"`
	Dependencies []Dependency `json:"dependencies"`
}

// CheckHealth asks each dependency how it is: the database with a ping,
// the MQTT broker from Door Sync's client.
func (s *Server) CheckHealth(ctx context.Context) Health {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	h := Health{Status: "ok", Ready: true}
	start := time.Now()
	db := Dependency{Name: "database", Status: "up", Required: true}
	if err := s.Store.DB().PingContext(ctx); err != nil {
		db.Status, db.Error = "down", err.Error()
		db.Detail = "nothing can be read or changed"
	}
	db.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
	broker := Dependency{Name: "mqtt_broker", Status: "disabled", Detail: "no broker: online locks get their changes from phones only"}
	if st, ok := s.DoorSync.BrokerState(); ok {
		since := st.Since.UTC()
		broker = Dependency{Name: "mqtt_broker", Status: "up", Since: &since}
		if !st.Up {
			broker.Status, broker.Error = "down", st.Error
			broker.Detail = "retrying in the background; changes for online locks wait in the outbox, phones still carry them"
			if st.Refused {
				broker.Detail = "the broker refuses the service credentials (--mqtt-user, DOOROS_MQTT_PASSWORD); retrying"
			}
		}
	}
	h.Dependencies = []Dependency{db, broker}
	for _, d := range h.Dependencies {
		switch {
		case d.Status != "down":
		case d.Required:
			h.Ready, h.Status = false, "unavailable"
		case h.Status == "ok":
			h.Status = "degraded"
		}
	}
	return h
}

// Healthz serves GET /healthz: the Health JSON, 200 while the server is
// ready (also when degraded), 503 when not.
func (s *Server) Healthz(w http.ResponseWriter, r *http.Request) {
	h := s.CheckHealth(r.Context())
	status := http.StatusOK
	if !h.Ready {
		status = http.StatusServiceUnavailable
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, h)
}

var descDependencyUp = prometheus.NewDesc("dooros_dependency_up", "Whether a dependency answers (1) or not (0), as /healthz reports it: database, mqtt_broker (absent when no broker is used).", []string{"dependency"}, nil)

// healthCollector samples CheckHealth when Prometheus scrapes, so
// /metrics and /healthz never disagree.
type healthCollector struct{ s *Server }

func (c healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descDependencyUp }

func (c healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range c.s.CheckHealth(context.Background()).Dependencies {
		if d.Status == "disabled" {
			continue
		}
		up := 0.0
		if d.Status == "up" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descDependencyUp, prometheus.GaugeValue, up, d.Name)
	}
}

// WatchHealth adds dooros_dependency_up to the metrics; call it once the
// server's DoorSync is set.
func (m *Metrics) WatchHealth(s *Server) {
	if err := m.Registry.Register(healthCollector{s}); err != nil {
		if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
			s.Log.Error("metrics: register health collector", "err", err)
		}
	}
}
