package store

import (
	"context"

	"github.com/dooros/dooros/domain"
)

// PortfolioManagers lists the names and emails of the actor's organisation's
// Portfolio Managers, so any manager can be told whom to ask for a
// permission (the console's "ask a Portfolio Manager" messages).
func (s *Store) PortfolioManagers(ctx context.Context, a domain.Actor) ([]domain.Manager, error) {
	rows, err := s.query(ctx, `SELECT id, email, first_name, last_name FROM managers WHERE org_id = ? AND role = ? ORDER BY last_name, first_name, email`,
		a.OrgID, domain.RolePortfolioManager)
	return collect(rows, err, func(sc rowScanner) (domain.Manager, error) {
		m := domain.Manager{Role: domain.RolePortfolioManager}
		err := sc.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName)
		return m, err
	})
}
