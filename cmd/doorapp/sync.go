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

// cmdSync is the manual Door Sync: hand the lock its pending bundle, fetch
// its log, upload both.
func cmdSync(ctx context.Context, a *app, args []string) error {
	var door, addr string
	var rate int
	fs, err := subFlags(a, "sync", args, func(fs *flag.FlagSet) { bleFlags(fs, &door, &addr, &rate) })
	if err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if door == "" || addr == "" {
		return errors.New("sync: --door NAME and --ble ADDR are required")
	}
	if door, err = a.doorID(ctx, door); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// A Door Sync proves a credential without opening the door: the lock
	// hands its log and takes bundles only from a phone that holds a valid
	// credential for it, its own or a courier's (cmd/doorapp/courier.go).
	s, err := a.syncSession(ctx, door, addr, rate)
	if err != nil {
		return err
	}
	defer s.Close()
	return a.relay(ctx, s, door)
}

// relay is the phone as courier (DESIGN.md §4.5): the door's pending
// bundle from the mailbox goes to the lock, and the lock's signed ack and
// event log go back to the cloud, in the BLE session already open and
// authenticated.
func (a *app) relay(ctx context.Context, s *ble.Session, door string) error {
	return a.relayVia(ctx, s, door, residentCourier{a})
}

// relayVia is relay with the mailbox and reports of c: the resident's
// (/me/…) or a manager's (cmd/doorapp/staff.go).
func (a *app) relayVia(ctx context.Context, s *ble.Session, door string, c courierAPI) error {
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
		ack, err = s.DeliverBundle(ctx, sealed)
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
		batch, err := s.FetchLog(ctx, from)
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
