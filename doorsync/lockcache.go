package doorsync

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/dooros/dooros/store"
)

// lockCache holds what verifying a lock's messages needs — its keys and
// generation, its symmetric keys once opened — so that an ack or an event
// batch costs no database read and no keyring call. An entry is dropped
// when this server re-provisions or rotates the lock, when recording with
// it finds the lock changed (another server did it), and a message that
// fails to verify with a cached entry is verified again with the stored
// keys: a stale entry costs one extra read, never a refused message.
type lockCache struct {
	m sync.Map // door id → *cachedLock
	n atomic.Int64
}

// cachedLock is a LockInfo with its symmetric keys opened on first use.
type cachedLock struct {
	store.LockInfo

	once      sync.Once
	sym, psym []byte
	symErr    error
}

// maxCachedLocks bounds the cache; past it, entries are not kept (a
// server with more locks than this reads them as before).
const maxCachedLocks = 100_000

// symmetric opens the lock's symmetric key (and the pending one of a
// rotation, nil when there is none or it does not open).
func (cl *cachedLock) symmetric(keys Keys, doorID string) (sym, psym []byte, err error) {
	cl.once.Do(func() {
		aad := store.LockSymmetricAAD(doorID, cl.Generation)
		cl.sym, cl.symErr = keys.Open(cl.SealedSymmetric, aad)
		if cl.symErr == nil && cl.SealedPendingSymmetric != "" {
			cl.psym, _ = keys.Open(cl.SealedPendingSymmetric, aad)
		}
	})
	return cl.sym, cl.psym, cl.symErr
}

// lock returns the cached lock of a door, reading it when not cached or
// when fresh is set.
func (s *Service) lock(ctx context.Context, doorID string, fresh bool) (cl *cachedLock, cached bool, err error) {
	if !fresh {
		if v, ok := s.locks.m.Load(doorID); ok {
			return v.(*cachedLock), true, nil
		}
	}
	li, err := s.Store.Lock(ctx, doorID)
	if err != nil {
		s.forgetLock(doorID)
		return nil, false, err
	}
	cl = &cachedLock{LockInfo: li}
	s.cacheLock(cl)
	return cl, false, nil
}

// cacheLock keeps cl as its door's lock (unless the cache is full).
func (s *Service) cacheLock(cl *cachedLock) {
	if s.locks.n.Load() < maxCachedLocks {
		if _, loaded := s.locks.m.Swap(cl.DoorID, cl); !loaded {
			s.locks.n.Add(1)
		}
	}
}

// withLock runs verify with the door's cached lock and, when that fails,
// once more with the lock as stored.
func (s *Service) withLock(ctx context.Context, doorID string, verify func(*cachedLock) error) error {
	cl, cached, err := s.lock(ctx, doorID, false)
	if err != nil {
		return err
	}
	if err = verify(cl); err == nil || !cached {
		return err
	}
	if cl, _, err = s.lock(ctx, doorID, true); err != nil {
		return err
	}
	return verify(cl)
}

// forgetLock drops a door's cached lock.
func (s *Service) forgetLock(doorID string) {
	if _, loaded := s.locks.m.LoadAndDelete(doorID); loaded {
		s.locks.n.Add(-1)
	}
}
