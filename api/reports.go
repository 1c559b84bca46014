package api

import (
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/report"
)

// reportCSV serves the report named name (package report) of {p}.
func (s *Server) reportCSV(name string) func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	return func(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
		return report.Write(w, r, s.Store, s.Log, a, r.PathValue("p"), name)
	}
}
