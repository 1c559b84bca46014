package doorsync

import "testing"

// TestHoldRepublish: a version this server already published is held
// while at least an eighth of the inbound queue waits; a version it has
// not published yet never is, however far behind the inbound side is.
func TestHoldRepublish(t *testing.T) {
	const queue = 8192 // inboundQueue: threshold 1,024
	for _, c := range []struct {
		name               string
		version, published int64
		backlog, queueCap  int
		hold               bool
	}{
		{"first publish, queue full", 5, 0, queue, queue, false},
		{"new version after a published one, queue full", 6, 5, queue, queue, false},
		{"republish, queue empty", 5, 5, 0, queue, false},
		{"republish, just under an eighth", 5, 5, queue/8 - 1, queue, false},
		{"republish, an eighth waits", 5, 5, queue / 8, queue, true},
		{"republish, queue full", 5, 5, queue, queue, true},
		{"older version than published, behind", 4, 5, queue, queue, true},
		{"tiny queue: one waiting message is behind", 5, 5, 1, 4, true},
		{"tiny queue, empty", 5, 5, 0, 4, false},
		{"unbuffered queue never counts as behind", 5, 5, 0, 0, false},
	} {
		if got := holdRepublish(c.version, c.published, c.backlog, c.queueCap); got != c.hold {
			t.Errorf("%s: holdRepublish(%d, %d, %d, %d) = %v, want %v", c.name, c.version, c.published, c.backlog, c.queueCap, got, c.hold)
		}
	}
}

// TestPublishedVersions: the zero value works, unknown doors are 0 (never
// published: never held) and a late, older publish does not lower the
// version.
func TestPublishedVersions(t *testing.T) {
	var pv publishedVersions
	if v := pv.get("door-a"); v != 0 {
		t.Fatalf("unknown door: %d, want 0", v)
	}
	pv.set("door-a", 7)
	pv.set("door-a", 3)
	pv.set("door-b", 2)
	if v := pv.get("door-a"); v != 7 {
		t.Errorf("door-a: %d, want 7 (an older publish must not lower it)", v)
	}
	if v := pv.get("door-b"); v != 2 {
		t.Errorf("door-b: %d, want 2", v)
	}
	if holdRepublish(8, pv.get("door-a"), inboundQueue, inboundQueue) {
		t.Error("version 8 was never published by this server: must not be held")
	}
	if !holdRepublish(7, pv.get("door-a"), inboundQueue, inboundQueue) {
		t.Error("version 7 was published and the queue is full: must be held")
	}
}
