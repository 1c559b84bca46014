package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/dooros/dooros/lockproto/ble"
)

// mailboxItem is a sealed bundle waiting for a lock; the phone routes it by
// lock id and cannot read it.
type mailboxItem struct {
	DoorID   string `json:"door_id"`
	LockID   string `json:"lock_id"`
	Base     int64  `json:"base"`
	Version  int64  `json:"version"`
	Snapshot bool   `json:"snapshot"`
	Bundle   string `json:"bundle"`
	// Manifest: deliver the bundle in chunks under it (resumable).
	Manifest string `json:"manifest"`
	LogNext  uint64 `json:"log_next"`
}

type logResult struct {
	Added   int    `json:"added"`
	LogNext uint64 `json:"log_next"`
	Gap     uint64 `json:"gap"`
}

type syncReport struct {
	Ack *struct {
		Status       string `json:"status"`
		AckedVersion int64  `json:"acked_version"`
	} `json:"ack"`
	Events []logResult `json:"events"`
}

// bleFlags are the link options of unlock and sync.
func bleFlags(fs *flag.FlagSet, door, addr *string, rate *int) {
	fs.StringVar(door, "door", "", "the door's name as `doorapp keys` lists it (or its id)")
	fs.StringVar(addr, "ble", "", "the lock's BLE address (host:port of the simulated link)")
	fs.IntVar(rate, "rate", ble.DefaultRate, "BLE link rate in bytes per second (negative: unlimited)")
}

// syncFlags are the options of a manual Door Sync (sync and staff sync):
// there is no limit on the whole transfer, only on silence, and a dropped
// link is reconnected and the transfer resumed.
type syncOptions struct {
	retries int
}

func syncFlags(fs *flag.FlagSet, a *app, o *syncOptions) {
	fs.DurationVar(&a.idle, "idle-timeout", ble.IdleTimeout, "longest silence on the BLE link between two frames")
	fs.IntVar(&o.retries, "retries", 5, "reconnect this many times after a dropped link, resuming the transfer (0: never)")
}

func (o *syncOptions) check(a *app) error {
	if a.idle <= 0 {
		return fmt.Errorf("sync: --idle-timeout must be positive, not %v", a.idle)
	}
	if o.retries < 0 {
		return fmt.Errorf("sync: --retries must be 0 or more, not %d", o.retries)
	}
	return nil
}

// cmdSync is the manual Door Sync: hand the lock its pending bundle, fetch
// its log, upload both.
func cmdSync(ctx context.Context, a *app, args []string) error {
	var door, addr string
	var rate int
	var o syncOptions
	fs, err := subFlags(a, "sync", args, func(fs *flag.FlagSet) { bleFlags(fs, &door, &addr, &rate); syncFlags(fs, a, &o) })
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if door == "" || addr == "" {
		return errors.New("sync: --door NAME and --ble ADDR are required")
	}
	if err := o.check(a); err != nil {
		return err
	}
	if door, err = a.doorID(ctx, door); err != nil {
		return err
	}
	// A Door Sync proves a credential without opening the door: the lock
	// hands its log and takes bundles only from a phone that holds a valid
	// credential for it, its own or a courier's (cmd/doorapp/courier.go).
	dial := func(ctx context.Context) (*ble.Session, error) { return a.syncSession(ctx, door, addr, rate) }
	s, err := dial(ctx)
	if err != nil {
		return err
	}
	l := &syncLink{s: s, redial: dial, retries: o.retries}
	defer l.close()
	return a.relayVia(ctx, l, door, residentCourier{a})
}

// syncLink is the BLE session of a Door Sync and how to open it again
// after a drop (nil redial: a passive sync during an unlock, which does
// not reconnect).
type syncLink struct {
	s       *ble.Session
	redial  func(context.Context) (*ble.Session, error)
	retries int
}

func (l *syncLink) close() {
	if l.s != nil {
		l.s.Close()
	}
}

// reconnect replaces a dropped session, or says why it cannot.
func (l *syncLink) reconnect(ctx context.Context, a *app, cause error) error {
	var re *ble.RemoteError
	if l.redial == nil || l.retries <= 0 || ctx.Err() != nil || errors.As(cause, &re) || errors.Is(cause, ble.ErrNoChunking) {
		return cause
	}
	l.retries--
	l.close()
	l.s = nil
	fmt.Fprintf(a.stdout, "sync: link lost (%v); reconnecting (%d retries left)\n", cause, l.retries)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Second):
	}
	s, err := l.redial(ctx)
	if err != nil {
		return fmt.Errorf("reconnect: %w (after %v)", err, cause)
	}
	l.s = s
	return nil
}

// relay is the phone as courier (DESIGN.md §4.5): the door's pending
// bundle from the mailbox goes to the lock, and the lock's signed ack and
// event log go back to the cloud, in the BLE session already open and
// authenticated.
func (a *app) relay(ctx context.Context, s *ble.Session, door string) error {
	return a.relayVia(ctx, &syncLink{s: s}, door, residentCourier{a})
}

// relayVia is relay with the mailbox and reports of c: the resident's
// (/me/…) or a manager's (cmd/doorapp/staff.go).
func (a *app) relayVia(ctx context.Context, l *syncLink, door string, c courierAPI) error {
	start := time.Now()
	var box struct {
		list[mailboxItem]
		LogFrom map[string]uint64 `json:"log_from"`
	}
	if err := c.mailbox(ctx, door, &box); err != nil {
		return fmt.Errorf("mailbox: %w", err)
	}
	var ack []byte
	// The cloud says where its copy of the log ends. Without that (a door
	// the phone cannot open) it starts at the lock's oldest event: the
	// cloud skips what it holds, and nothing an outsider logged can push
	// the start past an event the cloud lacks.
	from := max(1, box.LogFrom[door])
	for _, it := range box.Items {
		if it.LockID != door {
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(it.Bundle)
		if err != nil {
			return err
		}
		kind := "delta"
		if it.Snapshot {
			kind = "snapshot"
		}
		ack, err = a.deliver(ctx, l, it, sealed)
		var re *ble.RemoteError
		switch {
		case errors.As(err, &re) && re.Ack != nil:
			ack = re.Ack
			fmt.Fprintf(a.stdout, "sync: lock refused the %s to version %d (%s); reporting where it stands\n", kind, it.Version, re.Message)
		case err != nil:
			return fmt.Errorf("deliver bundle: %w", err)
		default:
			fmt.Fprintf(a.stdout, "sync: delivered %s %d→%d (%d bytes)\n", kind, it.Base, it.Version, len(sealed))
		}
	}
	if ack == nil {
		fmt.Fprintln(a.stdout, "sync: nothing pending for this door")
	}
	report := map[string]any{"door_id": door}
	if ack != nil {
		report["ack"] = base64.StdEncoding.EncodeToString(ack)
	}
	events := 0
	for range 100 {
		batch, err := l.s.FetchLog(ctx, from)
		if err != nil && l.reconnect(ctx, a, err) == nil {
			batch, err = l.s.FetchLog(ctx, from)
		}
		if err != nil {
			return fmt.Errorf("fetch log: %w", err)
		}
		report["events"] = []string{base64.StdEncoding.EncodeToString(batch)}
		var out syncReport
		if err := c.report(ctx, door, report, &out); err != nil {
			return fmt.Errorf("sync report: %w", err)
		}
		if out.Ack != nil {
			fmt.Fprintf(a.stdout, "sync: lock acknowledged (%s), door at version %d\n", out.Ack.Status, out.Ack.AckedVersion)
		}
		delete(report, "ack")
		if len(out.Events) == 0 {
			break
		}
		r := out.Events[0]
		if r.Gap > 0 {
			fmt.Fprintf(a.stdout, "sync: %d lock events were missing before this log (flagged)\n", r.Gap)
		}
		events += r.Added
		if r.LogNext <= from {
			break
		}
		from = r.LogNext
	}
	fmt.Fprintf(a.stdout, "sync: uploaded %d lock events in %v\n", events, time.Since(start).Round(time.Millisecond))
	return nil
}

// deliver hands one bundle to the lock: in one message, or in chunks under
// its signed manifest, resuming after each dropped link while retries last.
func (a *app) deliver(ctx context.Context, l *syncLink, it mailboxItem, sealed []byte) ([]byte, error) {
	if it.Manifest == "" {
		return l.s.DeliverBundle(ctx, sealed)
	}
	manifest, err := base64.StdEncoding.DecodeString(it.Manifest)
	if err != nil {
		return nil, fmt.Errorf("mailbox manifest: %w", err)
	}
	start, last, attempt := time.Now(), time.Time{}, 0
	var progress, report func(next, total int)
	first := func(next, total int) {
		if attempt > 1 && next > 0 {
			fmt.Fprintf(a.stdout, "sync: bundle %d: the lock has %d of %d chunks; resuming\n", it.Version, next, total)
		}
		progress = report
		report(next, total)
	}
	report = func(next, total int) {
		if now := time.Now(); next == total || next == 0 || now.Sub(last) >= 5*time.Second {
			last = now
			fmt.Fprintf(a.stdout, "sync: bundle %d: chunk %d of %d (%d%%, %v)\n", it.Version, next, total, next*100/total, now.Sub(start).Round(time.Second))
		}
	}
	for {
		attempt++
		progress = first
		ack, err := l.s.DeliverChunked(ctx, manifest, sealed, func(next, total int) { progress(next, total) })
		if err == nil {
			return ack, nil
		}
		if rerr := l.reconnect(ctx, a, err); rerr != nil {
			return nil, rerr
		}
	}
}
