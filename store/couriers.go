package store

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// courierDoors lists, for one person record, the property's doors with a
// provisioned lock behind its desired state that the record's phone may
// carry the bundle of (DESIGN.md §4.5, §4.12; issue 11):
//
//   - a record that holds access: the doors of its keys, the shared doors
//     (domain.SharedDoorTypes), the doors of its unit, and every door with
//     a pending revocation — a revocation at a door nobody else holds a key
//     to (the only holder revoked) would otherwise reach no lock at all;
//   - a revoked, deleted or expired record: the doors named by its phone
//     credentials still inside their window, so its own app delivers the
//     revocation before it tries to unlock.
//
// With pendingOnly false it lists the reachable doors whether or not they
// have anything pending (for log_from).
func (t *Tx) courierDoors(ctx context.Context, rp ResidentPerson, now time.Time, pendingOnly bool) ([]string, error) {
	pending := `(d.version > d.acked_version OR l.need_snapshot)`
	if !pendingOnly {
		pending = `1 = 1`
	}
	if syncOnly, _ := domain.CouriersFor(rp.Status(now)); syncOnly {
		shared := domain.SharedDoorTypes()
		args := []any{rp.PropertyID}
		for _, ty := range shared {
			args = append(args, string(ty))
		}
		args = append(args, rp.ID, rp.UnitID)
		rows, err := t.query(ctx, `SELECT d.id FROM doors d JOIN door_locks l ON l.door_id = d.id
			WHERE d.property_id = ? AND `+pending+` AND (
				d.type IN (`+placeholders(len(shared))+`)
				OR d.id IN (SELECT kd.door_id FROM grants g JOIN key_doors kd ON kd.key_id = g.key_id WHERE g.person_id = ?)
				OR (d.unit_id IS NOT NULL AND d.unit_id = ?)
				OR EXISTS (SELECT 1 FROM door_changes c WHERE c.door_id = d.id AND c.version > d.acked_version AND c.revocation))
			ORDER BY d.id`, args...)
		if err != nil {
			return nil, err
		}
		return scanStrings(rows)
	}
	creds := map[string][]CredentialRecord{}
	if err := t.issuedCredentialsIn(ctx, creds, `person_id = ?`, now, rp.ID); err != nil {
		return nil, err
	}
	var stale []string
	for _, c := range creds[rp.ID] {
		stale = append(stale, c.DoorIDs...)
	}
	if len(stale) == 0 {
		return nil, nil
	}
	sort.Strings(stale)
	stale = slices.Compact(stale)
	rows, err := t.query(ctx, `SELECT d.id FROM doors d JOIN door_locks l ON l.door_id = d.id
		WHERE d.property_id = ? AND `+pending+` AND d.id IN (`+placeholders(len(stale))+`) ORDER BY d.id`,
		append([]any{rp.PropertyID}, anySlice(stale)...)...)
	if err != nil {
		return nil, err
	}
	return scanStrings(rows)
}

// maxCourierDoors bounds the locks one courier credential names (≈ 24 B
// each) so it stays far below lockproto.MaxCredentialSize.
const maxCourierDoors = 128

// courierSkew is how far a courier credential's window starts before its
// issue time.
const courierSkew = 10 * time.Minute

// CourierCredential is a sync-only credential (lockproto.Credential with
// SyncOnly) for the calling phone: it lets the phone deliver the pending
// bundles of Doors and fetch their sealed logs, and opens nothing.
type CourierCredential struct {
	PropertyID        string            `json:"property_id"`
	PersonID          string            `json:"person_id"`
	Credential        string            `json:"credential"`
	PropertyPublicKey string            `json:"property_public_key"`
	NotBefore         time.Time         `json:"not_before"`
	NotAfter          time.Time         `json:"not_after"`
	Doors             []string          `json:"doors"`
	LockCertificates  map[string]string `json:"lock_certificates"`
	TimeToken         string            `json:"time_token"`
}

// Courier is what a phone needs to carry bundles to doors it holds no key
// to: sync-only credentials (one per property where a record holds
// access), and ApplyFirst, the doors whose pending bundle the phone must
// deliver with its own (stale) credential before it tries to unlock there,
// because a record of its login was revoked, deleted or has expired.
type Courier struct {
	Credentials []CourierCredential `json:"credentials"`
	ApplyFirst  []string            `json:"apply_first"`
}

// IssueCourier issues the calling phone's courier credentials. They are not
// recorded in issued_credentials (they open nothing, so no exposure comes
// of them) and carry the record's person id, so the lock refuses them once
// it holds a revocation of that person.
func (s *Store) IssueCourier(ctx context.Context, signer PropertySigner, r Resident) (Courier, error) {
	out := Courier{Credentials: []CourierCredential{}, ApplyFirst: []string{}}
	now := s.Now()
	type plan struct {
		rp    ResidentPerson
		doors []string
	}
	var plans []plan
	err := s.read(ctx, func(t *Tx) error {
		seen := map[string]bool{}
		for _, rp := range r.People {
			doors, err := t.courierDoors(ctx, rp, now, true)
			if err != nil {
				return err
			}
			if syncOnly, _ := domain.CouriersFor(rp.Status(now)); !syncOnly {
				for _, d := range doors {
					if !seen[d] {
						seen[d] = true
						out.ApplyFirst = append(out.ApplyFirst, d)
					}
				}
				continue
			}
			if len(doors) > maxCourierDoors {
				doors = doors[:maxCourierDoors]
			}
			if len(doors) > 0 {
				plans = append(plans, plan{rp, doors})
			}
		}
		return nil
	})
	if err != nil || len(plans) == 0 {
		return out, err
	}
	for _, p := range plans {
		priv, err := signer.PropertySigner(ctx, p.rp.PropertyID)
		if err != nil {
			return out, err
		}
		err = s.read(ctx, func(t *Tx) error {
			prop, err := t.propertyByID(ctx, p.rp.PropertyID)
			if err != nil {
				return err
			}
			clocks, err := t.propertyClocks(ctx, []string{prop.ID})
			if err != nil {
				return err
			}
			c, err := issueCourierCredential(ctx, t, priv, prop, clocks[prop.ID], p.rp.ID, r.DeviceKey, p.doors, now)
			if err != nil {
				return err
			}
			out.Credentials = append(out.Credentials, c)
			return nil
		})
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// issueCourierCredential signs one sync-only credential for doors (lock id
// = door id) bound to deviceKey, with the doors' lock certificates and a
// time token.
func issueCourierCredential(ctx context.Context, t *Tx, priv ed25519.PrivateKey, prop domain.Property, clock propertyClock, personID string,
	deviceKey ed25519.PublicKey, doors []string, now time.Time) (CourierCredential, error) {
	serial, err := newSerial()
	if err != nil {
		return CourierCredential{}, err
	}
	locks := make([]lockproto.LockAccess, len(doors))
	for i, d := range doors {
		locks[i] = lockproto.LockAccess{LockID: d}
	}
	issued := now.Truncate(time.Second)
	// NotBefore a little before now: a lock whose clock lags the cloud's
	// (its last trusted time plus its RTC) still takes the proof for what
	// it is, sync only, rather than as not yet valid. Revocations compare
	// IssuedAt, which stays now.
	nb := issued.Add(-courierSkew)
	na := issued.Add(domain.CourierLifetime(time.Duration(prop.CredentialLifetimeHours) * time.Hour))
	signed, err := lockproto.IssueCredential(priv, lockproto.Credential{Serial: serial, PersonID: personID, DeviceKey: deviceKey, Locks: locks,
		NotBefore: nb, NotAfter: na, IssuedAt: issued, SyncOnly: true})
	if err != nil {
		return CourierCredential{}, err
	}
	certs, err := t.lockCertificates(ctx, priv, doors)
	if err != nil {
		return CourierCredential{}, err
	}
	tok, err := clock.timeToken(priv, now)
	if err != nil {
		return CourierCredential{}, fmt.Errorf("store: courier time token: %w", err)
	}
	return CourierCredential{PropertyID: prop.ID, PersonID: personID, Credential: base64.StdEncoding.EncodeToString(signed),
		PropertyPublicKey: encodeKey(priv.Public().(ed25519.PublicKey)), NotBefore: nb, NotAfter: na, Doors: doors,
		LockCertificates: certs, TimeToken: base64.StdEncoding.EncodeToString(tok)}, nil
}

// ExposureSummary is a property's revocation exposure in one figure: the
// worst case, the longest any person whose access was narrowed could still
// get in anywhere (issue 11).
type ExposureSummary struct {
	People int `json:"people"`
	Doors  int `json:"doors"`
	// Worst is the worst row: one that lasts until its lock syncs beats any
	// bounded one (the oldest revocation first), else the latest Until.
	// Null when nothing is exposed.
	Worst *Exposure `json:"worst"`
	// UntilSynced says the worst case has no bound of its own: some way in
	// stays open until a lock syncs.
	UntilSynced bool `json:"until_synced"`
	// WorstSeconds is how long the worst case keeps the door open to that
	// person from the revocation: until its Until, or, until synced, up to
	// now and counting.
	WorstSeconds int64 `json:"worst_seconds"`
}

// SummarizeExposure computes the summary of items at now.
func SummarizeExposure(items []Exposure, now time.Time) ExposureSummary {
	var s ExposureSummary
	people, doors := map[string]bool{}, map[string]bool{}
	for i := range items {
		e := &items[i]
		people[e.PersonID], doors[e.DoorID] = true, true
		switch w := s.Worst; {
		case w == nil,
			e.Until == nil && w.Until != nil,
			e.Until == nil && w.Until == nil && e.RevokedAt.Before(w.RevokedAt),
			e.Until != nil && w.Until != nil && e.Until.After(*w.Until):
			s.Worst = e
		}
	}
	s.People, s.Doors = len(people), len(doors)
	if w := s.Worst; w != nil {
		end := now
		if w.Until != nil {
			end = *w.Until
		}
		s.UntilSynced = w.Until == nil
		s.WorstSeconds = int64(max(0, end.Sub(w.RevokedAt)) / time.Second)
	}
	return s
}

// ExposureSummary is SummarizeExposure of ListExposure now.
func (s *Store) ExposureSummary(ctx context.Context, a domain.Actor, propertyID string) (ExposureSummary, error) {
	items, err := s.ListExposure(ctx, a, propertyID)
	if err != nil {
		return ExposureSummary{}, err
	}
	return SummarizeExposure(items, s.Now()), nil
}
