package doorsync_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorSync_FleetInboundKeepsUp runs 30 online locks on a pusher that
// never polls (a one-hour poll and backoff) with an inbound queue of one
// message. Every change must still reach every lock and every ack be
// recorded, which holds only when
//   - the commit of a door change wakes the pusher (an invite and a revoke
//     through the API, which wake nothing themselves),
//   - a full inbound queue holds the broker back instead of dropping a
//     message (a dropped ack would be republished only after an hour),
//   - acks and event logs are recorded in group commits, not one
//     transaction each.
func TestDoorSync_FleetInboundKeepsUp(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		var mu sync.Mutex
		ops := map[string]int{}
		st.Observe = func(op string, _ time.Duration) { mu.Lock(); ops[op]++; mu.Unlock() }
		e := newEnvWith(t, st, "", func(c *doorsync.Config) {
			c.Poll, c.Backoff, c.InboundQueue = time.Hour, time.Hour, 1
		})
		const n = 30
		var locks []*lock.Lock
		doors := make([]domain.KeyDoor, n)
		for i := range n {
			l := connectedLock(e, fmt.Sprintf("Fleet %02d", i))
			locks, doors[i] = append(locks, l), domain.KeyDoor{DoorID: l.LockID(), Doorcodes: true}
		}
		k, err := st.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: "Fleet", Doors: doors})
		if err != nil {
			t.Fatal(err)
		}
		allAcked := func(what string) {
			t.Helper()
			defer func() {
				if t.Failed() {
					for _, l := range locks {
						v, acked, _, err := st.DoorVersion(e.ctx, l.LockID())
						t.Logf("%s: version %d acked %d lock %d err %v", l.LockID(), v, acked, l.Status().Version, err)
					}
				}
			}()
			eventually(t, 30*time.Second, what, func() bool {
				for _, l := range locks {
					v, acked, _, err := st.DoorVersion(e.ctx, l.LockID())
					if err != nil || acked != v || int64(l.Status().Version) != v {
						return false
					}
				}
				return true
			})
		}
		// A lock announces itself before it subscribes to its bundles, so
		// the push its "online" triggers may find no subscriber; with an
		// hour's backoff it would wait that long. Push once more now that
		// every lock listens (this commit, too, wakes the pusher).
		for _, l := range locks {
			if v, acked, _, _ := st.DoorVersion(e.ctx, l.LockID()); acked < v {
				if err := st.RequeueDoorState(e.ctx, l.LockID()); err != nil {
					t.Fatal(err)
				}
			}
		}
		allAcked("every lock acknowledges its provisioning")

		p := inviteWithKey(e, k.ID, "walker@example.com")
		allAcked("every lock receives the invite")
		code := doorcodeOf(e, p.ID)
		for _, l := range locks {
			if d, _ := l.EnterCode(code); !d.Granted {
				t.Fatalf("%s refuses the new code: %s", l.LockID(), d.Reason)
			}
		}

		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+p.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		allAcked("every lock receives the revocation")
		logNext := map[string]uint64{} // what each lock uploaded after the revocation's bundle
		for _, l := range locks {
			logNext[l.LockID()] = l.Status().LogNext
		}
		for _, l := range locks {
			if d, _ := l.EnterCode(code); d.Granted {
				t.Fatalf("%s still opens for the revoked code", l.LockID())
			}
		}
		// Every event the locks logged up to the revocation (bundles
		// applied, the code granted) reaches the cloud.
		eventually(t, 30*time.Second, "every lock's log is recorded", func() bool {
			for _, l := range locks {
				var next int64
				if err := st.DB().QueryRow(`SELECT log_next FROM door_locks WHERE door_id = '` + l.LockID() + `'`).Scan(&next); err != nil || uint64(next) < logNext[l.LockID()] {
					return false
				}
			}
			return true
		})

		mu.Lock()
		defer mu.Unlock()
		// A message whose recording fails inside a group (on PostgreSQL a
		// lock wait between two groups can end in a deadlock error) is
		// recorded again alone, by design; one transaction per message
		// (about 2 per lock here) is what must not come back.
		if solo := ops["record_lock_ack"] + ops["record_lock_events"]; ops["door_sync_inbound"] == 0 || solo > n/5 {
			t.Fatalf("inbound transactions %v: want door_sync_inbound groups, at most %d messages recorded alone", ops, n/5)
		}
		t.Logf("%d group commits for %d locks' messages", ops["door_sync_inbound"], n)
	})
}

// TestDoorSync_LockCacheFollowsAnotherServer: a server caches each lock's
// keys; when another server on the same database re-provisions the lock,
// the new lock's acknowledgement is still accepted (the cached keys fail,
// the stored ones are read again) and the old lock's is refused.
func TestDoorSync_LockCacheFollowsAnotherServer(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		apply := func(l *lock.Lock) []byte {
			t.Helper()
			b, err := e.svc.Bundle(e.ctx, bike.id)
			if err != nil {
				t.Fatal(err)
			}
			ack, err := l.ApplyBundle(b.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			return ack
		}
		oldAck := apply(bike.Lock)
		if _, err := e.svc.HandleAck(e.ctx, bike.id, oldAck, "test"); err != nil {
			t.Fatal(err) // now cached
		}

		other := doorsync.New(st, e.keys, nil) // a second server
		p, err := other.Provision(e.ctx, e.F.PM, e.prop(), bike.id)
		if err != nil {
			t.Fatal(err)
		}
		fresh := bootLock(t, p.Provisioning, lock.Options{})
		if _, err := e.svc.HandleAck(e.ctx, bike.id, apply(fresh), "test"); err != nil {
			t.Fatalf("the re-provisioned lock's ack, on the server that cached the old keys: %v", err)
		}
		if _, err := e.svc.HandleAck(e.ctx, bike.id, oldAck, "test"); domain.ErrorCode(err) != domain.EInvalid {
			t.Fatalf("the replaced lock's ack: %v, want invalid", err)
		}
	})
}

// TestDoorSync_LateWillDoesNotDelayRevocation: a lock's statuses can be
// recorded out of order — its old session's will ("offline") after its new
// session's "online" (another inbound worker, another server, a broker
// that publishes the will late). The door's lock is connected; a
// revocation must reach it at once, not after the pusher's longest backoff
// (a minute; it used to wait up to two claims of it).
func TestDoorSync_LateWillDoesNotDelayRevocation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnvWith(t, st, "", func(c *doorsync.Config) {
			c.Poll, c.Backoff = time.Hour, time.Hour
		})
		l := connectedLock(e, "Garden Gate")
		doorID := l.LockID() // lock id = door id
		status := func() string {
			var s string
			if err := st.DB().QueryRow(`SELECT status FROM door_locks WHERE door_id = '` + doorID + `'`).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		eventually(t, 10*time.Second, "the lock's online status is recorded", func() bool { return status() == store.LockOnline })
		inSync := func(what string) {
			t.Helper()
			eventually(t, 10*time.Second, what, func() bool {
				v, acked, _, err := st.DoorVersion(e.ctx, doorID)
				return err == nil && acked == v && int64(l.Status().Version) == v
			})
		}
		// As in TestDoorSync_FleetInboundKeepsUp: the lock announces itself
		// before it subscribes, so push once more now that it listens.
		if err := st.RequeueDoorState(e.ctx, doorID); err != nil {
			t.Fatal(err)
		}
		inSync("the lock acknowledges its provisioning")
		k, err := st.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: "Garden", Doors: []domain.KeyDoor{{DoorID: doorID, Doorcodes: true}}})
		if err != nil {
			t.Fatal(err)
		}
		person := inviteWithKey(e, k.ID, "late.will@example.com")
		inSync("the lock receives the invite")
		code := doorcodeOf(e, person.ID)
		if dec, _ := l.EnterCode(code); !dec.Granted {
			t.Fatalf("the lock refuses the new code: %s", dec.Reason)
		}

		// The old session's will, recorded after the new session's "online".
		if err := st.RecordLockStatus(e.ctx, doorID, "offline"); err != nil {
			t.Fatal(err)
		}
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+person.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		inSync("the connected lock receives the revocation")
		if dec, _ := l.EnterCode(code); dec.Granted {
			t.Fatal("the lock still opens for the revoked code")
		}
	})
}

// inviteWithKey invites a resident holding one key (which they may share
// with guests) through the API.
func inviteWithKey(e *env, keyID, email string) domain.PersonView {
	e.t.Helper()
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Fleet", "last_name": email[:4],
		"email": email, "access": "app", "resident": true, "keys": []map[string]any{{"key_id": keyID, "may_share": true}}})
	if r.Status != 201 {
		e.t.Fatalf("invite %s = %d: %s", email, r.Status, r.Body)
	}
	var p domain.PersonView
	r.Decode(e.t, &p)
	return p
}

// doorcodeOf is a person's doorcode.
func doorcodeOf(e *env, personID string) string {
	e.t.Helper()
	var code string
	if err := e.Store.DB().QueryRow(`SELECT code FROM doorcodes WHERE person_id = $1`, personID).Scan(&code); err != nil {
		e.t.Fatal(err)
	}
	return code
}

// connectedLock creates an online door, provisions its lock through Door
// Sync, boots it and connects it to the broker (lock id = door id).
func connectedLock(e *env, name string) *lock.Lock {
	e.t.Helper()
	return connectedLockHolding(e, name, nil)
}

// connectedLockHolding is connectedLock whose lock drops every bundle
// while hold is set (connectMQTTHolding).
func connectedLockHolding(e *env, name string, hold *atomic.Bool) *lock.Lock {
	e.t.Helper()
	d, err := e.Store.CreateDoor(e.ctx, e.F.PM, e.prop(), domain.DoorInput{Name: name, Type: domain.DoorEntrance, Connectivity: domain.Online})
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := e.svc.Provision(e.ctx, e.F.PM, e.prop(), d.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	l := bootLock(e.t, p.Provisioning, lock.Options{})
	connectMQTTHolding(e.ctx, e.t, e.url, p.MQTTPassword, l, hold)
	return l
}
