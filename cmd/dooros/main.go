// Command dooros is the DOOR OS cloud service and its admin CLI.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "dooros:", err)
		os.Exit(1)
	}
}

const usage = `usage: dooros <command> [flags]

commands:
  init     create the organisation and its first Portfolio Manager
  serve    run the API, console and background work
  migrate  apply database migrations and exit
  import   invite or edit people in bulk from a CSV file
  simulate exposure [--seed N]  revocation exposure under three courier models (no database)

Run "dooros <command> -h" for the flags of a command.`

// run is the whole program; main only calls it, so tests run it in-process.
// Asking for help (-h, --help) anywhere is a success: the flags are
// printed and the exit status is 0.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("missing command")
	}
	switch args[0] {
	case "init":
		return runInit(ctx, args[1:], getenv, stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runImport(ctx, args[1:], getenv, stdout, stderr)
	case "simulate":
		return runSimulate(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
