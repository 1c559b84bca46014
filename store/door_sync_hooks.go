package store

import (
	"context"
	"sync"
)

// hooks are functions that run after certain commits (OnDoorStateQueued,
// OnRevocation), each with the commit's value of type T.
type hooks[T any] struct {
	mu  sync.Mutex
	fns map[int]func(T)
	n   int
}

func (h *hooks[T]) add(f func(T)) (remove func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fns == nil {
		h.fns = map[int]func(T){}
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

func (h *hooks[T]) run(v T) {
	h.mu.Lock()
	fns := make([]func(T), 0, len(h.fns))
	for _, f := range h.fns {
		fns = append(fns, f)
	}
	h.mu.Unlock()
	for _, f := range fns {
		f(v)
	}
}

// OnDoorStateQueued registers f to run, after the commit, for every
// transaction of this Store that queued a door.state outbox row (a door got
// a new version, or its push was requeued): Door Sync's pusher is woken by
// the commit itself, whichever use case made it (API, console, import, PMS
// sync, jobs); remove unregisters it. f runs on the committing goroutine:
// keep it short (a non-blocking channel send).
func (s *Store) OnDoorStateQueued(f func()) (remove func()) {
	return s.doorState.add(func(struct{}) { f() })
}

func (s *Store) doorStateQueued() { s.doorState.run(struct{}{}) }

// RevokedDoor is one door a committed transaction narrowed access at: the
// version the change gave it and what it narrowed there — people, keys
// whose guest codes ended, keycard serials, people whose doorcode was
// replaced (domain.DoorChange).
type RevokedDoor struct {
	DoorID    string
	Version   int64
	PersonIDs []string
	DayKeys   []string
	Cards     []string
	Doorcodes []string
}

// OnRevocation registers f to run, after the commit, for every transaction
// of this Store that narrowed someone's access at a door, with those doors
// (sorted by id); remove unregisters it. f runs on the committing
// goroutine and must not keep it (hand the doors to a worker).
func (s *Store) OnRevocation(f func([]RevokedDoor)) (remove func()) {
	return s.revocation.add(f)
}

func (s *Store) revoked(doors []RevokedDoor) { s.revocation.run(doors) }

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
