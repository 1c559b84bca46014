// Package locksim runs a lock firmware (package lock) as a simulated
// device: the BLE link on a loopback TCP port, a control socket standing in
// for the keypad and card reader, and for an online lock its MQTT
// connection to the cloud. cmd/doorlock runs one per process; `dooros
// serve --demo` runs one per demo door inside the server.
package locksim

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto/ble"
)

// Config describes a simulated lock. Only Lock is required.
type Config struct {
	Lock *lock.Lock
	// BLEAddr and ControlAddr are the listen addresses of the simulated BLE
	// link and the keypad/card control socket; empty means a free
	// loopback port.
	BLEAddr, ControlAddr string
	// BLE is the link's MTU and rate (zero: the defaults of a real device).
	BLE ble.Config
	// MQTTURL makes the lock an online one: it connects to this broker
	// with its lock id and MQTTPassword. Empty: a Bluetooth-only lock.
	MQTTURL, MQTTPassword string
	Log                   *slog.Logger
}

// Sim is a running simulated lock.
type Sim struct {
	Lock *lock.Lock
	// BLEAddr and ControlAddr are where it listens.
	BLEAddr, ControlAddr string

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errs   chan error
	once   sync.Once
	err    error
}

// Start opens the lock's sockets and runs it until ctx ends or Close.
func Start(ctx context.Context, cfg Config) (*Sim, error) {
	if cfg.Lock == nil {
		return nil, errors.New("locksim: Config.Lock is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.BLE.Validate(); err != nil {
		return nil, err
	}
	orLoopback := func(a string) string {
		if a == "" {
			return "127.0.0.1:0"
		}
		return a
	}
	var lc net.ListenConfig
	bleLn, err := lc.Listen(ctx, "tcp", orLoopback(cfg.BLEAddr))
	if err != nil {
		return nil, err
	}
	ctlLn, err := lc.Listen(ctx, "tcp", orLoopback(cfg.ControlAddr))
	if err != nil {
		bleLn.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Sim{Lock: cfg.Lock, BLEAddr: bleLn.Addr().String(), ControlAddr: ctlLn.Addr().String(), cancel: cancel, errs: make(chan error, 3)}
	l, log := cfg.Lock, cfg.Log
	s.run(func() error { return ble.Serve(ctx, bleLn, BLEHandler(l), cfg.BLE, log) })
	s.run(func() error { return ServeControl(ctx, ctlLn, l, log) })
	if cfg.MQTTURL != "" {
		s.run(func() error { return RunMQTT(ctx, cfg.MQTTURL, cfg.MQTTPassword, l, log) })
	}
	return s, nil
}

func (s *Sim) run(f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil {
			s.errs <- err
			s.cancel() // one part failing stops the lock
		}
	}()
}

// Wait blocks until the lock stopped and returns the first failure (nil
// when it stopped because its context ended or Close was called).
func (s *Sim) Wait() error {
	s.once.Do(func() {
		s.wg.Wait()
		select {
		case s.err = <-s.errs:
		default:
		}
	})
	return s.err
}

// Close stops the lock and waits for it.
func (s *Sim) Close() error {
	s.cancel()
	return s.Wait()
}

// BLEHandler serves l on the simulated BLE link: each connection gets its
// own lock.Session.
func BLEHandler(l *lock.Lock) ble.Handler { return bleHandler{l} }

type bleHandler struct{ l *lock.Lock }

func (h bleHandler) OpenChannel(hello []byte) (ble.Channel, []byte, error) {
	s, reply, err := h.l.OpenSession(hello)
	if err != nil {
		return nil, nil, err
	}
	return s, reply, nil
}
