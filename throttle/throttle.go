// Package throttle counts failed logins and says when an account or an
// address has tried too often. The API and the console share one Login.
package throttle

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Counter keeps failures where every server instance sees them (the
// store's login_failures table), so a limit holds across instances.
type Counter interface {
	AddLoginFailures(ctx context.Context, buckets []string, at time.Time) error
	CountLoginFailures(ctx context.Context, bucket string, since time.Time) (int, error)
	ClearLoginFailures(ctx context.Context, bucket string) error
}

// Limiter counts failed logins per key (account, address) in a sliding
// window: in this process's memory, or in a shared Counter.
type Limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time

	// shared, when set, holds the counts instead of fails; name prefixes
	// the keys there ("account:", "address:").
	shared Counter
	name   string
	log    *slog.Logger
}

func NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{limit: limit, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

// NewSharedLimiter counts in c under name, so every instance on one
// database counts the same failures. A database that does not answer
// blocks nobody (the login that follows fails on it anyway) and is logged.
func NewSharedLimiter(name string, limit int, window time.Duration, c Counter, log *slog.Logger) *Limiter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Limiter{limit: limit, window: window, now: time.Now, shared: c, name: name, log: log}
}

// sharedTimeout bounds one call to the shared counter.
const sharedTimeout = 5 * time.Second

// Blocked reports whether any key has reached the limit.
func (l *Limiter) Blocked(keys ...string) bool {
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		since := l.now().Add(-l.window)
		for _, k := range keys {
			n, err := l.shared.CountLoginFailures(ctx, l.name+":"+k, since)
			if err != nil {
				l.log.Error("login throttle: count failures", "err", err)
				continue
			}
			if n >= l.limit {
				return true
			}
		}
		return false
	}
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
func (l *Limiter) Fail(keys ...string) {
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		buckets := make([]string, len(keys))
		for i, k := range keys {
			buckets[i] = l.name + ":" + k
		}
		if err := l.shared.AddLoginFailures(ctx, buckets, l.now()); err != nil {
			l.log.Error("login throttle: record failure", "err", err)
		}
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
}

// Reset forgets an account's failures after a successful login.
func (l *Limiter) Reset(key string) {
	if l.shared != nil {
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		defer cancel()
		if err := l.shared.ClearLoginFailures(ctx, l.name+":"+key); err != nil {
			l.log.Error("login throttle: reset", "err", err)
		}
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.fails, key)
}

func (l *Limiter) prune(k string, now time.Time) []time.Time {
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

// Login throttle limits: an account takes 5 failed passwords a minute,
// from anywhere (the guessing that matters is per account). An address
// takes many more, over a longer window: offices, campuses and carrier NAT
// put whole buildings of managers behind one address, and a low limit
// there let one mistyped password lock every account out (and let anyone
// lock everyone out). It still stops one address spraying guesses over
// many accounts.
const (
	AccountLoginFailures = 5
	AccountLoginWindow   = time.Minute
	AddressLoginFailures = 50
	AddressLoginWindow   = 10 * time.Minute
)

// Login is the manager login rate limit the API and the console
// share: failures per account (AccountLoginFailures per
// AccountLoginWindow) and per source address (AddressLoginFailures per
// AddressLoginWindow).
type Login struct {
	Account, Address *Limiter
	// Proxies are the reverse proxies whose X-Forwarded-For is believed
	// (ClientIP); none by default.
	Proxies Proxies
}

// NewLogin uses the documented limits, counted in this process.
func NewLogin() *Login {
	return &Login{
		Account: NewLimiter(AccountLoginFailures, AccountLoginWindow),
		Address: NewLimiter(AddressLoginFailures, AddressLoginWindow),
	}
}

// NewSharedLogin uses the documented limits, counted in c: what `dooros
// serve` uses, so the limits hold across instances on one database.
func NewSharedLogin(c Counter, proxies Proxies, log *slog.Logger) *Login {
	return &Login{
		Account: NewSharedLimiter("account", AccountLoginFailures, AccountLoginWindow, c, log),
		Address: NewSharedLimiter("address", AddressLoginFailures, AddressLoginWindow, c, log),
		Proxies: proxies,
	}
}

// NewAddressLimiter is a limiter by client address of limit failures per
// window, counted where l counts (shared or in memory): for other logins
// (the resident app's) that should hold across instances just as much.
func (l *Login) NewAddressLimiter(name string, limit int, window time.Duration) *Limiter {
	if c := l.Address.shared; c != nil {
		return NewSharedLimiter(name, limit, window, c, l.Address.log)
	}
	return NewLimiter(limit, window)
}

// MaxWindow is the longest window a login limit counts over: failures
// older than it can be pruned.
const MaxWindow = AddressLoginWindow

// Blocked reports whether the account or the address is over its limit.
func (l *Login) Blocked(account, address string) bool {
	return l.Account.Blocked(account) || l.Address.Blocked(address)
}

// Fail records a failed password for the account from the address.
func (l *Login) Fail(account, address string) {
	l.Account.Fail(account)
	l.Address.Fail(address)
}

// Reset forgets the account's failures after a successful login (the
// address's stay: a success proves nothing about the other accounts tried).
func (l *Login) Reset(account string) { l.Account.Reset(account) }
