package doorsync

import "github.com/prometheus/client_golang/prometheus"

// Counters of this process's Door Sync work; api.Metrics serves them.
var (
	bundlesBuilt = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dooros_doorsync_bundles_total",
		Help: "Door state bundles built (or reused) for a lock, by how they travel: mqtt (pushed to online locks) or phone (fetched by phones for offline doors).",
	}, []string{"via"})
	bundleFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_bundle_failures_total",
		Help: "Door state bundles that could not be built (retried with backoff).",
	})
	publishFailures = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_mqtt_publish_failures_total",
		Help: "Bundles the MQTT broker did not accept for an online lock (retried with backoff).",
	})
)

var (
	inboundWaits = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_inbound_waits_total",
		Help: "Lock messages (acks, event logs, status) that found the inbound queue full and waited for room (backpressure; nothing is dropped).",
	})
	ackHeldPushes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_pushes_held_for_ack_total",
		Help: "Pushes not republished because an ack of the lock was queued for recording.",
	})
	backlogHeldPushes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_pushes_held_for_backlog_total",
		Help: "Republishes held for a backoff because at least an eighth of the inbound queue waited to be recorded (first publishes of a version are never held).",
	})
	republishes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_republishes_total",
		Help: "Bundles published again to an online lock because its ack was not recorded within the backoff (a version this server had published already).",
	})
	aheadOfAck = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "dooros_doorsync_pushes_ahead_of_ack_total",
		Help: "Bundles built as a delta from the version last published to the lock while its ack was still queued (not yet recorded).",
	})
	ackRoundTripSeconds = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "dooros_doorsync_ack_round_trip_seconds",
		Help: "How long an online lock's ack takes to be recorded after its bundle was published (a slowly decaying maximum); a republish waits at least twice this.",
	})
	groupSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "dooros_doorsync_inbound_group_size",
		Help:    "Lock messages recorded per group commit (one transaction).",
		Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
	})
)

// Collectors are Door Sync's metrics, for a Prometheus registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{bundlesBuilt, bundleFailures, publishFailures, inboundWaits, ackHeldPushes, backlogHeldPushes, republishes, aheadOfAck, ackRoundTripSeconds, groupSize, inboundMessages, noticesSent, noticeRoundSeconds}
}
