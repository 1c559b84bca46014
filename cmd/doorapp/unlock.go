package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

// cmdUnlock opens a door over an authenticated channel with the phone's
// credential and, in the same channel, relays the door's pending bundle and
// brings back the lock's ack and log (passive sync). A refused unlock exits
// non-zero.
func cmdUnlock(ctx context.Context, a *app, args []string) error {
	var door, addr string
	var rate int
	var noSync bool
	fs, err := subFlags(a, "unlock", args, func(fs *flag.FlagSet) {
		bleFlags(fs, &door, &addr, &rate)
		fs.BoolVar(&noSync, "no-sync", false, "do not relay bundles or logs")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if door == "" || addr == "" {
		return errors.New("unlock: --door NAME and --ble ADDR are required")
	}
	if door, err = a.doorID(ctx, door); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	if !noSync {
		a.applyFirst(ctx, door, addr, rate) // cmd/doorapp/courier.go
	}
	s, da, res, err := a.unlockOnce(ctx, door, addr, rate)
	if err != nil {
		return err
	}
	if !res.Granted && da.stored && res.Reason != "outside_schedule" && a.renewed(ctx, door, da.cred) {
		// The stored credential predated a change a fresh one reflects
		// (access given back after a revocation): try once more with it.
		if s2, _, res2, err := a.unlockOnce(ctx, door, addr, rate); err == nil {
			s.Close()
			s, res = s2, res2
		}
	}
	defer s.Close()
	if res.Granted {
		fmt.Fprintf(a.stdout, "unlock: door %s opened (%v)\n", door, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(a.stdout, "unlock: door %s refused: %s\n", door, refusal(res.Reason))
	}
	if !noSync {
		if !res.Authenticated {
			fmt.Fprintf(a.stderr, "doorapp: no sync: the lock does not accept this phone's credential (%s)\n", refusal(res.Reason))
		} else if err := a.relay(ctx, s, door); err != nil {
			fmt.Fprintf(a.stderr, "doorapp: sync after unlock failed: %v\n", err)
		}
	}
	if !res.Granted {
		return fmt.Errorf("refused: %s", refusal(res.Reason))
	}
	return nil
}

// unlockOnce opens a channel to door's lock and unlocks in it. A credential
// this lock accepted before goes by reference: the unlock then fits a slow
// link. (The time token v2-lock stores with the credentials is the last
// argument of the unlock.)
func (a *app) unlockOnce(ctx context.Context, door, addr string, rate int) (*ble.Session, *doorAccess, *lockproto.UnlockResult, error) {
	s, da, err := a.connect(ctx, door, addr, rate, false)
	if err != nil {
		return nil, nil, nil, err
	}
	unlock := s.Unlock
	if a.presented(door, da.cred) {
		unlock = s.UnlockCached
	}
	res, err := unlock(ctx, da.cred, da.device, da.timeToken)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	if res.Authenticated {
		a.markPresented(door, da.cred)
	}
	return s, da, res, nil
}

// doorAccess is what the phone holds for one door.
type doorAccess struct {
	cred    []byte
	device  ed25519.PrivateKey
	lockPub ed25519.PublicKey
	stored  bool // reused from the state directory, not renewed now
	// timeToken is the cloud's signed time stored with the credential,
	// carried in every proof so a lock whose clock was reset recovers.
	timeToken []byte
}

// connect opens the channel to the lock of door: with the credential that
// names the door and the lock key the property certified for it, so the
// phone sends its credential to no other device.
func (a *app) connect(ctx context.Context, door, addr string, rate int, renew bool) (*ble.Session, *doorAccess, error) {
	key, err := a.deviceKey()
	if err != nil {
		return nil, nil, err
	}
	creds, stored, err := a.credentials(ctx, door, renew)
	if err != nil {
		return nil, nil, err
	}
	da, err := accessTo(creds, door)
	if err != nil {
		return nil, nil, err
	}
	da.device, da.stored = key, stored
	s, err := ble.DialLock(ctx, addr, a.bleConfig(rate), door, da.lockPub)
	if err != nil && stored && !renew && errors.Is(err, lockproto.ErrSignature) {
		// The lock may have been given new keys since this phone stored
		// its certificate (a key rotation another phone carried there):
		// a renewed credential brings the certificate the cloud has now.
		return a.connect(ctx, door, addr, rate, true)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("door %s: %w", door, err)
	}
	return s, da, nil
}

// credentials returns the phone's credentials for an unlock at door, and
// whether they are the stored ones rather than renewed now. Unless renew, a
// stored one that names the door and is in the first half of its window is
// used as it is: the same credential again lets the lock take it by
// reference. Otherwise they are renewed while online; a phone without a
// connection (or refused) keeps the ones it has, as a real phone would.
func (a *app) credentials(ctx context.Context, door string, renew bool) ([]storedCredential, bool, error) {
	var l list[storedCredential]
	if b, err := os.ReadFile(a.path(credentialsFile)); err == nil && json.Unmarshal(b, &l) == nil && !renew {
		now := time.Now()
		for _, c := range l.Items {
			if slices.Contains(c.Doors, door) && !now.Before(c.NotBefore) && now.Before(c.IssuedAt.Add(c.NotAfter.Sub(c.IssuedAt)/2)) {
				return l.Items, true, nil
			}
		}
	}
	var fresh list[storedCredential]
	err := a.authed(ctx, "POST", "/api/v1/me/credentials", nil, &fresh)
	if err == nil {
		return fresh.Items, false, a.saveJSON(credentialsFile, &fresh)
	}
	fmt.Fprintf(a.stderr, "doorapp: credentials not renewed (%v); using the stored ones\n", err)
	b, rerr := os.ReadFile(a.path(credentialsFile))
	if rerr != nil {
		return nil, true, fmt.Errorf("no credentials: %w", err)
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, true, err
	}
	return l.Items, true, nil
}

// renewed renews the credentials and says whether door now has another
// credential than cred.
func (a *app) renewed(ctx context.Context, door string, cred []byte) bool {
	creds, stored, err := a.credentials(ctx, door, true)
	if err != nil || stored {
		return false
	}
	da, err := accessTo(creds, door)
	return err == nil && !bytes.Equal(da.cred, cred)
}

// accessTo finds the credential naming door and the certified key of its
// lock, checked against the property key the credential came with.
func accessTo(creds []storedCredential, door string) (*doorAccess, error) {
	for _, c := range creds {
		if !slices.Contains(c.Doors, door) {
			continue
		}
		cred, err := base64.StdEncoding.DecodeString(c.Credential)
		if err != nil {
			return nil, err
		}
		certB64, ok := c.LockCertificates[door]
		if !ok {
			return nil, fmt.Errorf("no certificate for the lock of door %s (is its lock provisioned? refresh credentials)", door)
		}
		propPub, err := base64.StdEncoding.DecodeString(c.PropertyPublicKey)
		if err != nil {
			return nil, err
		}
		certBytes, err := base64.StdEncoding.DecodeString(certB64)
		if err != nil {
			return nil, err
		}
		cert, err := lockproto.VerifyLockCertificate(propPub, certBytes)
		if err != nil {
			return nil, fmt.Errorf("door %s: %w", door, err)
		}
		if cert.LockID != door {
			return nil, fmt.Errorf("door %s: %w: certificate is for lock %s", door, lockproto.ErrWrongLock, cert.LockID)
		}
		return &doorAccess{cred: cred, lockPub: cert.PublicKey, timeToken: c.timeToken()}, nil
	}
	return nil, fmt.Errorf("no credential of this phone names door %s", door)
}

// presentedFile remembers, per door, the reference of the credential its
// lock last accepted.
const presentedFile = "presented.json"

func (a *app) presentedRefs() map[string]string {
	m := map[string]string{}
	if b, err := os.ReadFile(a.path(presentedFile)); err == nil {
		json.Unmarshal(b, &m) // a damaged file only costs the credential's bytes once
	}
	return m
}

func (a *app) presented(door string, cred []byte) bool {
	return a.presentedRefs()[door] == base64.StdEncoding.EncodeToString(lockproto.CredentialRef(cred))
}

func (a *app) markPresented(door string, cred []byte) {
	m := a.presentedRefs()
	m[door] = base64.StdEncoding.EncodeToString(lockproto.CredentialRef(cred))
	if err := a.saveJSON(presentedFile, m); err != nil {
		fmt.Fprintf(a.stderr, "doorapp: %v\n", err)
	}
}
