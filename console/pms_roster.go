package console

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/pms"
	"github.com/dooros/dooros/store"
)

// pmsRosterUpload takes a vendor export, as the watched folder and the API
// do. A dry run shows the diff and changes nothing; otherwise the roster is
// stored and synced, and the run's page is shown.
func (c *Console) pmsRosterUpload(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	dryRun := r.FormValue("dry_run") != ""
	f, hdr, err := r.FormFile("roster")
	if err != nil {
		return c.renderPMS(w, r, rq, http.StatusBadRequest, &pmsData{RosterError: &formError{Field: "roster", Message: "Choose the roster file your PMS exported."}})
	}
	defer f.Close()
	content, err := io.ReadAll(io.LimitReader(f, imports.MaxRosterSize+1))
	if err != nil {
		return err
	}
	set, err := c.store.PMSSettings(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return c.renderPMS(w, r, rq, http.StatusConflict, &pmsData{RosterError: &formError{Field: "roster", Message: "Save the PMS User Sync settings first: they say which PMS the roster comes from."}})
		}
		return err
	}
	res, err := c.syncer().Roster(ctx, rq.Actor, rq.Property.ID, set.Provider, "console: "+hdr.Filename, content, dryRun)
	if err != nil {
		if fe, ok := toFormError(err); ok {
			return c.renderPMS(w, r, rq, http.StatusBadRequest, &pmsData{RosterError: fe})
		}
		return err
	}
	switch {
	case dryRun:
		d := &pmsData{}
		d.Plan = &planView{FileName: hdr.Filename, Warnings: res.Warnings}
		if res.Plan != nil {
			d.Plan.Plan = *res.Plan
		}
		return c.renderPMS(w, r, rq, http.StatusOK, d)
	default:
		return c.redirect(w, r, propertyURL(rq.Property.ID, "pms", "runs", res.Run.ID), "Roster received. "+runFlash(*res.Run))
	}
}

// pmsSyncNow reconciles the latest roster again ("Sync Now").
func (c *Console) pmsSyncNow(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := c.syncer().SyncNow(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		if domain.ErrorCode(err) == domain.ENotFound {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "pms"), "Sync Now: "+domain.ErrorMessage(err))
		}
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "pms", "runs", run.ID), runFlash(run))
}

// runFlash says where a run is; a queued or running one goes on in the
// background, and its page shows its progress.
func runFlash(run store.PMSRun) string {
	switch run.Status {
	case store.ImportQueued:
		return "Sync queued: it runs in the background; this page shows its progress."
	case store.ImportRunning:
		return fmt.Sprintf("Sync running: %d of %d steps done.", run.StepsDone, run.Steps)
	}
	s := run.Summary
	return fmt.Sprintf("Sync %s: %d created, %d linked, %d updated, %d granted, %d revoked, %d waiting for review, %d failed.",
		run.Status, s.Created, s.Linked, s.Updated, s.Granted, s.Revoked, s.Reviews, s.Failed)
}

// planView is a dry run's diff, row by row.
type planView struct {
	FileName string
	Plan     pms.Plan
	Warnings []pms.ParseWarning
}

// planRow is one line of the diff.
type planRow struct {
	Change, Who, Detail string
}

// Rows lists what the sync would do, in the order it would do it; key
// names come from the page's keys.
func (v *planView) Rows(keyNames map[string]string) []planRow {
	var out []planRow
	p := v.Plan
	for _, l := range p.Links {
		out = append(out, planRow{"link", l.Email, "existing person linked to PMS resident " + l.ExternalID})
	}
	for _, c := range p.Creates {
		out = append(out, planRow{"create", c.Email, fmt.Sprintf("new contact %s %s (%s)", c.FirstName, c.LastName, c.Status)})
	}
	for _, u := range p.Updates {
		out = append(out, planRow{"update", u.ExternalID, fmt.Sprintf("%s: %q → %q", u.Field, u.From, u.To)})
	}
	for _, g := range p.Grants {
		names := make([]string, len(g.KeyIDs))
		for i, k := range g.KeyIDs {
			if names[i] = keyNames[k]; names[i] == "" {
				names[i] = k
			}
		}
		until := "no end date"
		if g.ExpiresAt != nil {
			until = "until " + g.ExpiresAt.Format("2006-01-02")
		}
		out = append(out, planRow{"grant", g.Email, fmt.Sprintf("%s from %s, %s", strings.Join(names, ", "), g.StartsAt.Format("2006-01-02 15:04"), until)})
	}
	for _, rv := range p.Revokes {
		out = append(out, planRow{"revoke", rv.Email, rv.Reason})
	}
	for _, rv := range p.Reviews {
		out = append(out, planRow{"waits for review", rv.Email, pmsWords(string(rv.Reason)) + ": " + rv.Detail})
	}
	for _, a := range p.Alerts {
		out = append(out, planRow{"not imported", a.Email, pmsWords(string(a.Kind)) + ": " + a.Detail})
	}
	for _, a := range p.Warnings {
		out = append(out, planRow{"kept, with a warning", a.Email, pmsWords(string(a.Kind)) + ": " + a.Detail})
	}
	for _, wn := range v.Warnings {
		field := ""
		if wn.Field != "" {
			field = " (field " + wn.Field + ")"
		}
		out = append(out, planRow{"record not read", wn.ExternalID, fmt.Sprintf("record %d%s: %s", wn.Record, field, wn.Reason)})
	}
	return out
}

// pmsReasonWords say the PMS reconciler's reason codes in words.
var pmsReasonWords = map[string]string{
	string(pms.ReviewApproval):           "changes need your approval (approval required is set)",
	string(pms.ReviewNameMismatch):       "the email belongs to a person with another name",
	string(pms.ReviewEmailChanged):       "the resident's email changed in the PMS",
	string(pms.ReviewLinkedElsewhere):    "the person is already linked to another PMS resident",
	string(pms.ReviewAmbiguous):          "more than one person could be this resident",
	string(pms.ReviewRevokedContact):     "a manager took this person's access away",
	string(pms.ReviewLeaseEnded):         "the lease end has passed",
	string(pms.AlertDuplicateEmail):      "two roster residents share this email",
	string(pms.AlertDuplicateExternalID): "two roster residents share this PMS id",
	string(pms.AlertMissingEmail):        "no email in the roster",
	string(pms.AlertInvalidEmail):        "the roster's email is not valid",
	string(pms.AlertMissingName):         "no name in the roster",
	string(pms.AlertNoKeys):              "no keys chosen in the settings, so nothing is granted",
	string(pms.WarningUnknownUnit):       "imported without a unit: the PMS unit has no DOOR OS unit",
	string(pms.WarningSkippedStatus):     "skipped: its lease status is one you chose to skip",
}

func pmsWords(code string) string {
	if w, ok := pmsReasonWords[code]; ok {
		return w
	}
	return strings.ReplaceAll(code, "_", " ")
}
