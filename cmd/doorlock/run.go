package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
)

const usage = `usage:
  doorlock provision --state DIR FILE          set up a lock from a provisioning file ("-" reads stdin)
  doorlock run --state DIR --ble ADDR --control ADDR [--mtu 185] [--rate 2048] [--mqtt-url URL --mqtt-password P]
  doorlock keypad --control ADDR CODE          type a code at the keypad
  doorlock card --control ADDR SERIAL          tap a keycard
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
		return provision(args[1:], stdin, stdout, stderr)
	case "run":
		return serve(ctx, args[1:], getenv, stderr)
	case "keypad", "card", "status":
		return control(ctx, args[0], args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func provision(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	state := fs.String("state", "", "state directory of the lock")
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
	p, err := lockproto.ParseProvisioning(data)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*state, 0o700); err != nil {
		return err
	}
	if err := lock.Provision(lock.DirFS(*state), p); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "provisioned lock %s (time zone %s) in %s\n", p.LockID, p.TimeZone, *state)
	return nil
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
	mqttURL := fs.String("mqtt-url", "", "online lock: the broker to connect to (mqtt://host:port); the password comes from --mqtt-password or DOORLOCK_MQTT_PASSWORD")
	mqttPassword := fs.String("mqtt-password", getenv("DOORLOCK_MQTT_PASSWORD"), "online lock: MQTT password from provisioning")
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

	l, err := lock.Open(lock.Options{FS: lock.DirFS(*state), Logger: log})
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	bleLn, err := lc.Listen(ctx, "tcp", *bleAddr)
	if err != nil {
		return err
	}
	ctlLn, err := lc.Listen(ctx, "tcp", *controlAddr)
	if err != nil {
		bleLn.Close()
		return err
	}
	log.Info("doorlock running", "lock", l.LockID(), "ble", bleLn.Addr().String(), "control", ctlLn.Addr().String(),
		"mtu", *mtu, "rate", *rate)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	if *mqttURL != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runMQTT(ctx, *mqttURL, *mqttPassword, l, log)
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		errs <- ble.Serve(ctx, bleLn, l, cfg, log)
	}()
	go func() {
		defer wg.Done()
		errs <- serveControl(ctx, ctlLn, l, log)
	}()
	var first error
	select {
	case <-ctx.Done():
	case first = <-errs:
		cancel()
	}
	wg.Wait()
	log.Info("doorlock stopped")
	return first
}

// controlReply is one line of the control socket's answer.
type controlReply struct {
	Granted    *bool        `json:"granted,omitempty"`
	Reason     string       `json:"reason,omitempty"`
	Credential string       `json:"credential,omitempty"`
	PersonID   string       `json:"person_id,omitempty"`
	Seq        uint64       `json:"seq,omitempty"`
	Status     *lock.Status `json:"status,omitempty"`
	Error      string       `json:"error,omitempty"`
}

// serveControl answers line commands — "keypad CODE", "card SERIAL",
// "status" — with one JSON line each: the buttons of the simulated lock.
func serveControl(ctx context.Context, ln net.Listener, l *lock.Lock, log *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer c.Close()
			done := context.AfterFunc(ctx, func() { c.Close() })
			defer done()
			sc := bufio.NewScanner(io.LimitReader(c, 1<<16))
			enc := json.NewEncoder(c)
			for sc.Scan() {
				c.SetDeadline(time.Now().Add(time.Minute))
				if err := enc.Encode(controlCommand(l, sc.Text())); err != nil {
					log.Info("control connection closed", "err", err)
					return
				}
			}
		}()
	}
}

func controlCommand(l *lock.Lock, line string) controlReply {
	cmd, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
	arg = strings.TrimSpace(arg)
	var (
		d   lock.Decision
		err error
	)
	switch cmd {
	case "keypad":
		d, err = l.EnterCode(arg)
	case "card":
		d, err = l.TapCard(arg)
	case "status":
		s := l.Status()
		return controlReply{Status: &s}
	default:
		return controlReply{Error: fmt.Sprintf("unknown command %q (keypad CODE, card SERIAL, status)", cmd)}
	}
	if err != nil {
		return controlReply{Error: err.Error()}
	}
	return controlReply{Granted: &d.Granted, Reason: d.Reason, Credential: d.Credential, PersonID: d.PersonID, Seq: d.Seq}
}

func control(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("control", "", "control socket address of a running doorlock")
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
	default:
		return fmt.Errorf("%s: wrong arguments", cmd)
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
		fmt.Fprintf(stdout, "granted %s person=%s seq=%d\n", r.Credential, r.PersonID, r.Seq)
		return nil
	}
	fmt.Fprintf(stdout, "denied %s (%s) seq=%d\n", r.Credential, r.Reason, r.Seq)
	return fmt.Errorf("%w: %s", errDenied, r.Reason)
}

func ask(ctx context.Context, addr, line string) (*controlReply, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	if _, err := fmt.Fprintln(c, line); err != nil {
		return nil, err
	}
	var r controlReply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
