package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dooros/dooros/lockproto/ble"
)

// Staff in the DOOR App (issue 11): a manager with Device Management (or a
// Portfolio Manager) logs in with the manager account, lists the doors of
// a property with pending changes, and syncs one within Bluetooth range
// with a courier (sync-only) credential: the lock takes the bundle and
// hands its log, and never opens for it.

const staffFile = "staff.json"

type staffSession struct {
	Email string `json:"email"`
	Token string `json:"token"`
}

var staffUsage = `usage: doorapp staff <command> [flags]

  login --email E [--password P]          log in with your manager account (password asked on stdin when absent)
  doors --property ID                     doors of the property with pending changes (Door Sync tasks)
  sync  --property ID --door ID --ble A   deliver the door's pending changes, collect its log (no door opens)
  logout                                  forget the manager login`

func cmdStaff(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(a.stdout, staffUsage)
		return nil
	}
	switch args[0] {
	case "login":
		return cmdStaffLogin(ctx, a, args[1:])
	case "doors":
		return cmdStaffDoors(ctx, a, args[1:])
	case "sync":
		return cmdStaffSync(ctx, a, args[1:])
	case "logout":
		if err := os.Remove(a.path(staffFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		fmt.Fprintln(a.stdout, "Logged out of the manager account.")
		return nil
	}
	fmt.Fprintln(a.stderr, staffUsage)
	return fmt.Errorf("unknown staff command %q", args[0])
}

func cmdStaffLogin(ctx context.Context, a *app, args []string) error {
	var email, password string
	fs, err := subFlags(a, "staff login", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "your manager email (required)")
		fs.StringVar(&password, "password", "", "your manager password (asked on stdin when absent)")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if email == "" {
		return errors.New("staff login needs --email")
	}
	if password == "" {
		fmt.Fprint(a.stdout, "Password: ")
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	var out struct {
		Token string `json:"token"`
	}
	if err := a.call(ctx, "POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password}, &out); err != nil {
		return err
	}
	if err := a.saveJSON(staffFile, staffSession{Email: email, Token: out.Token}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Logged in as manager %s.\n", email)
	return nil
}

// staffCall calls the API with the manager login.
func (a *app) staffCall(ctx context.Context, method, path string, in, out any) error {
	b, err := os.ReadFile(a.path(staffFile))
	if err != nil {
		return errors.New("not logged in as a manager: run doorapp staff login --email …")
	}
	var s staffSession
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return a.call(ctx, method, path, s.Token, in, out)
}

type staffTask struct {
	DoorID             string    `json:"door_id"`
	DoorName           string    `json:"door_name"`
	Version            int64     `json:"version"`
	AckedVersion       int64     `json:"acked_version"`
	PendingChanges     int       `json:"pending_changes"`
	OldestChangeAt     time.Time `json:"oldest_change_at"`
	IncludesRevocation bool      `json:"includes_revocation"`
}

type staffCourierAnswer struct {
	Tasks      []staffTask       `json:"tasks"`
	Credential *storedCredential `json:"credential"`
}

func (a *app) staffCourier(ctx context.Context, property string) (staffCourierAnswer, error) {
	var out staffCourierAnswer
	key, err := a.deviceKey()
	if err != nil {
		return out, err
	}
	pub := base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	err = a.staffCall(ctx, "POST", "/api/v1/properties/"+property+"/staff/courier", map[string]string{"device_public_key": pub}, &out)
	return out, err
}

func cmdStaffDoors(ctx context.Context, a *app, args []string) error {
	var property string
	fs, err := subFlags(a, "staff doors", args, func(fs *flag.FlagSet) {
		fs.StringVar(&property, "property", "", "property id (required)")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if property == "" {
		return errors.New("staff doors needs --property ID")
	}
	c, err := a.staffCourier(ctx, property)
	if err != nil {
		return err
	}
	if len(c.Tasks) == 0 {
		fmt.Fprintln(a.stdout, "No door has pending changes.")
		return nil
	}
	for _, t := range c.Tasks {
		rev := ""
		if t.IncludesRevocation {
			rev = ", includes a revocation"
		}
		fmt.Fprintf(a.stdout, "%s  %s: %d pending change(s) since %s%s\n", t.DoorID, t.DoorName, t.PendingChanges, t.OldestChangeAt.Local().Format("2006-01-02 15:04"), rev)
	}
	return nil
}

func cmdStaffSync(ctx context.Context, a *app, args []string) error {
	var property, door, addr string
	var rate int
	var o syncOptions
	fs, err := subFlags(a, "staff sync", args, func(fs *flag.FlagSet) {
		fs.StringVar(&property, "property", "", "property id (required)")
		bleFlags(fs, &door, &addr, &rate)
		syncFlags(fs, a, &o)
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if property == "" || door == "" || addr == "" {
		return errors.New("staff sync: --property ID, --door ID and --ble ADDR are required")
	}
	if err := o.check(a); err != nil {
		return err
	}
	c, err := a.staffCourier(ctx, property)
	if err != nil {
		return err
	}
	if c.Credential == nil {
		return fmt.Errorf("staff sync: no door of this property has pending changes")
	}
	da, err := accessTo([]storedCredential{*c.Credential}, door)
	if err != nil {
		return fmt.Errorf("staff sync: door %s has no pending changes or no provisioned lock", door)
	}
	if da.device, err = a.deviceKey(); err != nil {
		return err
	}
	dial := func(ctx context.Context) (*ble.Session, error) {
		s, err := ble.DialLock(ctx, addr, a.bleConfig(rate), door, da.lockPub)
		if err != nil {
			return nil, fmt.Errorf("door %s: %w", door, err)
		}
		res, err := s.Authenticate(ctx, da.cred, da.device, da.timeToken)
		if err == nil && !res.Authenticated {
			err = fmt.Errorf("staff sync: the lock does not accept the staff courier credential (%s)", res.Reason)
		}
		if err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}
	s, err := dial(ctx)
	if err != nil {
		return err
	}
	l := &syncLink{s: s, redial: dial, retries: o.retries}
	defer l.close()
	return a.relayVia(ctx, l, door, staffCourier{a, property})
}

// staffCourier is a manager's door mailbox and sync reports.
type staffCourier struct {
	a        *app
	property string
}

func (c staffCourier) mailbox(ctx context.Context, door string, out any) error {
	return c.a.staffCall(ctx, "GET", "/api/v1/properties/"+c.property+"/doors/"+door+"/mailbox", nil, out)
}

func (c staffCourier) report(ctx context.Context, door string, report, out any) error {
	return c.a.staffCall(ctx, "POST", "/api/v1/properties/"+c.property+"/doors/"+door+"/sync-reports", report, out)
}
