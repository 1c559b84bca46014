package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/dooros/dooros/domain"
)

// Token lifetimes.
const (
	APITokenTTL      = 12 * time.Hour
	InvitationTTL    = 7 * 24 * time.Hour
	TokenKindAPI     = "api"
	TokenKindSession = "session"
	TokenKindInvite  = "invite"
)

// Init creates the organisation and its first Portfolio Manager. It refuses
// to run twice.
func (s *Store) Init(ctx context.Context, orgName string, in domain.ManagerInput) (domain.Manager, error) {
	in.Role = domain.RolePortfolioManager
	if err := in.Normalize(); err != nil {
		return domain.Manager{}, err
	}
	if in.Password == "" {
		return domain.Manager{}, domain.FieldError("password", "is required")
	}
	if orgName == "" {
		return domain.Manager{}, domain.FieldError("org", "is required")
	}
	hash, err := domain.HashPassword(in.Password)
	if err != nil {
		return domain.Manager{}, err
	}
	m := domain.Manager{ID: domain.NewID("mgr"), Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Role: in.Role, HasPassword: true, Properties: []domain.Assignment{}}
	err = s.inTx(ctx, "init", func(t *Tx) error {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM organisations`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return domain.Errorf(domain.EConflict, "this database already has an organisation")
		}
		orgID := domain.NewID("org")
		now := micros(s.Now())
		if _, err := t.exec(ctx, `INSERT INTO organisations (id, name, created_at) VALUES (?,?,?)`, orgID, orgName, now); err != nil {
			return err
		}
		_, err := t.exec(ctx, `INSERT INTO managers (id, org_id, email, first_name, last_name, role, password_hash, created_at) VALUES (?,?,?,?,?,?,?,?)`,
			m.ID, orgID, m.Email, m.FirstName, m.LastName, m.Role, hash, now)
		return err
	})
	if domain.ErrorCode(err) == domain.EConflict {
		// Lost a race with another first run: the unique index of
		// migration 00017 let only one organisation in.
		return domain.Manager{}, domain.Errorf(domain.EConflict, "this database already has an organisation")
	}
	return m, err
}

// Initialized reports whether the database has its organisation (the
// first-run page is offered only while it has none).
func (s *Store) Initialized(ctx context.Context) (bool, error) {
	var n int
	if err := s.queryRow(ctx, `SELECT COUNT(*) FROM organisations`).Scan(&n); err != nil {
		return false, err
	}
	return n > 0, nil
}

// Organisation returns the (single) organisation, for system actors.
func (s *Store) Organisation(ctx context.Context) (domain.Organisation, error) {
	var o domain.Organisation
	var created int64
	err := s.queryRow(ctx, `SELECT id, name, created_at FROM organisations ORDER BY created_at LIMIT 1`).Scan(&o.ID, &o.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return o, domain.Errorf(domain.ENotFound, "no organisation yet: run `dooros init`")
	}
	o.CreatedAt = fromMicros(created)
	return o, err
}

// Login checks a manager's password and issues a token of the given kind.
// The same error answers an unknown email and a wrong password.
func (s *Store) Login(ctx context.Context, email, password, kind string) (string, time.Time, error) {
	email, _ = domain.NormalizeEmail("email", email)
	var id, hash string
	err := s.queryRow(ctx, `SELECT id, password_hash FROM managers WHERE email = ?`, email).Scan(&id, &hash)
	bad := domain.Errorf(domain.EUnauthenticated, "wrong email or password")
	if errors.Is(err, sql.ErrNoRows) {
		// Spend the same time as a real check so timing does not reveal
		// which emails exist.
		domain.VerifyPassword(dummyHash, password)
		return "", time.Time{}, bad
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if hash == "" || !domain.VerifyPassword(hash, password) {
		return "", time.Time{}, bad
	}
	return s.issueToken(ctx, id, kind, APITokenTTL)
}

var dummyHash, _ = domain.HashPassword("dummy password for timing")

func (s *Store) issueToken(ctx context.Context, managerID, kind string, ttl time.Duration) (string, time.Time, error) {
	token, hash, err := domain.NewToken()
	if err != nil {
		return "", time.Time{}, err
	}
	now := s.Now()
	exp := now.Add(ttl)
	err = s.inTx(ctx, "token", func(t *Tx) error {
		_, err := t.exec(ctx, `INSERT INTO api_tokens (token_hash, manager_id, kind, created_at, expires_at) VALUES (?,?,?,?,?)`,
			hash, managerID, kind, micros(now), micros(exp))
		return err
	})
	return token, exp, err
}

// Logout deletes a token.
func (s *Store) Logout(ctx context.Context, token string) error {
	return s.inTx(ctx, "logout", func(t *Tx) error {
		_, err := t.exec(ctx, `DELETE FROM api_tokens WHERE token_hash = ?`, domain.HashToken(token))
		return err
	})
}

// Authenticate resolves a bearer or session token to an actor with all of
// its property assignments loaded.
func (s *Store) Authenticate(ctx context.Context, token, kind string) (domain.Actor, error) {
	var a domain.Actor
	var first, last string
	var exp int64
	err := s.queryRow(ctx, `SELECT m.id, m.org_id, m.first_name, m.last_name, m.role, t.expires_at
		FROM api_tokens t JOIN managers m ON m.id = t.manager_id WHERE t.token_hash = ? AND t.kind = ?`,
		domain.HashToken(token), kind).Scan(&a.ManagerID, &a.OrgID, &first, &last, &a.Role, &exp)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.Now().Before(fromMicros(exp))) {
		return a, domain.Errorf(domain.EUnauthenticated, "missing, unknown or expired token; log in again")
	}
	if err != nil {
		return a, err
	}
	a.Name = first + " " + last
	a.Assignments, err = s.assignments(ctx, a.ManagerID)
	return a, err
}

func (s *Store) assignments(ctx context.Context, managerID string) (map[string]domain.Assignment, error) {
	rows, err := s.query(ctx, `SELECT property_id, key_management, key_ids, device_management, card_activation FROM manager_properties WHERE manager_id = ?`, managerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]domain.Assignment{}
	for rows.Next() {
		var as domain.Assignment
		var keys string
		if err := rows.Scan(&as.PropertyID, &as.KeyManagement, &keys, &as.DeviceManagement, &as.CardActivation); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(keys), &as.Keys); err != nil {
			return nil, err
		}
		out[as.PropertyID] = as
	}
	return out, rows.Err()
}

// CreateManager adds a manager. Without a password an invitation (a
// single-use set-password token) goes out by email through the outbox.
func (s *Store) CreateManager(ctx context.Context, a domain.Actor, in domain.ManagerInput) (domain.Manager, error) {
	if err := a.CanManageManagers(); err != nil {
		return domain.Manager{}, err
	}
	if err := in.Normalize(); err != nil {
		return domain.Manager{}, err
	}
	hash := ""
	if in.Password != "" {
		var err error
		if hash, err = domain.HashPassword(in.Password); err != nil {
			return domain.Manager{}, err
		}
	}
	m := domain.Manager{ID: domain.NewID("mgr"), Email: in.Email, FirstName: in.FirstName, LastName: in.LastName, Role: in.Role, HasPassword: hash != "", Properties: []domain.Assignment{}}
	err := s.inTx(ctx, "create_manager", func(t *Tx) error {
		var n int
		if err := t.queryRow(ctx, `SELECT COUNT(*) FROM managers WHERE email = ?`, m.Email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &domain.Error{Code: domain.EConflict, Field: "email", Message: "a manager with this email already exists"}
		}
		now := s.Now()
		if _, err := t.exec(ctx, `INSERT INTO managers (id, org_id, email, first_name, last_name, role, password_hash, created_at) VALUES (?,?,?,?,?,?,?,?)`,
			m.ID, a.OrgID, m.Email, m.FirstName, m.LastName, m.Role, hash, micros(now)); err != nil {
			return err
		}
		if hash == "" {
			token, th, err := domain.NewToken()
			if err != nil {
				return err
			}
			if _, err := t.exec(ctx, `INSERT INTO api_tokens (token_hash, manager_id, kind, created_at, expires_at) VALUES (?,?,?,?,?)`,
				th, m.ID, TokenKindInvite, micros(now), micros(now.Add(InvitationTTL))); err != nil {
				return err
			}
			if err := t.enqueue(ctx, TopicManagerInvitation, m.ID, map[string]string{"manager_id": m.ID, "token": token, "invited_by": a.Name}, now); err != nil {
				return err
			}
		}
		return t.addEvent(ctx, domain.Event{Kind: domain.EventManagerAdded, ActorID: a.ManagerID, Actor: a.Name,
			Detail: "added " + string(m.Role) + " " + m.FirstName + " " + m.LastName + " <" + m.Email + ">"})
	})
	return m, err
}

// AcceptInvitation sets a manager's password with an invitation token.
func (s *Store) AcceptInvitation(ctx context.Context, token, password string) error {
	if err := domain.CheckPassword(password, false); err != nil {
		return err
	}
	hash, err := domain.HashPassword(password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, "accept_invitation", func(t *Tx) error {
		var managerID string
		var exp int64
		err := t.queryRow(ctx, `SELECT manager_id, expires_at FROM api_tokens WHERE token_hash = ? AND kind = ?`, domain.HashToken(token), TokenKindInvite).Scan(&managerID, &exp)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && !s.Now().Before(fromMicros(exp))) {
			return domain.Errorf(domain.EUnauthenticated, "this invitation link is unknown, used or expired; ask for a new one")
		}
		if err != nil {
			return err
		}
		if _, err := t.exec(ctx, `UPDATE managers SET password_hash = ? WHERE id = ?`, hash, managerID); err != nil {
			return err
		}
		_, err = t.exec(ctx, `DELETE FROM api_tokens WHERE token_hash = ?`, domain.HashToken(token))
		return err
	})
}

// ListManagers lists the organisation's managers with their assignments.
func (s *Store) ListManagers(ctx context.Context, a domain.Actor) ([]domain.Manager, error) {
	if err := a.CanManageManagers(); err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT id, email, first_name, last_name, role, password_hash <> '' FROM managers WHERE org_id = ? ORDER BY email`, a.OrgID)
	out, err := collect(rows, err, func(sc rowScanner) (domain.Manager, error) {
		var m domain.Manager
		err := sc.Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName, &m.Role, &m.HasPassword)
		return m, err
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		as, err := s.assignments(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Properties = sortedAssignments(as)
	}
	return out, nil
}

// GetManager returns one manager of the actor's organisation.
func (s *Store) GetManager(ctx context.Context, a domain.Actor, id string) (domain.Manager, error) {
	ms, err := s.ListManagers(ctx, a)
	if err != nil {
		return domain.Manager{}, err
	}
	for _, m := range ms {
		if m.ID == id {
			return m, nil
		}
	}
	return domain.Manager{}, domain.Errorf(domain.ENotFound, "manager %s not found", id)
}

// SetAssignment assigns a property to a manager with the given permissions.
func (s *Store) SetAssignment(ctx context.Context, a domain.Actor, managerID string, as domain.Assignment) (domain.Manager, error) {
	if err := a.CanManageManagers(); err != nil {
		return domain.Manager{}, err
	}
	if err := as.Validate(); err != nil {
		return domain.Manager{}, err
	}
	err := s.inTx(ctx, "set_assignment", func(t *Tx) error {
		var name string
		err := t.queryRow(ctx, `SELECT first_name || ' ' || last_name FROM managers WHERE id = ? AND org_id = ?`, managerID, a.OrgID).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "manager %s not found", managerID)
		}
		if err != nil {
			return err
		}
		if _, err := t.property(ctx, a, as.PropertyID); err != nil {
			return err
		}
		for _, k := range as.Keys {
			if _, err := t.key(ctx, as.PropertyID, k); err != nil {
				return domain.FieldError("keys", "key %s is not a key of this property", k)
			}
		}
		keys, _ := json.Marshal(as.Keys)
		if _, err := t.exec(ctx, `INSERT INTO manager_properties (manager_id, property_id, key_management, key_ids, device_management, card_activation)
			VALUES (?,?,?,?,?,?) ON CONFLICT (manager_id, property_id) DO UPDATE SET key_management = excluded.key_management,
			key_ids = excluded.key_ids, device_management = excluded.device_management, card_activation = excluded.card_activation`,
			managerID, as.PropertyID, as.KeyManagement, string(keys), as.DeviceManagement, as.CardActivation); err != nil {
			return err
		}
		detail := "gave " + name + " key management " + string(as.KeyManagement)
		if as.DeviceManagement {
			detail += ", device management"
		}
		if as.CardActivation {
			detail += ", card activation"
		}
		return t.addEvent(ctx, domain.Event{PropertyID: as.PropertyID, Kind: domain.EventManagerAssigned, ActorID: a.ManagerID, Actor: a.Name, Detail: detail})
	})
	if err != nil {
		return domain.Manager{}, err
	}
	return s.GetManager(ctx, a, managerID)
}
