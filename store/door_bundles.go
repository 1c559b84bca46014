package store

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
)

// TopicDoorRefresh is the outbox topic that gives a door a new version when
// a holder's next access window begins (LockEntryWindow's refreshAt).
const TopicDoorRefresh = "door.refresh"

// BundleBuild is one door's outcome in BuildDoorBundles.
type BundleBuild struct {
	DoorID       string
	Connectivity domain.Connectivity
	Bundle       DoorBundle
	// Err is ErrInSync (nothing pending), a domain ENotFound (no such door,
	// or no lock provisioned), ErrSkippedOffline, or what failed.
	Err error
}

// ErrSkippedOffline is returned when BuildOptions.OnlineOnly left an offline
// door out.
var ErrSkippedOffline = errors.New("store: offline door skipped")

// ErrLockDisconnected is returned when BuildOptions.ConnectedOnly left out a
// door whose lock has reported no status (RecordLockStatus) since it was
// provisioned: it has never connected.
var ErrLockDisconnected = errors.New("store: lock not connected")

// ErrAckPending is returned for a door in BuildOptions.AssumeBase whose
// bundle cannot be built ahead of its queued ack: the assumed version is
// already the door's (the ack may complete it), a key rotation is in
// flight, the lock asked for a snapshot, or no bundle of that version is
// stored. Build it again once the ack is recorded.
var ErrAckPending = errors.New("store: the lock's ack of its last bundle is not recorded yet")

// LockOnline is the status an online lock reports while it is connected
// (its MQTT status topic); its last will reports anything else.
const LockOnline = "online"

// BuildOptions tune BuildDoorBundles.
type BuildOptions struct {
	// OnlineOnly reports offline doors with ErrSkippedOffline instead of
	// building their bundles (phones carry them; the pusher needs none).
	OnlineOnly bool
	// ConnectedOnly lists doors to report, with ErrLockDisconnected, when
	// their lock has reported no status since it was provisioned: a push
	// to a lock that never connected would reach nobody, and its first
	// "online" queues the push (Door Sync). A lock whose last status is
	// offline is built for as any other: statuses of one lock can be
	// recorded out of order (its old session's will after its new
	// session's "online"), and skipping a connected lock would delay a
	// revocation. Doors not listed are built whatever the status (a
	// status can be missed: retained messages do not reach an MQTT 5
	// shared subscription).
	ConnectedOnly map[string]bool
	// AssumeBase gives, per door, the version the cloud last published to
	// its lock while that lock's ack is still queued: the next bundle is a
	// delta from that version's state instead of waiting for the ack to be
	// recorded (the lock most likely holds it). The lock checks the base:
	// if it does not hold that version it refuses the delta and asks for a
	// snapshot, so a wrong guess costs a round trip, never a wrong state.
	// A door that cannot be built this way comes back with ErrAckPending.
	AssumeBase map[string]int64
	// Workers seal in parallel; at most GOMAXPROCS (the work is CPU).
	Workers int
	// Chunk is how many doors one read transaction loads (default 128);
	// Batch how many sealed bundles one write transaction stores at most
	// (default 64). Sealing starts after the first chunk, storing after
	// the first bundle.
	Chunk, Batch int
}

// bundleJob is one door on its way through BuildDoorBundles.
type bundleJob struct {
	doorID, propertyID string
	conn               domain.Connectivity
	version, base      int64
	logNext            int64
	gen                int
	sealedSym          string
	acked              *LockState
	prop               domain.Property
	clock              propertyClock
	desired            DesiredLock
	refreshAt          *time.Time
	now                time.Time
	signer             ed25519.PrivateKey
	// pendingSeed and pendingSym: a key rotation waiting for the lock
	// (lock_rotation.go); every bundle carries it until the lock switches.
	pendingSeed, pendingSym string
	// trustedPub is the property key (base64) the lock verifies bundles
	// with; propRotation the property-key rotation its bundles carry until
	// the lock takes it (property_key_rotation.go).
	trustedPub   string
	propRotation *lockproto.KeyRotation
	// Filled by sealing.
	bundle DoorBundle
	state  string
}

// BuildDoorBundles builds the bundles that bring the locks of doorIDs from
// the version each acknowledged to its door's current version — the same
// bundle BuildDoorBundle builds for one door — in a pipeline: desired
// state is loaded for many doors in a few queries per transaction, sealed
// (signature, encryption) on a pool of at most GOMAXPROCS goroutines, and
// stored in batched write transactions. deliver is called once per door,
// from one goroutine, as soon as its bundle is stored (a lock's ack names
// the bundle, so it must be stored before anyone can receive it), or at
// once for doors with nothing to build. It returns when every door is
// delivered.
func (s *Store) BuildDoorBundles(ctx context.Context, sealer Sealer, signers PropertySigner, doorIDs []string, opts BuildOptions, deliver func(BundleBuild)) {
	if opts.Chunk <= 0 {
		opts.Chunk = 128
	}
	if opts.Batch <= 0 {
		opts.Batch = 64
	}
	workers := runtime.GOMAXPROCS(0)
	if opts.Workers > 0 && opts.Workers < workers {
		workers = opts.Workers
	}
	// One door once, in the order given.
	seen := make(map[string]bool, len(doorIDs))
	ids := make([]string, 0, len(doorIDs))
	for _, id := range doorIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	// On SQLite the loading and the storing transactions take turns here
	// rather than in SQLite's busy handler, which sleeps in growing steps.
	var turns sync.Mutex
	turn := func(fn func()) {
		if s.dialect == SQLite {
			turns.Lock()
			defer turns.Unlock()
		}
		fn()
	}
	done := make(chan BundleBuild, min(64, len(ids))) // delivered by the caller's goroutine
	toSeal := make(chan *bundleJob, min(2*opts.Chunk, len(ids)))
	toStore := make(chan *bundleJob, min(2*opts.Batch, len(ids)))

	var loaders sync.WaitGroup
	loaders.Add(1)
	go func() {
		defer loaders.Done()
		defer close(toSeal)
		for lo := 0; lo < len(ids); lo += opts.Chunk {
			chunk := ids[lo:min(lo+opts.Chunk, len(ids))]
			var jobs []*bundleJob
			var skipped []BundleBuild
			var err error
			turn(func() { jobs, skipped, err = s.loadBundleJobs(ctx, sealer, chunk, opts) })
			if err != nil {
				for _, id := range chunk {
					done <- BundleBuild{DoorID: id, Err: err}
				}
				continue
			}
			for _, b := range skipped {
				done <- b
			}
			// Signing keys outside the transaction: creating one writes.
			// The key is the one the lock trusts (old until it took a
			// property-key rotation).
			propKeys := map[string][]ed25519.PrivateKey{}
			for _, j := range jobs {
				if j.bundle.Sealed != nil {
					toStore <- j // already sealed for this move: reuse
					continue
				}
				keys, ok := propKeys[j.propertyID]
				if !ok {
					if keys, err = signers.PropertySigners(ctx, j.propertyID); err == nil {
						propKeys[j.propertyID] = keys
					}
				}
				if err == nil {
					if j.trustedPub == "" {
						j.signer = keys[0] // no key row when loaded: the one just made
					} else {
						j.signer, err = signerFor(keys, j.trustedPub)
					}
				}
				if err != nil {
					done <- BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: err}
					continue
				}
				toSeal <- j
			}
		}
	}()
	var sealers sync.WaitGroup
	for range workers {
		sealers.Add(1)
		go func() {
			defer sealers.Done()
			for j := range toSeal {
				if err := j.seal(sealer); err != nil {
					done <- BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: err}
					continue
				}
				toStore <- j
			}
		}()
	}
	go func() {
		loaders.Wait()
		sealers.Wait()
		close(toStore)
	}()
	go func() {
		defer close(done)
		for j := range toStore {
			batch := []*bundleJob{j}
		fill:
			for len(batch) < opts.Batch {
				select {
				case j, ok := <-toStore:
					if !ok {
						break fill
					}
					batch = append(batch, j)
				default:
					break fill
				}
			}
			var stored map[string]DoorBundle
			var err error
			turn(func() { stored, err = s.storeBundles(ctx, batch) })
			for _, j := range batch {
				b := BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: err}
				if err == nil {
					b.Bundle = stored[j.doorID]
				}
				done <- b
			}
		}
	}()
	for b := range done {
		deliver(b)
	}
}

// loadBundleJobs reads, in one transaction, what building the bundles of
// doorIDs needs: each lock's acknowledged state, a bundle already sealed
// for the same move, and the desired state of the doors still to build.
// Doors with nothing to build come back in skipped.
func (s *Store) loadBundleJobs(ctx context.Context, sealer Sealer, doorIDs []string, opts BuildOptions) (jobs []*bundleJob, skipped []BundleBuild, err error) {
	err = s.inTx(ctx, "load_door_bundles", func(t *Tx) error {
		jobs, skipped = nil, nil
		if s.dialect == Postgres {
			// One snapshot for the doors' versions and their desired state:
			// in READ COMMITTED each statement sees what has committed by
			// then, so a revocation committing between the version query
			// and the grants query gave a bundle labelled with the old
			// version and the new grants, and two bundles of one version
			// could differ — a lock that applied one and acked the other
			// (a stale ack) kept a revoked code (TestDoorSync_TwoServersShareInbound).
			// This transaction only reads: REPEATABLE READ never fails it.
			if _, err := t.exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`); err != nil {
				return err
			}
		}
		now := s.Now()
		rows, err := t.query(ctx, `SELECT d.id, d.property_id, d.connectivity, d.version, l.door_id IS NOT NULL,
				COALESCE(l.generation, 0), COALESCE(l.symmetric_key, ''), `+ackedState+`, COALESCE(l.acked_state_version, 0),
				COALESCE(l.need_snapshot, FALSE), COALESCE(l.log_next, 1), COALESCE(l.pending_seed, ''), COALESCE(l.pending_symmetric_key, ''),
				COALESCE(l.property_rotation_version, 0), COALESCE(l.property_key_next, FALSE),
				COALESCE(pk.public_key, ''), COALESCE(pk.next_public_key, ''), COALESCE(pk.rotation_started_at, 0), COALESCE(l.status, '')
			FROM doors d LEFT JOIN door_locks l ON l.door_id = d.id`+ackedStateJoin+` LEFT JOIN property_keys pk ON pk.property_id = d.property_id
			WHERE d.id IN (`+placeholders(len(doorIDs))+`)`, anySlice(doorIDs)...)
		if err != nil {
			return err
		}
		found := map[string]*bundleJob{}
		type ackedRow struct {
			job   *bundleJob
			state string
		}
		var pending []ackedRow
		type assumedBase struct {
			job     *bundleJob
			version int64
		}
		var assumed []assumedBase
		for rows.Next() {
			j := &bundleJob{now: now}
			var provisioned, needSnap bool
			var ackedState string
			var ackedVersion, rotationVersion, rotationSince int64
			var keyNext bool
			var curKey, nextKey, status string
			if err := rows.Scan(&j.doorID, &j.propertyID, &j.conn, &j.version, &provisioned, &j.gen, &j.sealedSym, &ackedState, &ackedVersion, &needSnap, &j.logNext, &j.pendingSeed, &j.pendingSym,
				&rotationVersion, &keyNext, &curKey, &nextKey, &rotationSince, &status); err != nil {
				rows.Close()
				return err
			}
			j.trustedPub = curKey
			if nextKey != "" && keyNext {
				j.trustedPub = nextKey
			}
			if j.propRotation, err = propertyRotation(rotationVersion > 0 && !keyNext, nextKey, fromMicros(rotationSince)); err != nil {
				rows.Close()
				return err
			}
			found[j.doorID] = j
			switch {
			case opts.OnlineOnly && j.conn == domain.Offline:
				skipped = append(skipped, BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: ErrSkippedOffline})
			case !provisioned:
				skipped = append(skipped, BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: domain.Errorf(domain.ENotFound, "door %s has no provisioned lock", j.doorID)})
			case j.version <= ackedVersion && !needSnap:
				skipped = append(skipped, BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: ErrInSync})
			case opts.ConnectedOnly[j.doorID] && status == "":
				skipped = append(skipped, BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: ErrLockDisconnected})
			default:
				if v, ok := opts.AssumeBase[j.doorID]; ok && v > ackedVersion {
					// Ahead of the queued ack (AssumeBase). Not across a key
					// rotation: its bundle changes what the lock trusts, and
					// its ack must be recorded first.
					if v >= j.version || needSnap || j.pendingSeed != "" || j.propRotation != nil {
						skipped = append(skipped, BundleBuild{DoorID: j.doorID, Connectivity: j.conn, Err: ErrAckPending})
						continue
					}
					assumed = append(assumed, assumedBase{j, v})
					jobs = append(jobs, j)
					continue
				}
				j.base = 0
				if ackedState != "" && ackedVersion > 0 && !needSnap {
					j.base = ackedVersion
					pending = append(pending, ackedRow{j, ackedState})
				}
				jobs = append(jobs, j)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range doorIDs {
			if found[id] == nil {
				skipped = append(skipped, BundleBuild{DoorID: id, Err: domain.Errorf(domain.ENotFound, "door %s not found", id)})
			}
		}
		// The state at an assumed base is that of the bundle of that
		// version (every bundle of a version carries the same state: one
		// snapshot per build).
		var dropped map[*bundleJob]bool
		for _, a := range assumed {
			state, ok, err := t.stateAtVersion(ctx, a.job.doorID, a.job.gen, a.version)
			if err == nil && !ok {
				if dropped == nil {
					dropped = map[*bundleJob]bool{}
				}
				dropped[a.job] = true
				skipped = append(skipped, BundleBuild{DoorID: a.job.doorID, Connectivity: a.job.conn, Err: ErrAckPending})
				continue
			}
			if err != nil {
				return err
			}
			a.job.base = a.version
			pending = append(pending, ackedRow{a.job, state})
		}
		if dropped != nil {
			jobs = slices.DeleteFunc(jobs, func(j *bundleJob) bool { return dropped[j] })
		}
		if len(jobs) == 0 {
			return nil
		}
		for _, p := range pending {
			p.job.acked = &LockState{}
			if err := json.Unmarshal([]byte(p.state), p.job.acked); err != nil {
				return fmt.Errorf("door %s: acknowledged state: %w", p.job.doorID, err)
			}
		}
		existing, err := t.sealedBundles(ctx, jobs)
		if err != nil {
			return err
		}
		var build []string
		props := map[string]domain.Property{}
		byProp := map[string]domain.Property{}
		for _, j := range jobs {
			if b, ok := existing[j.doorID]; ok {
				j.bundle = b // the same bytes for every courier
				continue
			}
			p, ok := byProp[j.propertyID]
			if !ok {
				if p, err = t.propertyByID(ctx, j.propertyID); err != nil {
					return err
				}
				byProp[j.propertyID] = p
			}
			j.prop, props[j.doorID] = p, p
			build = append(build, j.doorID)
		}
		desired, err := t.desiredLocks(ctx, sealer, props, build, now)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			j.clock = desired.clocks[j.propertyID]
			j.desired = desired.locks[j.doorID]
			if at, ok := desired.refreshAt[j.doorID]; ok {
				j.refreshAt = &at
			}
		}
		return nil
	})
	return jobs, skipped, err
}

// stateAtVersion is the lock state a bundle of version (for the lock of
// generation gen) leaves the lock in; ok is false when none is stored.
// Every bundle of a version carries the same state (one snapshot per
// build), so the newest stands for all.
func (t *Tx) stateAtVersion(ctx context.Context, doorID string, gen int, version int64) (state string, ok bool, err error) {
	return t.newestAtVersion(ctx, "state", doorID, gen, version)
}

// bundleAtVersion is the digest of the bundle stateAtVersion reads.
func (t *Tx) bundleAtVersion(ctx context.Context, doorID string, gen int, version int64) (digest string, ok bool, err error) {
	return t.newestAtVersion(ctx, "digest", doorID, gen, version)
}

// newestAtVersion reads column col (state or digest) of the newest bundle
// of version for the lock of generation gen.
func (t *Tx) newestAtVersion(ctx context.Context, col, doorID string, gen int, version int64) (v string, ok bool, err error) {
	err = t.queryRow(ctx, `SELECT `+col+` FROM door_bundles WHERE door_id = ? AND generation = ? AND version = ? ORDER BY created_at DESC LIMIT 1`,
		doorID, gen, version).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

// A lock's acknowledged state (what it holds) is the state of the bundle
// it acknowledged, door_locks.acked_bundle, read through ackedStateJoin
// (l is door_locks): an ack names the bundle instead of copying its state,
// a few kilobytes, into the lock's row (migration 00030). acked_state
// holds the state of locks acknowledged before then. The bundle a lock
// acknowledged is never pruned (PruneDoorSync keeps its version); were it
// gone, the state reads empty, and the lock gets a snapshot.
const (
	ackedStateJoin = ` LEFT JOIN door_bundles ab ON ab.digest = l.acked_bundle`
	ackedState     = `COALESCE(ab.state, l.acked_state, '')`
)

// sealedBundles finds, per job, the newest bundle already sealed for the
// same move (generation, version, base).
func (t *Tx) sealedBundles(ctx context.Context, jobs []*bundleJob) (map[string]DoorBundle, error) {
	byDoor := make(map[string]*bundleJob, len(jobs))
	ids := make([]string, 0, len(jobs))
	for _, j := range jobs {
		byDoor[j.doorID] = j
		ids = append(ids, j.doorID)
	}
	rows, err := t.query(ctx, `SELECT b.door_id, b.generation, b.version, b.base, b.sealed, b.digest, b.snapshot, b.manifest FROM door_bundles b
		JOIN doors d ON d.id = b.door_id AND d.version = b.version
		WHERE b.door_id IN (`+placeholders(len(ids))+`) ORDER BY b.created_at`, anySlice(ids)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]DoorBundle{}
	for rows.Next() {
		var doorID, b64, digest, manifest64 string
		var gen int
		var version, base int64
		var snap bool
		if err := rows.Scan(&doorID, &gen, &version, &base, &b64, &digest, &snap, &manifest64); err != nil {
			return nil, err
		}
		j := byDoor[doorID]
		if gen != j.gen || version != j.version || base != j.base {
			continue
		}
		sealed, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, err
		}
		manifest, err := base64.StdEncoding.DecodeString(manifest64)
		if err != nil {
			return nil, err
		}
		if len(manifest) == 0 {
			manifest = nil
		}
		out[doorID] = DoorBundle{DoorID: doorID, LockID: doorID, Base: base, Version: version, Snapshot: snap, Sealed: sealed, Digest: digest,
			Manifest: manifest, LogNext: j.logNext}
	}
	return out, rows.Err()
}

// seal plans the bundle (delta or snapshot), signs it with the property
// key and encrypts it to the lock's symmetric key. No database access.
func (j *bundleJob) seal(sealer Sealer) error {
	sym, err := sealer.Open(j.sealedSym, LockSymmetricAAD(j.doorID, j.gen))
	if err != nil {
		return err
	}
	b := lockproto.Bundle{LockID: j.doorID, Base: uint64(j.base), Version: uint64(j.version), TrustedTime: j.now,
		TimeZone: j.prop.TimeZone, MaxCredentialLifetime: time.Duration(j.prop.CredentialLifetimeHours) * time.Hour,
		Epoch: j.clock.epoch, RevocationRetention: j.clock.retention}
	if b.Rotation, err = j.rotation(sealer); err != nil {
		return err
	}
	if pr := j.propRotation; pr != nil {
		if b.Rotation == nil {
			b.Rotation = &lockproto.KeyRotation{}
		}
		b.Rotation.PropertyPublicKey, b.Rotation.EffectiveAt = pr.PropertyPublicKey, pr.EffectiveAt
	}
	snap := PlanBundle(&b, j.desired, j.acked)
	base := j.base
	if snap {
		base = 0
	}
	sealed, err := lockproto.SealBundle(j.signer, sym, b)
	if err != nil {
		return err
	}
	// Too large for one BLE connection at a slow rate: the phone carries it
	// in chunks under a manifest signed with the same property key.
	var manifest []byte
	if len(sealed) > lockproto.ChunkThreshold {
		if manifest, err = lockproto.SignBundleManifest(j.signer, sealed, lockproto.DefaultChunkSize); err != nil {
			return err
		}
	}
	state, err := json.Marshal(j.desired.State())
	if err != nil {
		return err
	}
	j.base, j.state = base, string(state)
	j.bundle = DoorBundle{DoorID: j.doorID, LockID: j.doorID, Base: base, Version: j.version, Snapshot: snap, Sealed: sealed,
		Digest: hex.EncodeToString(lockproto.BundleDigest(sealed)), Manifest: manifest, LogNext: j.logNext}
	return nil
}

// storeBundles stores freshly sealed bundles in one transaction and
// schedules the door refreshes their states call for. A bundle another
// server stored meanwhile for the same move wins (the same bytes for
// every courier); reused bundles are returned as they are.
func (s *Store) storeBundles(ctx context.Context, batch []*bundleJob) (map[string]DoorBundle, error) {
	out := make(map[string]DoorBundle, len(batch))
	err := s.inTx(ctx, "store_door_bundles", func(t *Tx) error {
		var fresh []*bundleJob
		for _, j := range batch {
			if j.state == "" {
				out[j.doorID] = j.bundle // reused, stored already
			} else {
				fresh = append(fresh, j)
			}
		}
		if len(fresh) == 0 {
			return nil
		}
		sort.Slice(fresh, func(a, b int) bool { return fresh[a].doorID < fresh[b].doorID })
		ids := make([]string, len(fresh))
		for i, j := range fresh {
			ids[i] = j.doorID
		}
		if t.s.dialect == Postgres {
			// Serialize with other servers building the same doors, in id
			// order (no deadlocks), then look again.
			rows, err := t.query(ctx, `SELECT door_id FROM door_locks WHERE door_id IN (`+placeholders(len(ids))+`) ORDER BY door_id FOR UPDATE`, anySlice(ids)...)
			if err != nil {
				return err
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			there, err := t.sealedBundles(ctx, fresh)
			if err != nil {
				return err
			}
			kept := fresh[:0]
			for _, j := range fresh {
				if b, ok := there[j.doorID]; ok && b.Snapshot == j.bundle.Snapshot {
					out[j.doorID] = b
					continue
				}
				kept = append(kept, j)
			}
			fresh = kept
		}
		now := s.Now()
		const cols = 10
		for lo := 0; lo < len(fresh); lo += 500 {
			chunk := fresh[lo:min(lo+500, len(fresh))]
			q := `INSERT INTO door_bundles (digest, door_id, generation, base, version, snapshot, sealed, state, created_at, manifest) VALUES `
			args := make([]any, 0, len(chunk)*cols)
			for i, j := range chunk {
				if i > 0 {
					q += ","
				}
				q += "(" + placeholders(cols) + ")"
				args = append(args, j.bundle.Digest, j.doorID, j.gen, j.base, j.version, j.bundle.Snapshot,
					base64.StdEncoding.EncodeToString(j.bundle.Sealed), j.state, micros(j.now), base64.StdEncoding.EncodeToString(j.bundle.Manifest))
			}
			if _, err := t.exec(ctx, q, args...); err != nil {
				return err
			}
			for _, j := range chunk {
				out[j.doorID] = j.bundle
			}
		}
		for _, j := range fresh {
			if j.refreshAt == nil {
				continue
			}
			if err := t.scheduleDoorRefresh(ctx, j.doorID, j.version, *j.refreshAt, now); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// scheduleDoorRefresh queues a new version of a door for at, unless one is
// already queued by then.
func (t *Tx) scheduleDoorRefresh(ctx context.Context, doorID string, version int64, at, now time.Time) error {
	var n int
	if err := t.queryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE subject_id = ? AND topic = ? AND delivered_at IS NULL AND failed_at IS NULL AND available_at <= ?`,
		doorID, TopicDoorRefresh, micros(at)).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	return t.enqueue(ctx, TopicDoorRefresh, doorID, map[string]any{"door_id": doorID, "version": version}, at)
}

// RefreshDoors gives each door of the claimed door.refresh rows a new
// version (a holder's next access window begins: the lock needs the entry
// for it) and marks the rows delivered, in one transaction.
func (s *Store) RefreshDoors(ctx context.Context, items []OutboxItem) error {
	if len(items) == 0 {
		return nil
	}
	return s.inTx(ctx, "refresh_doors", func(t *Tx) error {
		var changes []domain.DoorChange
		ids := make([]string, 0, len(items))
		for _, it := range items {
			changes = append(changes, domain.DoorChange{DoorID: it.SubjectID, Reason: "a holder's next access window begins"})
			ids = append(ids, it.ID)
		}
		// Doors deleted since have nothing to refresh.
		rows, err := t.query(ctx, `SELECT id FROM doors WHERE id IN (`+placeholders(len(changes))+`)`, anySliceOf(changes)...)
		if err != nil {
			return err
		}
		live := map[string]bool{}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			live[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		kept := changes[:0]
		for _, c := range changes {
			if live[c.DoorID] {
				kept = append(kept, c)
			}
		}
		if err := t.bumpDoors(ctx, kept); err != nil {
			return err
		}
		_, err = t.exec(ctx, `UPDATE outbox SET delivered_at = ? WHERE id IN (`+placeholders(len(ids))+`)`, append([]any{micros(s.Now())}, anySlice(ids)...)...)
		return err
	})
}

func anySliceOf(changes []domain.DoorChange) []any {
	out := make([]any, len(changes))
	for i, c := range changes {
		out[i] = c.DoorID
	}
	return out
}

// BuildDoorBundle returns the bundle that brings a door's lock from the
// version it acknowledged to the door's current version: a delta when the
// lock's state is known, else a snapshot. A bundle already sealed for the
// same move is returned again (the same bytes for every courier). It is
// signed with the property key the door's lock trusts (from signers).
// ErrInSync when nothing is pending.
func (s *Store) BuildDoorBundle(ctx context.Context, sealer Sealer, signers PropertySigner, doorID string) (DoorBundle, error) {
	var out BundleBuild
	s.BuildDoorBundles(ctx, sealer, signers, []string{doorID}, BuildOptions{Workers: 1}, func(b BundleBuild) { out = b })
	return out.Bundle, out.Err
}

// pendingDoorPushes is a door's door.state rows not yet delivered, read
// through the partial index outbox_subject_pending (migration 00027): every
// ack runs it, and the door's delivered history must not be read.
const pendingDoorPushes = `SELECT id, payload FROM outbox WHERE subject_id = ? AND topic = ? AND delivered_at IS NULL AND failed_at IS NULL`

// completeDoorPushes marks delivered the door.state rows of a door whose
// version its lock has now acknowledged — whichever server claimed them,
// so pushes close with several servers on one database. Rows for a newer
// version stay.
func (t *Tx) completeDoorPushes(ctx context.Context, doorID string, acked int64, now time.Time) error {
	rows, err := t.query(ctx, pendingDoorPushes, doorID, TopicDoorState)
	if err != nil {
		return err
	}
	var done []string
	for rows.Next() {
		var id, payload string
		if err := rows.Scan(&id, &payload); err != nil {
			rows.Close()
			return err
		}
		var pl struct {
			Version int64 `json:"version"`
		}
		if json.Unmarshal([]byte(payload), &pl) == nil && pl.Version <= acked {
			done = append(done, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(done) == 0 {
		return err
	}
	_, err = t.exec(ctx, `UPDATE outbox SET delivered_at = ?, last_error = '' WHERE id IN (`+placeholders(len(done))+`)`, append([]any{micros(now)}, anySlice(done)...)...)
	return err
}

// DoorPushOutcome settles one claimed door.state row after a push round.
type DoorPushOutcome struct {
	Item     OutboxItem
	Complete bool          // nothing (more) to push for it
	Cause    error         // why it goes back (when not Complete)
	Backoff  time.Duration // when it is due again
}

// SettleDoorPushes completes or puts back claimed door.state rows in one
// transaction. A row that an ack completed meanwhile stays completed.
func (s *Store) SettleDoorPushes(ctx context.Context, outcomes []DoorPushOutcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	// Rows in door order, as the inbound group commits that complete them
	// lock them (doorsync records each group in lock order): in the order
	// the publishes finished, a settle and a group of acks on another
	// server deadlocked on PostgreSQL, and a settle that fails leaves its
	// rows claimed until the lease ends.
	outcomes = slices.Clone(outcomes)
	slices.SortFunc(outcomes, func(a, b DoorPushOutcome) int {
		return cmp.Or(cmp.Compare(a.Item.SubjectID, b.Item.SubjectID), cmp.Compare(a.Item.ID, b.Item.ID))
	})
	return s.inTx(ctx, "settle_door_pushes", func(t *Tx) error {
		now := s.Now()
		for _, o := range outcomes {
			var err error
			if o.Complete {
				_, err = t.exec(ctx, `UPDATE outbox SET delivered_at = ?, last_error = '' WHERE id = ? AND delivered_at IS NULL`, micros(now), o.Item.ID)
			} else {
				msg := ""
				if o.Cause != nil {
					msg = truncate(o.Cause.Error(), 500)
				}
				_, err = t.exec(ctx, `UPDATE outbox SET available_at = ?, last_error = ? WHERE id = ? AND delivered_at IS NULL`, micros(now.Add(o.Backoff)), msg, o.Item.ID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}
