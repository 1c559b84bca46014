package main

import (
	"context"
	"log/slog"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/zwave"
)

// startZWave runs the Z-Wave lock syncer (docs/zwave.md) until ctx ends:
// it connects to the gateways doors are bound to, so with no Z-Wave lock
// it only polls the store.
func startZWave(ctx context.Context, st *store.Store, keys store.Sealer, log *slog.Logger) *zwave.Syncer {
	s := &zwave.Syncer{Store: st, Sealer: keys, Log: log.With("zwave", "sync")}
	go s.Run(ctx)
	return s
}
