package imports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/pms"
	"github.com/dooros/dooros/store"
)

// MaxRosterSize is the largest roster file accepted (50 MB).
const MaxRosterSize = 50 << 20

// Syncer runs PMS User Sync: roster intake (API and watched folder), Sync
// Now, and the schedule. Several Syncers may share one database: a
// property's sync is claimed with a lease, so only one runs at a time.
type Syncer struct {
	Store *store.Store
	Log   *slog.Logger
	// WorkerID names this syncer in claims; default host:pid:random.
	WorkerID string
	// Tick is how often Run looks for due syncs and new files (default 30 s).
	Tick time.Duration
	// Dir is the watched folder (DIR/{property_id}/{provider}/*.csv|json|xml);
	// "" disables it.
	Dir string
	// Settle is how long a file must be left unchanged before it is read,
	// so a file still being written is not picked up (default 2 s).
	Settle time.Duration
}

// NewSyncer returns a syncer with every default filled in, so one value can
// be shared by the API, the console and the scheduler without any of them
// writing to it.
func NewSyncer(st *store.Store, log *slog.Logger, dir string) *Syncer {
	s := &Syncer{Store: st, Log: log, Dir: dir}
	s.defaults()
	return s
}

func (s *Syncer) defaults() {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.WorkerID == "" {
		r := Runner{}
		r.defaults()
		s.WorkerID = r.WorkerID
	}
	if s.Tick <= 0 {
		s.Tick = 30 * time.Second
	}
	if s.Settle <= 0 {
		s.Settle = 2 * time.Second
	}
}

// RosterResult is the answer to a roster: the stored roster and the run
// that applied it, or (dry run) the plan a sync would apply.
type RosterResult struct {
	DryRun   bool               `json:"dry_run"`
	Roster   *store.PMSRoster   `json:"roster,omitempty"`
	Run      *store.PMSRun      `json:"run,omitempty"`
	Plan     *pms.Plan          `json:"plan,omitempty"`
	Warnings []pms.ParseWarning `json:"warnings"`
}

// Roster reads a vendor export for a property, and either returns the plan
// (dry run: nothing is stored or changed) or stores the roster and syncs.
// It needs full Key Management: what the sync grants, the manager grants.
func (s *Syncer) Roster(ctx context.Context, a domain.Actor, propertyID, provider, source string, content []byte, dryRun bool) (RosterResult, error) {
	s.defaults()
	res := RosterResult{DryRun: dryRun, Warnings: []pms.ParseWarning{}}
	prop, err := s.Store.Property(ctx, a, propertyID)
	if err != nil {
		return res, err
	}
	if err := a.Can(propertyID, domain.PermManageKeys); err != nil {
		return res, err
	}
	conn, ok := pms.ConnectorFor(provider)
	if !ok {
		return res, domain.Errorf(domain.ENotFound, "no PMS adapter named %q", provider)
	}
	set, err := s.Store.PMSSettings(ctx, a, propertyID)
	if err != nil {
		return res, err
	}
	if set.Provider != conn.Name() {
		return res, domain.Errorf(domain.EConflict, "this property syncs with %s, not %s; change PUT /pms first", store.ProviderName(set.Provider), store.ProviderName(conn.Name()))
	}
	if len(content) > MaxRosterSize {
		return res, domain.FieldError("roster", "the roster is larger than %d MB", MaxRosterSize>>20)
	}
	roster, warns, err := conn.Parse(bytes.NewReader(content), prop.Location())
	if err != nil {
		return res, domain.FieldError("roster", "not a %s roster: %v", store.ProviderName(conn.Name()), err)
	}
	if warns != nil {
		res.Warnings = warns
	}
	if dryRun {
		plan, err := s.plan(ctx, propertyID, set, roster)
		if err != nil {
			return res, err
		}
		res.Plan = nonNilPlan(plan)
		return res, nil
	}
	stored, err := s.Store.SaveRoster(ctx, a, propertyID, conn.Name(), source, content, len(roster.Residents))
	if err != nil {
		return res, err
	}
	res.Roster = &stored
	cause := "roster"
	if strings.HasPrefix(source, "folder:") {
		cause = "folder"
	}
	run, err := s.sync(ctx, propertyID, cause)
	if errors.Is(err, store.ErrSyncRunning) {
		// The running sync has an older roster; the next one reads this.
		return res, s.Store.RequestPMSSync(ctx, propertyID)
	}
	if err != nil {
		return res, err
	}
	res.Run = &run
	return res, nil
}

// SyncNow re-reconciles the latest roster ("Sync Now").
func (s *Syncer) SyncNow(ctx context.Context, a domain.Actor, propertyID string) (store.PMSRun, error) {
	s.defaults()
	if _, err := s.Store.Property(ctx, a, propertyID); err != nil {
		return store.PMSRun{}, err
	}
	if err := a.Can(propertyID, domain.PermManageKeys); err != nil {
		return store.PMSRun{}, err
	}
	if _, err := s.Store.PMSSettings(ctx, a, propertyID); err != nil {
		return store.PMSRun{}, err
	}
	return s.sync(ctx, propertyID, "sync_now")
}

// Plan computes what a sync of roster would do, changing nothing.
func (s *Syncer) plan(ctx context.Context, propertyID string, set store.PMSSettings, roster pms.Roster) (pms.Plan, error) {
	contacts, err := s.Store.PMSContacts(ctx, propertyID, set.Provider, set.Keys)
	if err != nil {
		return pms.Plan{}, err
	}
	units, err := s.Store.PMSUnitMap(ctx, propertyID, set)
	if err != nil {
		return pms.Plan{}, err
	}
	policy := pms.Policy{Access: set.Access, KeyIDs: set.Keys, MayShare: set.MayShare}
	return pms.Reconcile(roster, contacts, units, policy, s.Store.Now()), nil
}

// sync claims the property, reconciles its latest roster and applies the
// plan.
func (s *Syncer) sync(ctx context.Context, propertyID, cause string) (store.PMSRun, error) {
	ok, err := s.Store.ClaimPMSSync(ctx, propertyID, s.WorkerID)
	if err != nil {
		return store.PMSRun{}, err
	}
	if !ok {
		return store.PMSRun{}, store.ErrSyncRunning
	}
	defer func() {
		if err := s.Store.ReleasePMSSync(context.WithoutCancel(ctx), propertyID, s.WorkerID); err != nil {
			s.Log.Error("pms sync release", "property", propertyID, "err", err)
		}
	}()
	set, err := s.Store.PMSSettingsByID(ctx, propertyID)
	if err != nil {
		return store.PMSRun{}, err
	}
	latest, err := s.Store.LatestRoster(ctx, propertyID, set.Provider)
	if err != nil {
		return store.PMSRun{}, err
	}
	conn, _ := pms.ConnectorFor(set.Provider)
	prop, err := s.Store.PropertyByID(ctx, propertyID)
	if err != nil {
		return store.PMSRun{}, err
	}
	roster, _, err := conn.Parse(bytes.NewReader(latest.Content), prop.Location())
	if err != nil {
		return store.PMSRun{}, fmt.Errorf("stored roster %s: %w", latest.ID, err)
	}
	plan, err := s.plan(ctx, propertyID, set, roster)
	if err != nil {
		return store.PMSRun{}, err
	}
	run, err := s.Store.ApplyPMSPlan(ctx, store.PMSRunInput{PropertyID: propertyID, WorkerID: s.WorkerID, RosterID: latest.ID, Cause: cause, Settings: set}, plan)
	if err == nil {
		s.Log.Info("pms sync", "property", propertyID, "provider", set.Provider, "cause", cause, "status", run.Status,
			"created", run.Summary.Created, "granted", run.Summary.Granted, "revoked", run.Summary.Revoked, "reviews", run.Summary.Reviews, "failed", run.Summary.Failed)
	}
	return run, err
}

// Run runs due scheduled syncs and picks up watched-folder files until ctx
// ends.
func (s *Syncer) Run(ctx context.Context) error {
	s.defaults()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error("pms scheduler", "err", err)
		}
		if s.Dir != "" {
			if _, err := s.ScanFolder(ctx); err != nil && ctx.Err() == nil {
				s.Log.Error("pms watched folder", "dir", s.Dir, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(s.Tick):
		}
	}
}

// RunDue runs every scheduled sync that is due.
func (s *Syncer) RunDue(ctx context.Context) error {
	s.defaults()
	due, err := s.Store.DuePMSSyncs(ctx, 50)
	if err != nil {
		return err
	}
	for _, pid := range due {
		_, err := s.sync(ctx, pid, "schedule")
		switch {
		case err == nil, errors.Is(err, store.ErrSyncRunning):
		case domain.ErrorCode(err) == domain.ENotFound:
			s.Log.Debug("pms sync skipped", "property", pid, "reason", err)
		default:
			s.Log.Error("pms sync", "property", pid, "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
	}
	return nil
}

// ScanFolder picks up roster files in DIR/{property_id}/{provider}/: each
// file is claimed by renaming it (so two instances never read the same
// one), applied once, and moved to processed/ (or failed/, with a
// NAME.error.txt saying why). It returns how many files it handled.
func (s *Syncer) ScanFolder(ctx context.Context) (int, error) {
	s.defaults()
	props, err := os.ReadDir(s.Dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, pd := range props {
		if !pd.IsDir() || strings.HasPrefix(pd.Name(), ".") {
			continue
		}
		provs, err := os.ReadDir(filepath.Join(s.Dir, pd.Name()))
		if err != nil {
			return n, err
		}
		for _, vd := range provs {
			if _, ok := pms.ConnectorFor(vd.Name()); !ok || !vd.IsDir() {
				continue
			}
			dir := filepath.Join(s.Dir, pd.Name(), vd.Name())
			files, err := os.ReadDir(dir)
			if err != nil {
				return n, err
			}
			for _, f := range files {
				if ctx.Err() != nil {
					return n, nil
				}
				ext := strings.ToLower(filepath.Ext(f.Name()))
				if !f.Type().IsRegular() || (ext != ".csv" && ext != ".json" && ext != ".xml") {
					continue
				}
				info, err := f.Info()
				if err != nil || time.Since(info.ModTime()) < s.Settle {
					continue
				}
				if s.folderFile(ctx, pd.Name(), vd.Name(), dir, f.Name()) {
					n++
				}
			}
		}
	}
	return n, nil
}

func (s *Syncer) folderFile(ctx context.Context, propertyID, provider, dir, name string) bool {
	path := filepath.Join(dir, name)
	claimed := path + ".claimed-" + strings.NewReplacer(":", "_", "/", "_").Replace(s.WorkerID)
	if err := os.Rename(path, claimed); err != nil {
		return false // another instance took it
	}
	log := s.Log.With("file", path, "property", propertyID, "provider", provider)
	var runErr error
	content, err := os.ReadFile(claimed)
	if err == nil {
		var a domain.Actor
		if a, err = s.Store.PMSSyncActor(ctx, propertyID, provider); err == nil {
			var res RosterResult
			res, err = s.Roster(ctx, a, propertyID, provider, "folder:"+name, content, false)
			if err == nil && res.Run != nil {
				log.Info("roster file applied", "run", res.Run.ID)
			}
		}
	}
	runErr = err
	dest := "processed"
	if runErr != nil {
		dest = "failed"
		log.Warn("roster file failed", "err", runErr)
	}
	if err := os.MkdirAll(filepath.Join(dir, dest), 0o700); err != nil {
		log.Error("roster file", "err", err)
		return true
	}
	target := filepath.Join(dir, dest, s.Store.Now().Format("20060102T150405Z")+"-"+name)
	if err := os.Rename(claimed, target); err != nil {
		log.Error("roster file move", "err", err)
	}
	if runErr != nil {
		os.WriteFile(target+".error.txt", []byte(domain.ErrorMessage(runErr)+"\n"), 0o600)
	}
	return true
}

// nonNilPlan gives every list of the plan a value, so JSON shows [] for
// "nothing".
func nonNilPlan(p pms.Plan) *pms.Plan {
	p.Links = nonNil(p.Links)
	p.Creates = nonNil(p.Creates)
	p.Updates = nonNil(p.Updates)
	p.Grants = nonNil(p.Grants)
	p.Revokes = nonNil(p.Revokes)
	p.Reviews = nonNil(p.Reviews)
	p.Alerts = nonNil(p.Alerts)
	p.Warnings = nonNil(p.Warnings)
	return &p
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
