// Package throttle counts failed logins and says when an account or an
// address has tried too often. The API and the console share one Login.
package throttle

import (
	"sync"
	"time"
)

// Limiter counts failed logins per key (account, address) in a sliding
// window. It is per process: behind several instances each keeps its own
// count, which still bounds guessing to instances × limit.
type Limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	fails  map[string][]time.Time
	now    func() time.Time
}

func NewLimiter(limit int, window time.Duration) *Limiter {
	return &Limiter{limit: limit, window: window, fails: map[string][]time.Time{}, now: time.Now}
}

// Blocked reports whether any key has reached the limit.
func (l *Limiter) Blocked(keys ...string) bool {
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
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	for _, k := range keys {
		l.fails[k] = append(l.prune(k, now), now)
	}
}

// Reset forgets an account's failures after a successful login.
func (l *Limiter) Reset(key string) {
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
}

// NewLogin uses the documented limits.
func NewLogin() *Login {
	return &Login{
		Account: NewLimiter(AccountLoginFailures, AccountLoginWindow),
		Address: NewLimiter(AddressLoginFailures, AddressLoginWindow),
	}
}

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
