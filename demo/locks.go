package demo

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
)

// Lock is a demo door's simulated lock, running inside the server.
type Lock struct {
	Door domain.Door
	// BLE is the simulated Bluetooth link (doorapp unlock/sync --ble);
	// Control the keypad and card reader (doorlock keypad/card --control).
	BLE, Control string
	// MQTT: the lock is connected to the broker (an online door).
	MQTT bool
	// PublicKey is the lock's key, as the cloud certifies it to phones.
	PublicKey ed25519.PublicKey
	// Firmware is the running lock itself.
	Firmware *lock.Lock
}

// Locks are the demo's running simulated locks.
type Locks struct {
	Locks []Lock
	// Code is a doorcode to try at CodeDoor's keypad, Card a keycard
	// serial (both Ben Okafor's, while he has them).
	Code, CodeDoor, Card string

	sims []*locksim.Sim
}

// StartLocks provisions a lock for every demo door through Door Sync and
// runs it in this process, with its flash in memory (so every start
// provisions anew: the previous generation is invalidated). Online doors'
// locks connect to the broker Door Sync hands them, so they are in sync
// within a second of a change; offline doors listen on a loopback "BLE"
// port and learn changes when doorapp relays them.
func StartLocks(ctx context.Context, ds *doorsync.Service, res Result, log *slog.Logger) (*Locks, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	org, err := ds.Store.Organisation(ctx)
	if err != nil {
		return nil, err
	}
	sys := domain.System(org.ID, "DOOR OS demo")
	out := &Locks{}
	for _, d := range res.Doors {
		sim, online, err := startLock(ctx, ds, sys, d, log.With("door", d.Name))
		if err != nil {
			out.Close()
			return nil, fmt.Errorf("demo lock %s: %w", d.Name, err)
		}
		out.sims = append(out.sims, sim)
		out.Locks = append(out.Locks, Lock{Door: d, BLE: sim.BLEAddr, Control: sim.ControlAddr, MQTT: online, PublicKey: sim.Lock.PublicKey(), Firmware: sim.Lock})
	}
	// Something to type at a keypad.
	people, _, err := ds.Store.ListPeople(ctx, sys, res.Property.ID, domain.PeopleFilter{Query: "ben.okafor@"})
	if err == nil && len(people) == 1 {
		if v, err := ds.Store.Person(ctx, sys, res.Property.ID, people[0].ID); err == nil && v.Doorcode != "" {
			out.Code = v.Doorcode
			for _, d := range res.Doors {
				if d.Name == "Main Entrance" {
					out.CodeDoor = d.Name
				}
			}
		}
		if k, err := ds.Store.PersonKeycard(ctx, sys, res.Property.ID, people[0].ID); err == nil && k.Active {
			out.Card = k.Serial
		}
	}
	return out, nil
}

func startLock(ctx context.Context, ds *doorsync.Service, sys domain.Actor, d domain.Door, log *slog.Logger) (*locksim.Sim, bool, error) {
	p, err := ds.Provision(ctx, sys, d.PropertyID, d.ID)
	if err != nil {
		return nil, false, err
	}
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, p.Provisioning); err != nil {
		return nil, false, err
	}
	l, err := lock.Open(lock.Options{FS: fs, Logger: log})
	if err != nil {
		return nil, false, err
	}
	cfg := locksim.Config{Lock: l, Log: log}
	online := p.MQTTPassword != "" && p.MQTTURL != ""
	if online {
		cfg.MQTTURL, cfg.MQTTPassword = p.MQTTURL, p.MQTTPassword
	} else if d.Connectivity == domain.Online {
		log.Warn("demo lock of an online door runs without MQTT: no broker URL")
	}
	sim, err := locksim.Start(ctx, cfg)
	return sim, online, err
}

// Close stops every lock.
func (l *Locks) Close() error {
	if l == nil {
		return nil
	}
	var errs []error
	for _, s := range l.sims {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Print tells a newcomer where the locks are and how to open them.
func (l *Locks) Print(w io.Writer, baseURL string) {
	fmt.Fprintln(w, "Simulated locks (running in this server; re-provisioned at each start):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var offline *Lock
	for i, lk := range l.Locks {
		how := "offline: syncs through phones"
		if lk.MQTT {
			how = "online: MQTT"
		} else if offline == nil {
			offline = &l.Locks[i]
		}
		fmt.Fprintf(tw, "  %s\t%s\tBLE %s\tkeypad %s\tdoor %s\n", lk.Door.Name, how, lk.BLE, lk.Control, lk.Door.ID)
	}
	tw.Flush()
	ctl := func(name string) string {
		for _, lk := range l.Locks {
			if lk.Door.Name == name {
				return lk.Control
			}
		}
		return "ADDR"
	}
	fmt.Fprintln(w, "Try them:")
	if l.Code != "" {
		fmt.Fprintf(w, "  doorlock keypad --control %s %s     # Ben Okafor's doorcode at the %s\n", ctl(l.CodeDoor), l.Code, l.CodeDoor)
	} else {
		fmt.Fprintln(w, "  doorlock keypad --control KEYPAD CODE     # a doorcode from a person page")
	}
	if l.Card != "" {
		fmt.Fprintf(w, "  doorlock card --control %s %s     # Ben Okafor's keycard\n", ctl(l.CodeDoor), l.Card)
	}
	fmt.Fprintf(w, "  doorapp --server %s --state ./ana login --email ana.garcia@example.com     # the code arrives in the console's Mailbox\n", baseURL)
	if offline != nil {
		fmt.Fprintf(w, "  doorapp --server %s --state ./ana unlock --door %q --ble %s     # the unlock also syncs the door\n", baseURL, offline.Door.Name, offline.BLE)
	}
	fmt.Fprintln(w, "Revoke someone in the console: online doors refuse them within a second; offline doors after the next phone unlock there (see Door Sync and Revocation exposure).")
}
