package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dooros/dooros/store"
)

var (
	descZWaveBattery = prometheus.NewDesc("dooros_zwave_lock_battery_percent", "Battery level a Z-Wave lock last reported, by door.", []string{"door_id"}, nil)
	descZWaveLow     = prometheus.NewDesc("dooros_zwave_locks_low_battery", "Z-Wave locks whose battery is at or under the low level (store.LowBattery, 20%).", nil, nil)
	descZWaveLocks   = prometheus.NewDesc("dooros_zwave_locks", "Z-Wave locks by node status as last seen (alive, asleep, dead, unreachable: gateway down, none: not reached yet).", []string{"status"}, nil)
	descZWaveFull    = prometheus.NewDesc("dooros_zwave_locks_over_full", "Z-Wave locks with more codes to hold than User Code slots.", nil, nil)
)

// zwaveCollector samples the Z-Wave locks when Prometheus scrapes.
type zwaveCollector struct {
	st  *store.Store
	log *slog.Logger
}

func (c *zwaveCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descZWaveBattery, descZWaveLow, descZWaveLocks, descZWaveFull} {
		ch <- d
	}
}

func (c *zwaveCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	locks, err := c.st.ZWaveLocks(ctx)
	if err != nil {
		c.log.Error("metrics: sample Z-Wave locks", "err", err)
		ch <- prometheus.NewInvalidMetric(descZWaveLow, err)
		return
	}
	low, full := 0, 0
	byStatus := map[string]int{"alive": 0, "asleep": 0, "dead": 0, "unreachable": 0, "none": 0}
	for _, l := range locks {
		if l.Battery != nil {
			ch <- prometheus.MustNewConstMetric(descZWaveBattery, prometheus.GaugeValue, float64(*l.Battery), l.DoorID)
		}
		if l.BatteryLow() {
			low++
		}
		if l.OverFull > 0 {
			full++
		}
		st := l.Status
		if st == "" {
			st = "none"
		}
		byStatus[st]++
	}
	ch <- prometheus.MustNewConstMetric(descZWaveLow, prometheus.GaugeValue, float64(low))
	ch <- prometheus.MustNewConstMetric(descZWaveFull, prometheus.GaugeValue, float64(full))
	for st, n := range byStatus {
		ch <- prometheus.MustNewConstMetric(descZWaveLocks, prometheus.GaugeValue, float64(n), st)
	}
}
