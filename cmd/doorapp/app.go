package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dooros/dooros/lockproto/ble"
)

// app is the phone: where it talks to and what it keeps.
type app struct {
	server string
	state  string
	stdin  *bufio.Reader
	stdout io.Writer
	stderr io.Writer
	client *http.Client
	// idle is the BLE link's longest silence between two frames (sync's
	// --idle-timeout); 0 is ble.IdleTimeout.
	idle time.Duration
}

// bleConfig is the simulated link's shape at rate.
func (a *app) bleConfig(rate int) ble.Config { return ble.Config{Rate: rate, IdleTimeout: a.idle} }

func newApp(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (*app, []string, error) {
	fs := flag.NewFlagSet("doorapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := &app{stdin: bufio.NewReader(stdin), stdout: stdout, stderr: stderr, client: &http.Client{Timeout: 30 * time.Second}}
	defState := getenv("DOORAPP_STATE")
	if defState == "" {
		if home := getenv("HOME"); home != "" {
			defState = filepath.Join(home, ".doorapp")
		} else {
			defState = ".doorapp"
		}
	}
	fs.StringVar(&a.server, "server", getenv("DOORAPP_SERVER"), "DOOR OS server URL, e.g. http://127.0.0.1:8080 [DOORAPP_SERVER]")
	fs.StringVar(&a.state, "state", defState, "state directory: device key, session, credentials [DOORAPP_STATE]")
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	a.server = strings.TrimRight(a.server, "/")
	return a, fs.Args(), nil
}

// --- state directory ---

const (
	deviceKeyFile   = "device.key"
	sessionFile     = "session.json"
	credentialsFile = "credentials.json"
)

// session is what a login leaves behind.
type session struct {
	Server     string            `json:"server"`
	Email      string            `json:"email"`
	Token      string            `json:"token"`
	ExpiresAt  time.Time         `json:"expires_at"`
	Properties []sessionProperty `json:"properties"`
}

type sessionProperty struct {
	PropertyID   string `json:"property_id"`
	PropertyName string `json:"property_name"`
	TimeZone     string `json:"time_zone"`
	PersonID     string `json:"person_id"`
	Status       string `json:"status"`
	DeviceID     string `json:"device_id"`
}

func (a *app) path(name string) string { return filepath.Join(a.state, name) }

// writeFile replaces a state file atomically, readable by the owner only.
func (a *app) writeFile(name string, data []byte) error {
	if err := os.MkdirAll(a.state, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(a.state, ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), a.path(name))
}

// deviceKey loads the phone's Ed25519 key, creating it on first use. The
// private key never leaves the state directory.
func (a *app) deviceKey() (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(a.path(deviceKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		if err := a.writeFile(deviceKeyFile, []byte(base64.StdEncoding.EncodeToString(priv.Seed())+"\n")); err != nil {
			return nil, err
		}
		return priv, nil
	}
	if err != nil {
		return nil, err
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s is not a device key", a.path(deviceKeyFile))
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func (a *app) loadSession() (*session, error) {
	b, err := os.ReadFile(a.path(sessionFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("not logged in: run doorapp login --email you@example.com")
	}
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", a.path(sessionFile), err)
	}
	if a.server == "" {
		a.server = s.Server
	}
	return &s, nil
}

func (a *app) saveJSON(name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return a.writeFile(name, append(b, '\n'))
}

// --- HTTP ---

// apiError is the server's error shape.
type apiError struct {
	Status  int
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field"`
}

func (e *apiError) Error() string {
	if e.Field != "" && !strings.HasPrefix(e.Message, e.Field+":") {
		return fmt.Sprintf("%s (%d %s): %s: %s", e.Code, e.Status, http.StatusText(e.Status), e.Field, e.Message)
	}
	return fmt.Sprintf("%s (%d %s): %s", e.Code, e.Status, http.StatusText(e.Status), e.Message)
}

// call sends a JSON request and decodes a JSON answer into out (may be nil).
func (a *app) call(ctx context.Context, method, path, token string, in, out any) error {
	if a.server == "" {
		return errors.New("no server: pass --server URL (or set DOORAPP_SERVER)")
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.server+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 400 {
		var e struct {
			Error apiError `json:"error"`
		}
		if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
			return fmt.Errorf("%s %s: %s", method, path, res.Status)
		}
		e.Error.Status = res.StatusCode
		return &e.Error
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

// authed calls with the stored session's token.
func (a *app) authed(ctx context.Context, method, path string, in, out any) error {
	s, err := a.loadSession()
	if err != nil {
		return err
	}
	return a.call(ctx, method, path, s.Token, in, out)
}

// subFlags parses a command's flags, refusing stray arguments.
func subFlags(a *app, name string, args []string, define func(fs *flag.FlagSet)) (*flag.FlagSet, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	define(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return fs, nil
}

func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
