package store

import (
	"context"
	"time"

	"github.com/dooros/dooros/domain"
)

// touchPerson moves a person's updated_at to now, in the database and in
// p, so the answer to the change shows what a later read shows.
func (t *Tx) touchPerson(ctx context.Context, p *domain.Person, now time.Time) error {
	if _, err := t.exec(ctx, `UPDATE people SET updated_at = ? WHERE id = ?`, micros(now), p.ID); err != nil {
		return err
	}
	p.UpdatedAt = fromMicros(micros(now))
	return nil
}

// sameGrant reports whether giving g again changes nothing of old.
func sameGrant(old *domain.Grant, g domain.Grant) bool {
	eq := func(a, b *time.Time) bool { return (a == nil) == (b == nil) && (a == nil || a.Equal(*b)) }
	return old != nil && old.MayShare == g.MayShare && eq(old.StartsAt, g.StartsAt) && eq(old.ExpiresAt, g.ExpiresAt)
}

// hostKeyChange is why a host's guests lose a key.
type hostKeyChange int

const (
	hostLostKey     hostKeyChange = iota // the key was taken from the host
	hostMayNotShare                      // the host may no longer share it
)

// guestKeyTaken is the Activity detail on an app guest who loses key k
// because of what happened to their host's key, and hostKeyReason the
// reason given to a code guest whose code ends ("guest code ended: …"):
// whole sentences that say why.
func guestKeyTaken(k domain.Key, host domain.Person, why hostKeyChange) string {
	if why == hostMayNotShare {
		return "key " + k.Name + " taken because host " + host.Name() + " may no longer share it"
	}
	return "key " + k.Name + " taken because host " + host.Name() + " no longer holds it"
}

func hostKeyReason(k domain.Key, host domain.Person, why hostKeyChange) string {
	if why == hostMayNotShare {
		return "host " + host.Name() + " may no longer share key " + k.Name
	}
	return "host " + host.Name() + " no longer holds key " + k.Name
}
