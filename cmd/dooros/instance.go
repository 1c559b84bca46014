package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/throttle"
)

// registerInstance records this serve in the database (store.RegisterInstance
// refuses an embedded broker beside other instances, domain.CheckInstances),
// then beats every store.InstanceHeartbeat and prunes old login failures;
// stop removes the row so the next instance may start at once.
func registerInstance(ctx context.Context, st *store.Store, cfg serveConfig, log *slog.Logger) (stop func(), err error) {
	host, _ := os.Hostname()
	self := domain.Instance{ID: domain.NewID("srv"), Host: host, Addr: cfg.addr, EmbeddedBroker: cfg.mqtt.url == ""}
	if err := st.RegisterInstance(ctx, self); err != nil {
		return nil, err
	}
	if self.EmbeddedBroker && st.Dialect() == store.Postgres {
		log.Warn("embedded MQTT broker on PostgreSQL: this instance must stay the only one on this database; to run several, give every instance the same external broker with --mqtt-url")
	}
	bctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(store.InstanceHeartbeat)
		defer t.Stop()
		for {
			select {
			case <-bctx.Done():
				return
			case <-t.C:
			}
			if err := st.BeatInstance(bctx, self); err != nil && bctx.Err() == nil {
				log.Warn("instance heartbeat", "err", err)
			}
			if err := st.PruneLoginFailures(bctx, time.Now().Add(-throttle.MaxWindow)); err != nil && bctx.Err() == nil {
				log.Warn("prune login failures", "err", err)
			}
		}
	}()
	return func() {
		cancel()
		<-done
		rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer rcancel()
		if err := st.RemoveInstance(rctx, self.ID); err != nil {
			log.Warn("remove instance", "err", err)
		}
	}, nil
}
