// Command doorlock is the lock firmware running as a simulator process: the
// lock package behind a simulated BLE link (loopback TCP) and a control
// socket standing in for the keypad and card reader.
//
//	doorlock provision --state DIR FILE
//	doorlock run --state DIR --ble 127.0.0.1:PORT --control 127.0.0.1:PORT [--mtu 185] [--rate 2048]
//	doorlock fleet --server URL --locks N [--revocations R]
//	doorlock keypad --control ADDR CODE
//	doorlock card --control ADDR [--key KEY] SERIAL
//	doorlock status --control ADDR
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "doorlock:", err)
		os.Exit(1)
	}
}
