// Package imports runs bulk provisioning for DOOR OS: CSV invite/edit jobs
// and PMS User Sync. It is the application layer between the transports
// (API, CLI, watched folder, scheduler) and the store: it reads files with
// csvio and pms, and hands rows and plans to store use cases, which apply
// them with the same rules, Activity, doorcodes, door sync work and emails
// as a manager's single change.
package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// MaxFileSize is the largest CSV file accepted (20 MB).
const MaxFileSize = 20 << 20

// Check reads a whole upload before anything is stored: the header must be
// usable, the text UTF-8, and there must be at least one data row. It
// returns the number of data rows (good and bad) for progress reporting.
// Bad rows are not an error here: the job reports them row by row.
func Check(content []byte, loc *time.Location) (int, error) {
	switch {
	case len(content) == 0:
		return 0, domain.FieldError("file", "the file is empty")
	case len(content) > MaxFileSize:
		return 0, domain.FieldError("file", "the file is larger than %d MB; split it into several files", MaxFileSize>>20)
	}
	ir, err := csvio.NewImportReader(bytes.NewReader(content), loc)
	if err != nil {
		return 0, domain.FieldError("file", "%s", err.Error())
	}
	body := bytes.TrimPrefix(content, []byte("\uFEFF"))
	if !utf8.Valid(body) {
		return 0, domain.FieldError("file", "the file is not UTF-8 text; save it as \"CSV UTF-8\"")
	}
	if bytes.IndexByte(body, 0) >= 0 {
		return 0, domain.FieldError("file", "the file contains NUL bytes; it is not a CSV text file")
	}
	n := 0
	for {
		_, _, err := ir.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, domain.FieldError("file", "unreadable: %v", err)
		}
		n++
	}
	if n == 0 {
		return 0, domain.FieldError("file", "the file has a header but no rows")
	}
	return n, nil
}

// Submit checks a CSV file and queues it as an import job of the property
// on behalf of a (the worker applies it; see Runner).
func Submit(ctx context.Context, st *store.Store, a domain.Actor, propertyID, fileName string, content []byte, dryRun bool) (store.ImportJob, error) {
	p, err := st.Property(ctx, a, propertyID)
	if err != nil {
		return store.ImportJob{}, err
	}
	if err := a.Can(propertyID, domain.PermPeople); err != nil {
		return store.ImportJob{}, err
	}
	n, err := Check(content, p.Location())
	if err != nil {
		return store.ImportJob{}, err
	}
	return st.CreateImport(ctx, a, propertyID, fileName, content, n, dryRun)
}

// Runner is the import job worker. Several runners (in several `dooros
// serve` processes) may share one database: a job is claimed by one of
// them with a lease, and a job whose runner died is resumed by another
// from its last committed row.
type Runner struct {
	Store *store.Store
	Log   *slog.Logger
	// WorkerID names this runner in job claims; default host:pid:random.
	WorkerID string
	// BatchRows and BatchTime bound one transaction (default 1,000 rows,
	// 200 ms): SQLite has one writer, and the console must not wait on a
	// whole import. New people are written together (a 1,000-row batch of
	// invites takes about 80 ms on SQLite); rows that go one by one (edits)
	// are cut by BatchTime first.
	BatchRows int
	BatchTime time.Duration
	// Pause is the time between batches (default 5 ms; negative: none) in
	// which other writers get the database.
	Pause time.Duration
	// Poll is how often an idle runner looks for jobs (default 1 s).
	Poll time.Duration
	// Progress, when set, is called after every committed batch.
	Progress func(store.ImportJob)
	// PMSBatchSteps bounds the steps of one PMS sync transaction (default
	// 100; BatchTime bounds it too).
	PMSBatchSteps int
	// PMSProgress, when set, is called after every committed batch of a
	// PMS sync run.
	PMSProgress func(store.PMSRun)
}

func (r *Runner) defaults() {
	if r.Log == nil {
		r.Log = slog.New(slog.DiscardHandler)
	}
	if r.WorkerID == "" {
		host, _ := os.Hostname()
		r.WorkerID = host + ":" + strconv.Itoa(os.Getpid()) + ":" + domain.NewID("w")
	}
	if r.BatchRows <= 0 {
		r.BatchRows = 1000
	}
	if r.BatchTime <= 0 {
		r.BatchTime = 200 * time.Millisecond
	}
	if r.Pause == 0 {
		r.Pause = 5 * time.Millisecond
	}
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
}

// Run processes jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	r.defaults()
	for {
		did, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			r.Log.Error("import worker", "err", err)
		}
		if did && err == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(r.Poll):
		}
	}
}

// RunOnce claims one job — a CSV import, else a PMS sync run — and
// processes it; false when there was none.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	r.defaults()
	job, err := r.Store.ClaimImport(ctx, r.WorkerID)
	if err != nil {
		return false, err
	}
	if job != nil {
		_, err = r.Process(ctx, *job)
		return true, err
	}
	run, err := r.Store.ClaimPMSRun(ctx, r.WorkerID)
	if err != nil || run == nil {
		return false, err
	}
	_, err = r.processPMS(ctx, *run)
	return true, err
}

// Drain processes jobs until none is ready (tests, the CLI).
func (r *Runner) Drain(ctx context.Context) error {
	for {
		did, err := r.RunOnce(ctx)
		if err != nil || !did {
			return err
		}
	}
}

// RunJob claims the job with this id and processes it; false when another
// worker holds it or it has ended.
func (r *Runner) RunJob(ctx context.Context, id string) (bool, store.ImportJob, error) {
	r.defaults()
	job, err := r.Store.ClaimImportByID(ctx, id, r.WorkerID)
	if err != nil || job == nil {
		return false, store.ImportJob{}, err
	}
	out, err := r.Process(ctx, *job)
	return true, out, err
}

// Process applies a job this runner has claimed, from the row after its
// last committed one. When ctx ends it hands the job back for another
// worker and returns ctx's error.
func (r *Runner) Process(ctx context.Context, job store.ImportJob) (store.ImportJob, error) {
	r.defaults()
	log := r.Log.With("import", job.ID, "property", job.PropertyID)
	fail := func(reason string) (store.ImportJob, error) {
		log.Warn("import failed", "reason", reason)
		return r.Store.FinishImport(context.WithoutCancel(ctx), job.ID, r.WorkerID, reason)
	}
	content, err := r.Store.ImportContent(ctx, job.ID)
	if err != nil {
		return job, err
	}
	prop, err := r.Store.PropertyByID(ctx, job.PropertyID)
	if err != nil {
		return job, err
	}
	ir, err := csvio.NewImportReader(bytes.NewReader(content), prop.Location())
	if err != nil {
		return fail(err.Error())
	}
	if job.NextRow > 1 {
		log.Info("import resumed", "after_row", job.NextRow)
	}
	batch := make([]store.ImportItem, 0, r.BatchRows)
	flush := func() error {
		for len(batch) > 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			n, next, err := r.Store.ApplyImportBatch(ctx, job.ID, r.WorkerID, batch, r.BatchTime)
			if err != nil {
				return err
			}
			job = next
			batch = append(batch[:0], batch[n:]...)
			if r.Progress != nil {
				r.Progress(job)
			}
			// Let the console and other writers in between batches.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(max(r.Pause, 0)):
			}
		}
		return nil
	}
	for {
		row, errs, err := ir.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail(fmt.Sprintf("file unreadable: %v", err))
		}
		it := store.ImportItem{Data: row, Errors: errs}
		if row != nil {
			it.Row = row.Row
		} else if len(errs) > 0 {
			it.Row = errs[0].Row
		}
		if it.Row <= job.NextRow {
			continue // applied before a restart
		}
		batch = append(batch, it)
		if len(batch) >= r.BatchRows {
			if err := flush(); err != nil {
				return r.stop(ctx, job, err)
			}
		}
	}
	if err := flush(); err != nil {
		return r.stop(ctx, job, err)
	}
	out, err := r.Store.FinishImport(ctx, job.ID, r.WorkerID, "")
	if err == nil {
		log.Info("import done", "rows", out.ProcessedRows, "created", out.Counts.Created, "changed", out.Counts.Changed,
			"unchanged", out.Counts.Unchanged, "refused", out.Counts.Refused, "dry_run", out.DryRun)
		if r.Progress != nil {
			r.Progress(out)
		}
	}
	return out, err
}

// stop ends processing after an error: a cancelled runner hands the job
// back; a lost lease leaves it to its new worker.
func (r *Runner) stop(ctx context.Context, job store.ImportJob, err error) (store.ImportJob, error) {
	if ctx.Err() != nil {
		if rerr := r.Store.ReleaseImport(context.WithoutCancel(ctx), job.ID, r.WorkerID); rerr != nil {
			r.Log.Error("import release", "import", job.ID, "err", rerr)
		}
		return job, ctx.Err()
	}
	var de *domain.Error
	if errors.As(err, &de) {
		// The job as a whole is refused (its manager lost the property,
		// the property is gone): retrying cannot help.
		r.Log.Warn("import failed", "import", job.ID, "reason", de.Error())
		return r.Store.FinishImport(context.WithoutCancel(ctx), job.ID, r.WorkerID, de.Error())
	}
	return job, err
}
