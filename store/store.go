// Package store is the one SQL store of DOOR OS. The same queries run on
// SQLite (embedded default, modernc.org/sqlite) and PostgreSQL (pgx); every
// use case runs in one transaction and asks the domain package for its rules.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // registers "sqlite"

	"github.com/dooros/dooros/domain"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialect tells the two databases apart where SQL must differ.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

// Store is safe for concurrent use; several `dooros serve` processes may
// share one PostgreSQL database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	// Now is the clock; tests move it.
	Now func() time.Time
	// Observe, when set, receives the duration of every transaction (metrics).
	Observe func(op string, d time.Duration)
	// ActivityScan bounds how many of a property's Activity entries one
	// page filtered by door, or seen by a manager scoped to some doors,
	// walks (0: DefaultActivityScan; ListActivity).
	ActivityScan int
	// writer serializes this process's write transactions on SQLite, which
	// allows one writer at a time anyway: waiting here is a queue, while
	// waiting on busy_timeout is SQLite sleeping in growing steps (up to
	// 100 ms) and retrying, which halves throughput under concurrency.
	// Group commits of lock messages give way to other writers
	// (writer.go).
	writer writerSlot
	// wconn is the one connection SQLite write transactions run on (taken
	// from the pool at the first, held by whoever holds writer). SQLite
	// empties a connection's page cache when it starts a transaction after
	// another connection wrote; with writes spread over the pool's
	// connections, every write transaction read its pages again (a third
	// of the server's system calls at 1,000 locks, docs/bench-fleet.md).
	// One writing connection keeps its cache and prepared statements warm.
	wconn *sql.Conn

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	doorState  hooks[struct{}]      // see OnDoorStateQueued
	revocation hooks[[]RevokedDoor] // see OnRevocation

	ckpt *checkpointer // SQLite: background WAL checkpoints (checkpoint.go)
}

// Open connects to dsn: a postgres:// URL, or a SQLite file path (also
// "sqlite:PATH"). Any other scheme:// is refused. It does not migrate; call
// Migrate.
func Open(ctx context.Context, dsn string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{log: log, Now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, stmts: map[string]*sql.Stmt{}}
	if scheme, _, ok := strings.Cut(dsn, "://"); ok && scheme != "postgres" && scheme != "postgresql" && scheme != "sqlite" && !strings.ContainsAny(scheme, `/\.`) {
		// Anything else would be taken for a SQLite path and create a
		// directory named like the URL ("./mysql:/…").
		return nil, fmt.Errorf("store: unsupported database %q: use a postgres:// (or postgresql://) URL, or a SQLite file path (\"sqlite:PATH\" also works)", scheme+"://")
	}
	var err error
	switch {
	case strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://"):
		s.dialect = Postgres
		s.db, err = sql.Open("pgx", dsn)
		if err == nil {
			s.db.SetMaxOpenConns(20)
		}
	default:
		s.dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			return nil, errors.New("store: empty database path")
		}
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("store: %w", err)
			}
		}
		// Immediate transactions take the write lock at BEGIN, so two
		// writers queue on busy_timeout instead of failing mid-transaction.
		q := url.Values{}
		q.Add("_pragma", "foreign_keys(1)")
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "busy_timeout(10000)")
		q.Add("_pragma", "synchronous(NORMAL)")
		// Statement journals (the undo copy of every page a multi-row
		// INSERT touches inside a transaction) stay in memory: by default
		// SQLite spills one past 64 KiB to a temporary file, and a CSV
		// import batch's 500-row inserts wrote two system calls per page
		// to it, 40 % of the import's writes (docs/bench-bulk.md). The
		// cost: a sort too big for the page cache (an unindexed ORDER BY
		// over a large table) also stays in memory instead of a temp file.
		q.Add("_pragma", "temp_store(MEMORY)")
		// WAL checkpoints run in the background (checkpoint.go), not in
		// the commit that fills the WAL; a commit still checkpoints past
		// walBackstopPages frames.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walBackstopPages))
		q.Set("_txlock", "immediate")
		// Escape the path: in a file: URI "#" and "?" would cut it short.
		s.db, err = sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?"+q.Encode())
		if err == nil {
			s.db.SetMaxOpenConns(8)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	if s.dialect == SQLite {
		s.startCheckpointer()
	}
	return s, nil
}

// Dialect reports which database this store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB exposes the pool for benchmarks that compare against raw inserts.
func (s *Store) DB() *sql.DB { return s.db }

func (s *Store) Close() error {
	s.ckpt.close()
	s.stmtMu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	s.stmts = nil
	s.stmtMu.Unlock()
	if s.writer.tryAcquire() { // a transaction still running keeps its connection until it ends
		if s.wconn != nil {
			s.wconn.Close()
			s.wconn = nil
		}
		s.writer.release()
	}
	return s.db.Close()
}

// Migrate applies the embedded migrations.
func (s *Store) Migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	d := goose.DialectSQLite3
	if s.dialect == Postgres {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, s.db, sub, goose.WithGoMigrations(migration00005(s.dialect), migration00032(s.dialect)))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, r := range res {
		s.log.Info("migration applied", "version", r.Source.Version, "took", r.Duration)
	}
	return nil
}

// Tx is one transaction; its helpers take "?" placeholders on both databases.
type Tx struct {
	tx *sql.Tx
	s  *Store
	// after runs once the transaction has committed.
	after []func()
	// prepare: reuse prepared statements (SQLite write transactions).
	prepare bool
	// doorChanges are the door changes of this transaction, flushed once
	// before it commits (flushDoors).
	doorChanges []domain.DoorChange
	// queuedDoorState: a door.state outbox row was queued (OnDoorStateQueued).
	queuedDoorState bool
	// appends are rows of append-only tables (Activity, outbox) that
	// nothing reads back in the transaction that writes them; they are
	// inserted together before commit (flushDoors), a few multi-row
	// statements for a whole import batch, one statement on PostgreSQL.
	appends []appendRow
}

// appendRow is one deferred row: head ("INSERT … VALUES "), tail (a
// conflict clause) and its values.
type appendRow struct {
	head, tail string
	row        []any
}

// txMark is how far a transaction's deferred work had got; rewind goes
// back to it when a savepoint rolls back.
type txMark struct{ after, doorChanges, appends int }

func (t *Tx) mark() txMark { return txMark{len(t.after), len(t.doorChanges), len(t.appends)} }

// rewind forgets the deferred work recorded after m (what a rolled-back
// savepoint had done).
func (t *Tx) rewind(m txMark) {
	t.after = t.after[:m.after]
	t.doorChanges = t.doorChanges[:m.doorChanges]
	t.appends = t.appends[:m.appends]
}

func (s *Store) rebind(q string) string {
	if s.dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.rebind(q), args...)
}

func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.rebind(q), args...)
}

func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.rebind(q), args...)
}

// maxStmts bounds the statement cache; statements built for a number of
// values (IN lists, multi-row inserts) beyond it run unprepared.
const maxStmts = 2000

// stmt returns q prepared for this transaction, or nil to run it directly.
// modernc SQLite parses every statement it runs; a write transaction runs
// some twenty, and parsing was a quarter of an invite's CPU time. pgx
// already caches prepared statements per connection. Only write
// transactions prepare: they hold the process's one SQLite writer slot,
// so at most one goroutine at a time waits for a pool connection to
// prepare on while holding one (readers never do, so they cannot exhaust
// the pool waiting on each other).
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if !t.prepare {
		return nil
	}
	s := t.s
	s.stmtMu.Lock()
	st, ok := s.stmts[q]
	s.stmtMu.Unlock()
	if !ok {
		s.stmtMu.Lock()
		full := len(s.stmts) >= maxStmts
		s.stmtMu.Unlock()
		if full {
			return nil
		}
		var err error
		if st, err = s.db.PrepareContext(ctx, q); err != nil {
			return nil // let the direct call report the error
		}
		s.stmtMu.Lock()
		if prev, ok := s.stmts[q]; ok {
			st.Close()
			st = prev
		} else {
			s.stmts[q] = st
		}
		s.stmtMu.Unlock()
	}
	return t.tx.StmtContext(ctx, st)
}

// forUpdate locks selected rows on PostgreSQL; SQLite's immediate
// transaction already holds the database write lock.
func (t *Tx) forUpdate() string {
	if t.s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// skipLocked locks the selected rows on PostgreSQL and skips rows another
// transaction holds, so concurrent workers claim different rows; on SQLite
// the immediate transaction already serializes claims.
func (t *Tx) skipLocked() string {
	if t.s.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// leaseHeld checks the result of a write guarded by a worker's lease (WHERE
// worker_id = ?): no row updated means another worker took the job over.
func leaseHeld(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLostLease
	}
	return nil
}

// inTx runs fn in one transaction, committing on nil and rolling back on
// error, so a request either writes everything or nothing.
//
// A use case called with a context from withTx joins that open transaction
// instead of starting its own, so bulk work (CSV import rows, PMS sync)
// commits a use case together with its own bookkeeping, or rolls both back
// (dry runs).
func (s *Store) inTx(ctx context.Context, op string, fn func(*Tx) error) (err error) {
	if t, ok := ctx.Value(txKey{}).(*Tx); ok && t.s == s {
		return fn(t)
	}
	start := time.Now()
	defer func() {
		if s.Observe != nil {
			s.Observe(op, time.Since(start))
		}
	}()
	if s.dialect == SQLite {
		if err := s.takeWriter(ctx, op); err != nil {
			return err
		}
		defer s.writer.release()
	}
	for attempt := 0; ; attempt++ {
		sqlTx, err := s.beginWrite(ctx)
		if err != nil {
			if s.busy(err) && attempt < maxBusyRetries {
				if werr := s.backoff(ctx, op, attempt, err); werr != nil {
					return werr
				}
				continue
			}
			return fmt.Errorf("store: begin %s: %w", op, err)
		}
		t := &Tx{tx: sqlTx, s: s, prepare: s.dialect == SQLite}
		err = fn(t)
		if err == nil {
			err = t.flushDoors(ctx)
		}
		if err == nil {
			err = sqlTx.Commit()
		} else {
			sqlTx.Rollback()
		}
		if err != nil {
			if s.retryable(err) && attempt < 5 {
				continue
			}
			if s.busy(err) && attempt < maxBusyRetries {
				if werr := s.backoff(ctx, op, attempt, err); werr != nil {
					return werr
				}
				continue
			}
			return s.mapErr(err)
		}
		s.ckpt.committed()
		for _, f := range t.after {
			f()
		}
		if t.queuedDoorState {
			s.doorStateQueued()
		}
		return nil
	}
}

// beginWrite begins a write transaction: on SQLite on the writing
// connection (wconn; the caller holds the writer slot), on PostgreSQL on
// any pooled connection.
func (s *Store) beginWrite(ctx context.Context) (*sql.Tx, error) {
	if s.dialect != SQLite {
		return s.db.BeginTx(ctx, nil)
	}
	if s.wconn == nil {
		c, err := s.db.Conn(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		s.wconn = c
	}
	tx, err := s.wconn.BeginTx(ctx, nil)
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		// A broken connection is given back; the next transaction takes another.
		s.wconn.Close()
		s.wconn = nil
	}
	return tx, err
}

// writerDeadlock is how long a write transaction waits for this process's
// SQLite writer slot before it gives up. Transactions are short (a job's
// batch stops at its time budget, about 200 ms), and the slot is handed
// on in arrival order, so a wait this long is not contention but a use
// case wrongly nested in another (holding the slot it waits for).
const writerDeadlock = 2 * time.Minute

// takeWriter waits for the SQLite writer slot. Contention is waited out:
// a background job (import batch, PMS sync batch, outbox claim) must not
// fail because others write; a long wait is logged.
func (s *Store) takeWriter(ctx context.Context, op string) error {
	if s.writer.tryAcquire() {
		return nil
	}
	ch := s.writer.enqueue(isLowPriority(ctx))
	start := time.Now()
	warn := time.NewTicker(10 * time.Second)
	defer warn.Stop()
	dead := time.NewTimer(writerDeadlock)
	defer dead.Stop()
	for {
		select {
		case <-ch:
			return nil
		case <-ctx.Done():
			s.writer.cancel(ch)
			return ctx.Err()
		case <-warn.C:
			s.log.Warn("store: waiting for the SQLite writer", "op", op, "waited", time.Since(start).Round(time.Second))
		case <-dead.C:
			s.writer.cancel(ch)
			return fmt.Errorf("store: %s: waited %s for the SQLite writer; a transaction nested in another?", op, writerDeadlock)
		}
	}
}

// maxBusyRetries bounds how often a transaction SQLite refused as busy is
// run again. Busy here means another process holds the database (a
// `dooros import` beside `dooros serve`) beyond busy_timeout, or a
// snapshot went stale at commit; in this process the writer slot already
// lets one writer in at a time.
const maxBusyRetries = 8

// busy reports SQLite's SQLITE_BUSY and SQLITE_LOCKED (and their extended
// codes): the transaction was rolled back and can run again.
func (s *Store) busy(err error) bool {
	if s.dialect != SQLite {
		return false
	}
	var ce interface{ Code() int }
	if errors.As(err, &ce) {
		c := ce.Code() & 0xff
		return c == 5 || c == 6 // SQLITE_BUSY, SQLITE_LOCKED
	}
	return false
}

// backoff waits before busy retry number attempt (25 ms doubling to 1.6 s,
// with jitter, so two processes do not retry in step).
func (s *Store) backoff(ctx context.Context, op string, attempt int, cause error) error {
	d := 25 * time.Millisecond << min(attempt, 6)
	d += time.Duration(rand.Int64N(int64(d)))
	s.log.Info("store: database busy, retrying", "op", op, "attempt", attempt+1, "in", d, "err", cause)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

type txKey struct{}

// withTx returns a context whose use cases run inside t.
func withTx(ctx context.Context, t *Tx) context.Context { return context.WithValue(ctx, txKey{}, t) }

// retryable reports serialization failures and deadlocks on PostgreSQL.
func (s *Store) retryable(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 40001") || strings.Contains(msg, "SQLSTATE 40P01")
}

// mapErr turns unique violations into conflicts; application errors pass.
func (s *Store) mapErr(err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "SQLSTATE 23505") {
		return domain.Errorf(domain.EConflict, "already exists")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("store: %w", err)
}

// query helpers outside transactions (reads).
func (s *Store) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.rebind(q), args...)
}

func (s *Store) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.rebind(q), args...)
}

// Time encoding: Unix microseconds, UTC.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func nullMicros(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.Int64)
	return &t
}

func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// placeholders returns "?,?,?" for n arguments.
func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func anySlice(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
