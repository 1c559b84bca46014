package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/dooros/dooros/domain"
)

func runInit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	var db dbFlags
	db.register(fs, getenv)
	org := fs.String("org", "", "organisation name (required)")
	email := fs.String("email", "", "email of the first Portfolio Manager (required)")
	password := fs.String("password", getenv("DOOROS_INIT_PASSWORD"), "password, at least 10 characters (required) [DOOROS_INIT_PASSWORD]")
	first := fs.String("first-name", "Portfolio", "first name")
	last := fs.String("last-name", "Manager", "last name")
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	if *org == "" || *email == "" || *password == "" {
		return fmt.Errorf("init needs --org, --email and --password")
	}
	st, err := db.open(ctx, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := st.Init(ctx, *org, domain.ManagerInput{Email: *email, Password: *password, FirstName: *first, LastName: *last})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created organisation %q and Portfolio Manager %s (%s)\n", *org, m.Email, m.ID)
	return nil
}

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var db dbFlags
	db.register(fs, getenv)
	if err := parse(fs, args, stderr); err != nil {
		return err
	}
	st, err := db.open(ctx, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "database is up to date")
	return st.Close()
}
