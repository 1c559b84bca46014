package doorsync

import (
	"context"
	"time"
)

// What Door Sync keeps of its history (store.PruneDoorSync): delivered
// door pushes for a week (what was pushed when, while anyone might ask),
// bundles no lock can apply or acknowledge any more for a day. Pending
// pushes and every bundle a lock may still apply are kept whatever their
// age.
const (
	KeepDoorPushes = 7 * 24 * time.Hour
	KeepBundles    = 24 * time.Hour
	pruneEvery     = time.Hour
	pruneLimit     = 10000
)

// Prune deletes Door Sync's history past its retention (KeepDoorPushes,
// KeepBundles), in rounds of at most pruneLimit rows of each kind until
// none is left; it returns how many rows of each it deleted.
func (s *Service) Prune(ctx context.Context) (pushes, bundles int, err error) {
	for {
		now := s.Store.Now()
		p, b, err := s.Store.PruneDoorSync(ctx, now.Add(-KeepDoorPushes), now.Add(-KeepBundles), pruneLimit)
		pushes, bundles = pushes+p, bundles+b
		if err != nil || (p < pruneLimit && b < pruneLimit) {
			return pushes, bundles, err
		}
	}
}

// pruneLoop prunes a minute after start and then every pruneEvery. With
// several servers each prunes; deleting twice is harmless.
func (s *Service) pruneLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if p, b, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("door sync: pruning history", "err", err)
		} else if p+b > 0 {
			s.Log.Info("door sync: history pruned", "door_pushes", p, "bundles", b)
		}
		t.Reset(pruneEvery)
	}
}
