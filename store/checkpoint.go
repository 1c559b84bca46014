package store

import (
	"context"
	"sync"
	"time"
)

// SQLite WAL checkpoints run in the background, not in the transaction
// that happens to fill the WAL.
//
// By default SQLite checkpoints when a commit leaves 1,000 or more frames
// in the WAL: that commit copies every frame into the database and syncs
// both files before it returns, so one request in ~20 invites paid for
// the other 19 (docs/bench-bulk.md: invites 1.5–1.8× faster without it).
// Every connection's automatic checkpoint is raised to walBackstopPages
// (a safety net should this goroutine fall behind) and the checkpointer
// below runs PRAGMA wal_checkpoint(PASSIVE) after commits: it never blocks
// a writer or a reader, and copies what no open read still needs.
const (
	// walBackstopPages: a commit still checkpoints itself once the WAL
	// holds this many frames (about 40 MiB), as SQLite would at 1,000.
	walBackstopPages = 10000
	// ckptCommits commits (about 1,000 frames of invites) start a
	// checkpoint at once; fewer wait for ckptIdle after the first, so a
	// quiet server checkpoints at most once a second.
	ckptCommits = 20
	ckptIdle    = time.Second
	// ckptGap is the least time between two checkpoints, so a burst of
	// small commits is copied in batches.
	ckptGap = 20 * time.Millisecond
)

// checkpointer runs the background checkpoints of a SQLite store.
type checkpointer struct {
	s       *Store
	nudge   chan struct{} // one token: commits happened
	stop    chan struct{}
	stopped sync.Once
	done    chan struct{}
	mu      sync.Mutex
	commits int // commits since the last checkpoint started
	// ran, if set (tests), is called after every checkpoint with its
	// result: frames in the WAL and frames copied (-1, -1 on error).
	ran func(log, copied int)
}

func (s *Store) startCheckpointer() {
	c := &checkpointer{s: s, nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	s.ckpt = c
	go c.run()
}

// committed tells the checkpointer that a write transaction committed.
func (c *checkpointer) committed() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.commits++
	c.mu.Unlock()
	select {
	case c.nudge <- struct{}{}:
	default:
	}
}

func (c *checkpointer) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.commits
}

// close stops the goroutine and waits for a running checkpoint to end.
func (c *checkpointer) close() {
	if c == nil {
		return
	}
	c.stopped.Do(func() { close(c.stop) })
	<-c.done
}

func (c *checkpointer) run() {
	defer close(c.done)
	var last time.Time
	for {
		select {
		case <-c.stop:
			return
		case <-c.nudge:
		}
		// Commits are pending. Wait until there are enough of them (or
		// the first has waited ckptIdle), and ckptGap after the last run.
		first := time.Now()
		for c.pending() < ckptCommits && time.Since(first) < ckptIdle {
			select {
			case <-c.stop:
				return
			case <-c.nudge:
			case <-time.After(ckptIdle - time.Since(first)):
			}
		}
		if wait := ckptGap - time.Since(last); wait > 0 {
			select {
			case <-c.stop:
				return
			case <-time.After(wait):
			}
		}
		c.mu.Lock()
		c.commits = 0
		c.mu.Unlock()
		last = time.Now()
		c.checkpoint()
	}
}

// checkpoint copies the WAL's frames into the database (PASSIVE: as far
// as open reads allow, without waiting for any lock).
func (c *checkpointer) checkpoint() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Close does not wait for a pool connection: stopping cancels.
	go func() {
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	var busy, log, copied int
	if err := c.s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &copied); err != nil {
		c.s.log.Warn("store: background WAL checkpoint", "err", err)
		log, copied = -1, -1
	}
	c.mu.Lock()
	ran := c.ran
	c.mu.Unlock()
	if ran != nil {
		ran(log, copied)
	}
}
