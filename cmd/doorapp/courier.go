package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/dooros/dooros/lockproto/ble"
)

// courierAnswer is POST /api/v1/me/courier: sync-only credentials for the
// doors this phone may carry bundles to without a key there, and the doors
// whose pending bundle it must deliver (with its own stale credential)
// before it unlocks there.
type courierAnswer struct {
	Credentials []storedCredential `json:"credentials"`
	ApplyFirst  []string           `json:"apply_first"`
}

func (a *app) courier(ctx context.Context) (courierAnswer, error) {
	var out courierAnswer
	err := a.authed(ctx, "POST", "/api/v1/me/courier", nil, &out)
	return out, err
}

// syncSession opens an authenticated channel to door's lock for a Door
// Sync: with the phone's own credential when it names the door and the
// lock accepts it, else with a courier (sync-only) credential from the
// cloud, which the lock accepts for syncing and never for opening.
func (a *app) syncSession(ctx context.Context, door, addr string, rate int) (*ble.Session, error) {
	s, da, err := a.connect(ctx, door, addr, rate, false)
	if err == nil {
		res, aerr := s.Authenticate(ctx, da.cred, da.device, da.timeToken)
		if aerr == nil && res.Authenticated {
			return s, nil
		}
		s.Close()
		if aerr != nil {
			err = aerr
		} else {
			err = fmt.Errorf("the lock does not accept this phone's credential (%s)", res.Reason)
		}
	}
	own := err
	c, cerr := a.courier(ctx)
	if cerr != nil {
		return nil, fmt.Errorf("sync: %v; no courier credential: %w", own, cerr)
	}
	cda, cerr := accessTo(c.Credentials, door)
	if cerr != nil {
		return nil, fmt.Errorf("sync: %v; nothing to carry to this door as a courier", own)
	}
	if cda.device, cerr = a.deviceKey(); cerr != nil {
		return nil, cerr
	}
	s, cerr = ble.DialLock(ctx, addr, a.bleConfig(rate), door, cda.lockPub)
	if cerr != nil {
		return nil, fmt.Errorf("door %s: %w", door, cerr)
	}
	res, cerr := s.Authenticate(ctx, cda.cred, cda.device, cda.timeToken)
	if cerr == nil && !res.Authenticated {
		cerr = fmt.Errorf("the lock does not accept the courier credential (%s)", res.Reason)
	}
	if cerr != nil {
		s.Close()
		return nil, fmt.Errorf("sync: %v; as a courier: %w", own, cerr)
	}
	fmt.Fprintf(a.stdout, "sync: as a courier (sync only) at door %s\n", door)
	return s, nil
}

// applyFirst is the revoked (or deleted) person's own app coming online:
// when the cloud lists door in apply_first, the door's pending bundle —
// which carries this person's revocation — goes to the lock with the
// phone's own stale credential, in a channel that opens nothing, before
// any unlock is attempted. Offline, or with nothing to apply, it does
// nothing.
func (a *app) applyFirst(ctx context.Context, door, addr string, rate int) {
	c, err := a.courier(ctx)
	if err != nil || !slices.Contains(c.ApplyFirst, door) {
		return
	}
	s, da, err := a.connect(ctx, door, addr, rate, false)
	if err != nil {
		fmt.Fprintf(a.stderr, "doorapp: pending update not applied: %v\n", err)
		return
	}
	defer s.Close()
	res, err := s.Authenticate(ctx, da.cred, da.device, da.timeToken)
	if err == nil && !res.Authenticated {
		err = errors.New("the lock does not accept this phone's credential (" + res.Reason + ")")
	}
	if err == nil {
		err = a.relay(ctx, s, door)
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "doorapp: pending update not applied: %v\n", err)
	}
}

// courierAPI is where a courier gets a door's pending bundle and reports
// what the lock gave back.
type courierAPI interface {
	mailbox(ctx context.Context, door string, out any) error
	report(ctx context.Context, door string, report, out any) error
}

// residentCourier is the resident's mailbox and sync reports.
type residentCourier struct{ a *app }

func (c residentCourier) mailbox(ctx context.Context, _ string, out any) error {
	return c.a.authed(ctx, "GET", "/api/v1/me/mailbox", nil, out)
}

func (c residentCourier) report(ctx context.Context, _ string, report, out any) error {
	return c.a.authed(ctx, "POST", "/api/v1/me/sync-reports", report, out)
}
