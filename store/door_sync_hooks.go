package store

import (
	"context"
	"sync"
)

// doorStateHooks are the functions that run after every commit that queued
// a door.state outbox row (a door got a new version, or its push was
// requeued): Door Sync's pusher is woken by the commit itself, whichever
// use case made it (API, console, import, PMS sync, jobs).
type doorStateHooks struct {
	mu  sync.Mutex
	fns map[int]func()
	n   int
}

// OnDoorStateQueued registers f to run, after the commit, for every
// transaction of this Store that queued a door.state outbox row; remove
// unregisters it. f runs on the committing goroutine: keep it short (a
// non-blocking channel send).
func (s *Store) OnDoorStateQueued(f func()) (remove func()) {
	h := &s.doorState
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func(){}
	}
	h.n++
	id := h.n
	h.fns[id] = f
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.fns, id)
	}
}

func (s *Store) doorStateQueued() {
	h := &s.doorState
	h.mu.Lock()
	fns := make([]func(), 0, len(h.fns))
	for _, f := range h.fns {
		fns = append(fns, f)
	}
	h.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// Group runs fn for i = 0 … n-1 in one transaction (a group commit: one
// commit, one WAL sync, for many small use cases), each call in its own
// savepoint: the use cases fn calls with the ctx it is given join that
// transaction, and a call that fails rolls back only what it wrote. The
// result holds each call's error; when the transaction itself fails
// (commit, or a savepoint statement), every call's error is that error.
//
// On SQLite a group gives way to other transactions waiting for the
// writer (a revocation's bundles are stored before queued ack groups).
//
// A failing call's side effects that its use case commits separately (a
// log fork flagged after the batch is refused) are rolled back with it:
// callers run failed items again on their own when those matter.
func (s *Store) Group(ctx context.Context, op string, n int, fn func(ctx context.Context, i int) error) []error {
	errs := make([]error, n)
	if n == 0 {
		return errs
	}
	// A group waits for the SQLite writer behind other writers (writer.go).
	err := s.inTx(lowPriority(ctx), op, func(t *Tx) error {
		clear(errs)
		tctx := withTx(ctx, t)
		for i := range n {
			err := t.savepoint(tctx, "grp", func() error { return fn(tctx, i) })
			if err != nil && tctx.Err() != nil {
				return err
			}
			errs[i] = err
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

// RevokedDoor is one door a committed transaction narrowed access at: the
// version the change gave it and the people whose access there it
// narrowed (domain.DoorChange.PersonIDs).
type RevokedDoor struct {
	DoorID    string
	Version   int64
	PersonIDs []string
}

// revocationHooks are the functions told, after the commit, about every
// transaction that narrowed someone's access at a door (Door Sync's
// revocation notices).
type revocationHooks struct {
	mu  sync.Mutex
	fns map[int]func([]RevokedDoor)
	n   int
}

// OnRevocation registers f to run, after the commit, for every transaction
// of this Store that narrowed someone's access at a door, with those doors
// (sorted by id); remove unregisters it. f runs on the committing
// goroutine and must not keep it (hand the doors to a worker).
func (s *Store) OnRevocation(f func([]RevokedDoor)) (remove func()) {
	h := &s.revocation
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func([]RevokedDoor){}
	}
	h.n++
	id := h.n
	h.fns[id] = f
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.fns, id)
	}
}

func (s *Store) revoked(doors []RevokedDoor) {
	h := &s.revocation
	h.mu.Lock()
	fns := make([]func([]RevokedDoor), 0, len(h.fns))
	for _, f := range h.fns {
		fns = append(fns, f)
	}
	h.mu.Unlock()
	for _, f := range fns {
		f(doors)
	}
}
