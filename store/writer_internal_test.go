package store

import (
	"testing"
	"time"
)

// The writer slot hands on to waiting normal transactions before group
// commits, lets a group through after lowEvery (1) normal grant, and
// a waiter that gives up passes on a slot it was just handed.
func TestWriterSlotPriority(t *testing.T) {
	var w writerSlot
	if !w.tryAcquire() {
		t.Fatal("a free slot was not taken")
	}
	if w.tryAcquire() {
		t.Fatal("a held slot was taken again")
	}
	granted := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(10 * time.Millisecond):
			return false
		}
	}
	low1, low2 := w.enqueue(true), w.enqueue(true)
	var high []chan struct{}
	for range lowEvery + 2 {
		high = append(high, w.enqueue(false))
	}
	// Held by the first taker; every release hands on to one waiter.
	var order []string
	for range len(high) + 2 {
		w.release()
		for i, ch := range high {
			if ch != nil && granted(ch) {
				order, high[i] = append(order, "high"), nil
			}
		}
		if low1 != nil && granted(low1) {
			order, low1 = append(order, "low1"), nil
		} else if low2 != nil && granted(low2) {
			order, low2 = append(order, "low2"), nil
		}
	}
	want := []string{"high", "low1", "high", "low2", "high"}
	if len(order) != len(want) {
		t.Fatalf("grants %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("grants %v, want %v", order, want)
		}
	}
	// The last grantee holds the slot; a waiter cancels after being
	// handed the slot: it passes it on (here: frees it).
	ch := w.enqueue(false)
	w.release()
	w.cancel(ch)
	if !w.tryAcquire() {
		t.Fatal("a slot handed to a waiter that gave up was not passed on")
	}
	// A waiter that gives up before its turn leaves the queue.
	ch = w.enqueue(true)
	w.cancel(ch)
	w.release()
	if !w.tryAcquire() {
		t.Fatal("the slot went to a waiter that had left")
	}
}
