package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

func cmdLogin(ctx context.Context, a *app, args []string) error {
	var email, code, name string
	fs, err := subFlags(a, "login", args, func(fs *flag.FlagSet) {
		fs.StringVar(&email, "email", "", "your email address (required)")
		fs.StringVar(&code, "code", "", "the 6-digit code from the email (asked on stdin when absent)")
		fs.StringVar(&name, "device-name", "doorapp", "name of this phone, shown to you and your manager")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if email == "" {
		return errors.New("login needs --email")
	}
	key, err := a.deviceKey()
	if err != nil {
		return err
	}
	if code == "" {
		if err := a.call(ctx, "POST", "/api/v1/app/login/start", "", map[string]string{"email": email}, nil); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "A login code was sent to %s if it has DOOR App access.\nCode from the email: ", email)
		line, err := a.stdin.ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("reading the code: %w", err)
		}
		code = strings.TrimSpace(line)
	}
	var sess session
	in := map[string]string{"email": email, "code": code, "device_public_key": base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)), "device_name": name}
	if err := a.call(ctx, "POST", "/api/v1/app/login/verify", "", in, &sess); err != nil {
		return err
	}
	sess.Server, sess.Email = a.server, email
	if err := a.saveJSON(sessionFile, &sess); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Logged in as %s on this phone.\n", email)
	for _, p := range sess.Properties {
		fmt.Fprintf(a.stdout, "  %s (%s): %s\n", p.PropertyName, p.PropertyID, p.Status)
	}
	return nil
}

func cmdLogout(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	if err := a.authed(ctx, "POST", "/api/v1/app/logout", nil, nil); err != nil {
		return err
	}
	for _, f := range []string{sessionFile, credentialsFile} {
		if err := os.Remove(a.path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	fmt.Fprintln(a.stdout, "Logged out.")
	return nil
}

type list[T any] struct {
	Items []T `json:"items"`
}

type scheduleWindow struct {
	Days  []string `json:"days"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

type access struct {
	PropertyID   string     `json:"property_id"`
	PropertyName string     `json:"property_name"`
	TimeZone     string     `json:"time_zone"`
	Status       string     `json:"status"`
	StartsAt     time.Time  `json:"starts_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	Keys         []struct {
		KeyID     string     `json:"key_id"`
		Name      string     `json:"name"`
		MayShare  bool       `json:"may_share"`
		StartsAt  time.Time  `json:"starts_at"`
		ExpiresAt *time.Time `json:"expires_at"`
		Doors     []struct {
			DoorID    string           `json:"door_id"`
			Name      string           `json:"name"`
			Doorcodes bool             `json:"doorcodes"`
			Schedule  []scheduleWindow `json:"schedule"`
		} `json:"doors"`
	} `json:"keys"`
}

func window(start time.Time, end *time.Time, loc *time.Location) string {
	s := "from " + start.In(loc).Format("2006-01-02 15:04")
	if end != nil {
		s += " until " + end.In(loc).Format("2006-01-02 15:04")
	} else {
		s += ", no end"
	}
	return s
}

func cmdKeys(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q", args[0])
	}
	var l list[access]
	if err := a.authed(ctx, "GET", "/api/v1/me/keys", nil, &l); err != nil {
		return err
	}
	for _, p := range l.Items {
		loc, err := time.LoadLocation(p.TimeZone)
		if err != nil {
			loc = time.UTC
		}
		fmt.Fprintf(a.stdout, "%s — %s, %s (%s)\n", p.PropertyName, p.Status, window(p.StartsAt, p.ExpiresAt, loc), p.TimeZone)
		if len(p.Keys) == 0 {
			fmt.Fprintln(a.stdout, "  no keys")
		}
		for _, k := range p.Keys {
			share := ""
			if k.MayShare {
				share = ", may share"
			}
			fmt.Fprintf(a.stdout, "  key %s (%s)%s, %s\n", k.Name, k.KeyID, share, window(k.StartsAt, k.ExpiresAt, loc))
			for _, d := range k.Doors {
				extra := ""
				if d.Doorcodes {
					extra += ", doorcode"
				}
				for _, w := range d.Schedule {
					extra += fmt.Sprintf(", %s %s-%s", strings.Join(w.Days, ","), w.Start, w.End)
				}
				fmt.Fprintf(a.stdout, "    door %s (%s)%s\n", d.Name, d.DoorID, extra)
			}
		}
	}
	return nil
}

func cmdDoorcode(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 && args[0] == "reset" {
		return doorcodeReset(ctx, a, args[1:])
	}
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q (doorapp doorcode, or doorapp doorcode reset [--property P])", args[0])
	}
	var l list[struct {
		PropertyName string   `json:"property_name"`
		Code         string   `json:"code"`
		Doors        []string `json:"doors"`
	}]
	if err := a.authed(ctx, "GET", "/api/v1/me/doorcode", nil, &l); err != nil {
		return err
	}
	if len(l.Items) == 0 {
		fmt.Fprintln(a.stdout, "You have no doorcode.")
	}
	for _, c := range l.Items {
		fmt.Fprintf(a.stdout, "%s: %s (%s)\n", c.PropertyName, c.Code, strings.Join(c.Doors, ", "))
	}
	return nil
}

// doorcodeReset is Reset Doorcode: a new code replaces the resident's own
// (the old one stops working at each door's next bundle). --property takes
// a property's name or id, needed only with access at several.
func doorcodeReset(ctx context.Context, a *app, args []string) error {
	var prop string
	fs, err := subFlags(a, "doorcode reset", args, func(fs *flag.FlagSet) {
		fs.StringVar(&prop, "property", "", "the property's name (or id), when you have access at several")
	})
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	in := map[string]string{}
	if prop = strings.TrimSpace(prop); prop != "" {
		acc, err := a.myAccess(ctx)
		if err != nil {
			return err
		}
		var names []string
		for _, p := range acc {
			if p.PropertyID == prop || strings.EqualFold(p.PropertyName, prop) {
				in["property_id"] = p.PropertyID
			}
			names = append(names, p.PropertyName)
		}
		if in["property_id"] == "" {
			return fmt.Errorf("you have no access at a property named %q (yours: %s)", prop, strings.Join(names, ", "))
		}
	}
	var out struct {
		PropertyName string   `json:"property_name"`
		Code         string   `json:"code"`
		Doors        []string `json:"doors"`
	}
	if err := a.authed(ctx, "POST", "/api/v1/me/doorcode/reset", in, &out); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "%s: your new doorcode is %s (%s). The old one stops working at each door once it has synced.\n",
		out.PropertyName, out.Code, strings.Join(out.Doors, ", "))
	return nil
}

// storedCredential is one credential as the state directory keeps it.
type storedCredential struct {
	PropertyID        string    `json:"property_id"`
	PersonID          string    `json:"person_id"`
	DeviceID          string    `json:"device_id"`
	Serial            string    `json:"serial"`
	Credential        string    `json:"credential"`
	PropertyPublicKey string    `json:"property_public_key"`
	IssuedAt          time.Time `json:"issued_at"`
	NotBefore         time.Time `json:"not_before"`
	NotAfter          time.Time `json:"not_after"`
	Doors             []string  `json:"doors"`
	// LockCertificates: door id → the lock's key certified by the property.
	LockCertificates map[string]string `json:"lock_certificates"`
	// TimeToken is the cloud's signed time handed out with the credential
	// (base64 lockproto.TimeToken); the phone sends it in every unlock so a
	// lock whose clock was reset trusts its clock again.
	TimeToken string `json:"time_token,omitempty"`
}

// timeToken returns the stored time token, or nil if the cloud gave none.
func (c storedCredential) timeToken() []byte {
	b, err := base64.StdEncoding.DecodeString(c.TimeToken)
	if err != nil || len(b) == 0 {
		return nil
	}
	return b
}

func cmdCredentials(ctx context.Context, a *app, args []string) error {
	if len(args) != 1 || (args[0] != "refresh" && args[0] != "show") {
		return errors.New("usage: doorapp credentials refresh|show")
	}
	var l list[storedCredential]
	if args[0] == "refresh" {
		if err := a.authed(ctx, "POST", "/api/v1/me/credentials", nil, &l); err != nil {
			return err
		}
		if err := a.saveJSON(credentialsFile, &l); err != nil {
			return err
		}
	} else {
		b, err := os.ReadFile(a.path(credentialsFile))
		if err != nil {
			return fmt.Errorf("no credentials yet: run doorapp credentials refresh (%w)", err)
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return err
		}
	}
	for _, c := range l.Items {
		fmt.Fprintf(a.stdout, "property %s: credential %s for %d doors, valid %s to %s\n", c.PropertyID, c.Serial, len(c.Doors),
			c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
	}
	return nil
}

func cmdDevices(ctx context.Context, a *app, args []string) error {
	if len(args) == 2 && args[0] == "remove" {
		if err := a.authed(ctx, "DELETE", "/api/v1/me/devices/"+url.PathEscape(args[1]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Removed phone %s.\n", args[1])
		return nil
	}
	if len(args) > 0 && !(len(args) == 1 && args[0] == "list") {
		return errors.New("usage: doorapp devices [list | remove ID]")
	}
	var l list[struct {
		ID         string    `json:"id"`
		PropertyID string    `json:"property_id"`
		Name       string    `json:"name"`
		CreatedAt  time.Time `json:"created_at"`
		Current    bool      `json:"current"`
	}]
	if err := a.authed(ctx, "GET", "/api/v1/me/devices", nil, &l); err != nil {
		return err
	}
	for _, d := range l.Items {
		cur := ""
		if d.Current {
			cur = " (this phone)"
		}
		fmt.Fprintf(a.stdout, "%s %q at %s, enrolled %s%s\n", d.ID, d.Name, d.PropertyID, d.CreatedAt.Format(time.RFC3339), cur)
	}
	return nil
}

type guest struct {
	ID         string     `json:"id"`
	PropertyID string     `json:"property_id"`
	Kind       string     `json:"kind"`
	FirstName  string     `json:"first_name"`
	LastName   string     `json:"last_name"`
	Email      string     `json:"email"`
	Status     string     `json:"status"`
	StartsAt   time.Time  `json:"starts_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	Code       string     `json:"code"`
	Day        string     `json:"day"`
}

func (g guest) String() string { return g.In(time.UTC) }

// In is the guest as a line, times in loc with the zone named.
func (g guest) In(loc *time.Location) string {
	s := fmt.Sprintf("%s %s %s <%s> %s, %s", g.ID, g.FirstName, g.LastName, g.Email, g.Kind, g.Status)
	if g.Day != "" {
		s += " on " + g.Day
	} else {
		s += ", " + window(g.StartsAt, g.ExpiresAt, loc) + " (" + loc.String() + ")"
	}
	if g.Code != "" {
		s += ", code " + g.Code
	}
	return s
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func cmdGuests(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: doorapp guests list | invite … | revoke ID")
	}
	switch args[0] {
	case "list":
		var l list[guest]
		if err := a.authed(ctx, "GET", "/api/v1/me/guests", nil, &l); err != nil {
			return err
		}
		if len(l.Items) == 0 {
			fmt.Fprintln(a.stdout, "No guests.")
			return nil
		}
		acc, err := a.myAccess(ctx)
		if err != nil {
			return err
		}
		for _, g := range l.Items {
			fmt.Fprintln(a.stdout, g.In(zoneOf(acc, g.PropertyID)))
		}
		return nil
	case "revoke":
		if len(args) != 2 {
			return errors.New("usage: doorapp guests revoke ID")
		}
		if err := a.authed(ctx, "DELETE", "/api/v1/me/guests/"+url.PathEscape(args[1]), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Revoked guest %s.\n", args[1])
		return nil
	case "invite":
		var in struct {
			PropertyID string     `json:"property_id,omitempty"`
			Kind       string     `json:"kind"`
			FirstName  string     `json:"first_name"`
			LastName   string     `json:"last_name"`
			Email      string     `json:"email"`
			Phone      string     `json:"phone,omitempty"`
			Keys       stringList `json:"keys"`
			StartsAt   *time.Time `json:"starts_at,omitempty"`
			ExpiresAt  *time.Time `json:"expires_at,omitempty"`
			Day        string     `json:"day,omitempty"`
		}
		var starts, expires string
		fs, err := subFlags(a, "guests invite", args[1:], func(fs *flag.FlagSet) {
			fs.StringVar(&in.Kind, "kind", "app", "app, day_code or quarter_hour_code")
			fs.StringVar(&in.FirstName, "first", "", "guest's first name")
			fs.StringVar(&in.LastName, "last", "", "guest's last name")
			fs.StringVar(&in.Email, "email", "", "guest's email (the invitation or code goes there)")
			fs.StringVar(&in.Phone, "phone", "", "guest's phone")
			fs.Var(&in.Keys, "key", "name (or id) of a key to share (repeat for several; one for code guests)")
			fs.StringVar(&starts, "starts", "", "app guest: start, YYYY-MM-DD HH:MM in the property's time zone (default now)")
			fs.StringVar(&expires, "expires", "", "app guest: end, YYYY-MM-DD HH:MM in the property's time zone (default none)")
			fs.StringVar(&in.Day, "day", "", "code guest: YYYY-MM-DD (default today)")
			fs.StringVar(&in.PropertyID, "property", "", "property id, when you have access at several")
		})
		if err != nil {
			return err
		}
		if err := noArgs(fs); err != nil {
			return err
		}
		acc, err := a.myAccess(ctx)
		if err != nil {
			return err
		}
		for i, k := range in.Keys {
			id, prop, err := resolveKey(acc, in.PropertyID, k)
			if err != nil {
				return err
			}
			in.Keys[i] = id
			if in.PropertyID == "" && len(acc) > 1 {
				in.PropertyID = prop
			}
		}
		loc := zoneOf(acc, in.PropertyID)
		for _, t := range []struct {
			v   string
			dst **time.Time
		}{{starts, &in.StartsAt}, {expires, &in.ExpiresAt}} {
			if t.v == "" {
				continue
			}
			v, err := parseLocalTime(t.v, loc)
			if err != nil {
				return err
			}
			*t.dst = &v
		}
		if in.Keys == nil {
			in.Keys = stringList{}
		}
		var g guest
		if err := a.authed(ctx, "POST", "/api/v1/me/guests", &in, &g); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "Invited %s.\n%s\n", g.Email, g.In(zoneOf(acc, g.PropertyID)))
		return nil
	}
	return fmt.Errorf("unknown guests command %q (list, invite, revoke)", args[0])
}
