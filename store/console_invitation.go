package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/dooros/dooros/domain"
)

// Invitation is what the console's set-password page shows about a
// manager invitation before the password is chosen.
type Invitation struct {
	Email     string
	FirstName string
	ExpiresAt time.Time
}

// Invitation looks up an invitation token without using it, so the
// set-password page can say at once whether the link still works. An
// expired link and an unknown one (used: AcceptInvitation deletes it, or
// never issued) get different messages; both are EUnauthenticated, as in
// AcceptInvitation, which checks again when the password is set.
func (s *Store) Invitation(ctx context.Context, token string) (Invitation, error) {
	var in Invitation
	var exp int64
	if token == "" {
		return in, domain.Errorf(domain.EUnauthenticated, "this invitation link is incomplete: open the link from the email exactly as it is")
	}
	err := s.queryRow(ctx, `SELECT m.email, m.first_name, t.expires_at FROM api_tokens t JOIN managers m ON m.id = t.manager_id
		WHERE t.token_hash = ? AND t.kind = ?`, domain.HashToken(token), TokenKindInvite).Scan(&in.Email, &in.FirstName, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return in, domain.Errorf(domain.EUnauthenticated, "this invitation link has already been used or is not valid; if you set your password with it, log in; otherwise ask a Portfolio Manager of your organisation for a new invitation")
	}
	if err != nil {
		return in, err
	}
	in.ExpiresAt = fromMicros(exp)
	if !s.Now().Before(in.ExpiresAt) {
		return in, domain.Errorf(domain.EUnauthenticated, "this invitation link expired on %s; ask a Portfolio Manager of your organisation for a new invitation", in.ExpiresAt.Format("2006-01-02 15:04 MST"))
	}
	return in, nil
}
