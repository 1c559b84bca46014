package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/dooros/dooros/store"
)

// dbFlags are shared by every command that opens the database.
type dbFlags struct {
	data string
	db   string
}

func (f *dbFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.data, "data", envOr(getenv, "DOOROS_DATA", "./dooros-data"), "data directory (SQLite file, mailbox, keys) [DOOROS_DATA]")
	fs.StringVar(&f.db, "db", getenv("DOOROS_DB"), "database: postgres://… URL; default is a SQLite file under --data [DOOROS_DB]")
}

func (f *dbFlags) dsn() string {
	if f.db != "" {
		return f.db
	}
	return filepath.Join(f.data, "dooros.db")
}

func (f *dbFlags) open(ctx context.Context, log *slog.Logger) (*store.Store, error) {
	st, err := store.Open(ctx, f.dsn(), log)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// parse parses flags, printing usage errors to stderr, and refuses
// positional leftovers so a typo is not silently ignored.
func parse(fs *flag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}
