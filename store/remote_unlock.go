package store

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// EventRemoteUnlock is the Activity kind of a remote unlock the cloud
// signed; the lock's own decision comes back in its event log.
const EventRemoteUnlock = "door.remote_unlock"

// RemoteCommand is a signed remote unlock command (lockproto.RemoteUnlock)
// ready to publish to the door's lock.
type RemoteCommand struct {
	DoorID     string
	DoorName   string
	PropertyID string
	PersonID   string
	Counter    uint64
	NotAfter   time.Time
	Command    []byte
	// LockPublicKey verifies the lock's result (and PendingPublicKey,
	// during a key rotation).
	LockPublicKey, PendingPublicKey ed25519.PublicKey
}

// IssueRemoteUnlock signs a single-use remote unlock command for the
// resident at an online door, in one transaction that locks the person row
// (so no command is signed after a revocation that committed) and takes
// the lock's next counter. The same rules as a phone credential decide
// whether the resident holds the door now (domain.PlanCredential); the
// schedule goes into the command for the lock to judge. A door the
// resident holds no key to is "not found", whatever exists.
func (s *Store) IssueRemoteUnlock(ctx context.Context, signer PropertySigner, r Resident, doorID string) (RemoteCommand, error) {
	notFound := domain.Errorf(domain.ENotFound, "you hold no key to door %s", doorID)
	var propertyID string
	err := s.queryRow(ctx, `SELECT property_id FROM doors WHERE id = ?`, doorID).Scan(&propertyID)
	if errors.Is(err, sql.ErrNoRows) {
		return RemoteCommand{}, notFound
	}
	if err != nil {
		return RemoteCommand{}, err
	}
	rp, ok := r.Person(propertyID)
	if !ok || rp.DeletedAt != nil {
		return RemoteCommand{}, notFound
	}
	priv, err := signer.PropertySigner(ctx, propertyID)
	if err != nil {
		return RemoteCommand{}, err
	}
	var out RemoteCommand
	err = s.inTx(ctx, "issue_remote_unlock", func(t *Tx) error {
		now := s.Now()
		p, err := scanPerson(t.queryRow(ctx, `SELECT `+personCols+` FROM people WHERE id = ?`+t.forUpdate(), rp.ID))
		if err != nil {
			return err
		}
		if st := p.Status(now); !st.HoldsAccess() {
			return domain.Errorf(domain.EForbidden, "your access is %s", st)
		}
		if p.Access != domain.AccessApp {
			return domain.Errorf(domain.EForbidden, "your access is doorcode only")
		}
		gs, ks, err := t.personKeys(ctx, p.PropertyID, p.ID)
		if err != nil {
			return err
		}
		plan, err := domain.PlanCredential(p, gs, ks, now, lockproto.DefaultRemoteUnlockLife)
		if errors.Is(err, domain.ErrNothingToIssue) {
			return notFound
		}
		if err != nil {
			return err
		}
		var access *lockproto.LockAccess
		for i := range plan.Locks {
			if plan.Locks[i].LockID == doorID {
				access = &plan.Locks[i]
			}
		}
		if access == nil {
			return notFound
		}
		if plan.NotBefore.After(now) {
			return domain.Errorf(domain.EForbidden, "your key to this door starts %s", plan.NotBefore.Format(time.RFC3339))
		}
		var name string
		var conn domain.Connectivity
		var pub, pending string
		err = t.queryRow(ctx, `SELECT d.name, d.connectivity, l.public_key, l.pending_public_key FROM doors d JOIN door_locks l ON l.door_id = d.id WHERE d.id = ?`+t.forUpdate(), doorID).
			Scan(&name, &conn, &pub, &pending)
		if errors.Is(err, sql.ErrNoRows) {
			return domain.Errorf(domain.EConflict, "this door's lock is not set up yet; ask your property manager")
		}
		if err != nil {
			return err
		}
		if conn != domain.Online {
			return domain.Errorf(domain.EConflict, "%s is an offline door: open it with the DOOR App near the door", name)
		}
		if _, err := t.exec(ctx, `UPDATE door_locks SET remote_counter = remote_counter + 1 WHERE door_id = ?`, doorID); err != nil {
			return err
		}
		var counter int64
		if err := t.queryRow(ctx, `SELECT remote_counter FROM door_locks WHERE door_id = ?`, doorID).Scan(&counter); err != nil {
			return err
		}
		notAfter := now.Add(lockproto.DefaultRemoteUnlockLife)
		if plan.NotAfter.Before(notAfter) {
			notAfter = plan.NotAfter
		}
		cmd, err := lockproto.IssueRemoteUnlock(priv, lockproto.RemoteUnlock{LockID: doorID, PersonID: p.ID, Counter: uint64(counter),
			IssuedAt: now, NotAfter: notAfter, Schedule: access.Schedule})
		if err != nil {
			return err
		}
		e := residentEvent(p, EventRemoteUnlock, fmt.Sprintf("remote unlock of %s sent (command %d)", name, counter))
		e.DoorID = doorID
		if err := t.addEvent(ctx, e); err != nil {
			return err
		}
		out = RemoteCommand{DoorID: doorID, DoorName: name, PropertyID: p.PropertyID, PersonID: p.ID, Counter: uint64(counter),
			NotAfter: notAfter.Truncate(time.Second), Command: cmd}
		if out.LockPublicKey, err = base64.StdEncoding.DecodeString(pub); err != nil {
			return err
		}
		if pending != "" {
			out.PendingPublicKey, err = base64.StdEncoding.DecodeString(pending)
		}
		return err
	})
	return out, err
}
