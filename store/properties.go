package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/dooros/dooros/domain"
)

func sortedAssignments(m map[string]domain.Assignment) []domain.Assignment {
	out := make([]domain.Assignment, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PropertyID < out[j].PropertyID })
	return out
}

const propertyCols = `id, name, time_zone, doorcode_length, credential_lifetime_hours, created_at`

func scanProperty(sc rowScanner) (domain.Property, error) {
	var p domain.Property
	var created int64
	err := sc.Scan(&p.ID, &p.Name, &p.TimeZone, &p.DoorcodeLength, &p.CredentialLifetimeHours, &created)
	p.CreatedAt = fromMicros(created)
	return p, err
}

// property loads a property of the actor's organisation that the actor is
// assigned to; anything else is "not found".
func (t *Tx) property(ctx context.Context, a domain.Actor, id string) (domain.Property, error) {
	if err := a.Can(id, domain.PermView); err != nil {
		return domain.Property{}, err
	}
	p, err := scanProperty(t.queryRow(ctx, `SELECT `+propertyCols+` FROM properties WHERE id = ? AND org_id = ?`, id, a.OrgID))
	if errors.Is(err, sql.ErrNoRows) {
		return p, domain.Errorf(domain.ENotFound, "property %s not found", id)
	}
	return p, err
}

// authorize loads a property the actor may see and checks perm on it. A
// property the actor cannot see answers not found before any missing
// permission answers forbidden.
func (t *Tx) authorize(ctx context.Context, a domain.Actor, propertyID string, perm domain.Permission) (domain.Property, error) {
	p, err := t.property(ctx, a, propertyID)
	if err != nil {
		return p, err
	}
	return p, a.Can(propertyID, perm)
}

// Property returns one property the actor may see.
func (s *Store) Property(ctx context.Context, a domain.Actor, id string) (p domain.Property, err error) {
	err = s.read(ctx, func(t *Tx) error {
		p, err = t.property(ctx, a, id)
		return err
	})
	return p, err
}

// PropertyByID loads a property without an actor, for system workers.
func (s *Store) PropertyByID(ctx context.Context, id string) (domain.Property, error) {
	return propertyByID(ctx, s, id)
}

// propertyByID is PropertyByID inside a transaction.
func (t *Tx) propertyByID(ctx context.Context, id string) (domain.Property, error) {
	return propertyByID(ctx, t, id)
}

// rowQuerier is a *Store (outside a transaction) or a *Tx.
type rowQuerier interface {
	queryRow(ctx context.Context, q string, args ...any) *sql.Row
}

func propertyByID(ctx context.Context, db rowQuerier, id string) (domain.Property, error) {
	p, err := scanProperty(db.queryRow(ctx, `SELECT `+propertyCols+` FROM properties WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return p, domain.Errorf(domain.ENotFound, "property %s not found", id)
	}
	return p, err
}

// orgOf is the organisation a property belongs to.
func orgOf(ctx context.Context, db rowQuerier, propertyID string) (string, error) {
	var org string
	err := db.queryRow(ctx, `SELECT org_id FROM properties WHERE id = ?`, propertyID).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) {
		return "", domain.Errorf(domain.ENotFound, "property %s not found", propertyID)
	}
	return org, err
}

// read runs fn in a read-only transaction (a consistent snapshot). On
// SQLite it is a deferred transaction: a WAL reader that neither waits for
// nor blocks writers (the store's immediate write transactions would take
// the write lock for a read). On PostgreSQL it is REPEATABLE READ, so every
// query of fn sees the same snapshot (read-only ones never fail to
// serialize).
func (s *Store) read(ctx context.Context, fn func(*Tx) error) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.dialect == Postgres {
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return s.mapErr2(fn(&Tx{tx: tx, s: s}))
}

func (s *Store) mapErr2(err error) error {
	if err == nil {
		return nil
	}
	return s.mapErr(err)
}

// ListProperties lists the properties the actor may see.
func (s *Store) ListProperties(ctx context.Context, a domain.Actor) ([]domain.Property, error) {
	rows, err := s.query(ctx, `SELECT `+propertyCols+` FROM properties WHERE org_id = ? ORDER BY name, id`, a.OrgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Property{}
	for rows.Next() {
		p, err := scanProperty(rows)
		if err != nil {
			return nil, err
		}
		if _, ok := a.Assignment(p.ID); ok {
			out = append(out, p)
		}
	}
	return out, rows.Err()
}

// CreateProperty creates a property (Portfolio Managers only).
func (s *Store) CreateProperty(ctx context.Context, a domain.Actor, in domain.PropertyInput) (domain.Property, error) {
	if a.Role != domain.RolePortfolioManager {
		return domain.Property{}, domain.Errorf(domain.EForbidden, "only Portfolio Managers create properties")
	}
	if err := in.Normalize(); err != nil {
		return domain.Property{}, err
	}
	p := domain.Property{ID: domain.NewID("prp"), Name: in.Name, TimeZone: in.TimeZone, DoorcodeLength: in.DoorcodeLength,
		CredentialLifetimeHours: in.CredentialLifetimeHours, CreatedAt: s.Now().Truncate(1000)}
	err := s.inTx(ctx, "create_property", func(t *Tx) error {
		if _, err := t.exec(ctx, `INSERT INTO properties (id, org_id, name, time_zone, doorcode_length, credential_lifetime_hours, credential_lifetime_max_hours, created_at) VALUES (?,?,?,?,?,?,?,?)`,
			p.ID, a.OrgID, p.Name, p.TimeZone, p.DoorcodeLength, p.CredentialLifetimeHours, p.CredentialLifetimeHours, micros(p.CreatedAt)); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: p.ID, Kind: domain.EventPropertyCreated, ActorID: a.ManagerID, Actor: a.Name, Detail: "created property " + p.Name})
	})
	return p, err
}

// UpdateProperty changes a property. A new doorcode length regenerates
// every code of the property (old codes stop working: a revocation at every
// door that takes doorcodes).
func (s *Store) UpdateProperty(ctx context.Context, a domain.Actor, id string, in domain.PropertyInput) (domain.Property, error) {
	var out domain.Property
	err := s.inTx(ctx, "update_property", func(t *Tx) error {
		p, err := t.authorize(ctx, a, id, domain.PermManageProperty)
		if err != nil {
			return err
		}
		if in.Name == "" {
			in.Name = p.Name
		}
		if in.TimeZone == "" {
			in.TimeZone = p.TimeZone
		}
		if in.DoorcodeLength == 0 {
			in.DoorcodeLength = p.DoorcodeLength
		}
		if in.CredentialLifetimeHours == 0 {
			in.CredentialLifetimeHours = p.CredentialLifetimeHours
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		// The longest lifetime ever is kept: credentials issued under it are
		// still on phones after the setting is lowered.
		if _, err := t.exec(ctx, `UPDATE properties SET name = ?, time_zone = ?, doorcode_length = ?, credential_lifetime_hours = ?,
			credential_lifetime_max_hours = CASE WHEN credential_lifetime_max_hours < ? THEN ? ELSE credential_lifetime_max_hours END WHERE id = ?`,
			in.Name, in.TimeZone, in.DoorcodeLength, in.CredentialLifetimeHours, in.CredentialLifetimeHours, in.CredentialLifetimeHours, id); err != nil {
			return err
		}
		detail := fmt.Sprintf("updated property %s", in.Name)
		var doors []string
		if in.DoorcodeLength != p.DoorcodeLength {
			n, changed, err := t.regenerateDoorcodes(ctx, id, in.DoorcodeLength)
			if err != nil {
				return err
			}
			doors = changed
			detail += fmt.Sprintf("; doorcode length %d → %d, %d codes regenerated", p.DoorcodeLength, in.DoorcodeLength, n)
		}
		if in.TimeZone != p.TimeZone {
			// Schedules are read in the property's zone by every lock.
			rows, err := t.query(ctx, `SELECT id FROM doors WHERE property_id = ?`, id)
			if err != nil {
				return err
			}
			ids, err := scanStrings(rows)
			if err != nil {
				return err
			}
			doors = append(doors, ids...)
		}
		changes := make([]domain.DoorChange, 0, len(doors))
		for _, d := range doors {
			changes = append(changes, domain.DoorChange{DoorID: d, Reason: "property settings changed", Revocation: true})
		}
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		if err := t.addEvent(ctx, domain.Event{PropertyID: id, Kind: domain.EventPropertyUpdated, ActorID: a.ManagerID, Actor: a.Name, Detail: detail, Doors: doors}); err != nil {
			return err
		}
		out, err = t.property(ctx, a, id)
		return err
	})
	return out, err
}

func scanStrings(rows *sql.Rows) ([]string, error) { return collect(rows, nil, scanString) }

// --- doors ---

const doorCols = `id, property_id, name, type, connectivity, COALESCE(unit_id, ''), created_at`

func scanDoor(sc rowScanner) (domain.Door, error) {
	var d domain.Door
	var created int64
	err := sc.Scan(&d.ID, &d.PropertyID, &d.Name, &d.Type, &d.Connectivity, &d.UnitID, &created)
	d.CreatedAt = fromMicros(created)
	return d, err
}

func (t *Tx) door(ctx context.Context, propertyID, id string) (domain.Door, error) {
	d, err := scanDoor(t.queryRow(ctx, `SELECT `+doorCols+` FROM doors WHERE id = ? AND property_id = ?`, id, propertyID))
	if errors.Is(err, sql.ErrNoRows) {
		return d, domain.Errorf(domain.ENotFound, "door %s not found in this property", id)
	}
	return d, err
}

// CreateDoor adds a door (Portfolio Managers; it is part of setting up a
// property).
func (s *Store) CreateDoor(ctx context.Context, a domain.Actor, propertyID string, in domain.DoorInput) (domain.Door, error) {
	var d domain.Door
	err := s.inTx(ctx, "create_door", func(t *Tx) error {
		// Permission before validation: a manager without the right hears
		// 403, whatever they sent.
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageProperty); err != nil {
			return err
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		d = domain.Door{ID: domain.NewID("dor"), PropertyID: propertyID, Name: in.Name, Type: in.Type, Connectivity: in.Connectivity, UnitID: in.UnitID, CreatedAt: s.Now().Truncate(1000)}
		if in.UnitID != "" {
			if _, err := t.unit(ctx, propertyID, in.UnitID); err != nil {
				return &domain.Error{Code: domain.EInvalid, Field: "unit_id", Message: err.Error()}
			}
		}
		if err := t.nameFree(ctx, "doors", propertyID, in.Name, ""); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO doors (id, property_id, name, type, connectivity, unit_id, created_at) VALUES (?,?,?,?,?,?,?)`,
			d.ID, d.PropertyID, d.Name, d.Type, d.Connectivity, nullString(d.UnitID), micros(d.CreatedAt)); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: domain.EventDoorCreated, ActorID: a.ManagerID, Actor: a.Name,
			DoorID: d.ID, Detail: fmt.Sprintf("created %s door %s (%s)", d.Type, d.Name, d.Connectivity)})
	})
	return d, err
}

// nameFree answers a conflict naming the field when a name is taken.
func (t *Tx) nameFree(ctx context.Context, table, propertyID, name, exceptID string) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM `+table+` WHERE property_id = ? AND name = ? AND id <> ?`, propertyID, name, exceptID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return &domain.Error{Code: domain.EConflict, Field: "name", Message: fmt.Sprintf("%q is already used in this property", name)}
	}
	return nil
}

// ListDoors lists a property's doors.
func (s *Store) ListDoors(ctx context.Context, a domain.Actor, propertyID string) ([]domain.Door, error) {
	var out []domain.Door
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT `+doorCols+` FROM doors WHERE property_id = ? ORDER BY name, id`, propertyID)
		out, err = collect(rows, err, scanDoor)
		return err
	})
	return out, err
}

// Door returns one door.
func (s *Store) Door(ctx context.Context, a domain.Actor, propertyID, id string) (d domain.Door, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		d, err = t.door(ctx, propertyID, id)
		return err
	})
	return d, err
}

// --- units ---

func (t *Tx) unit(ctx context.Context, propertyID, id string) (domain.Unit, error) {
	var u domain.Unit
	var created int64
	err := t.queryRow(ctx, `SELECT id, property_id, name, created_at FROM units WHERE id = ? AND property_id = ?`, id, propertyID).Scan(&u.ID, &u.PropertyID, &u.Name, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, domain.Errorf(domain.ENotFound, "unit %s not found in this property", id)
	}
	u.CreatedAt = fromMicros(created)
	return u, err
}

// CreateUnit adds a unit; assigning it to a person grants nothing.
func (s *Store) CreateUnit(ctx context.Context, a domain.Actor, propertyID string, in domain.UnitInput) (domain.Unit, error) {
	var u domain.Unit
	err := s.inTx(ctx, "create_unit", func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		if a.Can(propertyID, domain.PermManageProperty) != nil {
			if err := a.Can(propertyID, domain.PermManageKeys); err != nil {
				return err
			}
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		u = domain.Unit{ID: domain.NewID("unt"), PropertyID: propertyID, Name: in.Name, CreatedAt: s.Now().Truncate(1000)}
		if err := t.nameFree(ctx, "units", propertyID, in.Name, ""); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `INSERT INTO units (id, property_id, name, created_at) VALUES (?,?,?,?)`, u.ID, propertyID, u.Name, micros(u.CreatedAt)); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: domain.EventUnitCreated, ActorID: a.ManagerID, Actor: a.Name, Detail: "created unit " + u.Name})
	})
	return u, err
}

// ListUnits lists a property's units.
func (s *Store) ListUnits(ctx context.Context, a domain.Actor, propertyID string) ([]domain.Unit, error) {
	var out []domain.Unit
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT id, property_id, name, created_at FROM units WHERE property_id = ? ORDER BY name, id`, propertyID)
		out, err = collect(rows, err, func(sc rowScanner) (domain.Unit, error) {
			var u domain.Unit
			var created int64
			err := sc.Scan(&u.ID, &u.PropertyID, &u.Name, &created)
			u.CreatedAt = fromMicros(created)
			return u, err
		})
		return err
	})
	return out, err
}

// --- keys ---

func (t *Tx) key(ctx context.Context, propertyID, id string) (domain.Key, error) {
	keys, _, err := t.loadKeys(ctx, propertyID, []string{id})
	if err != nil {
		return domain.Key{}, err
	}
	k, ok := keys[id]
	if !ok {
		return k, domain.Errorf(domain.ENotFound, "key %s not found in this property", id)
	}
	return k, nil
}

// keysByID loads several keys of a property (one query for any number);
// an unknown or foreign key is an error naming the field.
func (t *Tx) keysByID(ctx context.Context, propertyID string, ids []string) (map[string]domain.Key, error) {
	out, uniq, err := t.loadKeys(ctx, propertyID, ids)
	if err != nil {
		return nil, err
	}
	for _, id := range uniq {
		if _, ok := out[id]; !ok {
			return nil, domain.FieldError("keys", "key %s is not a key of this property", id)
		}
	}
	return out, nil
}

// loadKeys loads the keys of a property among ids, with their doors, in
// one query; unknown ids are left out. It also returns the distinct ids.
func (t *Tx) loadKeys(ctx context.Context, propertyID string, ids []string) (map[string]domain.Key, []string, error) {
	out := make(map[string]domain.Key, len(ids))
	seen := make(map[string]bool, len(ids))
	var uniq []string
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) == 0 {
		return out, uniq, nil
	}
	rows, err := t.query(ctx, `SELECT k.id, k.property_id, k.name, k.created_at, kd.door_id, kd.doorcodes, kd.schedule
		FROM access_keys k LEFT JOIN key_doors kd ON kd.key_id = k.id
		WHERE k.property_id = ? AND k.id IN (`+placeholders(len(uniq))+`) ORDER BY k.id, kd.door_id`,
		append([]any{propertyID}, anySlice(uniq)...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k domain.Key
		var created int64
		var door, sched sql.NullString
		var codes sql.NullBool
		if err := rows.Scan(&k.ID, &k.PropertyID, &k.Name, &created, &door, &codes, &sched); err != nil {
			return nil, nil, err
		}
		if prev, ok := out[k.ID]; ok {
			k = prev
		} else {
			k.CreatedAt, k.Doors = fromMicros(created), []domain.KeyDoor{}
		}
		if door.Valid {
			kd := domain.KeyDoor{DoorID: door.String, Doorcodes: codes.Bool}
			if err := json.Unmarshal([]byte(sched.String), &kd.Schedule); err != nil {
				return nil, nil, err
			}
			k.Doors = append(k.Doors, kd)
		}
		out[k.ID] = k
	}
	return out, uniq, rows.Err()
}

func (t *Tx) checkKeyDoors(ctx context.Context, propertyID string, doors []domain.KeyDoor) error {
	for _, d := range doors {
		if _, err := t.door(ctx, propertyID, d.DoorID); err != nil {
			return domain.FieldError("doors", "door %s is not a door of this property", d.DoorID)
		}
	}
	return nil
}

func (t *Tx) writeKeyDoors(ctx context.Context, keyID string, doors []domain.KeyDoor) error {
	if _, err := t.exec(ctx, `DELETE FROM key_doors WHERE key_id = ?`, keyID); err != nil {
		return err
	}
	for _, d := range doors {
		sched := d.Schedule
		if sched == nil {
			sched = domain.Schedule{}
		}
		b, _ := json.Marshal(sched)
		if _, err := t.exec(ctx, `INSERT INTO key_doors (key_id, door_id, doorcodes, schedule) VALUES (?,?,?,?)`, keyID, d.DoorID, d.Doorcodes, string(b)); err != nil {
			return err
		}
	}
	return nil
}

// CreateKey creates a key (full Key Management).
func (s *Store) CreateKey(ctx context.Context, a domain.Actor, propertyID string, in domain.KeyInput) (domain.Key, error) {
	var k domain.Key
	err := s.inTx(ctx, "create_key", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageKeys); err != nil {
			return err
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		if err := t.checkKeyDoors(ctx, propertyID, in.Doors); err != nil {
			return err
		}
		if err := t.nameFree(ctx, "access_keys", propertyID, in.Name, ""); err != nil {
			return err
		}
		id := domain.NewID("key")
		if _, err := t.exec(ctx, `INSERT INTO access_keys (id, property_id, name, created_at) VALUES (?,?,?,?)`, id, propertyID, in.Name, micros(s.Now())); err != nil {
			return err
		}
		if err := t.writeKeyDoors(ctx, id, in.Doors); err != nil {
			return err
		}
		var err error
		if k, err = t.key(ctx, propertyID, id); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: domain.EventKeyCreated, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("created key %s with %d doors", k.Name, len(k.Doors)), Doors: k.DoorIDs()})
	})
	return k, err
}

// ListKeys lists a property's keys.
func (s *Store) ListKeys(ctx context.Context, a domain.Actor, propertyID string) ([]domain.Key, error) {
	var out []domain.Key
	err := s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		rows, err := t.query(ctx, `SELECT id FROM access_keys WHERE property_id = ? ORDER BY name, id`, propertyID)
		if err != nil {
			return err
		}
		ids, err := scanStrings(rows)
		if err != nil {
			return err
		}
		out = []domain.Key{}
		for _, id := range ids {
			k, err := t.key(ctx, propertyID, id)
			if err != nil {
				return err
			}
			out = append(out, k)
		}
		return nil
	})
	return out, err
}

// Key returns one key.
func (s *Store) Key(ctx context.Context, a domain.Actor, propertyID, id string) (k domain.Key, err error) {
	err = s.read(ctx, func(t *Tx) error {
		if _, err := t.property(ctx, a, propertyID); err != nil {
			return err
		}
		k, err = t.key(ctx, propertyID, id)
		return err
	})
	return k, err
}

// holders returns the ids of people holding a key.
func (t *Tx) holders(ctx context.Context, keyID string) ([]string, error) {
	rows, err := t.query(ctx, `SELECT person_id FROM grants WHERE key_id = ? ORDER BY person_id`, keyID)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// UpdateKey replaces a key's name and doors; the change reaches every
// holder. Doors removed, doorcodes switched off or schedules narrowed are
// revocations for the holders at those doors.
func (s *Store) UpdateKey(ctx context.Context, a domain.Actor, propertyID, id string, in domain.KeyInput) (domain.Key, error) {
	var k domain.Key
	err := s.inTx(ctx, "update_key", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageKeys); err != nil {
			return err
		}
		if err := in.Normalize(); err != nil {
			return err
		}
		old, err := t.key(ctx, propertyID, id)
		if err != nil {
			return err
		}
		if err := t.checkKeyDoors(ctx, propertyID, in.Doors); err != nil {
			return err
		}
		if err := t.nameFree(ctx, "access_keys", propertyID, in.Name, id); err != nil {
			return err
		}
		holders, err := t.holders(ctx, id)
		if err != nil {
			return err
		}
		changes := domain.KeyChanges(old, domain.Key{ID: id, Doors: in.Doors}, holders)
		// Code guests of a key left without doorcodes end.
		codeChanges, err := t.endKeyCodeGuests(ctx, a, old, domain.Key{ID: id, Doors: in.Doors}, "doorcodes of key "+old.Name+" switched off")
		if err != nil {
			return err
		}
		changes = append(changes, codeChanges...)
		if _, err := t.exec(ctx, `UPDATE access_keys SET name = ? WHERE id = ?`, in.Name, id); err != nil {
			return err
		}
		if err := t.writeKeyDoors(ctx, id, in.Doors); err != nil {
			return err
		}
		if err := t.syncDoorcodes(ctx, propertyID, holders); err != nil {
			return err
		}
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		if k, err = t.key(ctx, propertyID, id); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: domain.EventKeyUpdated, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("updated key %s (%d holders affected)", k.Name, len(holders)), Doors: changedDoors(changes)})
	})
	return k, err
}

// changedDoors lists the doors of changes, each once, in first-seen order
// (the order of MergeDoorChanges, without merging reasons and people).
func changedDoors(cs []domain.DoorChange) []string {
	out := make([]string, 0, len(cs))
	seen := make(map[string]bool, len(cs))
	for _, c := range cs {
		if !seen[c.DoorID] {
			seen[c.DoorID] = true
			out = append(out, c.DoorID)
		}
	}
	return out
}

// DeleteKey deletes a key; every holder loses it (a revocation at its doors).
func (s *Store) DeleteKey(ctx context.Context, a domain.Actor, propertyID, id string) error {
	return s.inTx(ctx, "delete_key", func(t *Tx) error {
		if _, err := t.authorize(ctx, a, propertyID, domain.PermManageKeys); err != nil {
			return err
		}
		k, err := t.key(ctx, propertyID, id)
		if err != nil {
			return err
		}
		holders, err := t.holders(ctx, id)
		if err != nil {
			return err
		}
		changes := domain.KeyChanges(k, domain.Key{ID: id}, holders)
		// Its code guests end (before the key's guest codes go with it).
		codeChanges, err := t.endKeyCodeGuests(ctx, a, k, domain.Key{ID: id}, "key "+k.Name+" deleted")
		if err != nil {
			return err
		}
		changes = append(changes, codeChanges...)
		if _, err := t.exec(ctx, `DELETE FROM grants WHERE key_id = ?`, id); err != nil {
			return err
		}
		if _, err := t.exec(ctx, `DELETE FROM access_keys WHERE id = ?`, id); err != nil {
			return err
		}
		if err := t.syncDoorcodes(ctx, propertyID, holders); err != nil {
			return err
		}
		if err := t.bumpDoors(ctx, changes); err != nil {
			return err
		}
		return t.addEvent(ctx, domain.Event{PropertyID: propertyID, Kind: domain.EventKeyDeleted, ActorID: a.ManagerID, Actor: a.Name,
			Detail: fmt.Sprintf("deleted key %s (%d holders lost it)", k.Name, len(holders)), Doors: k.DoorIDs()})
	})
}
