package store_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// importBatch applies a whole CSV file as one import batch (one
// transaction, each row in its own savepoint) and returns the job.
func (e *env) importBatch(file string, dryRun bool) store.ImportJob {
	e.t.Helper()
	job, err := e.st.CreateImport(ctx, e.f.PM, e.prop(), "t.csv", []byte(file), strings.Count(file, "\n")-1, dryRun)
	if err != nil {
		e.t.Fatal(err)
	}
	if c, err := e.st.ClaimImportByID(ctx, job.ID, "w"); err != nil || c == nil {
		e.t.Fatalf("claim: %v %v", c, err)
	}
	ir, err := csvio.NewImportReader(bytes.NewReader([]byte(file)), time.UTC)
	if err != nil {
		e.t.Fatal(err)
	}
	var items []store.ImportItem
	for {
		row, errs, err := ir.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			e.t.Fatal(err)
		}
		items = append(items, store.ImportItem{Row: row.Row, Data: row, Errors: errs})
	}
	used, out, err := e.st.ApplyImportBatch(ctx, job.ID, "w", items, time.Hour)
	if err != nil || used != len(items) {
		e.t.Fatalf("batch: used %d of %d: %v", used, len(items), err)
	}
	return out
}

// doorWork is what a door has accumulated for Door Sync.
type doorWork struct {
	version int64
	changes int // door_changes rows
	pushes  int // door.state outbox rows
}

func (e *env) doorWork(doorID string) doorWork {
	e.t.Helper()
	v, _, _, err := e.st.DoorVersion(ctx, doorID)
	if err != nil {
		e.t.Fatal(err)
	}
	return doorWork{version: v,
		changes: e.count(`SELECT COUNT(*) FROM door_changes WHERE door_id = ?`, doorID),
		pushes:  e.count(`SELECT COUNT(*) FROM outbox WHERE topic = 'door.state' AND subject_id = ?`, doorID)}
}

// TestDoorBumpsDeferred checks that a transaction changing a door many
// times gives it one new version, one change record and one push, merged
// from every change, and that rolled-back work bumps nothing.
func TestDoorBumpsDeferred(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		t.Run("OneVersionPerDoorPerBatch", func(t *testing.T) {
			lobby, gym, unit := e.doorWork(e.f.Lobby.ID), e.doorWork(e.f.Gym.ID), e.doorWork(e.f.Unit101.ID)
			job := e.importBatch("First Name,Last Name,Email,Keys\nAna,One,a1@example.com,Building\nBo,Two,a2@example.com,Building\nCy,Three,a3@example.com,Building\n", false)
			if job.Counts.Created != 3 {
				t.Fatalf("counts %+v", job.Counts)
			}
			for _, d := range []struct {
				id     string
				before doorWork
			}{{e.f.Lobby.ID, lobby}, {e.f.Gym.ID, gym}} {
				want := doorWork{version: d.before.version + 1, changes: d.before.changes + 1, pushes: d.before.pushes + 1}
				if got := e.doorWork(d.id); got != want {
					t.Errorf("door %s after a batch of 3 invites: %+v, want %+v", d.id, got, want)
				}
			}
			var reason string
			if err := st.DB().QueryRowContext(ctx, e.sql(`SELECT reason FROM door_changes WHERE door_id = ? ORDER BY version DESC LIMIT 1`), e.f.Gym.ID).Scan(&reason); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"Ana One", "Bo Two", "Cy Three"} {
				if !strings.Contains(reason, name) {
					t.Errorf("merged reason %q does not name %s", reason, name)
				}
			}
			if got := e.doorWork(e.f.Unit101.ID); got != unit {
				t.Errorf("Unit 101, which no row touched: %+v, want %+v", got, unit)
			}
		})
		t.Run("DryRunBumpsNothing", func(t *testing.T) {
			gym := e.doorWork(e.f.Gym.ID)
			job := e.importBatch("First Name,Last Name,Email,Keys\nDee,Dry,d1@example.com,Building\n", true)
			if job.Counts.Created != 1 {
				t.Fatalf("counts %+v", job.Counts)
			}
			if got := e.doorWork(e.f.Gym.ID); got != gym {
				t.Errorf("Gym after a dry run: %+v, want %+v", got, gym)
			}
		})
		t.Run("RefusedRowBumpsNothing", func(t *testing.T) {
			// The guest's row gives "Gym only" (allowed: the host shares
			// it), then "Home 101" (refused: the host does not hold it), so
			// the row rolls back after its first key bumped the Gym.
			gymOnly, err := st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			host := e.invite("Hal", "Host", "hal@example.com", withKeys(key(e.f.Building.ID, true), key(gymOnly.ID, true)))
			e.invite("Gia", "Guest", "gia@example.com", guestOf(host.ID), withKeys(key(e.f.Building.ID, false)))
			gym, unit := e.doorWork(e.f.Gym.ID), e.doorWork(e.f.Unit101.ID)
			job := e.importBatch("First Name,Last Name,Email,Keys\nGia,Guest,gia@example.com,Gym only;Home 101\n", false)
			if job.Counts.Refused != 1 {
				t.Fatalf("counts %+v, want the row refused", job.Counts)
			}
			if got := e.doorWork(e.f.Gym.ID); got != gym {
				t.Errorf("Gym after a refused row: %+v, want %+v", got, gym)
			}
			if got := e.doorWork(e.f.Unit101.ID); got != unit {
				t.Errorf("Unit 101 after a refused row: %+v, want %+v", got, unit)
			}
		})
		t.Run("RevocationsMerged", func(t *testing.T) {
			host := e.invite("Rae", "Host", "rae@example.com", withKeys(key(e.f.Building.ID, true)))
			guest := e.invite("Rex", "Guest", "rex@example.com", guestOf(host.ID), withKeys(key(e.f.Building.ID, false)))
			gym := e.doorWork(e.f.Gym.ID)
			v, err := st.Revoke(ctx, e.f.PM, e.prop(), host.ID)
			if err != nil {
				t.Fatal(err)
			}
			// Revoke builds its answer from what it wrote: it must be what a
			// read returns.
			got, _ := json.Marshal(v)
			want, _ := json.Marshal(e.person(host.ID))
			if string(got) != string(want) {
				t.Errorf("Revoke answered\n%s\nbut the person reads\n%s", got, want)
			}
			after := e.doorWork(e.f.Gym.ID)
			if want := (doorWork{gym.version + 1, gym.changes + 1, gym.pushes + 1}); after != want {
				t.Errorf("Gym after revoking a host and guest: %+v, want %+v", after, want)
			}
			if n := e.count(`SELECT COUNT(*) FROM door_changes WHERE door_id = ? AND version = ? AND revocation`, e.f.Gym.ID, after.version); n != 1 {
				t.Errorf("the Gym's change is not a revocation")
			}
			if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE door_id = ? AND person_id IN (?, ?) AND at = ?`, e.f.Gym.ID, host.ID, guest.ID, e.clock.Now().UnixMicro()); n != 2 {
				t.Errorf("%d revocations at the Gym for host and guest, want 2", n)
			}
		})
	})
}
