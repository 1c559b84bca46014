package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
)

// syncer is the process's PMS syncer (Server.PMS), or a fresh one.
func (s *Server) syncer() *imports.Syncer {
	if s.PMS != nil {
		return s.PMS
	}
	return &imports.Syncer{Store: s.Store, Log: s.Log}
}

func (s *Server) getPMSSettings(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	set, err := s.Store.PMSSettings(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

func (s *Server) putPMSSettings(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in store.PMSSettingsInput
	if err := decode(r, &in); err != nil {
		return err
	}
	set, err := s.Store.PutPMSSettings(r.Context(), a, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, set)
	return nil
}

// postRoster takes a vendor export as the body (CSV, JSON or XML as the
// provider writes it). Dry run: 200 with the plan; otherwise 202 with the
// stored roster and the queued run that will apply it in the background
// (GET …/pms/runs/{id} follows it).
func (s *Server) postRoster(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	dryRun, err := boolParam(r, "dry_run")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(io.LimitReader(http.MaxBytesReader(w, r.Body, imports.MaxRosterSize+1), imports.MaxRosterSize+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || len(body) > imports.MaxRosterSize:
		return domain.FieldError("roster", "the roster is larger than %d MB", imports.MaxRosterSize>>20)
	case err != nil:
		return domain.FieldError("roster", "could not read the body: %v", err)
	case len(body) == 0:
		return domain.FieldError("roster", "the body is empty; send the PMS export file as the request body")
	}
	res, err := s.syncer().Roster(r.Context(), a, r.PathValue("p"), r.PathValue("provider"), "api", body, dryRun)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.Run != nil {
		status = http.StatusAccepted
		w.Header().Set("Location", "/api/v1/properties/"+res.Run.PropertyID+"/pms/runs/"+res.Run.ID)
	}
	writeJSON(w, status, res)
	return nil
}

func (s *Server) pmsSyncNow(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	run, err := s.syncer().SyncNow(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	// The run goes on in the background whatever the client does.
	w.Header().Set("Location", "/api/v1/properties/"+run.PropertyID+"/pms/runs/"+run.ID)
	writeJSON(w, http.StatusAccepted, run)
	return nil
}

func (s *Server) listPMSRuns(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	runs, next, err := s.Store.ListPMSRuns(r.Context(), a, r.PathValue("p"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, runs, next)
}

func (s *Server) getPMSRun(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	run, err := s.Store.PMSRun(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run)
	return nil
}

func (s *Server) listPMSReviews(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	q := r.URL.Query()
	revs, next, err := s.Store.ListPMSReviews(r.Context(), a, r.PathValue("p"), q.Get("status"), q.Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, revs, next)
}

func (s *Server) decidePMSReview(approve bool) func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
		rev, err := s.Store.DecidePMSReview(r.Context(), a, r.PathValue("p"), r.PathValue("id"), approve)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, rev)
		return nil
	}
}
