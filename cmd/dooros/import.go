package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
)

// runImport is `dooros import --property P [--dry-run] [--as EMAIL] FILE`:
// it queues the file as an import job, runs it in this process (or
// follows it when a running server's worker got it first) with a progress
// bar on stderr, prints the row-by-row report, and fails when any row was
// refused.
func runImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var db dbFlags
	db.register(fs, getenv)
	property := fs.String("property", "", "property id (required)")
	dryRun := fs.Bool("dry-run", false, "report what the import would do, row by row, and change nothing")
	as := fs.String("as", "", "act as the manager with this email (default: the first Portfolio Manager)")
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: dooros import --property ID [--dry-run] [--as EMAIL] FILE.csv")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *property == "" || fs.NArg() != 1 {
		fs.Usage()
		return fmt.Errorf("import needs --property and one FILE")
	}
	file := fs.Arg(0)
	content, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	st, err := db.open(ctx, slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	defer st.Close()
	a, err := st.ManagerActor(ctx, *as)
	if err != nil {
		return err
	}
	job, err := imports.Submit(ctx, st, a, *property, filepath.Base(file), content, *dryRun)
	if err != nil {
		return err
	}
	bar := &progressBar{w: stderr}
	r := &imports.Runner{Store: st, Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Progress: bar.show}
	ran, done, err := r.RunJob(ctx, job.ID)
	if err != nil {
		bar.end()
		return err
	}
	if !ran {
		// A `dooros serve` worker claimed it first: follow its progress.
		for done = job; done.Status == store.ImportQueued || done.Status == store.ImportRunning; {
			select {
			case <-ctx.Done():
				bar.end()
				return ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
			if done, err = st.Import(ctx, a, *property, job.ID); err != nil {
				bar.end()
				return err
			}
			bar.show(done)
		}
	}
	bar.end()
	if err := printImportReport(ctx, st, a, done, stdout); err != nil {
		return err
	}
	switch {
	case done.Status == store.ImportFailed:
		return fmt.Errorf("import failed: %s", done.Error)
	case done.Counts.Refused > 0:
		return fmt.Errorf("%d of %d rows refused", done.Counts.Refused, done.ProcessedRows)
	}
	return nil
}

// progressBar redraws one line in place.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func (b *progressBar) show(j store.ImportJob) {
	const width = 30
	n := int(j.Progress * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d rows  created %d  changed %d  unchanged %d  refused %d ",
		strings.Repeat("#", n), strings.Repeat("-", width-n), j.Progress*100, j.ProcessedRows, j.TotalRows,
		j.Counts.Created, j.Counts.Changed, j.Counts.Unchanged, j.Counts.Refused)
	b.drawn = true
}

func (b *progressBar) end() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

func printImportReport(ctx context.Context, st *store.Store, a domain.Actor, j store.ImportJob, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROW\tOUTCOME\tEMAIL\tCOLUMN\tREASON")
	cursor := ""
	for {
		rows, next, err := st.ImportRows(ctx, a, j.PropertyID, j.ID, "", cursor, 1000)
		if err != nil {
			return err
		}
		for _, r := range rows {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", r.Row, r.Outcome, r.Email, r.Column, r.Reason)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	mode := ""
	if j.DryRun {
		mode = " (dry run: nothing was changed)"
	}
	fmt.Fprintf(out, "%s: %d rows, %d created, %d changed, %d unchanged, %d refused%s\n", j.Status, j.ProcessedRows,
		j.Counts.Created, j.Counts.Changed, j.Counts.Unchanged, j.Counts.Refused, mode)
	return nil
}

// newSyncer builds the process's one PMS syncer, shared by the API, the
// console and the scheduler. Every field its defaults would fill is set
// here, so concurrent callers only read it.
func newSyncer(st *store.Store, log *slog.Logger, pmsDir string) *imports.Syncer {
	return imports.NewSyncer(st, log.With("worker", "pms"), pmsDir)
}

// startBulk starts the CSV import worker and the PMS User Sync scheduler
// (and watched folder, when the syncer has one); the returned function
// stops both and waits, so a running import hands its job back before the
// database closes.
func startBulk(ctx context.Context, st *store.Store, log *slog.Logger, syncer *imports.Syncer) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() {
		(&imports.Runner{Store: st, Log: log.With("worker", "import")}).Run(ctx)
		done <- struct{}{}
	}()
	go func() {
		syncer.Run(ctx)
		done <- struct{}{}
	}()
	if syncer.Dir != "" {
		log.Info("PMS watched folder", "dir", syncer.Dir)
	}
	return func() { cancel(); <-done; <-done }
}
