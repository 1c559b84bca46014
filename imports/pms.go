package imports

import (
	"bytes"
	"context"
	"errors"
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
		plan, err := planRoster(ctx, s.Store, propertyID, set, roster)
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
	// A run already queued reads this roster when it starts.
	run, err := s.Store.QueuePMSRun(ctx, propertyID, cause)
	if err != nil {
		return res, err
	}
	res.Run = &run
	return res, nil
}

// SyncNow queues a sync of the latest roster ("Sync Now"); the job runner
// applies it (Runner).
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
	return s.Store.QueuePMSRun(ctx, propertyID, "sync_now")
}

// planRoster computes what a sync of roster would do, changing nothing.
func planRoster(ctx context.Context, st *store.Store, propertyID string, set store.PMSSettings, roster pms.Roster) (pms.Plan, error) {
	contacts, err := st.PMSContacts(ctx, propertyID, set.Provider, set.Keys)
	if err != nil {
		return pms.Plan{}, err
	}
	units, err := st.PMSUnitMap(ctx, propertyID, set)
	if err != nil {
		return pms.Plan{}, err
	}
	roster, skipped := pms.SkipStatuses(roster, set.SkipStatuses)
	policy := pms.Policy{Access: set.Access, KeyIDs: set.Keys, MayShare: set.MayShare}
	plan := pms.Reconcile(roster, contacts, units, policy, st.Now())
	for _, w := range skipped {
		a := pms.Alert{Kind: pms.WarningSkippedStatus, Detail: w.Reason}
		if w.ExternalID != "" {
			a.ExternalIDs = []string{w.ExternalID}
		}
		plan.Warnings = append(plan.Warnings, a)
	}
	return plan, nil
}

// processPMS applies a sync run this runner has claimed. A new run reads
// the property's latest roster, plans it and stores the plan; a resumed
// one goes on with its stored plan from the first step not committed.
// When ctx ends it hands the run back and returns ctx's error.
func (r *Runner) processPMS(ctx context.Context, run store.PMSRun) (store.PMSRun, error) {
	log := r.Log.With("pms_run", run.ID, "property", run.PropertyID)
	job, err := r.openPMS(ctx, run)
	if err != nil {
		return r.stopPMS(ctx, run, err)
	}
	if run.Planned() {
		log.Info("pms sync resumed", "after_step", run.StepsDone, "steps", job.Run.Steps)
	}
	for !job.Done() {
		if err := ctx.Err(); err != nil {
			return r.stopPMS(ctx, job.Run, err)
		}
		if err := r.Store.ApplyPMSBatch(ctx, job, r.WorkerID, r.PMSBatchSteps, r.BatchTime); err != nil {
			return r.stopPMS(ctx, job.Run, err)
		}
		if r.PMSProgress != nil {
			r.PMSProgress(job.Run)
		}
		select {
		case <-ctx.Done():
		case <-time.After(max(r.Pause, 0)):
		}
	}
	out, err := r.Store.FinishPMSRun(ctx, run.ID, r.WorkerID, "")
	if err == nil {
		sm := out.Summary
		log.Info("pms sync", "provider", out.Provider, "cause", out.Cause, "steps", out.Steps, "created", sm.Created,
			"granted", sm.Granted, "revoked", sm.Revoked, "reviews", sm.Reviews, "failed", sm.Failed)
		if r.PMSProgress != nil {
			r.PMSProgress(out)
		}
	}
	return out, err
}

// openPMS plans a new run or reopens a resumed one.
func (r *Runner) openPMS(ctx context.Context, run store.PMSRun) (*store.PMSJob, error) {
	if run.Planned() {
		return r.Store.OpenPMSJob(ctx, run)
	}
	set, err := r.Store.PMSSettingsByID(ctx, run.PropertyID)
	if err != nil {
		return nil, err
	}
	latest, err := r.Store.LatestRoster(ctx, run.PropertyID, set.Provider)
	if err != nil {
		return nil, err
	}
	conn, _ := pms.ConnectorFor(set.Provider)
	prop, err := r.Store.PropertyByID(ctx, run.PropertyID)
	if err != nil {
		return nil, err
	}
	roster, _, err := conn.Parse(bytes.NewReader(latest.Content), prop.Location())
	if err != nil {
		return nil, domain.Errorf(domain.EInvalid, "stored roster %s is not a %s roster: %v", latest.ID, store.ProviderName(set.Provider), err)
	}
	plan, err := planRoster(ctx, r.Store, run.PropertyID, set, roster)
	if err != nil {
		return nil, err
	}
	return r.Store.StartPMSRun(ctx, run.ID, r.WorkerID, latest, plan)
}

// stopPMS ends processing after an error, as stop does for imports: a
// cancelled runner hands the run back, a rule's refusal of the whole run
// (settings or property gone) fails it, anything else leaves it to be
// resumed when its lease runs out.
func (r *Runner) stopPMS(ctx context.Context, run store.PMSRun, err error) (store.PMSRun, error) {
	if ctx.Err() != nil {
		if rerr := r.Store.ReleasePMSRun(context.WithoutCancel(ctx), run.ID, r.WorkerID); rerr != nil {
			r.Log.Error("pms run release", "pms_run", run.ID, "err", rerr)
		}
		return run, ctx.Err()
	}
	var de *domain.Error
	if errors.As(err, &de) {
		r.Log.Warn("pms sync failed", "pms_run", run.ID, "reason", de.Error())
		return r.Store.FinishPMSRun(context.WithoutCancel(ctx), run.ID, r.WorkerID, de.Error())
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

// RunDue queues every scheduled sync that is due; the job runner applies
// them.
func (s *Syncer) RunDue(ctx context.Context) error {
	s.defaults()
	runs, err := s.Store.QueueDuePMSRuns(ctx, 50)
	for _, run := range runs {
		s.Log.Debug("pms sync queued", "property", run.PropertyID, "run", run.ID)
	}
	return err
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
