package doorsync

import (
	"context"
	"time"
)

// What Door Sync keeps of its history (store.PruneDoorSync,
// store.PruneDoorRevocations): delivered door pushes for a week (what was
// pushed when, while anyone might ask), bundles no lock can apply or
// acknowledge any more for a day, and a door's revocation records for 8
// days and at least a day past the longest credential lifetime its
// property issued (7 days at most), and while its lock lacks them. Pending pushes, every bundle a lock may
// still apply and every revocation a bundle or exposure still reads are
// kept whatever their age.
const (
	KeepDoorPushes  = 7 * 24 * time.Hour
	KeepBundles     = 24 * time.Hour
	KeepRevocations = 8 * 24 * time.Hour
	pruneEvery      = time.Hour
	pruneLimit      = 10000
)

// Pruned counts the rows one Prune deleted, of each kind.
type Pruned struct {
	DoorPushes, Bundles, Revocations int
}

// Prune deletes Door Sync's history past its retention (KeepDoorPushes,
// KeepBundles, KeepRevocations), in rounds of at most pruneLimit rows of
// each kind until none is left; it returns how many rows of each it
// deleted.
func (s *Service) Prune(ctx context.Context) (Pruned, error) {
	var out Pruned
	for {
		now := s.Store.Now()
		p, b, err := s.Store.PruneDoorSync(ctx, now.Add(-KeepDoorPushes), now.Add(-KeepBundles), pruneLimit)
		out.DoorPushes, out.Bundles = out.DoorPushes+p, out.Bundles+b
		if err != nil {
			return out, err
		}
		r, err := s.Store.PruneDoorRevocations(ctx, now.Add(-KeepRevocations), pruneLimit)
		out.Revocations += r
		if err != nil || (p < pruneLimit && b < pruneLimit && r < pruneLimit) {
			return out, err
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
		if n, err := s.Prune(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("door sync: pruning history", "err", err)
		} else if n.DoorPushes+n.Bundles+n.Revocations > 0 {
			s.Log.Info("door sync: history pruned", "door_pushes", n.DoorPushes, "bundles", n.Bundles, "revocations", n.Revocations)
		}
		t.Reset(pruneEvery)
	}
}
