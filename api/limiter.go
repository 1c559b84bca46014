package api

import (
	"sync"
	"time"
)

// LoginLimiter counts failed logins per key (account, address) in a sliding
// window. It is per process: behind several instances each keeps its own
// count, which still bounds guessing to instances × limit.
type LoginLimiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time
}

func NewLoginLimiter(limit int, window time.Duration) *LoginLimiter {
	return &LoginLimiter{limit: limit, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

// Blocked reports whether any key has reached the limit.
func (l *LoginLimiter) Blocked(keys ...string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		if len(l.prune(k, now)) >= l.limit {
			return true
		}
	}
	return false
}

// Fail records a failed attempt for each key.
func (l *LoginLimiter) Fail(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
}

// Reset forgets an account's failures after a successful login.
func (l *LoginLimiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *LoginLimiter) prune(k string, now time.Time) []time.Time {
	ts := l.fails[k]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= l.window {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(l.fails, k)
		return nil
	}
	l.fails[k] = ts
	return ts
}
