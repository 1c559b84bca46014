package locksim

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// ControlReply is one line of the control socket's answer.
type ControlReply struct {
	Granted    *bool  `json:"granted,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Credential string `json:"credential,omitempty"`
	PersonID   string `json:"person_id,omitempty"`
	// Ref is the credential serial, card serial or, for guest codes
	// computed on the lock (no person), the key id.
	Ref    string       `json:"ref,omitempty"`
	Seq    uint64       `json:"seq,omitempty"`
	Status *lock.Status `json:"status,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// ServeControl answers line commands — "keypad CODE", "card SERIAL [KEY]",
// "status" — with one JSON line each: the buttons of the simulated lock.
// KEY (base64) makes the tapped card a secure one that answers the lock's
// challenge with that key; without it the card shows its serial only.
func ServeControl(ctx context.Context, ln net.Listener, l *lock.Lock, log *slog.Logger) error {
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
				if err := enc.Encode(ControlCommand(l, sc.Text())); err != nil {
					log.Info("control connection closed", "err", err)
					return
				}
			}
		}()
	}
}

// ControlCommand runs one control line against the lock.
func ControlCommand(l *lock.Lock, line string) ControlReply {
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
		serial, key, secure := strings.Cut(arg, " ")
		card := lockproto.SimCard{UID: serial}
		if secure {
			if card.Key, err = base64.StdEncoding.DecodeString(strings.TrimSpace(key)); err != nil || len(card.Key) != lockproto.CardKeySize {
				return ControlReply{Error: fmt.Sprintf("card key must be %d bytes of base64", lockproto.CardKeySize)}
			}
		}
		d, err = l.PresentCard(card)
	case "status":
		s := l.Status()
		return ControlReply{Status: &s}
	default:
		return ControlReply{Error: fmt.Sprintf("unknown command %q (keypad CODE, card SERIAL [KEY], status)", cmd)}
	}
	if err != nil {
		return ControlReply{Error: err.Error()}
	}
	return ControlReply{Granted: &d.Granted, Reason: d.Reason, Credential: d.Credential, PersonID: d.PersonID, Ref: d.Ref, Seq: d.Seq}
}

// Ask sends one control line to a running lock and reads its answer.
func Ask(ctx context.Context, addr, line string) (*ControlReply, error) {
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
	var r ControlReply
	if err := json.NewDecoder(c).Decode(&r); err != nil {
		return nil, err
	}
	return &r, nil
}
