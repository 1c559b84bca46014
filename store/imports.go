package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
)

// Import job statuses and row outcomes.
const (
	ImportQueued  = "queued"
	ImportRunning = "running"
	ImportDone    = "done"
	ImportFailed  = "failed"

	OutcomeCreated   = "created"
	OutcomeChanged   = "changed"
	OutcomeUnchanged = "unchanged"
	OutcomeRefused   = "refused"
)

// ImportLease is how long a claimed job stays with its worker without a
// batch commit; a worker that died gives the job up by timing out.
const ImportLease = 2 * time.Minute

// importMaxAttempts: a job claimed this many times without finishing (a
// worker crashing on it) is marked failed instead of crashing the next one.
const importMaxAttempts = 5

// ErrLostLease is returned when another worker took over a job — a CSV
// import or a PMS sync run — because this one stalled longer than the
// lease; nothing of the batch was written.
var ErrLostLease = errors.New("store: the job was claimed by another worker")

// ImportCounts counts rows by outcome.
type ImportCounts struct {
	Created   int `json:"created"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Refused   int `json:"refused"`
}

// ImportJob is one CSV upload being (or having been) applied.
type ImportJob struct {
	ID            string       `json:"id"`
	PropertyID    string       `json:"property_id"`
	FileName      string       `json:"file_name"`
	Status        string       `json:"status"`
	DryRun        bool         `json:"dry_run"`
	TotalRows     int          `json:"total_rows"`
	ProcessedRows int          `json:"processed_rows"`
	Progress      float64      `json:"progress"`
	Counts        ImportCounts `json:"counts"`
	Error         string       `json:"error"`
	CreatedBy     string       `json:"created_by"`
	CreatedAt     time.Time    `json:"created_at"`
	StartedAt     *time.Time   `json:"started_at"`
	FinishedAt    *time.Time   `json:"finished_at"`

	ActorID  string `json:"-"`
	NextRow  int    `json:"-"` // last spreadsheet row applied
	WorkerID string `json:"-"`
}

// ImportRowResult is what happened to one row (a refused row has one
// result per reason).
type ImportRowResult struct {
	Row      int    `json:"row"`
	Email    string `json:"email"`
	Outcome  string `json:"outcome"`
	Column   string `json:"column"`
	Reason   string `json:"reason"`
	PersonID string `json:"person_id"`
}

// ImportItem is one record of the file as the parser saw it: a row, or
// the reasons it refused the row.
type ImportItem struct {
	Row    int
	Data   *csvio.Row
	Errors []csvio.RowError
}

const importCols = `id, property_id, file_name, status, dry_run, total_rows, processed_rows, next_row,
	created_count, changed_count, unchanged_count, refused_count, error, actor_id, actor_name, worker_id,
	created_at, started_at, finished_at`

func scanImport(sc rowScanner) (ImportJob, error) {
	var j ImportJob
	var created int64
	var started, finished sql.NullInt64
	err := sc.Scan(&j.ID, &j.PropertyID, &j.FileName, &j.Status, &j.DryRun, &j.TotalRows, &j.ProcessedRows, &j.NextRow,
		&j.Counts.Created, &j.Counts.Changed, &j.Counts.Unchanged, &j.Counts.Refused, &j.Error, &j.ActorID, &j.CreatedBy, &j.WorkerID,
		&created, &started, &finished)
	j.CreatedAt, j.StartedAt, j.FinishedAt = fromMicros(created), timePtr(started), timePtr(finished)
	if j.TotalRows > 0 {
		j.Progress = float64(j.ProcessedRows) / float64(j.TotalRows)
	} else if j.Status == ImportDone {
		j.Progress = 1
	}
	return j, err
}

// CreateImport queues a checked CSV file (totalRows data rows) for the
// import worker, on behalf of a manager with Key Management. Rows are
// checked against the manager's permissions when they are applied.
func (s *Store) CreateImport(ctx context.Context, a domain.Actor, propertyID, fileName string, content []byte, totalRows int, dryRun bool) (ImportJob, error) {
	var out ImportJob
	err := s.inTx(ctx, "create_import", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		id := domain.NewID("imp")
		if _, err := t.exec(ctx, `INSERT INTO import_jobs (id, property_id, actor_id, actor_name, file_name, content, dry_run, status, total_rows, created_at)
			VALUES (?,?,?,?,?,?,?,?,?,?)`, id, propertyID, a.ManagerID, a.Name, truncate(fileName, 200),
			"", dryRun, ImportQueued, totalRows, micros(s.Now())); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO import_contents (job_id, content) VALUES (?,?)`, id, base64.StdEncoding.EncodeToString(content)); err != nil {
			return err
		}
		var err error
		out, err = scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ?`, id))
		return err
	})
	return out, err
}

// Import returns one job of a property.
func (s *Store) Import(ctx context.Context, a domain.Actor, propertyID, id string) (ImportJob, error) {
	var out ImportJob
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		var err error
		out, err = scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ? AND property_id = ?`, id, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "import %s not found", id)
		}
		return err
	})
	return out, err
}

// ListImports lists a property's jobs, newest first.
func (s *Store) ListImports(ctx context.Context, a domain.Actor, propertyID, cursor string, limit int) ([]ImportJob, string, error) {
	var out []ImportJob
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		limit = pageLimit(limit, maxLogPage)
		var err error
		out, next, err = newestFirst(ctx, t, `SELECT `+importCols+` FROM import_jobs WHERE property_id = ?`, []any{propertyID},
			"created_at", cursor, limit, scanImport,
			func(j ImportJob) time.Time { return j.CreatedAt }, func(j ImportJob) string { return j.ID })
		return err
	})
	return out, next, err
}

// ImportRows lists a job's row results in row order; outcome filters when
// set.
func (s *Store) ImportRows(ctx context.Context, a domain.Actor, propertyID, id, outcome, cursor string, limit int) ([]ImportRowResult, string, error) {
	var out []ImportRowResult
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM import_jobs WHERE id = ? AND property_id = ?`, id, propertyID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return domain.Errorf(domain.ENotFound, "import %s not found", id)
		}
		limit = pageLimit(limit, maxLogPage)
		q := `SELECT row_num, seq, email, outcome, column_name, reason, person_id FROM import_rows WHERE job_id = ?`
		args := []any{id}
		switch outcome {
		case "":
		case OutcomeCreated, OutcomeChanged, OutcomeUnchanged, OutcomeRefused:
			q += ` AND outcome = ?`
			args = append(args, outcome)
		default:
			return domain.FieldError("outcome", "%q is not one of created, changed, unchanged, refused", outcome)
		}
		if cursor != "" {
			r, sq, err := decodeIntCursor(cursor)
			seq, perr := strconv.Atoi(sq)
			if err != nil || perr != nil {
				return domain.FieldError("cursor", "is not a cursor this server issued")
			}
			q += ` AND (row_num > ? OR (row_num = ? AND seq > ?))`
			args = append(args, r, r, seq)
		}
		q += ` ORDER BY row_num, seq LIMIT ?`
		rows, err := t.query(ctx, q, append(args, limit+1)...)
		type seqRow struct {
			ImportRowResult
			seq int
		}
		got, err := collect(rows, err, func(sc rowScanner) (seqRow, error) {
			var r seqRow
			err := sc.Scan(&r.Row, &r.seq, &r.Email, &r.Outcome, &r.Column, &r.Reason, &r.PersonID)
			return r, err
		})
		if err != nil {
			return err
		}
		got, next = page(got, limit, func(r seqRow) (string, string) { return strconv.Itoa(r.Row), strconv.Itoa(r.seq) })
		out = make([]ImportRowResult, len(got))
		for i, r := range got {
			out[i] = r.ImportRowResult
		}
		return nil
	})
	return out, next, err
}

// ClaimImport claims the oldest job that is queued, or running with an
// expired lease (its worker died), for workerID. It returns nil when there
// is none. On PostgreSQL the row is claimed with FOR UPDATE SKIP LOCKED, so
// several `dooros serve` instances never run one job at once.
func (s *Store) ClaimImport(ctx context.Context, workerID string) (*ImportJob, error) {
	return s.claimImport(ctx, workerID, "")
}

// ClaimImportByID claims one job (the CLI runs the job it just created);
// nil when another worker holds it or it has ended.
func (s *Store) ClaimImportByID(ctx context.Context, id, workerID string) (*ImportJob, error) {
	return s.claimImport(ctx, workerID, id)
}

func (s *Store) claimImport(ctx context.Context, workerID, id string) (*ImportJob, error) {
	var out *ImportJob
	err := s.inTx(ctx, "claim_import", func(t *Tx) error {
		out = nil
		jobID, err := t.claimJob(ctx, importJobs, workerID, id)
		if err != nil || jobID == "" {
			return err
		}
		j, err := scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ?`, jobID))
		if err != nil {
			return err
		}
		out = &j
		return nil
	})
	return out, err
}

// jobTable is a table of background jobs (CSV imports, PMS sync runs) that
// the job runner claims with a lease: one claim, renewal, release and
// give-up serve both, so the two kinds of job resume and fail alike.
// Columns every job table has: id, status, worker_id, lease_until,
// attempts, started_at, finished_at, error.
type jobTable struct {
	name  string
	lease time.Duration
	// input is the column holding the job's input, emptied when it ends;
	// drop deletes input kept in another table (job id as its argument).
	input, drop string
	// where narrows the claimable rows (a PMS run waits for the older
	// runs of its property).
	where string
	// order picks the oldest claimable job.
	order string
}

var importJobs = jobTable{name: "import_jobs", lease: ImportLease, drop: `DELETE FROM import_contents WHERE job_id = ?`, order: "created_at, id"}

// claimJob claims the oldest job of jt that is queued, or running with an
// expired lease (its worker died), for workerID (only job id when id is
// set); "" when there is none. On PostgreSQL the row is taken with FOR
// UPDATE SKIP LOCKED, so several instances never claim one job. A job
// claimed importMaxAttempts times without finishing is failed instead.
func (t *Tx) claimJob(ctx context.Context, jt jobTable, workerID, id string) (string, error) {
	now := t.s.Now()
	q := `SELECT id, attempts FROM ` + jt.name + ` j WHERE (status = ? OR (status = ? AND lease_until < ?))` + jt.where
	args := []any{ImportQueued, ImportRunning, micros(now)}
	if id != "" {
		q += ` AND id = ?`
		args = append(args, id)
	}
	q += ` ORDER BY ` + jt.order + ` LIMIT 1` + t.skipLocked()
	var jobID string
	var attempts int
	err := t.queryRow(ctx, q, args...).Scan(&jobID, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if attempts >= importMaxAttempts {
		if _, err := t.exec(ctx, `UPDATE `+jt.name+` SET status = ?, error = ?, `+jt.clearInput()+`finished_at = ?, lease_until = NULL WHERE id = ?`,
			ImportFailed, fmt.Sprintf("gave up after %d attempts", attempts), micros(now), jobID); err != nil {
			return "", err
		}
		return "", t.dropInput(ctx, jt, jobID)
	}
	_, err = t.exec(ctx, `UPDATE `+jt.name+` SET status = ?, worker_id = ?, lease_until = ?, attempts = attempts + 1,
		started_at = COALESCE(started_at, ?) WHERE id = ?`, ImportRunning, workerID, micros(now.Add(jt.lease)), micros(now), jobID)
	return jobID, err
}

// releaseJob hands a running job back (a worker shutting down), so another
// worker resumes it without waiting for the lease to run out; the claim
// does not count as an attempt.
func (s *Store) releaseJob(ctx context.Context, jt jobTable, id, workerID string) error {
	return s.inTx(ctx, "release_job", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE `+jt.name+` SET lease_until = ?, attempts = attempts - 1 WHERE id = ? AND worker_id = ? AND status = ?`,
			micros(s.Now().Add(-time.Microsecond)), id, workerID, ImportRunning)
		return err
	})
}

// finishJob ends a running job held by workerID: done, or failed with a
// reason; its input is dropped.
func (t *Tx) finishJob(ctx context.Context, jt jobTable, id, workerID, failure string) error {
	status := ImportDone
	if failure != "" {
		status = ImportFailed
	}
	res, err := t.exec(ctx, `UPDATE `+jt.name+` SET status = ?, error = ?, `+jt.clearInput()+`finished_at = ?, lease_until = NULL
		WHERE id = ? AND worker_id = ? AND status = ?`, status, truncate(failure, 500), micros(t.s.Now()), id, workerID, ImportRunning)
	if err != nil {
		return err
	}
	if err := leaseHeld(res); err != nil {
		return err
	}
	return t.dropInput(ctx, jt, id)
}

// clearInput is the SET clause that empties the job's input column.
func (jt jobTable) clearInput() string {
	if jt.input == "" {
		return ""
	}
	return jt.input + ` = '', `
}

// dropInput deletes a job's input kept in another table.
func (t *Tx) dropInput(ctx context.Context, jt jobTable, id string) error {
	if jt.drop == "" {
		return nil
	}
	_, err := t.exec(ctx, jt.drop, id)
	return err
}

// ImportContent returns the uploaded file of a job.
func (s *Store) ImportContent(ctx context.Context, id string) ([]byte, error) {
	var enc string
	if err := s.queryRow(ctx, `SELECT content FROM import_contents WHERE job_id = ?`, id).Scan(&enc); err != nil {
		return nil, s.mapErr(err)
	}
	return base64.StdEncoding.DecodeString(enc)
}

// ReleaseImport hands a running job back (a worker shutting down), so
// another worker resumes it without waiting for the lease to run out.
func (s *Store) ReleaseImport(ctx context.Context, id, workerID string) error {
	return s.releaseJob(ctx, importJobs, id, workerID)
}

// FinishImport ends a job: done, or failed with a reason. The uploaded
// file is dropped (the row results stay).
func (s *Store) FinishImport(ctx context.Context, id, workerID, failure string) (ImportJob, error) {
	var out ImportJob
	err := s.inTx(ctx, "finish_import", func(t *Tx) error {
		if err := t.finishJob(ctx, importJobs, id, workerID, failure); err != nil {
			return err
		}
		var err error
		out, err = scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ?`, id))
		return err
	})
	if err == nil && !out.DryRun {
		s.analyzeAfterBulk(ctx, out.Counts.Created)
	}
	return out, err
}

// analyzeAfterBulkRows: after a job created at least this many people,
// PostgreSQL's statistics of the tables it grew are refreshed.
const analyzeAfterBulkRows = 1000

// analyzeAfterBulk refreshes PostgreSQL's planner statistics of the
// tables a bulk job (CSV import, PMS sync) grew, when it created at least
// analyzeAfterBulkRows people (at the end of the job, and during an import:
// analyzeDue). Autovacuum would do it later (or never,
// where it is off); until then a planner that still believes `people`
// is nearly empty may scan it for Invite's email check, which made
// invites crawl at 100,000 people. SQLite plans from its indexes without
// statistics and is left alone (its People plans are chosen for that).
// A failure is logged, not returned: the job is done either way.
func (s *Store) analyzeAfterBulk(ctx context.Context, created int) {
	if s.dialect != Postgres || created < analyzeAfterBulkRows {
		return
	}
	if _, err := s.db.ExecContext(context.WithoutCancel(ctx), `ANALYZE people, grants, doorcodes`); err != nil {
		s.log.Warn("analyze after bulk job", "err", err)
	}
}

// importEnv is what every row of a batch needs.
type importEnv struct {
	a     domain.Actor
	prop  domain.Property
	keys  map[string]domain.Key // lower-cased name → key
	byID  map[string]domain.Key // id → key
	units map[string]string     // lower-cased name → unit id
}

// ApplyImportBatch applies items (in file order, after the job's last
// applied row) in one transaction, for at most budget (at least one item;
// past the budget, it still takes the rows whose people it has looked up
// and that need no statement of their own: see importBatch.paidFor), and
// returns how many it consumed. Rows get the outcome and writes of the
// same use cases as the API (Invite, GiveKey, UpdatePerson): new people
// are planned by the invite's rules and written together, rows that change
// nothing are answered without writing, and the rest (edits, repeated
// emails, a bulk write the database refused) run one by one, each in its
// own savepoint, so a refused row leaves nothing behind and the others go
// in (importBatch). The rows' results and the job's progress commit with
// them. A dry run rolls the rows' changes back and keeps only the results.
func (s *Store) ApplyImportBatch(ctx context.Context, jobID, workerID string, items []ImportItem, budget time.Duration) (int, ImportJob, error) {
	used, job, err := s.applyImportBatch(ctx, jobID, workerID, items, budget, importRowByRow.Load())
	var refused *bulkRefused
	if errors.As(err, &refused) {
		s.log.Info("import batch redone row by row", "import", jobID, "reason", refused.err.Error())
		used, job, err = s.applyImportBatch(ctx, jobID, workerID, items, budget, true)
	}
	return used, job, err
}

func (s *Store) applyImportBatch(ctx context.Context, jobID, workerID string, items []ImportItem, budget time.Duration, rowByRow bool) (int, ImportJob, error) {
	var job ImportJob
	var used, createdBefore int
	err := s.inTx(ctx, "import_batch", func(t *Tx) error {
		used = 0
		now := s.Now()
		var err error
		job, err = scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ?`+t.forUpdate(), jobID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "import %s not found", jobID)
		}
		if err != nil {
			return err
		}
		createdBefore = job.Counts.Created
		if job.Status != ImportRunning || job.WorkerID != workerID {
			return ErrLostLease
		}
		env, err := t.importEnv(ctx, job)
		if err != nil {
			return err
		}
		dry := t.mark()
		if job.DryRun {
			if _, err := t.exec(ctx, `SAVEPOINT import_dry_run`); err != nil {
				return err
			}
		}
		b := s.newImportBatch(t, env, items, rowByRow)
		// The budget counts the rows' work, not the transaction's setup
		// above (the job, its actor, keys and units): a setup slowed by a
		// busy machine must not shrink every transaction to one row, which
		// would pay the setup once per row and slow the import further.
		start := time.Now()
		last := job.NextRow
		for i, it := range items {
			if used > 0 && time.Since(start) > budget && !b.paidFor(i) {
				break
			}
			used++
			if it.Row <= last {
				return fmt.Errorf("store: import row %d given after row %d", it.Row, last)
			}
			last = it.Row
			if err := b.add(ctx, i, it); err != nil {
				return err
			}
		}
		if err := b.flush(ctx); err != nil {
			return err
		}
		results := b.results[:used]
		var counts ImportCounts
		for _, rs := range results {
			switch rs[0].Outcome {
			case OutcomeCreated:
				counts.Created++
			case OutcomeChanged:
				counts.Changed++
			case OutcomeUnchanged:
				counts.Unchanged++
			default:
				counts.Refused++
			}
		}
		if job.DryRun {
			// Everything the rows wrote goes; their results stay.
			if _, err := t.exec(ctx, `ROLLBACK TO SAVEPOINT import_dry_run`); err != nil {
				return err
			}
			t.rewind(dry)
			for _, rs := range results {
				if rs[0].Outcome == OutcomeCreated {
					rs[0].PersonID = "" // rolled back
				}
			}
		}
		var resultRows [][]any
		for _, rs := range results {
			for seq, r := range rs {
				resultRows = append(resultRows, []any{jobID, r.Row, seq, truncate(r.Email, 254), r.Outcome, r.Column, truncate(r.Reason, 1000), r.PersonID})
			}
		}
		if err := t.insertRows(ctx, `INSERT INTO import_rows (job_id, row_num, seq, email, outcome, column_name, reason, person_id) VALUES `, resultRows, ""); err != nil {
			return err
		}
		res, err := t.exec(ctx, `UPDATE import_jobs SET processed_rows = processed_rows + ?, next_row = ?, created_count = created_count + ?,
			changed_count = changed_count + ?, unchanged_count = unchanged_count + ?, refused_count = refused_count + ?, lease_until = ?
			WHERE id = ? AND worker_id = ? AND status = ? AND next_row = ?`,
			used, last, counts.Created, counts.Changed, counts.Unchanged, counts.Refused, micros(now.Add(ImportLease)),
			jobID, workerID, ImportRunning, job.NextRow)
		if err != nil {
			return err
		}
		if err := leaseHeld(res); err != nil {
			return err
		}
		job, err = scanImport(t.queryRow(ctx, `SELECT `+importCols+` FROM import_jobs WHERE id = ?`, jobID))
		return err
	})
	if err == nil && !job.DryRun && analyzeDue(createdBefore, job.Counts.Created) {
		s.analyzeAfterBulk(ctx, job.Counts.Created)
	}
	return used, job, err
}

// analyzeDue: an import that has created before people, and after this
// batch after, has just crossed a point at which PostgreSQL's statistics
// of people are refreshed while it runs: analyzeAfterBulkRows people, then
// every fourfold (1,000, 4,000, 16,000 …), so at most a few ANALYZEs per
// import, each on a table at least a quarter of the size the statistics
// last saw. Without them, an import into a property whose people were
// never analyzed (a first import; autovacuum is minutes behind) has its
// batches' email lookups (importBatch.lookup: 250 emails in an IN list)
// planned for an empty table: a scan of the property's people through
// people_sort, filtering each row against the 250 emails, instead of 250
// probes of people_email, so every lookup costs more as the import grows
// (10,000 rows: 40 lookups, 3.2 of 8.7 s of the import).
func analyzeDue(before, after int) bool {
	for at := analyzeAfterBulkRows; at <= after; at *= 4 {
		if before < at {
			return true
		}
	}
	return false
}

// importEnv loads the job's actor (with the permissions it has now, not
// at upload), property, keys and units.
func (t *Tx) importEnv(ctx context.Context, job ImportJob) (*importEnv, error) {
	a, err := t.actor(ctx, job.ActorID)
	if err != nil {
		return nil, err
	}
	env := &importEnv{a: a, keys: map[string]domain.Key{}, units: map[string]string{}}
	if env.prop, err = t.property(ctx, a, job.PropertyID); err != nil {
		return nil, err
	}
	rows, err := t.query(ctx, `SELECT id FROM access_keys WHERE property_id = ?`, job.PropertyID)
	if err != nil {
		return nil, err
	}
	ids, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	keys, err := t.keysByID(ctx, job.PropertyID, ids)
	if err != nil {
		return nil, err
	}
	env.byID = keys
	for _, k := range keys {
		env.keys[strings.ToLower(k.Name)] = k
	}
	rows, err = t.query(ctx, `SELECT id, name FROM units WHERE property_id = ?`, job.PropertyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		env.units[strings.ToLower(name)] = id
	}
	return env, rows.Err()
}

// actor loads a manager as an actor, with the assignments they have now.
func (t *Tx) actor(ctx context.Context, managerID string) (domain.Actor, error) {
	a := domain.Actor{ManagerID: managerID, Assignments: map[string]domain.Assignment{}}
	var first, last string
	err := t.queryRow(ctx, `SELECT org_id, first_name, last_name, role FROM managers WHERE id = ?`, managerID).Scan(&a.OrgID, &first, &last, &a.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return a, domain.Errorf(domain.EForbidden, "the manager who started this no longer exists")
	}
	if err != nil {
		return a, err
	}
	a.Name = first + " " + last
	rows, err := t.query(ctx, `SELECT property_id, key_management, key_ids, device_management, card_activation FROM manager_properties WHERE manager_id = ?`, managerID)
	if err != nil {
		return a, err
	}
	defer rows.Close()
	for rows.Next() {
		var as domain.Assignment
		var keys string
		if err := rows.Scan(&as.PropertyID, &as.KeyManagement, &keys, &as.DeviceManagement, &as.CardActivation); err != nil {
			return a, err
		}
		if err := json.Unmarshal([]byte(keys), &as.Keys); err != nil {
			return a, err
		}
		a.Assignments[as.PropertyID] = as
	}
	return a, rows.Err()
}

// ManagerActor returns the manager with this email as an actor, or with an
// empty email the first Portfolio Manager (the CLI acts as them).
func (s *Store) ManagerActor(ctx context.Context, email string) (domain.Actor, error) {
	var a domain.Actor
	err := s.read(ctx, func(t *Tx) error {
		var id string
		var err error
		if email == "" {
			err = t.queryRow(ctx, `SELECT id FROM managers WHERE role = ? ORDER BY created_at, id LIMIT 1`, domain.RolePortfolioManager).Scan(&id)
		} else {
			err = t.queryRow(ctx, `SELECT id FROM managers WHERE email = ?`, strings.ToLower(strings.TrimSpace(email))).Scan(&id)
		}
		if errors.Is(err, sql.ErrNoRows) {
			if email == "" {
				return domain.Errorf(domain.ENotFound, "no Portfolio Manager yet; run dooros init first")
			}
			return domain.Errorf(domain.ENotFound, "no manager with email %s", email)
		}
		if err != nil {
			return err
		}
		a, err = t.actor(ctx, id)
		return err
	})
	return a, err
}

// savepoint runs fn inside a savepoint of t: when fn fails, only what fn
// wrote is rolled back and the transaction goes on (on PostgreSQL too,
// where a failed statement otherwise aborts the whole transaction).
func (t *Tx) savepoint(ctx context.Context, name string, fn func() error) error {
	if _, err := t.exec(ctx, `SAVEPOINT `+name); err != nil {
		return err
	}
	m := t.mark()
	if ferr := fn(); ferr != nil {
		if _, err := t.exec(ctx, `ROLLBACK TO SAVEPOINT `+name); err != nil {
			return errors.Join(ferr, err)
		}
		t.rewind(m)
		if _, err := t.exec(ctx, `RELEASE SAVEPOINT `+name); err != nil {
			return errors.Join(ferr, err)
		}
		return ferr
	}
	_, err := t.exec(ctx, `RELEASE SAVEPOINT `+name)
	return err
}

// importItem applies one record in its own savepoint and returns its
// results. Rule errors refuse the row; any other error aborts the batch.
func (s *Store) importItem(ctx context.Context, t *Tx, env *importEnv, it ImportItem) ([]ImportRowResult, error) {
	if it.Data == nil {
		return parseRefusal(it), nil
	}
	r := it.Data
	res := ImportRowResult{Row: it.Row, Email: strings.ToLower(strings.TrimSpace(r.Email))}
	err := t.savepoint(ctx, "import_row", func() error {
		var err error
		res.Outcome, res.Reason, res.PersonID, err = s.importRow(ctx, t, env, r)
		return err
	})
	if err != nil {
		return s.refusal(it.Row, res.Email, err)
	}
	return []ImportRowResult{res}, nil
}

// parseRefusal is the result of a record the parser refused.
func parseRefusal(it ImportItem) []ImportRowResult {
	var out []ImportRowResult
	for _, e := range it.Errors {
		out = append(out, ImportRowResult{Row: it.Row, Outcome: OutcomeRefused, Column: e.Column, Reason: e.Reason})
	}
	if len(out) == 0 {
		out = append(out, ImportRowResult{Row: it.Row, Outcome: OutcomeRefused, Reason: "unreadable row"})
	}
	return out
}

// refusal turns a rule's error into the row's refusal; any other error is
// returned (it aborts the batch).
func (s *Store) refusal(row int, email string, err error) ([]ImportRowResult, error) {
	err = s.mapErr(err)
	var de *domain.Error
	if !errors.As(err, &de) {
		return nil, err
	}
	return []ImportRowResult{{Row: row, Email: email, Outcome: OutcomeRefused, Column: csvColumn(de.Field), Reason: de.Message}}, nil
}

// csvColumn names the spreadsheet column of a use case's input field.
func csvColumn(field string) string {
	switch field {
	case "first_name":
		return csvio.ColFirstName
	case "last_name":
		return csvio.ColLastName
	case "email":
		return csvio.ColEmail
	case "phone":
		return csvio.ColPhone
	case "unit_id":
		return csvio.ColUnit
	case "keys", "key_id":
		return csvio.ColKeys
	case "access":
		return csvio.ColAccess
	case "resident":
		return csvio.ColResident
	case "starts_at":
		return csvio.ColStart
	case "expires_at":
		return csvio.ColExpiration
	}
	for _, c := range csvio.Columns {
		if c == field {
			return c
		}
	}
	return ""
}

func refuse(column, format string, args ...any) error {
	return &domain.Error{Code: domain.EInvalid, Field: column, Message: fmt.Sprintf(format, args...)}
}

// importTarget is what a row names, resolved against the property.
type importTarget struct {
	email  string
	keys   []domain.Key
	names  []string // the keys' names as the property spells them
	unitID string
}

// resolve checks a row's email and finds its keys (which the manager must
// be allowed to give) and unit by name.
func (env *importEnv) resolve(r *csvio.Row) (importTarget, error) {
	pid := env.prop.ID
	var tg importTarget
	var err error
	if tg.email, err = domain.NormalizeEmail(csvio.ColEmail, r.Email); err != nil {
		return tg, err
	}
	for _, name := range r.Keys {
		k, ok := env.keys[strings.ToLower(name)]
		if !ok {
			return tg, refuse(csvio.ColKeys, "no key named %q at this property", name)
		}
		if err := env.a.CanHandleKeys(pid, k.ID); err != nil {
			return tg, &domain.Error{Code: domain.EForbidden, Field: csvio.ColKeys,
				Message: fmt.Sprintf("you may not give key %q: %s", k.Name, domain.ErrorMessage(err))}
		}
		tg.keys = append(tg.keys, k)
		tg.names = append(tg.names, k.Name)
	}
	if r.Unit != "" {
		id, ok := env.units[strings.ToLower(r.Unit)]
		if !ok {
			return tg, refuse(csvio.ColUnit, "no unit named %q at this property; create it first", r.Unit)
		}
		tg.unitID = id
	}
	return tg, nil
}

// importInvite is the invite of a row whose email is new.
func importInvite(r *csvio.Row, tg importTarget) domain.InviteInput {
	in := domain.InviteInput{FirstName: r.FirstName, LastName: r.LastName, Email: tg.email, Phone: r.Phone,
		Access: domain.AccessApp, Resident: r.Resident != nil && *r.Resident, UnitID: tg.unitID, StartsAt: r.Start, ExpiresAt: r.Expiration}
	if r.Access != "" {
		in.Access = domain.AccessMode(r.Access)
	}
	for _, k := range tg.keys {
		in.Keys = append(in.Keys, domain.GrantInput{KeyID: k.ID, MayShare: r.MayShare != nil && *r.MayShare})
	}
	return in
}

// createdDetail is the row result of an invited row.
func createdDetail(tg importTarget) string {
	if len(tg.names) == 0 {
		return "invited"
	}
	return "invited with " + strings.Join(tg.names, ", ")
}

// importEdit is what a row does to a person who already exists: contact
// fields to update, keys to give (or hold differently), and notes on what
// the file says but an import does not change.
type importEdit struct {
	patch  domain.PersonPatch
	fields []string // "phone", "unit", "resident": what patch changes
	gives  []importGive
	notes  []string
}

type importGive struct {
	key    domain.Key
	verb   string // "gave key " or "changed key "
	change domain.GrantChange
}

// planImportEdit decides a row's edit of p, who holds held. A key already
// held with the same sharing and window is left alone, so importing the
// same file twice changes nothing the second time; nothing is removed.
func planImportEdit(r *csvio.Row, tg importTarget, p domain.Person, held []domain.Grant) importEdit {
	var ed importEdit
	if phone := strings.TrimSpace(r.Phone); phone != "" && phone != p.Phone {
		ed.patch.Phone = &phone
		ed.fields = append(ed.fields, "phone")
	}
	if tg.unitID != "" && tg.unitID != p.UnitID {
		unitID := tg.unitID
		ed.patch.UnitID = &unitID
		ed.fields = append(ed.fields, "unit")
	}
	if r.Resident != nil && *r.Resident != p.Resident {
		ed.patch.Resident = r.Resident
		ed.fields = append(ed.fields, "resident")
	}
	for _, k := range tg.keys {
		want := domain.Grant{KeyID: k.ID, MayShare: r.MayShare != nil && *r.MayShare, StartsAt: truncPtr(r.Start), ExpiresAt: truncPtr(r.Expiration)}
		verb := "gave key "
		for _, g := range held {
			if g.KeyID != k.ID {
				continue
			}
			if r.MayShare == nil {
				want.MayShare = g.MayShare
			}
			if p.InvitedBy != "" {
				want.MayShare = false // guests never re-share
			}
			if g.MayShare == want.MayShare && sameWindow(g.EffectiveWindow(p), want.EffectiveWindow(p)) {
				verb = ""
			} else {
				verb = "changed key "
			}
		}
		if verb != "" {
			ed.gives = append(ed.gives, importGive{key: k, verb: verb, change: domain.GrantChange{MayShare: want.MayShare, StartsAt: r.Start, ExpiresAt: r.Expiration}})
		}
	}
	if (r.FirstName != "" && !strings.EqualFold(r.FirstName, p.FirstName)) || (r.LastName != "" && !strings.EqualFold(r.LastName, p.LastName)) {
		ed.notes = append(ed.notes, fmt.Sprintf("name kept as %s (the file has %s %s)", p.Name(), r.FirstName, r.LastName))
	}
	if r.Access != "" && domain.AccessMode(r.Access) != p.Access {
		ed.notes = append(ed.notes, fmt.Sprintf("access kept as %s (chosen at invite)", p.Access))
	}
	return ed
}

// unchanged reports an edit that writes nothing, and its row result.
func (ed importEdit) unchanged() (bool, string) {
	return len(ed.fields) == 0 && len(ed.gives) == 0, strings.Join(append([]string{"already up to date"}, ed.notes...), "; ")
}

// importRow applies one row through the use cases: a new email is invited;
// an existing one gets the listed keys added (never removed) and contact
// details filled in (planImportEdit).
func (s *Store) importRow(ctx context.Context, t *Tx, env *importEnv, r *csvio.Row) (outcome, detail, personID string, err error) {
	pid := env.prop.ID
	tg, err := env.resolve(r)
	if err != nil {
		return "", "", "", err
	}
	jctx := withTx(ctx, t)
	p, found, err := t.personByEmail(ctx, pid, tg.email)
	if err != nil {
		return "", "", "", err
	}
	if !found {
		v, err := s.invite(jctx, env.a, pid, importInvite(r, tg), false)
		if err != nil {
			return "", "", "", err
		}
		return OutcomeCreated, createdDetail(tg), v.ID, nil
	}
	held, err := t.grants(ctx, p.ID)
	if err != nil {
		return "", "", "", err
	}
	ed := planImportEdit(r, tg, p, held)
	if same, detail := ed.unchanged(); same {
		return OutcomeUnchanged, detail, p.ID, nil
	}
	var changes []string
	if len(ed.fields) > 0 {
		if _, err := s.UpdatePerson(jctx, env.a, pid, p.ID, ed.patch); err != nil {
			return "", "", "", err
		}
		changes = []string{"changed " + strings.Join(ed.fields, ", ")}
	}
	for _, g := range ed.gives {
		if _, err := s.GiveKey(jctx, env.a, pid, p.ID, g.key.ID, g.change); err != nil {
			return "", "", "", err
		}
		changes = append(changes, g.verb+g.key.Name)
	}
	return OutcomeChanged, strings.Join(append(changes, ed.notes...), "; "), p.ID, nil
}

func sameWindow(a, b domain.Window) bool {
	return a.Start.Equal(b.Start) && sameTimePtr(a.End, b.End)
}

// personByEmail finds the person (not deleted) with this email.
func (t *Tx) personByEmail(ctx context.Context, propertyID, email string) (domain.Person, bool, error) {
	p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE property_id = ? AND email = ? AND deleted_at IS NULL`, propertyID, email))
	if errors.Is(err, sql.ErrNoRows) {
		return p, false, nil
	}
	return p, err == nil, err
}
