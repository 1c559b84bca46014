package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
)

const usage = `usage:
  doorlock provision --state DIR [--force] FILE  set up a lock from a provisioning file ("-" reads stdin)
  doorlock run --state DIR --ble ADDR --control ADDR [--mtu 185] [--rate 2048] [--mqtt-url URL] (password: DOORLOCK_MQTT_PASSWORD)
  (both: DOORLOCK_DEVICE_KEY, base64 32 bytes, seals the state directory)
  doorlock fleet --server URL --locks N [--mqtt-url URL] [--revocations R] (token: DOORLOCK_API_TOKEN)
                                               N online locks in one process; with --revocations, the revocation benchmark
  doorlock keypad --control ADDR CODE          type a code at the keypad
  doorlock card --control ADDR [--key KEY] SERIAL  tap a keycard (KEY: a secure card's base64 key, as activation gave it)
  doorlock status --control ADDR               show the lock's state`

// errDenied makes a refused keypad entry or card tap exit non-zero, so
// scripts can test it.
var errDenied = errors.New("denied")

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errors.New("no command")
	}
	switch args[0] {
	case "provision":
		return provision(args[1:], getenv, stdin, stdout, stderr)
	case "run":
		return serve(ctx, args[1:], getenv, stderr)
	case "fleet":
		return fleet(ctx, args[1:], getenv, stdout, stderr)
	case "keypad", "card", "status":
		return control(ctx, args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func provision(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of the lock")
	force := fs.Bool("force", false, "replace a lock already provisioned in --state (the old directory is kept as DIR.replaced-TIME)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || fs.NArg() != 1 {
		return errors.New("provision: --state DIR and one FILE are required")
	}
	var (
		data []byte
		err  error
	)
	if fs.Arg(0) == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		data, err = os.ReadFile(fs.Arg(0))
	}
	if err != nil {
		return err
	}
	p, err := parseProvisioning(data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	fsys, err := flash(*state, getenv)
	if err != nil {
		return err
	}
	err = lock.Provision(fsys, p)
	if err != nil && strings.Contains(err.Error(), "already provisioned") {
		if !*force {
			return fmt.Errorf("provision: %s already holds a provisioned lock; to replace it pass --force (the old directory is kept aside), or give a new --state DIR", *state)
		}
		aside := fmt.Sprintf("%s.replaced-%s", filepath.Clean(*state), time.Now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(*state, aside); err != nil {
			return fmt.Errorf("provision: --force: %w", err)
		}
		fmt.Fprintf(stderr, "previous lock state moved to %s\n", aside)
		if err := os.MkdirAll(*state, 0o700); err != nil {
			return err
		}
		err = lock.Provision(fsys, p)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provisioned lock %s (time zone %s) in %s\n", p.LockID, p.TimeZone, *state)
	return nil
}

// parseProvisioning reads a provisioning file. People save the whole answer
// of POST …/doors/{d}/lock ({"provisioning":{…},"mqtt_password":…}) as
// often as its "provisioning" object: that object is accepted from either.
func parseProvisioning(data []byte) (*lockproto.Provisioning, error) {
	var wrapped struct {
		Provisioning json.RawMessage `json:"provisioning"`
	}
	if json.Unmarshal(data, &wrapped) == nil && len(wrapped.Provisioning) > 0 && string(wrapped.Provisioning) != "null" {
		data = wrapped.Provisioning
	}
	p, err := lockproto.ParseProvisioning(data)
	if err != nil {
		return nil, fmt.Errorf("%w (pass the provisioning object of the API's answer, e.g. jq .provisioning, or the file the console's Provision lock offers)", err)
	}
	return p, nil
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of a provisioned lock")
	bleAddr := fs.String("ble", "127.0.0.1:0", "loopback address of the simulated BLE link")
	controlAddr := fs.String("control", "127.0.0.1:0", "address of the keypad/card control socket")
	mtu := fs.Int("mtu", ble.DefaultMTU, "BLE frame size in bytes")
	rate := fs.Int("rate", ble.DefaultRate, "BLE link rate in bytes per second (negative: unlimited)")
	logFormat := fs.String("log-format", "text", "text or json")
	mqttURL := fs.String("mqtt-url", "", "online lock: the broker to connect to (mqtt://host:port); the password comes from DOORLOCK_MQTT_PASSWORD")
	mqttPassword := fs.String("mqtt-password", getenv("DOORLOCK_MQTT_PASSWORD"), "online lock: MQTT password from provisioning (deprecated: visible to every local user in the process list; set DOORLOCK_MQTT_PASSWORD instead)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("run: --state DIR is required")
	}
	cfg := ble.Config{MTU: *mtu, Rate: *rate}
	if err := cfg.Validate(); err != nil {
		return err
	}
	level := slog.LevelInfo
	if getenv("DOORLOCK_DEBUG") != "" {
		level = slog.LevelDebug
	}
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *logFormat == "json" {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "mqtt-password" {
			log.Warn("--mqtt-password puts the lock's MQTT password in the process list, visible to every local user; set DOORLOCK_MQTT_PASSWORD instead")
		}
	})

	fsys, err := flash(*state, getenv)
	if err != nil {
		return err
	}
	l, err := lock.Open(lock.Options{FS: fsys, Logger: log})
	if err != nil {
		return err
	}
	sim, err := locksim.Start(ctx, locksim.Config{Lock: l, BLEAddr: *bleAddr, ControlAddr: *controlAddr, BLE: cfg,
		MQTTURL: *mqttURL, MQTTPassword: *mqttPassword, Log: log})
	if err != nil {
		return err
	}
	log.Info("doorlock running", "lock", l.LockID(), "ble", sim.BLEAddr, "control", sim.ControlAddr,
		"mtu", *mtu, "rate", *rate)
	err = sim.Wait()
	log.Info("doorlock stopped")
	return err
}

func control(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("control", "", "control socket address of a running doorlock")
	var key *string
	if cmd == "card" {
		key = fs.String("key", "", "the secure card's key (base64, from its activation); without it the card shows only its serial")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	line := cmd
	switch {
	case *addr == "":
		return fmt.Errorf("%s: --control ADDR is required", cmd)
	case cmd == "status" && fs.NArg() == 0:
	case cmd != "status" && fs.NArg() == 1:
		line += " " + fs.Arg(0)
	case cmd == "keypad" && fs.NArg() == 0:
		return errors.New("keypad: the CODE to type is missing: doorlock keypad --control ADDR CODE")
	case cmd == "card" && fs.NArg() == 0:
		return errors.New("card: the card SERIAL to tap is missing: doorlock card --control ADDR SERIAL")
	case cmd == "status":
		return fmt.Errorf("status takes no arguments, got %q", fs.Args())
	default:
		return fmt.Errorf("%s: one argument expected, got %d (%q)", cmd, fs.NArg(), fs.Args())
	}
	if key != nil && *key != "" {
		line += " " + *key
	}
	r, err := ask(ctx, *addr, line)
	if err != nil {
		return err
	}
	if r.Error != "" {
		return errors.New(r.Error)
	}
	if r.Status != nil {
		out, _ := json.MarshalIndent(r.Status, "", "  ")
		fmt.Fprintln(stdout, string(out))
		return nil
	}
	if r.Granted != nil && *r.Granted {
		fmt.Fprintf(stdout, "granted %s %s seq=%d\n", r.Credential, who(r), r.Seq)
		return nil
	}
	fmt.Fprintf(stdout, "denied %s (%s) seq=%d\n", r.Credential, r.Reason, r.Seq)
	return fmt.Errorf("%w: %s", errDenied, r.Reason)
}

// who names whom a decision admitted: the person, or for a guest code
// computed on the lock (no person behind it) the key it belongs to.
func who(r *locksim.ControlReply) string {
	if r.PersonID != "" {
		return "person=" + r.PersonID
	}
	return "key=" + r.Ref
}

func ask(ctx context.Context, addr, line string) (*locksim.ControlReply, error) {
	return locksim.Ask(ctx, addr, line)
}
