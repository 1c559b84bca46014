package store

import (
	"context"
	"sync"
)

// writerSlot is this process's one SQLite writer slot, handed on in
// arrival order within two classes: a transaction waiting at normal
// priority (a use case, a revocation's bundles being stored, an outbox
// claim) goes before the low-priority group commits of lock messages
// (Group: acks and event logs, which can wait a little), so a
// revocation's later bundles are not stored behind a queue of ack groups.
// Groups must not starve either: a queued ack holds back its door's next
// push (doorsync), so with a group waiting, the slot alternates — one
// normal transaction, then one group (lowEvery). A bundle store thus
// waits for at most one group instead of a queue of them.
type writerSlot struct {
	mu        sync.Mutex
	held      bool
	high, low []chan struct{}
	streak    int // normal grants in a row while a group waited
}

const lowEvery = 1

// tryAcquire takes the slot if it is free and nobody waits.
func (w *writerSlot) tryAcquire() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held {
		return false
	}
	w.held = true
	return true
}

// enqueue joins the queue of its class; the returned channel is closed
// when the slot is handed to this waiter.
func (w *writerSlot) enqueue(low bool) chan struct{} {
	ch := make(chan struct{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.held {
		w.held = true
		close(ch)
		return ch
	}
	if low {
		w.low = append(w.low, ch)
	} else {
		w.high = append(w.high, ch)
	}
	return ch
}

// cancel leaves the queue; if the slot was handed over meanwhile, it is
// passed on.
func (w *writerSlot) cancel(ch chan struct{}) {
	w.mu.Lock()
	for _, q := range []*[]chan struct{}{&w.high, &w.low} {
		for i, c := range *q {
			if c == ch {
				*q = append((*q)[:i], (*q)[i+1:]...)
				w.mu.Unlock()
				return
			}
		}
	}
	w.mu.Unlock()
	// Not queued any more: it was granted (closed); give it back.
	<-ch
	w.release()
}

// release hands the slot to the next waiter, or frees it.
func (w *writerSlot) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := func(q *[]chan struct{}) {
		ch := (*q)[0]
		*q = (*q)[1:]
		close(ch)
	}
	switch {
	case len(w.low) > 0 && (len(w.high) == 0 || w.streak >= lowEvery):
		w.streak = 0
		next(&w.low)
	case len(w.high) > 0:
		if len(w.low) > 0 {
			w.streak++
		}
		next(&w.high)
	default:
		w.held = false
	}
}

type lowPriorityKey struct{}

// lowPriority marks ctx's transactions as group commits (writerSlot).
func lowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

func isLowPriority(ctx context.Context) bool {
	low, _ := ctx.Value(lowPriorityKey{}).(bool)
	return low
}
