package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
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

// ErrSyncRunning is returned when another worker is syncing the property.
var ErrSyncRunning = domain.Errorf(domain.EConflict, "a PMS sync of this property is running; try again when it has finished")

// PMSSettings is a property's PMS User Sync configuration.
type PMSSettings struct {
	PropertyID      string            `json:"property_id"`
	Provider        string            `json:"provider"`
	Access          pms.AccessMode    `json:"access"`
	Keys            []string          `json:"keys"`
	MayShare        bool              `json:"may_share"`
	Units           map[string]string `json:"units"`
	IntervalMinutes int               `json:"interval_minutes"`
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
	var keys, units string
	var next, updated int64
	if err := sc.Scan(&s.PropertyID, &s.Provider, &s.Access, &keys, &s.MayShare, &units, &s.IntervalMinutes, &next, &updated); err != nil {
		return s, err
	}
	s.NextRunAt, s.UpdatedAt = fromMicros(next), fromMicros(updated)
	if err := json.Unmarshal([]byte(keys), &s.Keys); err != nil {
		return s, err
	}
	return s, json.Unmarshal([]byte(units), &s.Units)
}

const pmsSettingsCols = `property_id, provider, access, key_ids, may_share, unit_map, interval_minutes, next_run_at, updated_at`

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
		now := s.Now()
		next := now.Add(time.Duration(in.IntervalMinutes) * time.Minute)
		if _, err := t.exec(ctx, `INSERT INTO pms_settings (property_id, provider, access, key_ids, may_share, unit_map, interval_minutes, next_run_at, updated_at)
			VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (property_id) DO UPDATE SET provider = excluded.provider, access = excluded.access,
			key_ids = excluded.key_ids, may_share = excluded.may_share, unit_map = excluded.unit_map, interval_minutes = excluded.interval_minutes,
			next_run_at = excluded.next_run_at, updated_at = excluded.updated_at`,
			propertyID, in.Provider, in.Access, string(keys), in.MayShare, string(units), in.IntervalMinutes, micros(next), micros(now)); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: EventPMSSettings, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("set PMS User Sync: %s, %s, %d keys, every %d minutes", ProviderName(in.Provider), in.Access, len(in.Keys), in.IntervalMinutes)}); err != nil {
			return err
		}
		var err error
		out, err = t.pmsSettings(ctx, propertyID)
		return err
	})
	return out, err
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
// AccessExpiresAt is the latest end of the grants of the policy keys the
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
			if g.ExpiresAt == nil {
				openEnded[g.PersonID], c.AccessExpiresAt = true, nil
				continue
			}
			if c.AccessExpiresAt == nil || g.ExpiresAt.After(*c.AccessExpiresAt) {
				e := *g.ExpiresAt
				c.AccessExpiresAt = &e
			}
		}
		return rows.Err()
	})
	return out, err
}

// ClaimPMSSync claims a property's sync for workerID; false when another
// worker holds it. The claim is one conditional UPDATE, so two instances
// racing for it cannot both win, on either database.
func (s *Store) ClaimPMSSync(ctx context.Context, propertyID, workerID string) (bool, error) {
	var ok bool
	err := s.inTx(ctx, "claim_pms_sync", func(t *Tx) error {
		now := s.Now()
		// The next scheduled run is one interval after this one starts; a
		// roster arriving meanwhile (RequestPMSSync) makes it due again.
		res, err := t.exec(ctx, `UPDATE pms_settings SET worker_id = ?, lease_until = ?, next_run_at = ? + CAST(interval_minutes AS BIGINT) * 60000000
			WHERE property_id = ? AND (lease_until IS NULL OR lease_until < ?)`,
			workerID, micros(now.Add(PMSLease)), micros(now), propertyID, micros(now))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		ok = n == 1
		return nil
	})
	return ok, err
}

// ReleasePMSSync ends a claim.
func (s *Store) ReleasePMSSync(ctx context.Context, propertyID, workerID string) error {
	return s.inTx(ctx, "release_pms_sync", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE pms_settings SET worker_id = '', lease_until = NULL WHERE property_id = ? AND worker_id = ?`, propertyID, workerID)
		return err
	})
}

// DuePMSSyncs lists properties whose scheduled sync is due and unclaimed.
func (s *Store) DuePMSSyncs(ctx context.Context, limit int) ([]string, error) {
	now := micros(s.Now())
	rows, err := s.query(ctx, `SELECT property_id FROM pms_settings WHERE next_run_at <= ? AND (lease_until IS NULL OR lease_until < ?)
		ORDER BY next_run_at LIMIT ?`, now, now, limit)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
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

// PMSRun is one sync.
type PMSRun struct {
	ID         string        `json:"id"`
	PropertyID string        `json:"property_id"`
	Provider   string        `json:"provider"`
	RosterID   string        `json:"roster_id"`
	Cause      string        `json:"cause"`
	Status     string        `json:"status"`
	Summary    PMSRunSummary `json:"summary"`
	Items      []PMSRunItem  `json:"items,omitempty"`
	Error      string        `json:"error"`
	StartedAt  time.Time     `json:"started_at"`
	FinishedAt *time.Time    `json:"finished_at"`
}

// PMSRunInput says what a run applies.
type PMSRunInput struct {
	PropertyID string
	WorkerID   string
	RosterID   string
	Cause      string // roster | sync_now | schedule | folder
	Settings   PMSSettings
}

type pmsOp struct {
	item  PMSRunItem
	apply func(ctx context.Context, t *Tx, st *pmsState) error
}

// pmsState carries what earlier items of a run produced (people created
// by this plan, for their grants).
type pmsState struct {
	a       domain.Actor
	byEmail map[string]string
}

// ApplyPMSPlan applies a plan for a sync the worker has claimed: links,
// new contacts, contact updates, grants and revokes (each through the same
// use cases as a manager's change, recorded under "PMS User Sync
// (Provider)"), and queues reviews. Items are applied in batches, one
// savepoint each, so a failing item is recorded and the rest go on, and
// SQLite's writer is never held for the whole run. Nobody is ever deleted.
func (s *Store) ApplyPMSPlan(ctx context.Context, in PMSRunInput, plan pms.Plan) (PMSRun, error) {
	a, err := s.PMSSyncActor(ctx, in.PropertyID, in.Settings.Provider)
	if err != nil {
		return PMSRun{}, err
	}
	run := PMSRun{ID: domain.NewID("run"), PropertyID: in.PropertyID, Provider: in.Settings.Provider, RosterID: in.RosterID,
		Cause: in.Cause, Status: "running", StartedAt: s.Now(), Items: []PMSRunItem{}}
	if err := s.inTx(ctx, "start_pms_run", func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO pms_runs (id, property_id, provider, roster_id, cause, status, summary, items, started_at) VALUES (?,?,?,?,?,?,?,?,?)`,
			run.ID, run.PropertyID, run.Provider, run.RosterID, run.Cause, run.Status, "{}", "[]", micros(run.StartedAt))
		return err
	}); err != nil {
		return run, err
	}
	st := &pmsState{a: a, byEmail: map[string]string{}}
	ops := s.pmsOps(in, plan)
	for len(ops) > 0 {
		n := min(len(ops), pmsBatch)
		batch := ops[:n]
		ops = ops[n:]
		err := s.inTx(ctx, "pms_batch", func(t *Tx) error {
			res, err := t.exec(ctx, `UPDATE pms_settings SET lease_until = ? WHERE property_id = ? AND worker_id = ?`,
				micros(s.Now().Add(PMSLease)), in.PropertyID, in.WorkerID)
			if err != nil {
				return err
			}
			if err := leaseHeld(res); err != nil {
				return err
			}
			for i := range batch {
				op := &batch[i]
				if op.apply == nil {
					continue
				}
				err := t.savepoint(ctx, "pms_item", func() error { return op.apply(withTx(ctx, t), t, st) })
				if err != nil {
					err = s.mapErr(err)
					var de *domain.Error
					if !errors.As(err, &de) {
						return err
					}
					op.item.Status, op.item.Error = "failed", de.Error()
				} else if op.item.Status == "" {
					op.item.Status = "applied"
				}
			}
			return nil
		})
		if err != nil {
			run.Status, run.Error = "failed", err.Error()
			if errors.Is(err, ErrLostLease) || ctx.Err() != nil {
				return run, errors.Join(err, ctx.Err())
			}
			break
		}
		for _, op := range batch {
			run.Items = append(run.Items, op.item)
		}
	}
	for _, it := range run.Items {
		sum := &run.Summary
		if it.Status == "failed" {
			sum.Failed++
			continue
		}
		switch it.Action {
		case "link":
			sum.Linked++
		case "create":
			sum.Created++
		case "update":
			sum.Updated++
		case "grant":
			sum.Granted++
		case "revoke":
			sum.Revoked++
		case "review":
			sum.Reviews++
		case "alert":
			sum.Alerts++
		case "warning":
			sum.Warnings++
		}
	}
	if run.Status == "running" {
		run.Status = "done"
	}
	now := s.Now()
	run.FinishedAt = &now
	fctx := context.WithoutCancel(ctx)
	err = s.inTx(fctx, "finish_pms_run", func(t *Tx) error {
		sum, _ := json.Marshal(run.Summary)
		items, _ := json.Marshal(run.Items)
		if _, err := t.exec(fctx, `UPDATE pms_runs SET status = ?, summary = ?, items = ?, error = ?, finished_at = ? WHERE id = ?`,
			run.Status, string(sum), string(items), truncate(run.Error, 1000), micros(now), run.ID); err != nil {
			return err
		}
		sm := run.Summary
		return t.addEvent(fctx, domain.Event{PropertyID: in.PropertyID, Kind: EventPMSSync, Actor: a.Name,
			Detail: fmt.Sprintf("%s sync (%s): %d linked, %d created, %d updated, %d granted, %d revoked, %d for review, %d alerts, %d failed",
				ProviderName(run.Provider), run.Cause, sm.Linked, sm.Created, sm.Updated, sm.Granted, sm.Revoked, sm.Reviews, sm.Alerts, sm.Failed)})
	})
	return run, err
}

// pmsOps turns a plan into items to apply, in plan order: links, creates,
// updates, grants, revokes, then reviews, alerts and warnings.
func (s *Store) pmsOps(in PMSRunInput, plan pms.Plan) []pmsOp {
	pid, provider := in.PropertyID, in.Settings.Provider
	var ops []pmsOp
	for _, l := range plan.Links {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "link", PersonID: l.PersonID, ExternalID: l.ExternalID, Email: l.Email, Detail: "linked to PMS resident " + l.ExternalID},
			apply: func(ctx context.Context, t *Tx, _ *pmsState) error {
				return t.link(ctx, pid, provider, l.PersonID, l.ExternalID)
			}})
	}
	for _, c := range plan.Creates {
		op := pmsOp{item: PMSRunItem{Action: "create", ExternalID: c.ExternalID, Email: c.Email, Detail: fmt.Sprintf("new contact %s %s (%s)", c.FirstName, c.LastName, c.Status)}}
		item := &op.item
		op.apply = func(ctx context.Context, t *Tx, st *pmsState) error {
			v, err := s.Invite(ctx, st.a, pid, domain.InviteInput{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, Phone: c.Phone,
				Access: domain.AccessApp, Resident: true, UnitID: c.UnitID})
			if err != nil {
				return err
			}
			st.byEmail[strings.ToLower(c.Email)] = v.ID
			item.PersonID = v.ID
			if c.ExternalID == "" {
				return nil
			}
			return t.link(ctx, pid, provider, v.ID, c.ExternalID)
		}
		ops = append(ops, op)
	}
	for _, u := range plan.Updates {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "update", PersonID: u.PersonID, ExternalID: u.ExternalID, Detail: fmt.Sprintf("%s: %q → %q", u.Field, u.From, u.To)},
			apply: func(ctx context.Context, t *Tx, st *pmsState) error {
				return s.pmsUpdate(ctx, t, st.a, pid, in.Settings, u)
			}})
	}
	for _, g := range plan.Grants {
		op := pmsOp{item: PMSRunItem{Action: "grant", PersonID: g.PersonID, ExternalID: g.ExternalID, Email: g.Email, Detail: grantDetail(g)}}
		item := &op.item
		op.apply = func(ctx context.Context, t *Tx, st *pmsState) error {
			id, err := s.pmsGrant(ctx, t, st, pid, g, false)
			item.PersonID = id
			return err
		}
		ops = append(ops, op)
	}
	for _, r := range plan.Revokes {
		ops = append(ops, pmsOp{item: PMSRunItem{Action: "revoke", PersonID: r.PersonID, ExternalID: r.ExternalID, Email: r.Email, Detail: "revoked all keys: " + r.Reason},
			apply: func(ctx context.Context, t *Tx, st *pmsState) error {
				_, err := s.Revoke(ctx, st.a, pid, r.PersonID)
				return err
			}})
	}
	for _, rv := range plan.Reviews {
		op := pmsOp{item: PMSRunItem{Action: "review", Status: "queued", PersonID: rv.PersonID, ExternalID: rv.ExternalID, Email: rv.Email, Detail: string(rv.Reason) + ": " + rv.Detail}}
		op.apply = func(ctx context.Context, t *Tx, st *pmsState) error {
			if rv.PersonID == "" && rv.Grant != nil {
				// A grant for a contact this run created.
				if id := st.byEmail[strings.ToLower(rv.Email)]; id != "" {
					rv.PersonID, rv.Grant.PersonID = id, id
				}
			}
			return t.queueReview(ctx, pid, provider, in.WorkerID, rv)
		}
		ops = append(ops, op)
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
func (s *Store) pmsGrant(ctx context.Context, t *Tx, st *pmsState, propertyID string, g pms.Grant, approved bool) (string, error) {
	id := g.PersonID
	if id == "" {
		id = st.byEmail[strings.ToLower(g.Email)]
	}
	if id == "" {
		p, found, err := t.personByEmail(ctx, propertyID, strings.ToLower(g.Email))
		if err != nil {
			return "", err
		}
		if !found {
			return "", domain.Errorf(domain.ENotFound, "no person with email %s", g.Email)
		}
		id = p.ID
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
				_, err = s.pmsGrant(jctx, t, &pmsState{a: a, byEmail: map[string]string{}}, propertyID, *p.Grant, true)
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
		out, next, err = newestFirst(ctx, t, `SELECT id, property_id, provider, roster_id, cause, status, summary, '[]', error, started_at, finished_at FROM pms_runs WHERE property_id = ?`,
			[]any{propertyID}, "started_at", cursor, limit,
			func(sc rowScanner) (PMSRun, error) {
				r, err := scanRun(sc)
				r.Items = nil
				return r, err
			},
			func(r PMSRun) time.Time { return r.StartedAt }, func(r PMSRun) string { return r.ID })
		return err
	})
	return out, next, err
}

func scanRun(sc rowScanner) (PMSRun, error) {
	var r PMSRun
	var sum, items string
	var started int64
	var finished sql.NullInt64
	if err := sc.Scan(&r.ID, &r.PropertyID, &r.Provider, &r.RosterID, &r.Cause, &r.Status, &sum, &items, &r.Error, &started, &finished); err != nil {
		return r, err
	}
	r.StartedAt, r.FinishedAt = fromMicros(started), timePtr(finished)
	if err := json.Unmarshal([]byte(sum), &r.Summary); err != nil {
		return r, err
	}
	r.Items = []PMSRunItem{}
	return r, json.Unmarshal([]byte(items), &r.Items)
}

// PMSRun returns one run with its items.
func (s *Store) PMSRun(ctx context.Context, a domain.Actor, propertyID, id string) (PMSRun, error) {
	var out PMSRun
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		var err error
		out, err = scanRun(t.queryRow(ctx, `SELECT id, property_id, provider, roster_id, cause, status, summary, items, error, started_at, finished_at
			FROM pms_runs WHERE id = ? AND property_id = ?`, id, propertyID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "sync run %s not found", id)
		}
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

// RequestPMSSync makes the property's next scheduled sync due now (a
// roster arrived while another sync was running).
func (s *Store) RequestPMSSync(ctx context.Context, propertyID string) error {
	return s.inTx(ctx, "request_pms_sync", func(t *Tx) error {
		_, err := t.exec(ctx, `UPDATE pms_settings SET next_run_at = ? WHERE property_id = ?`, micros(s.Now()), propertyID)
		return err
	})
}
