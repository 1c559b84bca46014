package store

import (
	"context"
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// MailData is what the email worker needs to write to a person: who they
// are, where, which keys and doors, their doorcode, who invited them, and
// for a code guest their code and day.
type MailData struct {
	Person        domain.Person
	Status        domain.Status
	Organisation  string
	Property      domain.Property
	Keys          []MailKey
	Doorcode      string
	DoorcodeDoors []string
	Host          *domain.Person
	GuestCode     *MailGuestCode
}

// MailKey is a key with its door names and effective window.
type MailKey struct {
	Name      string
	Doors     []string
	StartsAt  time.Time
	ExpiresAt *time.Time
}

// MailGuestCode is a code guest's code.
type MailGuestCode struct {
	Kind      domain.GuestKind
	Code      string
	KeyName   string
	Doors     []string
	ValidFrom time.Time // local midnight starting the day
	ValidTo   time.Time // next local midnight
}

// MailPerson loads MailData for a person (deleted people included: the
// worker decides). sealer computes a code guest's code; it may be nil when
// no code is needed.
func (s *Store) MailPerson(ctx context.Context, sealer Sealer, personID string) (MailData, error) {
	var d MailData
	err := s.inTx(ctx, "mail_person", func(t *Tx) error {
		d = MailData{}
		p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, personID))
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.ENotFound, "person %s not found", personID)
		}
		if err != nil {
			return err
		}
		now := s.Now()
		d.Person, d.Status = p, p.Status(now)
		if d.Property, err = t.propertyByID(ctx, p.PropertyID); err != nil {
			return err
		}
		if err := t.queryRow(ctx, `SELECT o.name FROM organisations o JOIN properties p ON p.org_id = o.id WHERE p.id = ?`, p.PropertyID).Scan(&d.Organisation); err != nil {
			return err
		}
		gs, keys, err := t.personKeys(ctx, p.PropertyID, p.ID)
		if err != nil {
			return err
		}
		doors, err := t.doorsByID(ctx, p.PropertyID)
		if err != nil {
			return err
		}
		for _, g := range gs {
			k := keys[g.KeyID]
			w := g.EffectiveWindow(p)
			mk := MailKey{Name: k.Name, StartsAt: w.Start, ExpiresAt: w.End}
			for _, kd := range k.Doors {
				mk.Doors = append(mk.Doors, doors[kd.DoorID].Name)
			}
			sort.Strings(mk.Doors)
			d.Keys = append(d.Keys, mk)
		}
		err = t.queryRow(ctx, `SELECT code FROM doorcodes WHERE person_id = ?`, p.ID).Scan(&d.Doorcode)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		for _, id := range domain.DoorcodeDoors(keys, gs) {
			d.DoorcodeDoors = append(d.DoorcodeDoors, doors[id].Name)
		}
		sort.Strings(d.DoorcodeDoors)
		if p.InvitedBy != "" {
			h, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, p.InvitedBy))
			if err != nil {
				return err
			}
			d.Host = &h
		}
		gc, err := t.guestCodeOf(ctx, p.ID)
		if err != nil || gc == nil || sealer == nil {
			return err
		}
		k, err := t.key(ctx, p.PropertyID, gc.KeyID)
		if err != nil {
			return err
		}
		code, err := t.computeGuestCode(ctx, sealer, gc, d.Property.DoorcodeLength)
		if err != nil {
			return err
		}
		loc := d.Property.Location()
		mg := &MailGuestCode{Kind: gc.Kind, Code: code, KeyName: k.Name, ValidFrom: lockproto.DayStart(gc.Day, loc), ValidTo: lockproto.DayStart(gc.Day+1, loc)}
		for _, id := range domain.DoorcodeDoors(map[string]domain.Key{k.ID: k}, []domain.Grant{{KeyID: k.ID}}) {
			mg.Doors = append(mg.Doors, doors[id].Name)
		}
		sort.Strings(mg.Doors)
		d.GuestCode = mg
		return nil
	})
	return d, err
}

// ManagerMail is what the invitation email of a manager needs.
type ManagerMail struct {
	Manager      domain.Manager
	Organisation string
	// LinkExpiresAt is when the newest invitation token stops working
	// (zero: none left).
	LinkExpiresAt time.Time
}

// MailManager loads a manager, their organisation and their invitation's
// expiry, for the invitation email.
func (s *Store) MailManager(ctx context.Context, id string) (ManagerMail, error) {
	var d ManagerMail
	m, err := s.ManagerByID(ctx, id)
	if err != nil {
		return d, err
	}
	d.Manager = m
	err = s.queryRow(ctx, `SELECT o.name FROM organisations o JOIN managers m ON m.org_id = o.id WHERE m.id = ?`, id).Scan(&d.Organisation)
	if err != nil {
		return d, err
	}
	var exp sql.NullInt64
	if err := s.queryRow(ctx, `SELECT MAX(expires_at) FROM api_tokens WHERE manager_id = ? AND kind = ?`, id, TokenKindInvite).Scan(&exp); err != nil {
		return d, err
	}
	if exp.Valid {
		d.LinkExpiresAt = fromMicros(exp.Int64)
	}
	return d, nil
}

// ManagerByID returns a manager by id, for system workers (the invitation email).
func (s *Store) ManagerByID(ctx context.Context, id string) (domain.Manager, error) {
	var m domain.Manager
	var hash string
	err := s.queryRow(ctx, `SELECT id, email, first_name, last_name, role, password_hash FROM managers WHERE id = ?`, id).
		Scan(&m.ID, &m.Email, &m.FirstName, &m.LastName, &m.Role, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return m, domain.Errorf(domain.ENotFound, "manager %s not found", id)
	}
	m.HasPassword = hash != ""
	return m, err
}

// PersonEmails lists the emails about a person (welcome, login codes, guest
// codes) with their delivery state, newest first; a permanent failure shows
// here with its last error.
func (s *Store) PersonEmails(ctx context.Context, a domain.Actor, propertyID, personID string) ([]OutboxStatus, error) {
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermPeople); err != nil {
			return err
		}
		_, err := t.person(ctx, propertyID, personID, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	all, err := s.OutboxForSubject(ctx, personID)
	if err != nil {
		return nil, err
	}
	out := []OutboxStatus{}
	for _, o := range all {
		if strings.HasPrefix(o.Topic, "email.") {
			out = append(out, o)
		}
	}
	return out, nil
}

// FailEmail marks an email outbox row permanently failed and, when it was
// about a person, records email.failed in Activity so managers see it.
func (s *Store) FailEmail(ctx context.Context, item OutboxItem, cause error) error {
	return s.inTx(ctx, "fail_email", func(t *Tx) error {
		if _, err := t.exec(ctx, `UPDATE outbox SET failed_at = ?, last_error = ? WHERE id = ?`, micros(s.Now()), truncate(cause.Error(), 500), item.ID); err != nil {
			return err
		}
		p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`, item.SubjectID))
		if errors.Is(err, sql.ErrNoRows) {
			return nil // a manager invitation: the managers list shows it
		}
		if err != nil {
			return err
		}
		what := strings.ReplaceAll(strings.TrimPrefix(item.Topic, "email."), "_", " ")
		return t.addEvent(ctx, domain.Event{PropertyID: p.PropertyID, Kind: EventEmailFailed, Actor: "DOOR OS", PersonID: p.ID, PersonName: p.Name(),
			Detail: truncate("could not deliver the "+what+" email to "+p.Email+": "+cause.Error(), 500)})
	})
}
