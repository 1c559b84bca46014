// Command doorapp is the DOOR App as a command-line program: it logs a
// resident in with an emailed code, keeps the phone's Ed25519 device key
// and its credentials in a state directory, shows keys and doorcodes,
// refreshes phone credentials and manages guests.
//
//	doorapp --server URL --state DIR login --email E [--code C]
//	doorapp keys | doorcode [reset] | credentials refresh | devices
//	doorapp guests list | invite … | revoke ID
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "doorapp:", err)
		os.Exit(1)
	}
}

const usage = `usage: doorapp [--server URL] [--state DIR] <command> [flags]

commands:
  login --email E [--code C] [--device-name N]   log in with the emailed code (asks for it on stdin without --code)
  logout                                         end this phone's session
  keys                                           my keys and doors, with windows and schedules
  doorcode                                       my doorcode(s)
  doorcode reset [--property P]                  a new doorcode (P: the property's name, when you have several)
  credentials refresh                            fetch new phone credentials (kept in the state directory)
  credentials show                               the stored credentials
  devices [remove ID]                            my phones
  guests list                                    guests I invited
  guests invite --email E --first F --last L --key KEY [--kind app|day_code|quarter_hour_code]
                [--starts T] [--expires T] [--day YYYY-MM-DD] [--property P]
                (KEY: a key's name; T: YYYY-MM-DD HH:MM in the property's time zone)
  guests revoke ID                               take a guest's access away
  unlock --door DOOR --ble ADDR [--no-sync]      open a door (DOOR: its name); relays its pending bundle and log (passive sync)
  sync --door DOOR --ble ADDR                    manual Door Sync of a door in Bluetooth range
       [--retries N] [--idle-timeout D]          (a large bundle goes in chunks: a dropped link is
                                                 reconnected N times, default 5, and resumed)
  staff login|doors|sync|logout                  managers: sync the property's doors (doorapp staff help)

The state directory (default ~/.doorapp) holds the device key, the session
token and credentials, readable by the owner only.`

// run is the whole program; main only calls it, so tests run it in-process.
// Asking for help (-h, --help) is a success, also after a command: the
// usage is printed to stdout and the exit status is 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	app, rest, err := newApp(args, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil // newApp printed the usage
	}
	if err != nil {
		return err
	}
	if len(rest) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("missing command")
	}
	cmd, cmdArgs := rest[0], rest[1:]
	if wantsHelp(cmdArgs) {
		fmt.Fprintln(stdout, commandUsage(cmd))
		return nil
	}
	if c, ok := commands[cmd]; ok {
		return c(ctx, app, cmdArgs)
	}
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// commands maps a command name to its implementation; the Door Sync
// commands (unlock, sync) slot in here.
var commands = map[string]func(ctx context.Context, a *app, args []string) error{
	"login":       cmdLogin,
	"logout":      cmdLogout,
	"keys":        cmdKeys,
	"doorcode":    cmdDoorcode,
	"credentials": cmdCredentials,
	"devices":     cmdDevices,
	"guests":      cmdGuests,
	"unlock":      cmdUnlock, // cmd/doorapp/unlock.go
	"sync":        cmdSync,   // cmd/doorapp/sync.go
	"staff":       cmdStaff,  // cmd/doorapp/staff.go
}

// wantsHelp reports a help flag among a command's arguments (before a
// "--" that ends the flags).
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// commandUsage is the part of the usage about one command (its lines and
// their continuation lines), or the whole usage for a command it does
// not list.
func commandUsage(cmd string) string {
	var out []string
	in := false
	for _, line := range strings.Split(usage, "\n") {
		switch {
		case strings.HasPrefix(line, "  "+cmd+" ") || line == "  "+cmd:
			in = true
		case strings.HasPrefix(line, "    "):
			// a continuation line keeps the current state
		default:
			in = false
		}
		if in {
			out = append(out, line)
		}
	}
	if len(out) == 0 {
		return usage
	}
	return "usage: doorapp [--server URL] [--state DIR] <command> [flags]\n\n" + strings.Join(out, "\n")
}
