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
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Manager{}
	for rows.Next() {
		m := domain.Manager{Role: domain.RolePortfolioManager}
		if err := rows.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}
