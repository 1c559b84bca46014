package store

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/pms"
)

// PMS sync defaults and bounds.
const (
	DefaultPMSIntervalMinutes = 60
	minPMSIntervalMinutes     = 5
	maxPMSIntervalMinutes     = 7 * 24 * 60
	// PMSLease is how long a sync run stays claimed without progress.
	PMSLease = 5 * time.Minute
	// pmsBatch is how many plan items one transaction applies.
	pmsBatch = 100
)

// PMS review statuses.
const (
	ReviewOpen     = "open"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// PMSSettings is a property's PMS User Sync configuration.
type PMSSettings struct {
	PropertyID      string            `json:"property_id"`
	Provider        string            `json:"provider"`
	Access          pms.AccessMode    `json:"access"`
	Keys            []string          `json:"keys"`
	MayShare        bool              `json:"may_share"`
	Units           map[string]string `json:"units"`
	IntervalMinutes int               `json:"interval_minutes"`
	SkipStatuses    []string          `json:"skip_statuses"`
	NextRunAt       time.Time         `json:"next_run_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
}

// PMSSettingsInput sets PMS User Sync for a property.
type PMSSettingsInput struct {
	Provider        string            `json:"provider"`
	Access          pms.AccessMode    `json:"access"`
	Keys            []string          `json:"keys"`
	MayShare        bool              `json:"may_share"`
	Units           map[string]string `json:"units"`
	IntervalMinutes int               `json:"interval_minutes"`
	// SkipStatuses are vendor lease status words whose records the sync
	// skips, besides those no adapter reads as residents.
	SkipStatuses []string `json:"skip_statuses"`
}

// Normalize applies defaults and checks what needs no stored data.
func (in *PMSSettingsInput) Normalize() error {
	c, ok := pms.ConnectorFor(in.Provider)
	if !ok {
		names := make([]string, 0, 6)
		for _, c := range pms.Connectors() {
			names = append(names, c.Name())
		}
		return domain.FieldError("provider", "%q is not one of %s", in.Provider, strings.Join(names, ", "))
	}
	in.Provider = c.Name()
	switch in.Access {
	case "":
		in.Access = pms.ApprovalRequired
	case pms.ApprovalRequired, pms.Automatic:
	default:
		return domain.FieldError("access", "%q is not one of approval_required, automatic", in.Access)
	}
	if in.IntervalMinutes == 0 {
		in.IntervalMinutes = DefaultPMSIntervalMinutes
	}
	if in.IntervalMinutes < minPMSIntervalMinutes || in.IntervalMinutes > maxPMSIntervalMinutes {
		return domain.FieldError("interval_minutes", "must be between %d and %d", minPMSIntervalMinutes, maxPMSIntervalMinutes)
	}
	if in.Keys == nil {
		in.Keys = []string{}
	}
	seen := map[string]bool{}
	for _, k := range in.Keys {
		if seen[k] {
			return domain.FieldError("keys", "key %s is listed twice", k)
		}
		seen[k] = true
	}
	var err error
	if in.SkipStatuses, err = domain.NormalizeSkipStatuses(in.SkipStatuses, pms.MeansPast); err != nil {
		return err
	}
	if in.Units == nil {
		in.Units = map[string]string{}
	}
	if len(in.Units) > 100000 {
		return domain.FieldError("units", "at most 100000 units")
	}
	for k := range in.Units {
		if strings.TrimSpace(k) == "" {
			return domain.FieldError("units", "a PMS unit name is empty")
		}
	}
	return nil
}

// ProviderName is how a provider is shown (Activity actor "PMS User Sync (Yardi)").
func ProviderName(provider string) string {
	switch provider {
	case "yardi":
		return "Yardi"
	case "realpage":
		return "RealPage"
	case "entrata":
		return "Entrata"
	case "appfolio":
		return "AppFolio"
	case "mri":
		return "MRI"
	case "generic":
		return "Generic"
	}
	return provider
}

func scanPMSSettings(sc rowScanner) (PMSSettings, error) {
	var s PMSSettings
	var keys, units, skip string
	var next, updated int64
	if err := sc.Scan(&s.PropertyID, &s.Provider, &s.Access, &keys, &s.MayShare, &units, &s.IntervalMinutes, &skip, &next, &updated); err != nil {
		return s, err
	}
	s.NextRunAt, s.UpdatedAt = fromMicros(next), fromMicros(updated)
	s.SkipStatuses = []string{}
	if err := json.Unmarshal([]byte(skip), &s.SkipStatuses); err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(keys), &s.Keys); err != nil {
		return s, err
	}
	return s, json.Unmarshal([]byte(units), &s.Units)
}

const pmsSettingsCols = `property_id, provider, access, key_ids, may_share, unit_map, interval_minutes, skip_statuses, next_run_at, updated_at`

func (t *Tx) pmsSettings(ctx context.Context, propertyID string) (PMSSettings, error) {
	s, err := scanPMSSettings(t.queryRow(ctx, `SELECT `+pmsSettingsCols+` FROM pms_settings WHERE property_id = ?`, propertyID))
	if errors.Is(err, sql.ErrNoRows) {
		return s, domain.Errorf(domain.ENotFound, "PMS User Sync is not set up for this property; PUT /api/v1/properties/%s/pms first", propertyID)
	}
	return s, err
}

// PMSSettings returns a property's PMS User Sync settings.
func (s *Store) PMSSettings(ctx context.Context, a domain.Actor, propertyID string) (PMSSettings, error) {
	var out PMSSettings
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		var err error
		out, err = t.pmsSettings(ctx, propertyID)
		return err
	})
	return out, err
}

// PutPMSSettings sets up or changes PMS User Sync (full Key Management:
// the keys it grants are handed out without a manager looking at each).
func (s *Store) PutPMSSettings(ctx context.Context, a domain.Actor, propertyID string, in PMSSettingsInput) (PMSSettings, error) {
	var out PMSSettings
	err := s.inTx(ctx, "put_pms_settings", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageKeys); err != nil {
			return err
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		if err := a.CanHandleKeys(propertyID, in.Keys...); err != nil {
			return err
		}
		for _, k := range in.Keys {
			if _, err := t.key(ctx, propertyID, k); err != nil {
				return &domain.Error{Code: domain.EInvalid, Field: "keys", Message: err.Error()}
			}
		}
		for name, u := range in.Units {
			if _, err := t.unit(ctx, propertyID, u); err != nil {
				return &domain.Error{Code: domain.EInvalid, Field: "units", Message: fmt.Sprintf("PMS unit %q: %v", name, err)}
			}
		}
		keys, _ := json.Marshal(in.Keys)
		units, _ := json.Marshal(in.Units)
		skip, _ := json.Marshal(in.SkipStatuses)
		now := s.Now()
		next := now.Add(time.Duration(in.IntervalMinutes) * time.Minute)
		if _, err := t.exec(ctx, `INSERT INTO pms_settings (property_id, provider, access, key_ids, may_share, unit_map, interval_minutes, skip_statuses, next_run_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (property_id) DO UPDATE SET provider = excluded.provider, access = excluded.access,
			key_ids = excluded.key_ids, may_share = excluded.may_share, unit_map = excluded.unit_map, interval_minutes = excluded.interval_minutes,
			skip_statuses = excluded.skip_statuses, next_run_at = excluded.next_run_at, updated_at = excluded.updated_at`,
			propertyID, in.Provider, in.Access, string(keys), in.MayShare, string(units), in.IntervalMinutes, string(skip), micros(next), micros(now)); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventPMSSettings, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("set PMS User Sync: %s, %s, %d keys, every %d minutes%s", ProviderName(in.Provider), in.Access, len(in.Keys), in.IntervalMinutes, skipDetail(in.SkipStatuses))}); err != nil {
			return err
		}
		var err error
		out, err = t.pmsSettings(ctx, propertyID)
		return err
	})
	return out, err
}

func skipDetail(words []string) string {
	if len(words) == 0 {
		return ""
	}
	return ", skipping lease statuses " + strings.Join(words, ", ")
}

// Activity kinds of PMS User Sync.
const (
	EventPMSSettings       = "pms.settings_changed"
	EventPMSSync           = "pms.synced"
	EventPMSReviewApproved = "pms.review_approved"
	EventPMSReviewRejected = "pms.review_rejected"
)

// PMSSyncActor is the actor PMS User Sync changes are recorded under.
func (s *Store) PMSSyncActor(ctx context.Context, propertyID, provider string) (domain.Actor, error) {
	org, err := orgOf(ctx, s, propertyID)
	return domain.System(org, "PMS User Sync ("+ProviderName(provider)+")"), err
}

// PMSSettingsByID loads settings without an actor, for the sync worker.
func (s *Store) PMSSettingsByID(ctx context.Context, propertyID string) (PMSSettings, error) {
	var out PMSSettings
	err := s.read(ctx, func(t *Tx) error {
		var err error
		out, err = t.pmsSettings(ctx, propertyID)
		return err
	})
	return out, err
}

// PMSRoster is a stored roster file.
type PMSRoster struct {
	ID         string    `json:"id"`
	Provider   string    `json:"provider"`
	Source     string    `json:"source"`
	Residents  int       `json:"residents"`
	ReceivedAt time.Time `json:"received_at"`
	Content    []byte    `json:"-"`
}

// SaveRoster stores a parsed roster file (residents is how many the
// adapter read) as the property's latest.
func (s *Store) SaveRoster(ctx context.Context, a domain.Actor, propertyID, provider, source string, content []byte, residents int) (PMSRoster, error) {
	r := PMSRoster{ID: domain.NewID("rst"), Provider: provider, Source: source, Residents: residents, ReceivedAt: s.Now()}
	err := s.inTx(ctx, "save_roster", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageKeys); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO pms_rosters (id, property_id, provider, source, content, residents, received_at) VALUES (?,?,?,?,?,?,?)`,
			r.ID, propertyID, provider, truncate(source, 300), base64.StdEncoding.EncodeToString(content), residents, micros(r.ReceivedAt))
		return err
	})
	return r, err
}

// LatestRoster returns the newest roster of a provider for a property.
func (s *Store) LatestRoster(ctx context.Context, propertyID, provider string) (PMSRoster, error) {
	r := PMSRoster{Provider: provider}
	var enc string
	var at int64
	err := s.queryRow(ctx, `SELECT id, source, content, residents, received_at FROM pms_rosters WHERE property_id = ? AND provider = ?
		ORDER BY received_at DESC, id DESC LIMIT 1`, propertyID, provider).Scan(&r.ID, &r.Source, &enc, &r.Residents, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return r, domain.Errorf(domain.ENotFound, "no %s roster has been received for this property yet", ProviderName(provider))
	}
	if err != nil {
		return r, err
	}
	r.ReceivedAt = fromMicros(at)
	r.Content, err = base64.StdEncoding.DecodeString(enc)
	return r, err
}

// PMSContacts lists the property's people (not guests, not deleted) as the
// planner sees them, with their links to this provider's residents.
// AccessExpiresAt is the latest effective end (the grant's own end or the
// person's, whichever is first) of the grants of the policy keys the
// person holds (nil when one of them has no end).
func (s *Store) PMSContacts(ctx context.Context, propertyID, provider string, policyKeys []string) ([]pms.Contact, error) {
	var out []pms.Contact
	err := s.read(ctx, func(t *Tx) error {
		now := s.Now()
		links := map[string]string{}
		rows, err := t.query(ctx, `SELECT person_id, external_id FROM pms_links WHERE property_id = ? AND provider = ?`, propertyID, provider)
		if err != nil {
			return err
		}
		for rows.Next() {
			var p, ext string
			if err := rows.Scan(&p, &ext); err != nil {
				rows.Close()
				return err
			}
			links[p] = ext
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		ps, err := t.queryPeople(ctx, `SELECT `+personCols+` FROM people WHERE property_id = ? AND deleted_at IS NULL AND invited_by IS NULL ORDER BY id`, propertyID)
		if err != nil {
			return err
		}
		people := map[string]domain.Person{}
		idx := map[string]int{}
		for _, p := range ps {
			people[p.ID] = p
			idx[p.ID] = len(out)
			c := pms.Contact{PersonID: p.ID, ExternalID: links[p.ID], FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, Phone: p.Phone, UnitID: p.UnitID}
			switch p.Status(now) {
			case domain.StatusPending:
				c.Status = pms.ContactPending
			case domain.StatusExpired:
				c.Status = pms.ContactExpired
			case domain.StatusRevoked:
				c.Status = pms.ContactRevoked
			default:
				c.Status = pms.ContactActive
			}
			out = append(out, c)
		}
		rows, err = t.query(ctx, `SELECT g.person_id, g.key_id, g.starts_at, g.expires_at FROM grants g JOIN people p ON p.id = g.person_id
			WHERE p.property_id = ? AND p.deleted_at IS NULL AND p.invited_by IS NULL ORDER BY g.person_id, g.key_id`, propertyID)
		if err != nil {
			return err
		}
		defer rows.Close()
		openEnded := map[string]bool{}
		for rows.Next() {
			g := domain.Grant{}
			var st, ex sql.NullInt64
			if err := rows.Scan(&g.PersonID, &g.KeyID, &st, &ex); err != nil {
				return err
			}
			g.StartsAt, g.ExpiresAt = timePtr(st), timePtr(ex)
			i, ok := idx[g.PersonID]
			if !ok {
				continue
			}
			c := &out[i]
			w := g.EffectiveWindow(people[g.PersonID])
			if w.End == nil || w.End.After(now) {
				c.HasAccess = true
			}
			if !slices.Contains(policyKeys, g.KeyID) || openEnded[g.PersonID] {
				continue
			}
			// The end that counts is where the grant stops opening doors:
			// its own end or the person's, whichever comes first. People
			// invited by a manager or a CSV file often have only the
			// person's end; reading the grant's alone took them for
			// open-ended, and an early move-out never moved their end.
			if w.End == nil {
				openEnded[g.PersonID], c.AccessExpiresAt = true, nil
				continue
			}
			if c.AccessExpiresAt == nil || w.End.After(*c.AccessExpiresAt) {
				e := *w.End
				c.AccessExpiresAt = &e
			}
		}
		return rows.Err()
	})
	return out, err
}

// pmsRuns is the job table of PMS sync runs: the import job runner claims
// them as it claims CSV imports. A run waits until every older unfinished
// run of its property has ended, so one property never syncs twice at once.
var pmsRuns = jobTable{name: "pms_runs", lease: PMSLease, drop: `DELETE FROM pms_run_plans WHERE run_id = ?`, order: "started_at, id",
	where: ` AND NOT EXISTS (SELECT 1 FROM pms_runs o WHERE o.property_id = j.property_id AND o.status IN ('queued', 'running')
		AND (o.started_at < j.started_at OR (o.started_at = j.started_at AND o.id < j.id)))`}

// QueuePMSRun queues a sync of the property's latest roster for the job
// runner (Sync Now, a roster received, the watched folder; cause says
// which) and returns it. When a run of the property is already queued,
// that run is returned instead: it reads the latest roster when it starts.
// The caller has checked the actor's permission.
func (s *Store) QueuePMSRun(ctx context.Context, propertyID, cause string) (PMSRun, error) {
	var out PMSRun
	err := s.inTx(ctx, "queue_pms_run", func(t *Tx) error {
		var err error
		out, _, err = t.queuePMSRun(ctx, propertyID, cause)
		return err
	})
	return out, err
}

// queuePMSRun is QueuePMSRun in t; queued is false when a queued run was
// there already.
func (t *Tx) queuePMSRun(ctx context.Context, propertyID, cause string) (PMSRun, bool, error) {
	set, err := t.pmsSettings(ctx, propertyID)
	if err != nil {
		return PMSRun{}, false, err
	}
	run, err := scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE property_id = ? AND status = ? ORDER BY started_at, id LIMIT 1`,
		propertyID, ImportQueued))
	if err == nil {
		return run, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return run, false, err
	}
	var rosterID string
	err = t.queryRow(ctx, `SELECT id FROM pms_rosters WHERE property_id = ? AND provider = ? ORDER BY received_at DESC, id DESC LIMIT 1`,
		propertyID, set.Provider).Scan(&rosterID)
	if errors.Is(err, sql.ErrNoRows) {
		return run, false, domain.Errorf(domain.ENotFound, "no %s roster has been received for this property yet", ProviderName(set.Provider))
	}
	if err != nil {
		return run, false, err
	}
	id := domain.NewID("run")
	res, err := t.exec(ctx, `INSERT INTO pms_runs (id, property_id, provider, roster_id, cause, status, summary, items, started_at) VALUES (?,?,?,?,?,?,?,?,?)
		ON CONFLICT (property_id) WHERE status = 'queued' DO NOTHING`,
		id, propertyID, set.Provider, rosterID, cause, ImportQueued, "{}", "[]", micros(t.s.Now()))
	if err != nil {
		return run, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		// Another instance queued one meanwhile.
		run, err = scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE property_id = ? AND status = ?`, propertyID, ImportQueued))
		return run, false, err
	}
	run, err = scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ?`, id))
	return run, true, err
}

// QueueDuePMSRuns queues the scheduled sync of every property whose sync
// is due (at most limit) and moves each one's next run an interval on.
// A property with no roster yet, or with a run already queued, gets none.
func (s *Store) QueueDuePMSRuns(ctx context.Context, limit int) ([]PMSRun, error) {
	var out []PMSRun
	err := s.inTx(ctx, "queue_due_pms_runs", func(t *Tx) error {
		out = nil
		now := micros(s.Now())
		rows, err := t.query(ctx, `SELECT property_id FROM pms_settings WHERE next_run_at <= ? ORDER BY next_run_at, property_id LIMIT ?`+t.skipLocked(), now, limit)
		due, err := scanStringsErr(rows, err)
		if err != nil {
			return err
		}
		for _, pid := range due {
			if _, err := t.exec(ctx, `UPDATE pms_settings SET next_run_at = ? + CAST(interval_minutes AS BIGINT) * 60000000 WHERE property_id = ?`, now, pid); err != nil {
				return err
			}
			run, queued, err := t.queuePMSRun(ctx, pid, "schedule")
			if domain.ErrorCode(err) == domain.ENotFound {
				continue // no roster yet
			}
			if err != nil {
				return err
			}
			if queued {
				out = append(out, run)
			}
		}
		return nil
	})
	return out, err
}

func scanStringsErr(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// ClaimPMSRun claims the oldest PMS sync run that is queued, or running
// with an expired lease (its worker died), for workerID; nil when none is
// ready.
func (s *Store) ClaimPMSRun(ctx context.Context, workerID string) (*PMSRun, error) {
	var out *PMSRun
	err := s.inTx(ctx, "claim_pms_run", func(t *Tx) error {
		out = nil
		id, err := t.claimJob(ctx, pmsRuns, workerID, "")
		if err != nil || id == "" {
			return err
		}
		r, err := scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ?`, id))
		out = &r
		return err
	})
	return out, err
}

// ReleasePMSRun hands a running sync back (a worker shutting down).
func (s *Store) ReleasePMSRun(ctx context.Context, id, workerID string) error {
	return s.releaseJob(ctx, pmsRuns, id, workerID)
}

// PMSRunSummary counts what a run did.
type PMSRunSummary struct {
	Linked   int `json:"linked"`
	Created  int `json:"created"`
	Updated  int `json:"updated"`
	Granted  int `json:"granted"`
	Revoked  int `json:"revoked"`
	Reviews  int `json:"reviews"`
	Alerts   int `json:"alerts"`
	Warnings int `json:"warnings"`
	Failed   int `json:"failed"`
}

func (sm *PMSRunSummary) count(it PMSRunItem) {
	if it.Status == "failed" {
		sm.Failed++
		return
	}
	switch it.Action {
	case "link":
		sm.Linked++
	case "create":
		sm.Created++
	case "update":
		sm.Updated++
	case "grant":
		sm.Granted++
	case "revoke":
		sm.Revoked++
	case "review":
		sm.Reviews++
	case "alert":
		sm.Alerts++
	case "warning":
		sm.Warnings++
	}
}

// PMSRunItem is one thing a run did, queued or could not do.
type PMSRunItem struct {
	Action     string `json:"action"` // link | create | update | grant | revoke | review | alert | warning
	Status     string `json:"status"` // applied | failed | queued | reported
	PersonID   string `json:"person_id"`
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
	Detail     string `json:"detail"`
	Error      string `json:"error"`
}

// PMSRun is one sync: queued by a request, applied in the background by
// the job runner. Steps is how many steps the plan has (0 until the run
// has planned), StepsDone how many are committed; Summary counts them.
type PMSRun struct {
	ID         string        `json:"id"`
	PropertyID string        `json:"property_id"`
	Provider   string        `json:"provider"`
	RosterID   string        `json:"roster_id"`
	Cause      string        `json:"cause"`
	Status     string        `json:"status"` // queued | running | done | failed
	Steps      int           `json:"steps"`
	StepsDone  int           `json:"steps_done"`
	Progress   float64       `json:"progress"`
	Summary    PMSRunSummary `json:"summary"`
	Items      []PMSRunItem  `json:"items,omitempty"`
	Error      string        `json:"error"`
	StartedAt  time.Time     `json:"started_at"` // when it was requested
	FinishedAt *time.Time    `json:"finished_at"`

	WorkerID string `json:"-"`
	planned  bool
}

// Planned reports whether the run has stored its plan (a resumed run
// applies that plan, not a new one).
func (r PMSRun) Planned() bool { return r.planned }

const pmsRunCols = `id, property_id, provider, roster_id, cause, status, summary, error, started_at, finished_at, worker_id, total_ops, next_op`

func scanRun(sc rowScanner) (PMSRun, error) {
	var r PMSRun
	var sum string
	var started int64
	var finished sql.NullInt64
	var total int
	if err := sc.Scan(&r.ID, &r.PropertyID, &r.Provider, &r.RosterID, &r.Cause, &r.Status, &sum, &r.Error, &started, &finished,
		&r.WorkerID, &total, &r.StepsDone); err != nil {
		return r, err
	}
	r.StartedAt, r.FinishedAt = fromMicros(started), timePtr(finished)
	r.planned = total >= 0
	r.Steps = max(total, 0)
	switch {
	case r.Steps > 0:
		r.Progress = float64(r.StepsDone) / float64(r.Steps)
	case r.Status == ImportDone:
		r.Progress = 1
	}
	return r, json.Unmarshal([]byte(sum), &r.Summary)
}

// pmsOp is one step of a run. apply returns the id of the person it
// created or found, if any.
type pmsOp struct {
	item  PMSRunItem
	apply func(ctx context.Context, t *Tx, st *pmsState) (string, error)
	// withNext keeps the next step in the same batch (a new resident's
	// create and grant commit together).
	withNext bool
}

// pmsState is what the steps of a run share: the actor, the settings, and
// the people created by earlier steps (for their grants and reviews).
type pmsState struct {
	a   domain.Actor
	set PMSSettings
	// byEmail holds people created by committed batches; learned those of
	// the batch being applied, merged into byEmail once it commits (a
	// batch retried after a rollback must not see ids that were undone).
	byEmail, learned map[string]string
}

// personID is the id of the person a step names by email, created by
// this run (also before a restart) or already there.
func (st *pmsState) personID(ctx context.Context, t *Tx, propertyID, email string) (string, error) {
	key := strings.ToLower(email)
	if id := st.learned[key]; id != "" {
		return id, nil
	}
	if id := st.byEmail[key]; id != "" {
		return id, nil
	}
	p, found, err := t.personByEmail(ctx, propertyID, key)
	if err != nil || !found {
		return "", err
	}
	return p.ID, nil
}

// PMSJob is a claimed run with its plan as steps, applied batch by batch
// by ApplyPMSBatch.
type PMSJob struct {
	Run PMSRun
	ops []pmsOp
	st  *pmsState
}

// Done reports whether every step is committed.
func (j *PMSJob) Done() bool { return j.Run.StepsDone >= len(j.ops) }

// StartPMSRun stores the plan of a run this worker has just claimed (the
// roster it read, the plan computed from it) and returns the job. A run
// that has planned before a restart is opened with OpenPMSJob instead.
func (s *Store) StartPMSRun(ctx context.Context, runID, workerID string, roster PMSRoster, plan pms.Plan) (*PMSJob, error) {
	enc, err := encodePlan(plan)
	if err != nil {
		return nil, err
	}
	var run PMSRun
	err = s.inTx(ctx, "start_pms_run", func(t *Tx) error {
		var err error
		if run, err = t.heldRun(ctx, runID, workerID); err != nil {
			return err
		}
		// The roster read may be newer than the one the run was queued
		// with, or of a provider the settings changed to since.
		n := len(pmsOps(run.ID, run.PropertyID, roster.Provider, plan))
		if _, err := t.exec(ctx, `UPDATE pms_runs SET roster_id = ?, provider = ?, total_ops = ?, next_op = 0, lease_until = ? WHERE id = ?`,
			roster.ID, roster.Provider, n, micros(s.Now().Add(PMSLease)), runID); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO pms_run_plans (run_id, plan) VALUES (?,?) ON CONFLICT (run_id) DO UPDATE SET plan = excluded.plan`, runID, enc); err != nil {
			return err
		}
		run, err = scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ?`, runID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.pmsJob(ctx, run, plan)
}

// OpenPMSJob reopens a claimed run that planned before (its worker
// stopped): it goes on from its first step not committed.
func (s *Store) OpenPMSJob(ctx context.Context, run PMSRun) (*PMSJob, error) {
	var enc string
	if err := s.queryRow(ctx, `SELECT plan FROM pms_run_plans WHERE run_id = ?`, run.ID).Scan(&enc); err != nil {
		return nil, s.mapErr(err)
	}
	plan, err := decodePlan(enc)
	if err != nil {
		return nil, fmt.Errorf("store: run %s: stored plan: %w", run.ID, err)
	}
	return s.pmsJob(ctx, run, plan)
}

func (s *Store) pmsJob(ctx context.Context, run PMSRun, plan pms.Plan) (*PMSJob, error) {
	a, err := s.PMSSyncActor(ctx, run.PropertyID, run.Provider)
	if err != nil {
		return nil, err
	}
	set, err := s.PMSSettingsByID(ctx, run.PropertyID)
	if err != nil {
		return nil, err
	}
	return &PMSJob{Run: run, ops: pmsOps(run.ID, run.PropertyID, run.Provider, plan),
		st: &pmsState{a: a, set: set, byEmail: map[string]string{}}}, nil
}

func encodePlan(p pms.Plan) (string, error) {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if err := json.NewEncoder(zw).Encode(p); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b.Bytes()), nil
}

func decodePlan(enc string) (pms.Plan, error) {
	var p pms.Plan
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return p, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return p, err
	}
	err = json.NewDecoder(zr).Decode(&p)
	return p, err
}

// heldRun loads a run this worker holds (locked on PostgreSQL), or
// ErrLostLease.
func (t *Tx) heldRun(ctx context.Context, id, workerID string) (PMSRun, error) {
	run, err := scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ?`+t.forUpdate(), id))
	if errors.Is(err, sql.ErrNoRows) {
		return run, domain.Errorf(domain.ENotFound, "sync run %s not found", id)
	}
	if err != nil {
		return run, err
	}
	if run.Status != ImportRunning || run.WorkerID != workerID {
		return run, ErrLostLease
	}
	return run, nil
}

// ApplyPMSBatch applies the job's next steps in one transaction, for at
// most budget (at least one step, at most maxSteps; 0: pmsBatch): links, new contacts,
// contact updates, grants and revokes through the same use cases as a
// manager's change, recorded under "PMS User Sync (Provider)", and review
// queue items. Each step runs in a savepoint, so a step a rule refuses is
// recorded as failed and the rest go on. The steps' items, the run's
// counts and its progress commit with them: after a crash the run goes on
// from the first step not committed, never applying one twice. Nobody is
// ever deleted.
func (s *Store) ApplyPMSBatch(ctx context.Context, job *PMSJob, workerID string, maxSteps int, budget time.Duration) error {
	if maxSteps <= 0 {
		maxSteps = pmsBatch
	}
	var run PMSRun
	var learned map[string]string
	err := s.inTx(ctx, "pms_batch", func(t *Tx) error {
		start := time.Now()
		var err error
		if run, err = t.heldRun(ctx, job.Run.ID, workerID); err != nil {
			return err
		}
		learned = map[string]string{}
		st := *job.st
		st.learned = learned
		first := run.StepsDone
		var rows [][]any
		i := first
		for ; i < len(job.ops) && (i == first || job.ops[i-1].withNext || (i-first < maxSteps && time.Since(start) < budget)); i++ {
			op := job.ops[i]
			it := op.item
			if op.apply != nil {
				var pid string
				err := t.savepoint(ctx, "pms_item", func() error {
					var err error
					pid, err = op.apply(withTx(ctx, t), t, &st)
					return err
				})
				if pid != "" {
					it.PersonID = pid
				}
				if err != nil {
					err = s.mapErr(err)
					var de *domain.Error
					if !errors.As(err, &de) {
						return err
					}
					it.Status, it.Error = "failed", de.Error()
				} else if it.Status == "" {
					it.Status = "applied"
				}
			}
			run.Summary.count(it)
			rows = append(rows, []any{run.ID, i, it.Action, it.Status, it.PersonID, truncate(it.ExternalID, 300), truncate(it.Email, 254),
				truncate(it.Detail, 1000), truncate(it.Error, 1000)})
		}
		if err := t.insertRows(ctx, `INSERT INTO pms_run_items (run_id, seq, action, status, person_id, external_id, email, detail, error) VALUES `, rows, ""); err != nil {
			return err
		}
		sum, _ := json.Marshal(run.Summary)
		res, err := t.exec(ctx, `UPDATE pms_runs SET next_op = ?, summary = ?, lease_until = ? WHERE id = ? AND worker_id = ? AND status = ? AND next_op = ?`,
			i, string(sum), micros(s.Now().Add(PMSLease)), run.ID, workerID, ImportRunning, first)
		if err != nil {
			return err
		}
		if err := leaseHeld(res); err != nil {
			return err
		}
		run.StepsDone = i
		return nil
	})
	if err != nil {
		return err
	}
	maps.Copy(job.st.byEmail, learned)
	run.Steps = len(job.ops)
	if run.Steps > 0 {
		run.Progress = float64(run.StepsDone) / float64(run.Steps)
	}
	run.planned = true
	job.Run = run
	return nil
}

// FinishPMSRun ends a run this worker holds: done, or failed with a
// reason (what its committed batches applied stays, and is counted in its
// summary and items). It records the sync in Activity.
func (s *Store) FinishPMSRun(ctx context.Context, id, workerID, failure string) (PMSRun, error) {
	var run PMSRun
	err := s.inTx(ctx, "finish_pms_run", func(t *Tx) error {
		var err error
		if run, err = t.heldRun(ctx, id, workerID); err != nil {
			return err
		}
		if err := t.finishJob(ctx, pmsRuns, id, workerID, failure); err != nil {
			return err
		}
		if run, err = scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ?`, id)); err != nil {
			return err
		}
		sm := run.Summary
		detail := fmt.Sprintf("%s sync (%s): %d linked, %d created, %d updated, %d granted, %d revoked, %d for review, %d alerts, %d failed",
			ProviderName(run.Provider), run.Cause, sm.Linked, sm.Created, sm.Updated, sm.Granted, sm.Revoked, sm.Reviews, sm.Alerts, sm.Failed)
		if failure != "" {
			detail += fmt.Sprintf("; stopped after %d of %d steps: %s", run.StepsDone, run.Steps, truncate(failure, 300))
		}
		return t.addEvent(ctx, domain.Event{PropertyID: run.PropertyID, Kind: EventPMSSync, Actor: "PMS User Sync (" + ProviderName(run.Provider) + ")", Detail: detail})
	})
	if err == nil {
		s.analyzeAfterBulk(ctx, run.Summary.Created)
	}
	return run, err
}

// pmsOps turns a plan into the steps of a run, in plan order: links,
// creates (each followed by the grant of the person it creates, so no
// batch boundary leaves a new resident without their keys), updates, the
// other grants, revokes, then reviews, alerts and warnings. The same plan
// always gives the same steps: a resumed run counts on it.
func pmsOps(runID, pid, provider string, plan pms.Plan) []pmsOp {
	var ops []pmsOp
	for _, l := range plan.Links {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "link", PersonID: l.PersonID, ExternalID: l.ExternalID, Email: l.Email, Detail: "linked to PMS resident " + l.ExternalID},
			apply: func(ctx context.Context, t *Tx, _ *pmsState) (string, error) {
				return "", t.link(ctx, pid, provider, l.PersonID, l.ExternalID)
			}})
	}
	newGrants := map[string][]pms.Grant{}
	var grants []pms.Grant
	for _, g := range plan.Grants {
		if g.PersonID == "" {
			newGrants[strings.ToLower(g.Email)] = append(newGrants[strings.ToLower(g.Email)], g)
			continue
		}
		grants = append(grants, g)
	}
	grantOp := func(g pms.Grant) pmsOp {
		return pmsOp{item: PMSRunItem{Action: "grant", PersonID: g.PersonID, ExternalID: g.ExternalID, Email: g.Email, Detail: grantDetail(g)},
			apply: func(ctx context.Context, t *Tx, st *pmsState) (string, error) {
				return pmsGrant(ctx, t, st, pid, g, false)
			}}
	}
	for _, c := range plan.Creates {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "create", ExternalID: c.ExternalID, Email: c.Email, Detail: fmt.Sprintf("new contact %s %s (%s)", c.FirstName, c.LastName, c.Status)},
			apply: func(ctx context.Context, t *Tx, st *pmsState) (string, error) {
				v, err := t.s.Invite(ctx, st.a, pid, domain.InviteInput{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone,
					Access: domain.AccessApp, Resident: true, UnitID: c.UnitID})
				if err != nil {
					return "", err
				}
				if c.ExternalID != "" {
					if err := t.link(ctx, pid, provider, v.ID, c.ExternalID); err != nil {
						return "", err
					}
				}
				st.learned[strings.ToLower(c.Email)] = v.ID
				return v.ID, nil
			}})
		key := strings.ToLower(c.Email)
		for _, g := range newGrants[key] {
			ops[len(ops)-1].withNext = true
			ops = append(ops, grantOp(g))
		}
		delete(newGrants, key)
	}
	for _, u := range plan.Updates {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "update", PersonID: u.PersonID, ExternalID: u.ExternalID, Detail: fmt.Sprintf("%s: %q → %q", u.Field, u.From, u.To)},
			apply: func(ctx context.Context, t *Tx, st *pmsState) (string, error) {
				return "", t.s.pmsUpdate(ctx, t, st.a, pid, st.set, u)
			}})
	}
	for _, g := range plan.Grants {
		if g.PersonID == "" && newGrants[strings.ToLower(g.Email)] == nil {
			continue // placed after its create
		}
		if g.PersonID == "" {
			grants = append(grants, g) // a grant for an email no create names
		}
	}
	for _, g := range grants {
		ops = append(ops, grantOp(g))
	}
	for _, r := range plan.Revokes {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "revoke", PersonID: r.PersonID, ExternalID: r.ExternalID, Email: r.Email, Detail: "revoked all keys: " + r.Reason},
			apply: func(ctx context.Context, t *Tx, st *pmsState) (string, error) {
				_, err := t.s.Revoke(ctx, st.a, pid, r.PersonID)
				return "", err
			}})
	}
	for _, rv := range plan.Reviews {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "review", Status: "queued", PersonID: rv.PersonID, ExternalID: rv.ExternalID, Email: rv.Email, Detail: string(rv.Reason) + ": " + rv.Detail},
			apply: func(ctx context.Context, t *Tx, st *pmsState) (string, error) {
				if rv.PersonID == "" && rv.Grant != nil {
					// A grant for a contact this run created.
					id, err := st.personID(ctx, t, pid, rv.Email)
					if err != nil {
						return "", err
					}
					if id != "" {
						g := *rv.Grant
						rv.PersonID, g.PersonID = id, id
						rv.Grant = &g
					}
				}
				return rv.PersonID, t.queueReview(ctx, pid, provider, runID, rv)
			}})
	}
	for _, al := range plan.Alerts {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "alert", Status: "reported", ExternalID: strings.Join(al.ExternalIDs, ","), Email: al.Email, Detail: string(al.Kind) + ": " + al.Detail}})
	}
	for _, w := range plan.Warnings {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "warning", Status: "reported", ExternalID: strings.Join(w.ExternalIDs, ","), Email: w.Email, Detail: string(w.Kind) + ": " + w.Detail}})
	}
	return ops
}

func grantDetail(g pms.Grant) string {
	d := fmt.Sprintf("keys %s from %s", strings.Join(g.KeyIDs, ", "), g.StartsAt.Format(time.RFC3339))
	if g.ExpiresAt != nil {
		d += " until " + g.ExpiresAt.Format(time.RFC3339)
	}
	return d
}

func (t *Tx) link(ctx context.Context, propertyID, provider, personID, externalID string) error {
	_, err := t.exec(ctx, `INSERT INTO pms_links (property_id, provider, person_id, external_id, linked_at) VALUES (?,?,?,?,?)
		ON CONFLICT (property_id, provider, person_id) DO UPDATE SET external_id = excluded.external_id, linked_at = excluded.linked_at`,
		propertyID, provider, personID, externalID, micros(t.s.Now()))
	return err
}

// pmsGrant gives the grant's keys; approved says a manager approved it
// later than it was planned, so a start already passed becomes now.
func pmsGrant(ctx context.Context, t *Tx, st *pmsState, propertyID string, g pms.Grant, approved bool) (string, error) {
	s := t.s
	id := g.PersonID
	if id == "" {
		var err error
		if id, err = st.personID(ctx, t, propertyID, g.Email); err != nil {
			return "", err
		}
		if id == "" {
			return "", domain.Errorf(domain.ENotFound, "no person with email %s", g.Email)
		}
	}
	start := g.StartsAt
	if approved && start.Before(s.Now()) {
		start = s.Now()
	}
	if len(g.KeyIDs) == 0 {
		return id, domain.Errorf(domain.EInvalid, "no keys are configured for PMS sync")
	}
	for _, k := range g.KeyIDs {
		if _, err := s.GiveKey(ctx, st.a, propertyID, id, k, domain.GrantChange{MayShare: g.MayShare, StartsAt: &start, ExpiresAt: g.ExpiresAt}); err != nil {
			return id, err
		}
	}
	return id, nil
}

// pmsUpdate applies one field change. An expires_at change moves the end
// of the person's grants of the policy keys (a renewal or an early
// move-out), leaving keys given by hand alone.
func (s *Store) pmsUpdate(ctx context.Context, t *Tx, a domain.Actor, propertyID string, set PMSSettings, u pms.Update) error {
	var patch domain.PersonPatch
	v := u.To
	switch u.Field {
	case pms.FieldFirstName:
		patch.FirstName = &v
	case pms.FieldLastName:
		patch.LastName = &v
	case pms.FieldEmail:
		patch.Email = &v
	case pms.FieldPhone:
		patch.Phone = &v
	case pms.FieldUnitID:
		patch.UnitID = &v
	case pms.FieldExpiresAt:
		var end *time.Time
		if v != "" {
			e, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return domain.FieldError("expires_at", "%q is not a time", v)
			}
			end = &e
		}
		gs, err := t.grants(ctx, u.PersonID)
		if err != nil {
			return err
		}
		p, err := t.person(ctx, propertyID, u.PersonID, false)
		if err != nil {
			return err
		}
		if p.ExpiresAt != nil && (end == nil || end.After(*p.ExpiresAt)) {
			// A renewal past the person's own end: the person's end caps
			// every grant, so it moves too (or the next sync would find
			// the same difference again).
			if _, err := s.UpdatePerson(ctx, a, propertyID, u.PersonID, domain.PersonPatch{ExpiresAtSet: true, ExpiresAt: end}); err != nil {
				return err
			}
		}
		for _, g := range gs {
			if !slices.Contains(set.Keys, g.KeyID) {
				continue
			}
			if _, err := s.GiveKey(ctx, a, propertyID, u.PersonID, g.KeyID, domain.GrantChange{MayShare: g.MayShare, StartsAt: g.StartsAt, ExpiresAt: end}); err != nil {
				return err
			}
		}
		return nil
	default:
		return domain.Errorf(domain.EInvalid, "unknown field %q", u.Field)
	}
	_, err := s.UpdatePerson(ctx, a, propertyID, u.PersonID, patch)
	return err
}

// PMSReview is an item of the review queue.
type PMSReview struct {
	ID         string            `json:"id"`
	PropertyID string            `json:"property_id"`
	Provider   string            `json:"provider"`
	RunID      string            `json:"run_id"`
	Reason     string            `json:"reason"`
	PersonID   string            `json:"person_id"`
	ExternalID string            `json:"external_id"`
	Email      string            `json:"email"`
	Detail     string            `json:"detail"`
	Proposal   PMSReviewProposal `json:"proposal"`
	Status     string            `json:"status"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	DecidedAt  *time.Time        `json:"decided_at"`
	DecidedBy  string            `json:"decided_by"`
}

// PMSReviewProposal is what approving applies: one of a grant, a revoke, a
// field update, or (for a name mismatch) linking the person to the PMS
// resident.
type PMSReviewProposal struct {
	Grant  *pms.Grant  `json:"grant,omitempty"`
	Revoke *pms.Revoke `json:"revoke,omitempty"`
	Update *pms.Update `json:"update,omitempty"`
	Link   *pms.Link   `json:"link,omitempty"`
}

func (p PMSReviewProposal) empty() bool {
	return p.Grant == nil && p.Revoke == nil && p.Update == nil && p.Link == nil
}

// queueReview adds a review, or refreshes the open one with the same
// reason about the same person; one a manager rejected is not raised again
// while it says the same.
func (t *Tx) queueReview(ctx context.Context, propertyID, provider, runID string, rv pms.Review) error {
	prop := PMSReviewProposal{Grant: rv.Grant, Revoke: rv.Revoke, Update: rv.Update}
	if rv.Reason == pms.ReviewNameMismatch && rv.PersonID != "" && rv.ExternalID != "" {
		prop.Link = &pms.Link{PersonID: rv.PersonID, ExternalID: rv.ExternalID, Email: rv.Email}
	}
	subject := rv.PersonID
	if subject == "" {
		subject = strings.ToLower(rv.Email) + "/" + rv.ExternalID
	}
	key := string(rv.Reason) + "|" + subject
	var rejected int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM pms_reviews WHERE property_id = ? AND dedupe_key = ? AND status = ? AND detail = ?`,
		propertyID, key, ReviewRejected, rv.Detail).Scan(&rejected); err != nil {
		return err
	}
	if rejected > 0 {
		return nil
	}
	b, _ := json.Marshal(prop)
	now := micros(t.s.Now())
	res, err := t.exec(ctx, `UPDATE pms_reviews SET run_id = ?, detail = ?, proposal = ?, person_id = ?, external_id = ?, email = ?, updated_at = ?
		WHERE property_id = ? AND dedupe_key = ? AND status = ?`, runID, rv.Detail, string(b), rv.PersonID, rv.ExternalID, rv.Email, now, propertyID, key, ReviewOpen)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	_, err = t.exec(ctx, `INSERT INTO pms_reviews (id, property_id, provider, run_id, reason, person_id, external_id, email, detail, proposal, dedupe_key, status, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, domain.NewID("rev"), propertyID, provider, runID, string(rv.Reason), rv.PersonID, rv.ExternalID, rv.Email,
		rv.Detail, string(b), key, ReviewOpen, now, now)
	return err
}

const reviewCols = `id, property_id, provider, run_id, reason, person_id, external_id, email, detail, proposal, status, created_at, updated_at, decided_at, decided_by`

func scanReview(sc rowScanner) (PMSReview, error) {
	var r PMSReview
	var prop string
	var created, updated int64
	var decided sql.NullInt64
	if err := sc.Scan(&r.ID, &r.PropertyID, &r.Provider, &r.RunID, &r.Reason, &r.PersonID, &r.ExternalID, &r.Email, &r.Detail, &prop,
		&r.Status, &created, &updated, &decided, &r.DecidedBy); err != nil {
		return r, err
	}
	r.CreatedAt, r.UpdatedAt, r.DecidedAt = fromMicros(created), fromMicros(updated), timePtr(decided)
	return r, json.Unmarshal([]byte(prop), &r.Proposal)
}

// ListPMSReviews lists the review queue (status "" = open), oldest first.
func (s *Store) ListPMSReviews(ctx context.Context, a domain.Actor, propertyID, status, cursor string, limit int) ([]PMSReview, string, error) {
	var out []PMSReview
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		switch status {
		case "":
			status = ReviewOpen
		case ReviewOpen, ReviewApproved, ReviewRejected:
		default:
			return domain.FieldError("status", "%q is not one of open, approved, rejected", status)
		}
		limit = pageLimit(limit, maxLogPage)
		q := `SELECT ` + reviewCols + ` FROM pms_reviews WHERE property_id = ? AND status = ?`
		args := []any{propertyID, status}
		if cursor != "" {
			at, id, err := decodeIntCursor(cursor)
			if err != nil {
				return err
			}
			q += ` AND (created_at > ? OR (created_at = ? AND id > ?))`
			args = append(args, at, at, id)
		}
		rows, err := t.query(ctx, q+` ORDER BY created_at, id LIMIT ?`, append(args, limit+1)...)
		out, err = collect(rows, err, scanReview)
		if err != nil {
			return err
		}
		out, next = page(out, limit, func(r PMSReview) (string, string) { return microsKey(micros(r.CreatedAt), r.ID) })
		return nil
	})
	return out, next, err
}

// DecidePMSReview approves (applying the proposed change as the deciding
// manager, with their permissions) or rejects an open review.
func (s *Store) DecidePMSReview(ctx context.Context, a domain.Actor, propertyID, id string, approve bool) (PMSReview, error) {
	var out PMSReview
	err := s.inTx(ctx, "decide_pms_review", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		r, err := scanReview(t.queryRow(ctx, `SELECT `+reviewCols+` FROM pms_reviews WHERE id = ? AND property_id = ?`+t.forUpdate(), id, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "review %s not found", id)
		}
		if err != nil {
			return err
		}
		if r.Status != ReviewOpen {
			return domain.Errorf(domain.EConflict, "review %s is already %s", id, r.Status)
		}
		kind, status := EventPMSReviewRejected, ReviewRejected
		if approve {
			kind, status = EventPMSReviewApproved, ReviewApproved
			if r.Proposal.empty() {
				return domain.Errorf(domain.EInvalid, "review %s (%s) proposes no change to apply; correct the data in the PMS or in People, and reject it to dismiss it", id, r.Reason)
			}
			set, err := t.pmsSettings(ctx, propertyID)
			if err != nil {
				return err
			}
			jctx := withTx(ctx, t)
			p := r.Proposal
			switch {
			case p.Grant != nil:
				_, err = pmsGrant(jctx, t, &pmsState{a: a, set: set, byEmail: map[string]string{}}, propertyID, *p.Grant, true)
			case p.Revoke != nil:
				_, err = s.Revoke(jctx, a, propertyID, p.Revoke.PersonID)
			case p.Update != nil:
				err = s.pmsUpdate(jctx, t, a, propertyID, set, *p.Update)
			case p.Link != nil:
				if err = a.Can(propertyID, domain.PermPeople); err == nil {
					if _, err = t.person(ctx, propertyID, p.Link.PersonID, true); err == nil {
						err = t.link(ctx, propertyID, r.Provider, p.Link.PersonID, p.Link.ExternalID)
					}
				}
			}
			if err != nil {
				return err
			}
		}
		now := s.Now()
		if _, err := t.exec(ctx, `UPDATE pms_reviews SET status = ?, decided_at = ?, decided_by = ?, updated_at = ? WHERE id = ?`,
			status, micros(now), a.Name, micros(now), id); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: kind, ActorID: a.ManagerID, Actor: a.Name, PersonID: r.PersonID,
			Detail: fmt.Sprintf("%s PMS review %s: %s", status, r.Reason, r.Detail)}); err != nil {
			return err
		}
		out, err = scanReview(t.queryRow(ctx, `SELECT `+reviewCols+` FROM pms_reviews WHERE id = ?`, id))
		return err
	})
	return out, err
}

// ListPMSRuns lists a property's sync runs, newest first, without items.
func (s *Store) ListPMSRuns(ctx context.Context, a domain.Actor, propertyID, cursor string, limit int) ([]PMSRun, string, error) {
	var out []PMSRun
	var next string
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		limit = pageLimit(limit, maxLogPage)
		var err error
		out, next, err = newestFirst(ctx, t, `SELECT `+pmsRunCols+` FROM pms_runs WHERE property_id = ?`,
			[]any{propertyID}, "started_at", cursor, limit, scanRun,
			func(r PMSRun) time.Time { return r.StartedAt }, func(r PMSRun) string { return r.ID })
		return err
	})
	return out, next, err
}

// PMSRun returns one run with its items (those of a run still going: the
// items committed so far).
func (s *Store) PMSRun(ctx context.Context, a domain.Actor, propertyID, id string) (PMSRun, error) {
	var out PMSRun
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		var err error
		out, err = scanRun(t.queryRow(ctx, `SELECT `+pmsRunCols+` FROM pms_runs WHERE id = ? AND property_id = ?`, id, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "sync run %s not found", id)
		}
		if err != nil {
			return err
		}
		// Runs from before the job runner kept their items as JSON.
		var legacy string
		if err := t.queryRow(ctx, `SELECT items FROM pms_runs WHERE id = ?`, id).Scan(&legacy); err != nil {
			return err
		}
		out.Items = []PMSRunItem{}
		if err := json.Unmarshal([]byte(legacy), &out.Items); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT action, status, person_id, external_id, email, detail, error FROM pms_run_items WHERE run_id = ? ORDER BY seq`, id)
		items, err := collect(rows, err, func(sc rowScanner) (PMSRunItem, error) {
			var it PMSRunItem
			err := sc.Scan(&it.Action, &it.Status, &it.PersonID, &it.ExternalID, &it.Email, &it.Detail, &it.Error)
			return it, err
		})
		out.Items = append(out.Items, items...)
		return err
	})
	return out, err
}

// PMSUnitMap returns the settings' unit map with DOOR OS unit names also
// accepted as PMS unit names (a PMS that uses the same unit numbers needs
// no mapping).
func (s *Store) PMSUnitMap(ctx context.Context, propertyID string, set PMSSettings) (map[string]string, error) {
	rows, err := s.query(ctx, `SELECT id, name FROM units WHERE property_id = ?`, propertyID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[name] = id
	}
	names := make([]string, 0, len(set.Units))
	for k := range set.Units {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out[k] = set.Units[k]
	}
	return out, rows.Err()
}
