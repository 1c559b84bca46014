package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/pms"
	"github.com/dooros/dooros/store"
)

// pmsRoutes registers PMS User Sync for a property: settings, roster
// upload (with a dry run showing the diff), Sync Now, runs and the review
// queue. Each action is the use case the API calls (imports.Syncer and the
// store's PMS methods), with the session's permissions.
func (c *Console) pmsRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/pms", c.inProperty(c.pmsPage))
	mux.Handle("POST /p/{p}/pms/settings", c.inProperty(c.pmsSettingsSave))
	mux.Handle("POST /p/{p}/pms/roster", c.inProperty(c.pmsRosterUpload))
	mux.Handle("POST /p/{p}/pms/sync", c.inProperty(c.pmsSyncNow))
	mux.Handle("GET /p/{p}/pms/runs/{id}", c.inProperty(c.pmsRunShow))
	mux.Handle("POST /p/{p}/pms/reviews/{id}/approve", c.inProperty(c.pmsReviewDecide(true)))
	mux.Handle("POST /p/{p}/pms/reviews/{id}/reject", c.inProperty(c.pmsReviewDecide(false)))
}

// syncer is the process's PMS syncer (Options.PMS), or a fresh one.
func (c *Console) syncer() *imports.Syncer {
	if c.opts.PMS != nil {
		return c.opts.PMS
	}
	return &imports.Syncer{Store: c.store, Log: c.log}
}

// pmsForm is the settings form as typed: keys and units as the manager
// sees them (names), turned into ids only when saved.
type pmsForm struct {
	Provider string
	Access   string
	Keys     map[string]bool
	MayShare bool
	Interval string
	Units    string
	// Skip is the lease statuses to skip, comma-separated.
	Skip string
}

type pmsData struct {
	// Configured: settings are saved (roster upload and Sync Now need them).
	Configured bool
	Settings   store.PMSSettings
	Form       pmsForm
	Providers  []pmsProvider
	Keys       []domain.Key
	Runs       []store.PMSRun
	MoreRuns   bool
	Reviews    []store.PMSReview
	MoreRevs   bool
	// Errors of the settings form and the roster form.
	SettingsError, RosterError *formError
	// Plan is a dry run's diff.
	Plan     *planView
	KeyNames map[string]string
	Units    []domain.Unit
}

// ReviewDetail is a review's detail with key ids written as key names.
func (d *pmsData) ReviewDetail(r store.PMSReview) string {
	detail := r.Detail
	for id, name := range d.KeyNames {
		detail = strings.ReplaceAll(detail, id, name)
	}
	return detail
}

type pmsProvider struct{ Name, Label string }

func providers() []pmsProvider {
	var out []pmsProvider
	for _, c := range pms.Connectors() {
		out = append(out, pmsProvider{c.Name(), store.ProviderName(c.Name())})
	}
	return out
}

func (c *Console) pmsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderPMS(w, r, rq, http.StatusOK, nil)
}

// renderPMS shows the page; form (nil: the saved settings) keeps what was
// typed when it is shown again with an error.
func (c *Console) renderPMS(w http.ResponseWriter, r *http.Request, rq *request, status int, d *pmsData) error {
	ctx := r.Context()
	if d == nil {
		d = &pmsData{}
	}
	set, err := c.store.PMSSettings(ctx, rq.Actor, rq.Property.ID)
	switch {
	case err == nil:
		d.Configured, d.Settings = true, set
	case domain.ErrorCode(err) == domain.ENotFound && rq.Actor.Can(rq.Property.ID, domain.PermPeople) == nil:
	default:
		return err
	}
	if d.Keys, err = c.store.ListKeys(ctx, rq.Actor, rq.Property.ID); err != nil {
		return err
	}
	if d.Units, err = c.store.ListUnits(ctx, rq.Actor, rq.Property.ID); err != nil {
		return err
	}
	d.KeyNames = map[string]string{}
	for _, k := range d.Keys {
		d.KeyNames[k.ID] = k.Name
	}
	if d.Form.Keys == nil {
		d.Form = settingsForm(d.Settings, d.Configured, d.Units)
	}
	d.Providers = providers()
	var next string
	if d.Runs, next, err = c.store.ListPMSRuns(ctx, rq.Actor, rq.Property.ID, "", 20); err != nil {
		return err
	}
	d.MoreRuns = next != ""
	if d.Reviews, next, err = c.store.ListPMSReviews(ctx, rq.Actor, rq.Property.ID, store.ReviewOpen, "", 100); err != nil {
		return err
	}
	d.MoreRevs = next != ""
	c.render(w, r, rq, status, "pms", "PMS User Sync", "pms", d)
	return nil
}

func settingsForm(set store.PMSSettings, configured bool, units []domain.Unit) pmsForm {
	f := pmsForm{Provider: set.Provider, Access: string(set.Access), Keys: map[string]bool{}, MayShare: set.MayShare, Interval: strconv.Itoa(set.IntervalMinutes),
		Skip: strings.Join(set.SkipStatuses, ", ")}
	if !configured {
		f.Access, f.Interval = string(pms.ApprovalRequired), strconv.Itoa(store.DefaultPMSIntervalMinutes)
	}
	for _, k := range set.Keys {
		f.Keys[k] = true
	}
	names := map[string]string{}
	for _, u := range units {
		names[u.ID] = u.Name
	}
	pmsUnits := make([]string, 0, len(set.Units))
	for k := range set.Units {
		pmsUnits = append(pmsUnits, k)
	}
	sort.Strings(pmsUnits)
	var b strings.Builder
	for _, k := range pmsUnits {
		name := names[set.Units[k]]
		if name == "" {
			name = set.Units[k]
		}
		fmt.Fprintf(&b, "%s = %s\n", k, name)
	}
	f.Units = b.String()
	return f
}

// pmsSettingsSave saves the settings (full Key Management; the store
// checks every rule). Units are typed "PMS unit = DOOR OS unit", one per
// line, and sent to the store by unit id.
func (c *Console) pmsSettingsSave(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return err
	}
	f := pmsForm{Provider: r.PostFormValue("provider"), Access: r.PostFormValue("access"), Keys: map[string]bool{},
		MayShare: r.PostFormValue("may_share") != "", Interval: strings.TrimSpace(r.PostFormValue("interval_minutes")), Units: r.PostFormValue("units"),
		Skip: r.PostFormValue("skip_statuses")}
	in := store.PMSSettingsInput{Provider: f.Provider, Access: pms.AccessMode(f.Access), MayShare: f.MayShare, Keys: r.PostForm["keys"], SkipStatuses: []string{}}
	for _, w := range strings.Split(f.Skip, ",") {
		if w = strings.TrimSpace(w); w != "" {
			in.SkipStatuses = append(in.SkipStatuses, w)
		}
	}
	for _, k := range in.Keys {
		f.Keys[k] = true
	}
	fail := func(err error) error {
		if fe, ok := toFormError(err); ok {
			return c.renderPMS(w, r, rq, http.StatusBadRequest, &pmsData{Form: f, SettingsError: fe})
		}
		return err
	}
	if f.Interval != "" {
		n, err := strconv.Atoi(f.Interval)
		if err != nil {
			return fail(domain.FieldError("interval_minutes", "%q is not a number of minutes", f.Interval))
		}
		in.IntervalMinutes = n
	}
	units, err := c.store.ListUnits(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	if in.Units, err = parseUnitMap(f.Units, units); err != nil {
		return fail(err)
	}
	if _, err := c.store.PutPMSSettings(ctx, rq.Actor, rq.Property.ID, in); err != nil {
		return fail(err)
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "pms"), "PMS User Sync settings saved.")
}

// parseUnitMap reads "PMS unit = DOOR OS unit" lines; the DOOR OS side is
// a unit's name (or id).
func parseUnitMap(text string, units []domain.Unit) (map[string]string, error) {
	byName := map[string]string{}
	for _, u := range units {
		byName[strings.ToLower(u.Name)] = u.ID
		byName[strings.ToLower(u.ID)] = u.ID
	}
	out := map[string]string{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, to, ok := strings.Cut(line, "=")
		from, to = strings.TrimSpace(from), strings.TrimSpace(to)
		if !ok || from == "" || to == "" {
			return nil, domain.FieldError("units", "line %d: write \"PMS unit = DOOR OS unit\", e.g. \"A-101 = 101\"", i+1)
		}
		id, ok := byName[strings.ToLower(to)]
		if !ok {
			return nil, domain.FieldError("units", "line %d: this property has no unit named %q", i+1, to)
		}
		out[from] = id
	}
	return out, nil
}
