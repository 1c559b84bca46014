package api

import (
	"net/http"

	"github.com/dooros/dooros/domain"

	"github.com/dooros/dooros/store"
)

// issueCourier gives the phone its sync-only credentials and the doors it
// must sync before unlocking (store.IssueCourier).
func (s *Server) issueCourier(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	k, err := s.keys()
	if err != nil {
		return err
	}
	out, err := s.Store.IssueCourier(r.Context(), k, res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// exposureSummary is the property's worst-case exposure figure.
func (s *Server) exposureSummary(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.ExposureSummary(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
