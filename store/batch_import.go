package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"

	"github.com/dooros/dooros/domain"
)

// importRowByRow makes every batch go row by row (tests compare the two
// ways: SetImportRowByRow in export_test).
var importRowByRow atomic.Bool

// importLookups counts the emails import batches have looked up (tests
// check that a batch cut short did not read the rows it left).
var importLookups atomic.Int64

// importBulkRows bounds how many planned invites wait before they are
// written, so a batch's time budget also sees the writes.
const importBulkRows = 500

// importBatch applies the rows of one import batch the fast way where it
// can, with the same outcome as applying them one by one (importItem):
//
//   - the batch's emails are looked up in one query per chunk of
//     importLookupRows rows, as the rows are reached, the grants of the
//     people found in another;
//   - a row whose email is new is checked and planned with the invite's
//     own rules (domain.CheckInvite, domain.PlanInvite) and waits; the
//     waiting invites are written together (writeInvites: a few multi-row
//     statements, one door flush per transaction) in a savepoint;
//   - a row for an existing person that would change nothing is answered
//     "unchanged" without writing (planImportEdit);
//   - everything else — a real edit, an email seen earlier in the batch —
//     goes through importItem in its own savepoint, after the waiting
//     invites are written, so it sees what the rows before it did;
//   - when the database refuses the bulk write (on PostgreSQL another
//     transaction may have invited one of the emails since the lookup),
//     the whole batch is rolled back and redone with every row going
//     one by one (bulkRefused).
//
// A row the rules refuse is refused before anything of it is written, as
// the savepoint of the row-by-row path would leave it.
type importBatch struct {
	s     *Store
	t     *Tx
	env   *importEnv
	items []ImportItem
	// looked: the items before it have had their people looked up.
	looked int
	// existing: email → person (not deleted) before the batch, for the
	// items looked up so far; held: person id → their grants.
	existing map[string]domain.Person
	held     map[string][]domain.Grant
	// seen: emails of rows already taken in this batch; a later row with
	// one of them goes row by row.
	seen map[string]bool
	// rowByRow: every row goes one by one through importItem (the batch
	// is being redone after bulkRefused).
	rowByRow bool
	pending  []pendingInvite
	// results per item, in item order.
	results [][]ImportRowResult
}

type pendingInvite struct {
	idx  int
	it   ImportItem
	plan domain.InvitePlan
}

// importLookupRows is how many rows' emails a batch looks up at a time,
// as its rows are reached: a batch cut short by its time budget has read
// only the people of the rows it took (and of at most one such chunk
// more), so the rows left for the next transaction are not read twice.
const importLookupRows = 250

// newImportBatch prepares a batch of items; their people are looked up
// a chunk at a time as add reaches them (lookup).
func (s *Store) newImportBatch(t *Tx, env *importEnv, items []ImportItem, rowByRow bool) *importBatch {
	return &importBatch{s: s, t: t, env: env, items: items, rowByRow: rowByRow, existing: map[string]domain.Person{}, held: map[string][]domain.Grant{},
		seen: map[string]bool{}, results: make([][]ImportRowResult, len(items))}
}

// lookup reads the people (not deleted) named by the emails of the next
// chunk of items, from item from on, and their grants: two queries.
func (b *importBatch) lookup(ctx context.Context, from int) error {
	to := min(from+importLookupRows, len(b.items))
	b.looked = to
	var emails []any
	dup := map[string]bool{}
	for _, it := range b.items[from:to] {
		if it.Data == nil {
			continue
		}
		e := strings.ToLower(strings.TrimSpace(it.Data.Email))
		if e != "" && !dup[e] {
			dup[e] = true
			emails = append(emails, e)
		}
	}
	if len(emails) == 0 {
		return nil
	}
	importLookups.Add(int64(len(emails)))
	ps, err := b.t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE property_id = ? AND deleted_at IS NULL AND email IN (`+placeholders(len(emails))+`)`,
		append([]any{b.env.prop.ID}, emails...)...)
	if err != nil {
		return err
	}
	var ids []any
	for _, p := range ps {
		if _, ok := b.existing[p.Email]; ok {
			continue // looked up with an earlier chunk
		}
		b.existing[p.Email] = p
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := b.t.query(ctx, `SELECT person_id, key_id, may_share, starts_at, expires_at, granted_at FROM grants
		WHERE person_id IN (`+placeholders(len(ids))+`) ORDER BY person_id, key_id`, ids...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g domain.Grant
		var st, ex sql.NullInt64
		var granted int64
		if err := rows.Scan(&g.PersonID, &g.KeyID, &g.MayShare, &st, &ex, &granted); err != nil {
			return err
		}
		g.StartsAt, g.ExpiresAt, g.GrantedAt = timePtr(st), timePtr(ex), fromMicros(granted)
		b.held[g.PersonID] = append(b.held[g.PersonID], g)
	}
	return rows.Err()
}

// paidFor: item i costs the transaction next to nothing more — its
// person was looked up with the current chunk and it needs no statement
// of its own (a new person planned to be written with the others, or a
// record the parser refused) — so a batch past its time budget still
// takes it. Without this, a busy machine on which one lookup outlasts the
// budget makes every transaction take one row and pay its setup, its
// lookup and its commit for that row alone.
func (b *importBatch) paidFor(i int) bool {
	if b.rowByRow || i >= b.looked {
		return false
	}
	r := b.items[i].Data
	if r == nil {
		return true
	}
	e := strings.ToLower(strings.TrimSpace(r.Email))
	if b.seen[e] {
		return false
	}
	_, known := b.existing[e]
	return !known
}

// add applies (or plans) item i.
func (b *importBatch) add(ctx context.Context, i int, it ImportItem) error {
	r := it.Data
	if r == nil {
		b.results[i] = parseRefusal(it)
		return nil
	}
	if b.rowByRow {
		return b.oneByOne(ctx, i, it)
	}
	if i >= b.looked {
		if err := b.lookup(ctx, i); err != nil {
			return err
		}
	}
	email := strings.ToLower(strings.TrimSpace(r.Email))
	tg, err := b.env.resolve(r)
	if err != nil {
		b.results[i], err = b.s.refusal(it.Row, email, err)
		return err
	}
	if b.seen[tg.email] {
		return b.oneByOne(ctx, i, it)
	}
	b.seen[tg.email] = true
	if p, ok := b.existing[tg.email]; ok {
		if same, detail := planImportEdit(r, tg, p, b.held[p.ID]).unchanged(); same {
			b.results[i] = []ImportRowResult{{Row: it.Row, Email: email, Outcome: OutcomeUnchanged, Reason: detail, PersonID: p.ID}}
			return nil
		}
		return b.oneByOne(ctx, i, it)
	}
	pid, now := b.env.prop.ID, b.s.Now()
	in := importInvite(r, tg)
	if err := domain.CheckInvite(b.env.a, pid, &in, now); err != nil {
		b.results[i], err = b.s.refusal(it.Row, email, err)
		return err
	}
	plan, err := domain.PlanInvite(b.env.a, pid, domain.NewID("per"), in, b.env.byID, nil, now)
	if err != nil {
		b.results[i], err = b.s.refusal(it.Row, email, err)
		return err
	}
	b.pending = append(b.pending, pendingInvite{idx: i, it: it, plan: plan})
	b.results[i] = []ImportRowResult{{Row: it.Row, Email: email, Outcome: OutcomeCreated, Reason: createdDetail(tg), PersonID: plan.Person.ID}}
	if len(b.pending) >= importBulkRows {
		return b.flush(ctx)
	}
	return nil
}

// oneByOne writes the waiting invites, then applies item i on its own.
func (b *importBatch) oneByOne(ctx context.Context, i int, it ImportItem) error {
	if err := b.flush(ctx); err != nil {
		return err
	}
	var err error
	b.results[i], err = b.s.importItem(ctx, b.t, b.env, it)
	return err
}

// flush writes the waiting invites together. When the database refuses
// them (a conflict: on PostgreSQL another transaction may have invited
// one of the emails since the lookup) it fails the transaction with
// bulkRefused, and ApplyImportBatch redoes the batch one row at a time.
// Writing them without a savepoint of their own spares SQLite copying
// every page they touch into a sub-journal, and PostgreSQL two round trips.
func (b *importBatch) flush(ctx context.Context) error {
	if len(b.pending) == 0 {
		return nil
	}
	plans := make([]domain.InvitePlan, len(b.pending))
	for i, p := range b.pending {
		plans[i] = p.plan
	}
	b.pending = b.pending[:0]
	_, err := b.t.writeInvites(ctx, b.env.a, b.env.prop, plans)
	if err == nil {
		return nil
	}
	var de *domain.Error
	if errors.As(b.s.mapErr(err), &de) {
		return &bulkRefused{de}
	}
	return err
}

// bulkRefused: the database refused a batch's invites written together.
type bulkRefused struct{ err *domain.Error }

func (e *bulkRefused) Error() string { return "import batch: " + e.err.Error() }
func (e *bulkRefused) Unwrap() error { return e.err }
