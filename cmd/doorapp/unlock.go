package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/dooros/dooros/lockproto/ble"
)

// cmdUnlock opens a door by challenge–response with the phone's credential
// and, in the same BLE session, relays the door's pending bundle and brings
// back the lock's ack and log (passive sync). A refused unlock exits
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
		return errors.New("unlock: --door ID and --ble ADDR are required")
	}
	key, err := a.deviceKey()
	if err != nil {
		return err
	}
	// Renew credentials while online; a phone without a connection (or
	// refused) keeps the ones it has, as a real phone would.
	var l list[storedCredential]
	if err := a.authed(ctx, "POST", "/api/v1/me/credentials", nil, &l); err == nil {
		if err := a.saveJSON(credentialsFile, &l); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.stderr, "doorapp: credentials not renewed (%v); using the stored ones\n", err)
		b, rerr := os.ReadFile(a.path(credentialsFile))
		if rerr != nil {
			return fmt.Errorf("no credentials: %w", err)
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
	}
	var cred []byte
	for _, c := range l.Items {
		if slices.Contains(c.Doors, door) {
			if cred, err = base64.StdEncoding.DecodeString(c.Credential); err != nil {
				return err
			}
		}
	}
	if cred == nil {
		return fmt.Errorf("no credential of this phone names door %s", door)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	s, err := ble.Dial(ctx, addr, ble.Config{Rate: rate})
	if err != nil {
		return err
	}
	defer s.Close()
	start := time.Now()
	res, err := s.Unlock(ctx, cred, key)
	if err != nil {
		return err
	}
	if res.Granted {
		fmt.Fprintf(a.stdout, "unlock: door %s opened (%v)\n", door, time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(a.stdout, "unlock: door %s refused: %s\n", door, res.Reason)
	}
	if !noSync {
		if err := a.relay(ctx, s, door); err != nil {
			fmt.Fprintf(a.stderr, "doorapp: sync after unlock failed: %v\n", err)
		}
	}
	if !res.Granted {
		return fmt.Errorf("refused: %s", res.Reason)
	}
	return nil
}
