package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

const personCols = `id, property_id, first_name, last_name, email, phone, access, resident, COALESCE(unit_id, ''),
	starts_at, expires_at, COALESCE(invited_by, ''), revoked_at, deleted_at, created_at, updated_at`

// scanPerson reads a row of personCols followed by the extra columns, which
// it scans into extra.
func scanPerson(sc rowScanner, extra ...any) (domain.Person, error) {
	var p domain.Person
	var starts, created, updated int64
	var expires, revoked, deleted sql.NullInt64
	err := sc.Scan(append([]any{&p.ID, &p.PropertyID, &p.FirstName, &p.LastName, &p.Email, &p.Phone, &p.Access, &p.Resident, &p.UnitID,
		&starts, &expires, &p.InvitedBy, &revoked, &deleted, &created, &updated}, extra...)...)
	p.StartsAt, p.CreatedAt, p.UpdatedAt = fromMicros(starts), fromMicros(created), fromMicros(updated)
	p.ExpiresAt, p.RevokedAt, p.DeletedAt = timePtr(expires), timePtr(revoked), timePtr(deleted)
	return p, err
}

// person loads a person that is not deleted; lock takes a row lock on
// PostgreSQL so concurrent edits of the same person serialize.
func (t *Tx) person(ctx context.Context, propertyID, id string, lock bool) (domain.Person, error) {
	q := `SELECT ` + personCols + ` FROM people WHERE id = ? AND property_id = ? AND deleted_at IS NULL`
	if lock {
		q += t.forUpdate()
	}
	p, err := scanPerson(t.queryRow(ctx, q, id, propertyID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, domain.Errorf(domain.ENotFound, "person %s not found", id)
	}
	return p, err
}

func (t *Tx) grants(ctx context.Context, personID string) ([]domain.Grant, error) {
	rows, err := t.query(ctx, `SELECT key_id, may_share, starts_at, expires_at, granted_at FROM grants WHERE person_id = ? ORDER BY key_id`, personID)
	return collect(rows, err, func(sc rowScanner) (domain.Grant, error) {
		g := domain.Grant{PersonID: personID}
		var s, e sql.NullInt64
		var granted int64
		if err := sc.Scan(&g.KeyID, &g.MayShare, &s, &e, &granted); err != nil {
			return g, err
		}
		g.StartsAt, g.ExpiresAt, g.GrantedAt = timePtr(s), timePtr(e), fromMicros(granted)
		return g, nil
	})
}

func grantKeyIDs(gs []domain.Grant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.KeyID
	}
	return out
}

// queryPeople runs q, a SELECT of personCols, and reads the people.
func (t *Tx) queryPeople(ctx context.Context, q string, args ...any) ([]domain.Person, error) {
	rows, err := t.query(ctx, q, args...)
	return collect(rows, err, func(sc rowScanner) (domain.Person, error) { return scanPerson(sc) })
}

// host loads a person inviting (or holding) a guest, with their grants;
// lock locks the host's row. Lock the host before the guest.
func (t *Tx) host(ctx context.Context, propertyID, id string, lock bool) (domain.Host, error) {
	p, err := t.person(ctx, propertyID, id, lock)
	if err != nil {
		return domain.Host{}, err
	}
	gs, err := t.grants(ctx, p.ID)
	return domain.Host{Person: p, Grants: gs}, err
}

// guestsOf reads through the partial index people_invited_by (invited_by
// = ? implies it is not NULL; migration 00028).
const guestsOf = `SELECT ` + personCols + ` FROM people WHERE invited_by = ? AND deleted_at IS NULL ORDER BY created_at, id`

// guests lists the (not deleted) guests a person invited.
func (t *Tx) guests(ctx context.Context, hostID string) ([]domain.Person, error) {
	return t.queryPeople(ctx, guestsOf, hostID)
}

// view assembles a person for the API; the doorcode is shown only to
// managers with full Key Management.
func (t *Tx) view(ctx context.Context, a domain.Actor, p domain.Person) (domain.PersonView, error) {
	now := t.s.Now()
	v, err := t.keysView(ctx, p, now)
	if err != nil {
		return v, err
	}
	guests, err := t.guests(ctx, p.ID)
	if err != nil {
		return v, err
	}
	for _, g := range guests {
		v.Guests = append(v.Guests, guestSummary(g, now))
	}
	if a.Can(p.PropertyID, domain.PermManageKeys) == nil {
		err := t.queryRow(ctx, `SELECT code FROM doorcodes WHERE person_id = ?`, p.ID).Scan(&v.Doorcode)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return v, err
		}
	}
	return v, nil
}

// keysView is a person's view with their keys and no guests or doorcode.
func (t *Tx) keysView(ctx context.Context, p domain.Person, now time.Time) (domain.PersonView, error) {
	v := domain.PersonView{Person: p, Status: p.Status(now), Keys: []domain.GrantView{}, Guests: []domain.GuestSummary{}}
	keys, err := t.pageGrants(ctx, []domain.Person{p})
	if err != nil {
		return v, err
	}
	if ks := keys[p.ID]; ks != nil {
		v.Keys = ks
	}
	return v, nil
}

// invitedView is the view of a person this transaction invited, from
// what it wrote: a new person has no guests yet, and their doorcode, if
// any, is the one writeInvites just issued (view reads both back).
func (t *Tx) invitedView(ctx context.Context, a domain.Actor, p domain.Person, code string) (domain.PersonView, error) {
	v, err := t.keysView(ctx, p, t.s.Now())
	if err != nil {
		return v, err
	}
	if a.Can(p.PropertyID, domain.PermManageKeys) == nil {
		v.Doorcode = code
	}
	return v, nil
}

func guestSummary(g domain.Person, now time.Time) domain.GuestSummary {
	return domain.GuestSummary{ID: g.ID, FirstName: g.FirstName, LastName: g.LastName, Email: g.Email,
		Access: g.Access, Status: g.Status(now), StartsAt: g.StartsAt, ExpiresAt: g.ExpiresAt}
}

func sortName(first, last string) string {
	return strings.ToLower(strings.TrimSpace(last + " " + first))
}

func (t *Tx) emailFree(ctx context.Context, propertyID, email, exceptID string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM people WHERE property_id = ? AND email = ? AND deleted_at IS NULL AND id <> ?`,
		propertyID, email, exceptID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return emailTaken(email)
	}
	return nil
}

func emailTaken(email string) error {
	return &domain.Error{Code: domain.EConflict, Field: "email", Message: fmt.Sprintf("%s is already a person at this property; edit them instead", email)}
}

// isEmailTaken reports the violation of people_email (a person of the
// property already has the email) by an INSERT into people, on SQLite and
// PostgreSQL.
func isEmailTaken(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed: people.property_id, people.email") ||
		strings.Contains(msg, `unique constraint "people_email"`)
}

func (t *Tx) insertGrant(ctx context.Context, g domain.Grant) error {
	return t.insertGrants(ctx, []domain.Grant{g})
}

// insertGrants writes grants (new or changed) with one statement; a person
// and key appear at most once in gs.
func (t *Tx) insertGrants(ctx context.Context, gs []domain.Grant) error {
	rows := make([][]any, len(gs))
	now := micros(t.s.Now())
	for i, g := range gs {
		rows[i] = []any{g.PersonID, g.KeyID, g.MayShare, nullMicros(g.StartsAt), nullMicros(g.ExpiresAt), now}
	}
	return t.insertRows(ctx, `INSERT INTO grants (person_id, key_id, may_share, starts_at, expires_at, granted_at) VALUES `, rows,
		` ON CONFLICT (person_id, key_id) DO UPDATE SET may_share = excluded.may_share, starts_at = excluded.starts_at, expires_at = excluded.expires_at`)
}

// Invite creates a person (or a guest when in.InvitedBy is set), their
// grants and doorcode, the welcome email in the outbox when they get
// access (domain.WelcomeDue), and new sync work for every door of their
// keys.
func (s *Store) Invite(ctx context.Context, a domain.Actor, propertyID string, in domain.InviteInput) (domain.PersonView, error) {
	return s.invite(ctx, a, propertyID, in, true)
}

// invite is Invite; without view it answers only the person (bulk callers
// need the id, not the three queries of the view). The rules are
// domain.CheckInvite and domain.PlanInvite, the writes writeInvites, which
// a CSV import batch shares (store/batch_import.go).
func (s *Store) invite(ctx context.Context, a domain.Actor, propertyID string, in domain.InviteInput, view bool) (domain.PersonView, error) {
	var out domain.PersonView
	err := s.inTx(ctx, "invite", func(t *Tx) error {
		now := s.Now()
		prop, err := t.property(ctx, a, propertyID)
		if err != nil {
			return err
		}
		if err := domain.CheckInvite(a, propertyID, &in, now); err != nil {
			return err
		}
		keys, err := t.keysByID(ctx, propertyID, in.KeyIDs())
		if err != nil {
			return err
		}
		if in.UnitID != "" {
			if _, err := t.unit(ctx, propertyID, in.UnitID); err != nil {
				return &domain.Error{Code: domain.EInvalid, Field: "unit_id", Message: err.Error()}
			}
		}
		var host *domain.Host
		if in.InvitedBy != "" {
			h, err := t.host(ctx, propertyID, in.InvitedBy, true)
			if domain.ErrorCode(err) == domain.ENotFound {
				return &domain.Error{Code: domain.EInvalid, Field: "invited_by", Message: err.Error()}
			}
			if err != nil {
				return err
			}
			host = &h
		}
		plan, err := domain.PlanInvite(a, propertyID, domain.NewID("per"), in, keys, host, now)
		if err != nil {
			return err
		}
		// A taken email is refused by the unique index people_email when
		// the person is inserted (one statement fewer than reading first).
		codes, err := t.writeInvites(ctx, a, prop, []domain.InvitePlan{plan})
		if err != nil {
			if isEmailTaken(err) {
				return emailTaken(in.Email)
			}
			return err
		}
		if !view {
			out = domain.PersonView{Person: plan.Person}
			return nil
		}
		out, err = t.invitedView(ctx, a, plan.Person, codes[plan.Person.ID])
		return err
	})
	return out, err
}

// enqueueWelcome queues a person's welcome email (invited_by names who
// gave the access).
func (t *Tx) enqueueWelcome(ctx context.Context, a domain.Actor, p domain.Person) error {
	return t.enqueue(ctx, TopicWelcomeEmail, p.ID, map[string]string{"person_id": p.ID, "property_id": p.PropertyID, "invited_by": a.Name}, t.s.Now())
}

// welcomeOnce queues the welcome email of a person now due one
// (domain.WelcomeDue) unless it was sent since they last held nothing: the
// conditional UPDATE claims it, so two managers giving keys at once send
// one.
func (t *Tx) welcomeOnce(ctx context.Context, a domain.Actor, p domain.Person, keys map[string]domain.Key, grants []domain.Grant) error {
	if !domain.WelcomeDue(p.Access, keys, grants, false) {
		return nil
	}
	res, err := t.exec(ctx, `UPDATE people SET welcomed_at = ? WHERE id = ? AND welcomed_at IS NULL`, micros(t.s.Now()), p.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return t.enqueueWelcome(ctx, a, p)
}

func truncPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC().Truncate(time.Microsecond)
	return &v
}

// syncDoorcodes gives a doorcode to each listed person who needs one and
// takes it from those who no longer do (last doorcode key gone). It reads
// what it needs for all of them in two queries.
func (t *Tx) syncDoorcodes(ctx context.Context, propertyID string, personIDs []string) error {
	if len(personIDs) == 0 {
		return nil
	}
	grants := map[string][]domain.Grant{}
	keys := map[string]domain.Key{}
	has := map[string]bool{}
	for lo := 0; lo < len(personIDs); lo += 500 {
		chunk := anySlice(personIDs[lo:min(lo+500, len(personIDs))])
		rows, err := t.query(ctx, `SELECT g.person_id, g.key_id, kd.door_id, kd.doorcodes FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id
			WHERE g.person_id IN (`+placeholders(len(chunk))+`) ORDER BY g.person_id, g.key_id, kd.door_id`, chunk...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var personID, keyID string
			var kd domain.KeyDoor
			if err := rows.Scan(&personID, &keyID, &kd.DoorID, &kd.Doorcodes); err != nil {
				rows.Close()
				return err
			}
			gs := grants[personID]
			if len(gs) == 0 || gs[len(gs)-1].KeyID != keyID {
				grants[personID] = append(gs, domain.Grant{PersonID: personID, KeyID: keyID})
			}
			k := keys[keyID]
			k.ID = keyID
			if !slices.ContainsFunc(k.Doors, func(d domain.KeyDoor) bool { return d.DoorID == kd.DoorID }) {
				k.Doors = append(k.Doors, kd)
			}
			keys[keyID] = k
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		rows, err = t.query(ctx, `SELECT person_id FROM doorcodes WHERE person_id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return err
		}
		holders, err := scanStrings(rows)
		if err != nil {
			return err
		}
		for _, id := range holders {
			has[id] = true
		}
	}
	var give, drop []string
	for _, id := range personIDs {
		need := domain.NeedsDoorcode(keys, grants[id])
		switch {
		case need && !has[id]:
			give = append(give, id)
			has[id] = true
		case !need && has[id]:
			drop = append(drop, id)
			has[id] = false
		}
	}
	if len(give) > 0 {
		var length int
		if err := t.queryRow(ctx, `SELECT doorcode_length FROM properties WHERE id = ?`, propertyID).Scan(&length); err != nil {
			return err
		}
		if _, err := t.issueDoorcodes(ctx, propertyID, length, give); err != nil {
			return err
		}
	}
	for lo := 0; lo < len(drop); lo += 500 {
		chunk := anySlice(drop[lo:min(lo+500, len(drop))])
		if _, err := t.exec(ctx, `DELETE FROM doorcodes WHERE person_id IN (`+placeholders(len(chunk))+`)`, chunk...); err != nil {
			return err
		}
	}
	return nil
}

// issueDoorcodes gives each listed person (holding no code) a new code of
// length, unique among the property's codes. Codes are drawn at random
// and inserted together; the UNIQUE (property_id, code) constraint turns
// a taken code away and only those people draw again, so a code costs one
// statement instead of a check and an insert. After a few rounds (an
// almost full namespace) the rest go through freeDoorcode, which reports
// when no code is left. It answers the codes it issued, by person id.
func (t *Tx) issueDoorcodes(ctx context.Context, propertyID string, length int, ids []string) (map[string]string, error) {
	now := micros(t.s.Now())
	issued := make(map[string]string, len(ids))
	todo := ids
	for round := 0; len(todo) > 0; round++ {
		if round == 8 {
			for _, id := range todo {
				code, err := t.freeDoorcode(ctx, propertyID, length)
				if err != nil {
					return nil, err
				}
				if _, err := t.exec(ctx, `INSERT INTO doorcodes (person_id, property_id, code, created_at) VALUES (?,?,?,?)`, id, propertyID, code, now); err != nil {
					return nil, err
				}
				issued[id] = code
			}
			return issued, nil
		}
		drawn := map[string]bool{}
		var next []string
		for lo := 0; lo < len(todo); lo += 500 {
			chunk := todo[lo:min(lo+500, len(todo))]
			args := make([]any, 0, 4*len(chunk))
			for _, id := range chunk {
				code, err := domain.GenerateDoorcode(length, func(c string) bool { return drawn[c] })
				if err != nil {
					return nil, err
				}
				drawn[code] = true
				args = append(args, id, propertyID, code, now)
			}
			rows, err := t.query(ctx, `INSERT INTO doorcodes (person_id, property_id, code, created_at) VALUES `+
				strings.TrimSuffix(strings.Repeat("(?,?,?,?),", len(chunk)), ",")+` ON CONFLICT DO NOTHING RETURNING person_id, code`, args...)
			if err != nil {
				return nil, err
			}
			n := 0
			for rows.Next() {
				var id, code string
				if err := rows.Scan(&id, &code); err != nil {
					rows.Close()
					return nil, err
				}
				issued[id] = code
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
			if n == len(chunk) {
				continue
			}
			for _, id := range chunk {
				if _, ok := issued[id]; !ok {
					next = append(next, id)
				}
			}
		}
		todo = next
	}
	return issued, nil
}

func (t *Tx) freeDoorcode(ctx context.Context, propertyID string, length int) (string, error) {
	var qerr error
	code, err := domain.GenerateDoorcode(length, func(c string) bool {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM doorcodes WHERE property_id = ? AND code = ?`, propertyID, c).Scan(&n); err != nil {
			qerr = err
			return false
		}
		return n > 0
	})
	if qerr != nil {
		return "", qerr
	}
	return code, err
}

// regenerateDoorcodes gives every code holder of the property a new code of
// the new length; it returns how many and the doors that take doorcodes.
func (t *Tx) regenerateDoorcodes(ctx context.Context, propertyID string, length int) (int, []string, error) {
	rows, err := t.query(ctx, `SELECT person_id FROM doorcodes WHERE property_id = ? ORDER BY person_id`, propertyID)
	if err != nil {
		return 0, nil, err
	}
	people, err := scanStrings(rows)
	if err != nil {
		return 0, nil, err
	}
	// Free the namespace first so a new code may reuse an old one's digits
	// only if the lengths match (they do not: the length changed).
	if _, err := t.exec(ctx, `DELETE FROM doorcodes WHERE property_id = ?`, propertyID); err != nil {
		return 0, nil, err
	}
	for _, id := range people {
		code, err := t.freeDoorcode(ctx, propertyID, length)
		if err != nil {
			return 0, nil, err
		}
		if _, err := t.exec(ctx, `INSERT INTO doorcodes (person_id, property_id, code, created_at) VALUES (?,?,?,?)`, id, propertyID, code, micros(t.s.Now())); err != nil {
			return 0, nil, err
		}
	}
	// Guest codes take the length too: their holders get the new code by email.
	if err := t.reissueGuestCodes(ctx, propertyID); err != nil {
		return 0, nil, err
	}
	rows, err = t.query(ctx, `SELECT DISTINCT kd.door_id FROM key_doors kd JOIN access_keys k ON k.id = kd.key_id WHERE k.property_id = ? AND kd.doorcodes ORDER BY kd.door_id`, propertyID)
	if err != nil {
		return 0, nil, err
	}
	doors, err := scanStrings(rows)
	return len(people), doors, err
}

// Person returns one person with keys, guests and (for full Key
// Management) doorcode.
func (s *Store) Person(ctx context.Context, a domain.Actor, propertyID, id string) (v domain.PersonView, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, id, false)
		if err != nil {
			return err
		}
		v, err = t.view(ctx, a, p)
		return err
	})
	return v, err
}

// ListPeople is the People tab: sorted by last then first name, expired and
// revoked people hidden unless IncludeExpired, searched by prefix of first
// name, last name, "last first", email or phone, or by a unit's name, paged
// by cursor.
func (s *Store) ListPeople(ctx context.Context, a domain.Actor, propertyID string, f domain.PeopleFilter) ([]domain.PersonView, string, error) {
	var out []domain.PersonView
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		limit := pageLimit(f.Limit, maxPageSize)
		now := s.Now()
		sortBy := ` ORDER BY sort_name, id LIMIT ?`
		q := `SELECT ` + personCols + `, sort_name FROM people WHERE property_id = ? AND deleted_at IS NULL`
		args := []any{propertyID}
		if !f.IncludeExpired {
			q += ` AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`
			args = append(args, micros(now))
		}
		if term := strings.ToLower(strings.TrimSpace(f.Query)); term != "" {
			if len(term) > 200 {
				return domain.FieldError("q", "must be at most 200 characters")
			}
			if strings.Contains(term, ",") {
				// "Garcia, Ana", as People lists names: "last first", the
				// order sort_name keeps (an email has no comma).
				term = strings.Join(strings.Fields(strings.ReplaceAll(term, ",", " ")), " ")
			}
			match, matchArgs := searchTerms(propertyID, term)
			// Two plans: few matches are best found through the name and
			// email indexes and then sorted; many are best found by walking
			// the People order until the page is full. PostgreSQL's planner
			// chooses well; SQLite's, without fresh statistics, may walk
			// 100,000 rows for a handful of matches (340 ms), so count the
			// first matches (cheap either way) and pick the plan.
			many := false
			if t.s.dialect == SQLite {
				var n int
				if err := t.queryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM people WHERE `+match+` LIMIT ?) m`,
					append(matchArgs, searchPlanLimit+1)...).Scan(&n); err != nil {
					return err
				}
				many = n > searchPlanLimit
			}
			if many {
				// The same condition, but without the property and
				// deleted_at in each alternative, no index serves it but
				// the People order (people_sort).
				hi := term + "\U0010FFFF"
				q += ` AND ((email >= ? AND email < ?) OR (first_lc >= ? AND first_lc < ?) OR (last_lc >= ? AND last_lc < ?) OR (sort_name >= ? AND sort_name < ?)`
				args = append(args, term, hi, term, hi, term, hi, term, hi)
				if first, last, ok := strings.Cut(term, " "); ok {
					q += ` OR (first_lc = ? AND last_lc >= ? AND last_lc < ?)`
					args = append(args, first, last, last+"\U0010FFFF")
				}
				q += ` OR (phone >= ? AND phone < ?) OR unit_id IN (SELECT id FROM units WHERE property_id = ? AND LOWER(name) = ?))`
				args = append(args, term, hi, propertyID, term)
			} else {
				q += ` AND (` + match + `)`
				args = append(args, matchArgs...)
				if t.s.dialect == SQLite {
					sortBy = ` ORDER BY +sort_name, id LIMIT ?`
				}
			}
		}
		order, err := peopleOrder(f, micros(now))
		if err != nil {
			return err
		}
		offset := 0
		if order != "" {
			// Sorted by another column: paged by position (these sorts
			// serve the People tab of one property, not a 100,000-row walk).
			if f.Cursor != "" {
				n, sortedBy, err := decodeIntCursor(f.Cursor)
				if err != nil || n < 0 || sortedBy != f.Sort {
					return badCursor()
				}
				offset = int(n)
			}
			sortBy = order + ` LIMIT ? OFFSET ?`
		} else if f.Cursor != "" {
			sn, id, err := decodeCursor(f.Cursor)
			if err != nil {
				return err
			}
			q += ` AND (sort_name > ? OR (sort_name = ? AND id > ?))`
			args = append(args, sn, sn, id)
		}
		q += sortBy
		args = append(args, limit+1)
		if order != "" {
			args = append(args, offset)
		}
		rows, err := t.query(ctx, q, args...)
		type sorted struct {
			domain.Person
			sortName string
		}
		got, err := collect(rows, err, func(sc rowScanner) (sorted, error) {
			var sn string
			p, err := scanPerson(sc, &sn)
			return sorted{p, sn}, err
		})
		if err != nil {
			return err
		}
		if order != "" {
			if len(got) > limit {
				got, next = got[:limit], encodeCursor(strconv.Itoa(offset+limit), f.Sort)
			}
		} else {
			got, next = page(got, limit, func(p sorted) (string, string) { return p.sortName, p.ID })
		}
		people := make([]domain.Person, len(got))
		for i, p := range got {
			people[i] = p.Person
		}
		keys, err := t.pageGrants(ctx, people)
		if err != nil {
			return err
		}
		out = make([]domain.PersonView, len(people))
		for i, p := range people {
			out[i] = domain.PersonView{Person: p, Status: p.Status(now), Keys: keys[p.ID], Guests: []domain.GuestSummary{}}
			if out[i].Keys == nil {
				out[i].Keys = []domain.GrantView{}
			}
		}
		return nil
	})
	return out, next, err
}

// peopleOrder is the ORDER BY of a People list sorted by a column other
// than the name ("" for the name, which pages by cursor), ties in name
// order. People without a unit or an expiration come last (first when
// reversed). Status sorts active, pending, expired, revoked.
func peopleOrder(f domain.PeopleFilter, now int64) (string, error) {
	var terms []string
	switch f.Sort {
	case "", "name":
		if !f.Desc {
			return "", nil
		}
	case "unit":
		const unit = `(SELECT LOWER(units.name) FROM units WHERE units.id = people.unit_id)`
		terms = []string{`(` + unit + ` IS NULL)`, unit}
	case "expires":
		terms = []string{`(expires_at IS NULL)`, `expires_at`}
	case "status":
		n := strconv.FormatInt(now, 10)
		terms = []string{`CASE WHEN revoked_at IS NOT NULL THEN 3 WHEN expires_at IS NOT NULL AND expires_at <= ` + n +
			` THEN 2 WHEN starts_at > ` + n + ` THEN 1 ELSE 0 END`}
	default:
		return "", domain.FieldError("sort", "must be one of %s", strings.Join(domain.PeopleSorts, ", "))
	}
	terms = append(terms, `sort_name`, `id`)
	if f.Desc {
		for i := range terms {
			terms[i] += ` DESC`
		}
	}
	return ` ORDER BY ` + strings.Join(terms, `, `), nil
}

// searchPlanLimit is how many matches make a search walk the People order
// instead of collecting matches through the indexes and sorting them.
var searchPlanLimit = 1000

// searchTerms is the People search condition (a prefix of the email, first
// name, last name, "last first", "first last" or phone, or a unit's whole
// name) with the property and
// deleted_at repeated in each alternative, so each one is served by its
// own partial index.
func searchTerms(propertyID, term string) (string, []any) {
	hi := term + "\U0010FFFF"
	const own = `property_id = ? AND deleted_at IS NULL AND `
	q := `(` + own + `email >= ? AND email < ?) OR (` + own + `first_lc >= ? AND first_lc < ?) OR (` +
		own + `last_lc >= ? AND last_lc < ?) OR (` + own + `sort_name >= ? AND sort_name < ?)`
	args := []any{propertyID, term, hi, propertyID, term, hi, propertyID, term, hi, propertyID, term, hi}
	if first, last, ok := strings.Cut(term, " "); ok {
		q += ` OR (` + own + `first_lc = ? AND last_lc >= ? AND last_lc < ?)`
		args = append(args, propertyID, first, last, last+"\U0010FFFF")
	}
	// A phone number by its prefix as it was typed ("+1 555"), and a unit by
	// its whole name in any case ("4b" finds unit 4B, not 4B2).
	q += ` OR (` + own + `phone >= ? AND phone < ?) OR (` + own +
		`unit_id IN (SELECT id FROM units WHERE property_id = ? AND LOWER(name) = ?))`
	args = append(args, propertyID, term, hi, propertyID, propertyID, term)
	return q, args
}

// pageGrants loads the keys of a page of people in one query.
func (t *Tx) pageGrants(ctx context.Context, people []domain.Person) (map[string][]domain.GrantView, error) {
	out := map[string][]domain.GrantView{}
	if len(people) == 0 {
		return out, nil
	}
	byID := map[string]domain.Person{}
	ids := make([]string, len(people))
	for i, p := range people {
		ids[i], byID[p.ID] = p.ID, p
	}
	rows, err := t.query(ctx, `SELECT g.person_id, g.key_id, k.name, g.may_share, g.starts_at, g.expires_at FROM grants g
		JOIN access_keys k ON k.id = g.key_id WHERE g.person_id IN (`+placeholders(len(ids))+`) ORDER BY g.person_id, k.name`, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var g domain.Grant
		var name string
		var st, ex sql.NullInt64
		if err := rows.Scan(&g.PersonID, &g.KeyID, &name, &g.MayShare, &st, &ex); err != nil {
			return nil, err
		}
		g.StartsAt, g.ExpiresAt = timePtr(st), timePtr(ex)
		w := g.EffectiveWindow(byID[g.PersonID])
		out[g.PersonID] = append(out[g.PersonID], domain.GrantView{KeyID: g.KeyID, Name: name, MayShare: g.MayShare, StartsAt: w.Start, ExpiresAt: w.End})
	}
	return out, rows.Err()
}

// personKeys loads a person's grants and their keys.
func (t *Tx) personKeys(ctx context.Context, propertyID, personID string) ([]domain.Grant, map[string]domain.Key, error) {
	gs, err := t.grants(ctx, personID)
	if err != nil {
		return nil, nil, err
	}
	keys, err := t.keysByID(ctx, propertyID, grantKeyIDs(gs))
	return gs, keys, err
}

// accessKeys lists the keys behind a person's access and their guests'
// (the guests' are a subset of the host's): grants, and the key of each
// code guest's code, which is held without a grant.
func (t *Tx) accessKeys(ctx context.Context, personID string) ([]string, error) {
	const whose = `(person_id = ? OR person_id IN (SELECT id FROM people WHERE invited_by = ? AND deleted_at IS NULL))`
	rows, err := t.query(ctx, `SELECT key_id FROM grants WHERE `+whose+`
		UNION SELECT key_id FROM guest_codes WHERE released_at IS NULL AND `+whose+` ORDER BY 1`, personID, personID, personID, personID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// PersonAccessKeys lists the keys behind a person's access and their
// guests' (what CanEditPerson and CanRevokePerson are asked about), for a
// page that offers only what the manager may do.
func (s *Store) PersonAccessKeys(ctx context.Context, a domain.Actor, propertyID, id string) (keys []string, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		if _, err := t.person(ctx, propertyID, id, false); err != nil {
			return err
		}
		keys, err = t.accessKeys(ctx, id)
		return err
	})
	return keys, err
}

// personToEdit locks and returns a person of the property for a change by
// a: a manager of the property's people who could give every key behind
// that person's access (domain.Actor.CanEditPerson).
func (t *Tx) personToEdit(ctx context.Context, a domain.Actor, propertyID, id string) (domain.Person, error) {
	if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
		return domain.Person{}, err
	}
	p, err := t.person(ctx, propertyID, id, true)
	if err != nil {
		return domain.Person{}, err
	}
	held, err := t.accessKeys(ctx, id)
	if err != nil {
		return domain.Person{}, err
	}
	if err := a.CanEditPerson(propertyID, held); err != nil {
		return domain.Person{}, err
	}
	return p, nil
}

// UpdatePerson changes contact details and the access window. Only the
// fields in the patch are written, so two managers editing different fields
// of the same person at once both keep their change.
func (s *Store) UpdatePerson(ctx context.Context, a domain.Actor, propertyID, id string, patch domain.PersonPatch) (domain.PersonView, error) {
	var out domain.PersonView
	err := s.inTx(ctx, "update_person", func(t *Tx) error {
		// Before validation: a manager who may not change this person
		// learns nothing from the patch.
		p, err := t.personToEdit(ctx, a, propertyID, id)
		if err != nil {
			return err
		}
		gs, keys, err := t.personKeys(ctx, propertyID, id)
		if err != nil {
			return err
		}
		next, narrowed, err := patch.Apply(p, s.Now())
		if err != nil {
			return err
		}
		windowChanged := !next.StartsAt.Equal(p.StartsAt) || !sameTimePtr(next.ExpiresAt, p.ExpiresAt)
		if windowChanged {
			if p.InvitedBy != "" {
				h, err := t.person(ctx, propertyID, p.InvitedBy, false)
				if err != nil {
					return err
				}
				if err := domain.CheckGuestWindow(h, next.Window()); err != nil {
					return err
				}
			}
		}
		if next.UnitID != p.UnitID && next.UnitID != "" {
			if _, err := t.unit(ctx, propertyID, next.UnitID); err != nil {
				return &domain.Error{Code: domain.EInvalid, Field: "unit_id", Message: err.Error()}
			}
		}
		if next.Email != p.Email {
			if err := t.emailFree(ctx, propertyID, next.Email, id); err != nil {
				return err
			}
		}
		next.StartsAt = next.StartsAt.UTC().Truncate(time.Microsecond)
		next.ExpiresAt = truncPtr(next.ExpiresAt)
		detail := describePatch(p, next)
		if detail == "" {
			// Nothing changes: no write, no Activity entry, no door work.
			out, err = t.view(ctx, a, p)
			return err
		}
		next.UpdatedAt = s.Now()
		if _, err := t.exec(ctx, `UPDATE people SET first_name = ?, last_name = ?, email = ?, phone = ?, resident = ?, unit_id = ?,
			starts_at = ?, expires_at = ?, updated_at = ?, sort_name = ?, first_lc = ?, last_lc = ? WHERE id = ?`,
			next.FirstName, next.LastName, next.Email, next.Phone, next.Resident, nullString(next.UnitID),
			micros(next.StartsAt), nullMicros(next.ExpiresAt), micros(next.UpdatedAt),
			sortName(next.FirstName, next.LastName), strings.ToLower(next.FirstName), strings.ToLower(next.LastName), id); err != nil {
			return err
		}
		if next.Email != p.Email {
			// The email is the app login: whatever the old one was given
			// ends now, also at offline locks (a revocation).
			if err := t.endAppLogin(ctx, a, next, p.Email); err != nil {
				return err
			}
		}
		var doors []string
		if windowChanged {
			doors = domain.GrantDoors(keys, gs)
			var revoked []string
			if narrowed {
				revoked = []string{id}
				// Guests never outlive their host's window.
				if err := t.clampGuests(ctx, a, propertyID, next); err != nil {
					return err
				}
			}
			if err := t.bumpDoors(ctx, domain.Changes(doors, windowChangedReason(next.Name()), revoked...)); err != nil {
				return err
			}
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventPersonUpdated, &next, detail, doors)); err != nil {
			return err
		}
		out, err = t.view(ctx, a, next)
		return err
	})
	return out, err
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// describePatch names the fields a patch changed, "" when it changed none.
func describePatch(old, next domain.Person) string {
	var ch []string
	add := func(field string, changed bool) {
		if changed {
			ch = append(ch, field)
		}
	}
	add("first name", old.FirstName != next.FirstName)
	add("last name", old.LastName != next.LastName)
	add("email", old.Email != next.Email)
	add("phone", old.Phone != next.Phone)
	add("resident", old.Resident != next.Resident)
	add("unit", old.UnitID != next.UnitID)
	add("start", !old.StartsAt.Equal(next.StartsAt))
	add("expiration", !sameTimePtr(old.ExpiresAt, next.ExpiresAt))
	if len(ch) == 0 {
		return ""
	}
	return "changed " + strings.Join(ch, ", ")
}

// clampGuests narrows every guest of host to the host's new window.
func (t *Tx) clampGuests(ctx context.Context, a domain.Actor, propertyID string, host domain.Person) error {
	guests, err := t.guests(ctx, host.ID)
	if err != nil {
		return err
	}
	// A lock accepts a guest code all day: it cannot be narrowed, only ended
	// (store/resident_guests.go).
	ended, codeChanges, err := t.endCodeGuests(ctx, a, guests, func(g domain.Person, _ string) bool {
		return domain.CodeGuestMustEnd(g.Window(), host.Window())
	}, "host "+host.Name()+"'s window narrowed")
	if err != nil {
		return err
	}
	if err := t.bumpDoors(ctx, codeChanges); err != nil {
		return err
	}
	for _, g := range guests {
		w := g.Window().Intersect(host.Window())
		if ended[g.ID] || (w.Start.Equal(g.StartsAt) && sameTimePtr(w.End, g.ExpiresAt)) {
			continue
		}
		if w.End != nil && !w.End.After(w.Start) {
			// Nothing left: the guest's access is gone.
			e := w.Start.Add(time.Microsecond)
			w.End = &e
		}
		if _, err := t.exec(ctx, `UPDATE people SET starts_at = ?, expires_at = ?, updated_at = ? WHERE id = ?`,
			micros(w.Start), nullMicros(w.End), micros(t.s.Now()), g.ID); err != nil {
			return err
		}
		gs, keys, err := t.personKeys(ctx, propertyID, g.ID)
		if err != nil {
			return err
		}
		doors := domain.GrantDoors(keys, gs)
		if err := t.bumpDoors(ctx, domain.Changes(doors, "guest window narrowed to the host's", g.ID)); err != nil {
			return err
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventPersonUpdated, &g, "guest window narrowed to host "+host.Name()+"'s", doors)); err != nil {
			return err
		}
	}
	return nil
}

// GiveKey gives one key (or changes how it is held). Giving a key to a
// revoked person grants access again on the same record.
func (s *Store) GiveKey(ctx context.Context, a domain.Actor, propertyID, id, keyID string, in domain.GrantChange) (domain.PersonView, error) {
	var out domain.PersonView
	err := s.inTx(ctx, "give_key", func(t *Tx) error {
		now := s.Now()
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanHandleKeys(propertyID, keyID); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, id, true)
		if err != nil {
			return err
		}
		if err := in.Check(p, now); err != nil {
			return err
		}
		k, err := t.key(ctx, propertyID, keyID)
		if err != nil {
			return err
		}
		gs, keys, err := t.personKeys(ctx, propertyID, id)
		if err != nil {
			return err
		}
		keys[keyID] = k
		var old *domain.Grant
		for i := range gs {
			if gs[i].KeyID == keyID {
				old = &gs[i]
			}
		}
		g := domain.Grant{PersonID: id, KeyID: keyID, MayShare: in.MayShare, StartsAt: truncPtr(in.StartsAt), ExpiresAt: truncPtr(in.ExpiresAt)}
		if p.InvitedBy != "" {
			h, err := t.host(ctx, propertyID, p.InvitedBy, false)
			if err != nil {
				return err
			}
			w := g.EffectiveWindow(p)
			probe := domain.InviteInput{Keys: []domain.GrantInput{{KeyID: keyID}}, StartsAt: &w.Start, ExpiresAt: w.End}
			if err := domain.CheckGuest(h, &probe, now); err != nil {
				return err
			}
			g.MayShare = false
		}
		next := append([]domain.Grant{}, gs...)
		if old == nil {
			next = append(next, g)
		}
		if err := domain.CheckAccessMode(p.Access, keys, next); err != nil {
			return err
		}
		if err := t.insertGrant(ctx, g); err != nil {
			return err
		}
		if p.RevokedAt != nil {
			if _, err := t.exec(ctx, `UPDATE people SET revoked_at = NULL WHERE id = ?`, id); err != nil {
				return err
			}
			p.RevokedAt = nil
		}
		if !sameGrant(old, g) { // the same key held the same way changes nobody
			if err := t.touchPerson(ctx, &p, now); err != nil {
				return err
			}
		}
		if err := t.syncDoorcodes(ctx, propertyID, []string{id}); err != nil {
			return err
		}
		var revoked []string
		if old != nil && (narrows(old.EffectiveWindow(p), g.EffectiveWindow(p)) || (old.MayShare && !g.MayShare)) {
			revoked = []string{id}
			if old.MayShare && !g.MayShare {
				// A key that may no longer be shared leaves the guests too.
				if err := t.takeFromGuests(ctx, a, propertyID, p, k, hostMayNotShare); err != nil {
					return err
				}
			} else if err := t.clampGuestsOnKey(ctx, a, propertyID, p, k, g.EffectiveWindow(p)); err != nil {
				// Guests never outlive their host's window on the key.
				return err
			}
		}
		doors := k.DoorIDs()
		if err := t.bumpDoors(ctx, domain.Changes(doors, "key "+k.Name+" given to "+p.Name(), revoked...)); err != nil {
			return err
		}
		// The first access a contact gets (or the first after losing it
		// all) comes with the welcome email.
		if err := t.welcomeOnce(ctx, a, p, keys, next); err != nil {
			return err
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventKeyGiven, &p, "gave key "+k.Name, doors)); err != nil {
			return err
		}
		out, err = t.view(ctx, a, p)
		return err
	})
	return out, err
}

func narrows(prev, next domain.Window) bool {
	if next.Start.After(prev.Start) {
		return true
	}
	return next.End != nil && (prev.End == nil || next.End.Before(*prev.End))
}

// clampGuestsOnKey narrows host's guests on key k to the host's new window
// hw on it, as clampGuests does for the host's own window: code guests on
// k whose day no longer fits end (a lock accepts the code all day), app
// guests' grants on k are clamped (domain.ClampGuestGrant).
func (t *Tx) clampGuestsOnKey(ctx context.Context, a domain.Actor, propertyID string, host domain.Person, k domain.Key, hw domain.Window) error {
	guests, err := t.guests(ctx, host.ID)
	if err != nil {
		return err
	}
	_, codeChanges, err := t.endCodeGuests(ctx, a, guests, func(g domain.Person, keyID string) bool {
		return keyID == k.ID && domain.CodeGuestMustEnd(g.Window(), hw)
	}, "host "+host.Name()+"'s window on key "+k.Name+" narrowed")
	if err != nil {
		return err
	}
	if err := t.bumpDoors(ctx, codeChanges); err != nil {
		return err
	}
	for _, g := range guests {
		gs, err := t.grants(ctx, g.ID)
		if err != nil {
			return err
		}
		for _, gr := range gs {
			if gr.KeyID != k.ID {
				continue
			}
			next, changed := domain.ClampGuestGrant(gr, g, hw)
			if !changed {
				continue
			}
			if _, err := t.exec(ctx, `UPDATE grants SET starts_at = ?, expires_at = ? WHERE person_id = ? AND key_id = ?`,
				nullMicros(next.StartsAt), nullMicros(next.ExpiresAt), g.ID, k.ID); err != nil {
				return err
			}
			if err := t.bumpDoors(ctx, domain.Changes(k.DoorIDs(), "guest's key "+k.Name+" narrowed to the host's window", g.ID)); err != nil {
				return err
			}
			if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventPersonUpdated, &g, "key "+k.Name+" narrowed to host "+host.Name()+"'s window on it", k.DoorIDs())); err != nil {
				return err
			}
		}
	}
	return nil
}

// takeFromGuests removes key k from every guest of host.
func (t *Tx) takeFromGuests(ctx context.Context, a domain.Actor, propertyID string, host domain.Person, k domain.Key, why hostKeyChange) error {
	detail := guestKeyTaken(k, host, why)
	guests, err := t.guests(ctx, host.ID)
	if err != nil {
		return err
	}
	var ids []string
	for _, g := range guests {
		res, err := t.exec(ctx, `DELETE FROM grants WHERE person_id = ? AND key_id = ?`, g.ID, k.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			ids = append(ids, g.ID)
			if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventKeyTaken, &g, detail, k.DoorIDs())); err != nil {
				return err
			}
		}
	}
	// Code guests on k lose their code (store/resident_guests.go).
	_, codeChanges, err := t.endCodeGuests(ctx, a, guests, func(_ domain.Person, keyID string) bool { return keyID == k.ID },
		hostKeyReason(k, host, why))
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return t.bumpDoors(ctx, codeChanges)
	}
	if err := t.syncDoorcodes(ctx, propertyID, ids); err != nil {
		return err
	}
	return t.bumpDoors(ctx, append(domain.Changes(k.DoorIDs(), "guests of "+host.Name()+" lost key "+k.Name, ids...), codeChanges...))
}

// TakeKey takes one key from a person, and from every guest they invited.
func (s *Store) TakeKey(ctx context.Context, a domain.Actor, propertyID, id, keyID string) (domain.PersonView, error) {
	var out domain.PersonView
	err := s.inTx(ctx, "take_key", func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if err := a.CanHandleKeys(propertyID, keyID); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, id, true)
		if err != nil {
			return err
		}
		k, err := t.key(ctx, propertyID, keyID)
		if err != nil {
			return err
		}
		res, err := t.exec(ctx, `DELETE FROM grants WHERE person_id = ? AND key_id = ?`, id, keyID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return domain.Errorf(domain.ENotFound, "%s does not hold key %s", p.Name(), k.Name)
		}
		if err := t.takeFromGuests(ctx, a, propertyID, p, k, hostLostKey); err != nil {
			return err
		}
		if err := t.touchPerson(ctx, &p, t.s.Now()); err != nil {
			return err
		}
		if err := t.syncDoorcodes(ctx, propertyID, []string{id}); err != nil {
			return err
		}
		// Holding nothing now: access given again is welcomed again.
		if _, err := t.exec(ctx, `UPDATE people SET welcomed_at = NULL WHERE id = ? AND NOT EXISTS (SELECT 1 FROM grants WHERE person_id = ?)`, id, id); err != nil {
			return err
		}
		if err := t.bumpDoors(ctx, domain.Changes(k.DoorIDs(), "key "+k.Name+" taken from "+p.Name(), id)); err != nil {
			return err
		}
		if err := t.addEvent(ctx, adminEvent(a, propertyID, domain.EventKeyTaken, &p, "took key "+k.Name, k.DoorIDs())); err != nil {
			return err
		}
		out, err = t.view(ctx, a, p)
		return err
	})
	return out, err
}

// endAccess removes every grant and doorcode of a person and of their
// guests and marks them revoked (and deleted when del). Everything they
// could open gets a revocation. It reads and writes everyone at once, so
// a revoke costs the same few statements for one guest or twenty. It
// returns the guests as they are now.
func (t *Tx) endAccess(ctx context.Context, a domain.Actor, propertyID string, p domain.Person, del bool) ([]domain.Person, error) {
	now := t.s.Now()
	guests, err := t.guests(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	everyone := append([]domain.Person{p}, guests...)
	ids := make([]string, len(everyone))
	for i, x := range everyone {
		ids[i] = x.ID
	}
	grants, keys, err := t.peopleKeys(ctx, propertyID, ids)
	if err != nil {
		return nil, err
	}
	held, err := t.accessKeys(ctx, p.ID)
	if err != nil {
		return nil, err
	}
	if err := a.CanRevokePerson(propertyID, held); err != nil {
		return nil, err
	}
	// Only code guests have a guest code to end; find them at once.
	rows, err := t.query(ctx, `SELECT person_id FROM guest_codes WHERE released_at IS NULL AND person_id IN (`+placeholders(len(ids))+`)`, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	coded, err := scanStrings(rows)
	if err != nil {
		return nil, err
	}
	var changes []domain.DoorChange
	events := make([]domain.Event, 0, len(everyone))
	for _, x := range everyone {
		doors := domain.GrantDoors(keys, grants[x.ID])
		reason := "access of " + x.Name() + " revoked"
		if del {
			reason = x.Name() + " deleted"
		}
		mine := domain.Changes(doors, reason, x.ID)
		// A code guest's computed code ends too (store/resident_guests.go).
		if slices.Contains(coded, x.ID) {
			codeChanges, err := t.endGuestCode(ctx, x)
			if err != nil {
				return nil, err
			}
			mine = append(mine, codeChanges...)
		}
		changes = append(changes, mine...)
		kind, detail := domain.EventPersonRevoked, "revoked all keys"
		if del {
			kind, detail = domain.EventPersonDeleted, "deleted person"
		}
		if x.ID != p.ID {
			detail += " (guest of " + p.Name() + ")"
		}
		// Each entry names the doors this person lost, so a door's Activity
		// shows it only where it mattered.
		events = append(events, adminEvent(a, propertyID, kind, &x, detail, changedDoors(mine)))
	}
	in, args := `(`+placeholders(len(ids))+`)`, anySlice(ids)
	// welcomed_at goes: access granted again later is welcomed again.
	q, qargs := `UPDATE people SET revoked_at = COALESCE(revoked_at, ?), updated_at = ?, welcomed_at = NULL WHERE id IN `+in, []any{micros(now), micros(now)}
	if del {
		q, qargs = `UPDATE people SET revoked_at = COALESCE(revoked_at, ?), updated_at = ?, welcomed_at = NULL, deleted_at = ? WHERE id IN `+in, []any{micros(now), micros(now), micros(now)}
	}
	// Their keycards end too (store/keycards.go); the revocation at their
	// doors brings the removal to the locks.
	writes := []struct {
		q    string
		args []any
	}{
		{`DELETE FROM grants WHERE person_id IN ` + in, args},
		{`DELETE FROM doorcodes WHERE person_id IN ` + in, args},
		{`UPDATE keycards SET deactivated_at = ?, deactivated_by = ? WHERE deactivated_at IS NULL AND person_id IN ` + in, append([]any{micros(now), a.Name}, args...)},
		{q, append(qargs, args...)},
	}
	if t.s.dialect == Postgres {
		// One round trip: the first three as data-modifying WITH clauses.
		var b strings.Builder
		var all []any
		for i, w := range writes {
			if i < len(writes)-1 {
				sep := ", "
				if i == 0 {
					sep = "WITH "
				}
				fmt.Fprintf(&b, "%sw%d AS (%s)", sep, i, w.q)
			} else {
				b.WriteString(" " + w.q)
			}
			all = append(all, w.args...)
		}
		writes = writes[:1]
		writes[0].q, writes[0].args = b.String(), all
	}
	for _, w := range writes {
		if _, err := t.exec(ctx, w.q, w.args...); err != nil {
			return nil, err
		}
	}
	if err := t.addEvents(ctx, events); err != nil {
		return nil, err
	}
	for i := range guests {
		ended(&guests[i], now, del)
	}
	return guests, t.bumpDoors(ctx, changes)
}

// ended is what endAccess wrote to a person row.
func ended(p *domain.Person, now time.Time, del bool) {
	if p.RevokedAt == nil {
		p.RevokedAt = &now
	}
	if del {
		p.DeletedAt = &now
	}
	p.UpdatedAt = now
}

// peopleKeys loads the grants of several people and their keys in three
// queries.
func (t *Tx) peopleKeys(ctx context.Context, propertyID string, personIDs []string) (map[string][]domain.Grant, map[string]domain.Key, error) {
	out := map[string][]domain.Grant{}
	if len(personIDs) == 0 {
		return out, map[string]domain.Key{}, nil
	}
	rows, err := t.query(ctx, `SELECT person_id, key_id, may_share, starts_at, expires_at, granted_at FROM grants
		WHERE person_id IN (`+placeholders(len(personIDs))+`) ORDER BY person_id, key_id`, anySlice(personIDs)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var keyIDs []string
	for rows.Next() {
		var g domain.Grant
		var s, e sql.NullInt64
		var granted int64
		if err := rows.Scan(&g.PersonID, &g.KeyID, &g.MayShare, &s, &e, &granted); err != nil {
			return nil, nil, err
		}
		g.StartsAt, g.ExpiresAt, g.GrantedAt = timePtr(s), timePtr(e), fromMicros(granted)
		out[g.PersonID] = append(out[g.PersonID], g)
		keyIDs = append(keyIDs, g.KeyID)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()
	keys, err := t.keysByID(ctx, propertyID, keyIDs)
	return out, keys, err
}

// Revoke is Revoke All Keys: the record stays (status revoked), every
// grant and doorcode goes, and the same happens to every guest they invited.
func (s *Store) Revoke(ctx context.Context, a domain.Actor, propertyID, id string) (domain.PersonView, error) {
	var out domain.PersonView
	err := s.inTx(ctx, "revoke", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, id, true)
		if err != nil {
			return err
		}
		if domain.RevokeIsNoop(p) {
			// Revoking again changes nothing: no event, no door bump, the
			// record as it is.
			out, err = t.view(ctx, a, p)
			return err
		}
		guests, err := t.endAccess(ctx, a, propertyID, p, false)
		if err != nil {
			return err
		}
		// Everything the view would read is what endAccess just wrote: no
		// keys, no doorcode, every guest revoked.
		now := s.Now()
		ended(&p, now, false)
		out = domain.PersonView{Person: p, Status: p.Status(now), Keys: []domain.GrantView{}, Guests: []domain.GuestSummary{}}
		for _, g := range guests {
			out.Guests = append(out.Guests, guestSummary(g, now))
		}
		return nil
	})
	return out, err
}

// DeletePerson removes a person from People with the same cascade as
// Revoke; their activity stays with their name as a snapshot.
func (s *Store) DeletePerson(ctx context.Context, a domain.Actor, propertyID, id string) error {
	return s.inTx(ctx, "delete_person", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		if err := a.CanDeletePerson(propertyID); err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, id, true)
		if err != nil {
			return err
		}
		_, err = t.endAccess(ctx, a, propertyID, p, true)
		return err
	})
}
