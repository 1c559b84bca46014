package doorsync_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/mqtt"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestStart_BadSharedGroup: a shared subscription group no broker would
// take fails Start with a clear error, before anything connects.
func TestStart_BadSharedGroup(t *testing.T) {
	st := storetest.OpenSQLite(t)
	keys := storetest.Keyring(t, st)
	for _, g := range []string{"a/b", "+", "#", "has space", strings.Repeat("x", 65)} {
		_, _, err := doorsync.Start(context.Background(), st, keys, doorsync.Config{URL: "mqtt://127.0.0.1:1", SharedGroup: g})
		if !errors.Is(err, mqtt.ErrInvalidShareGroup) {
			t.Errorf("Start with shared group %q = %v, want ErrInvalidShareGroup", g, err)
		}
	}
}

// TestDoorSync_TwoServersShareInbound runs two Door Sync servers on one
// PostgreSQL database and one Mosquitto, in one shared subscription group,
// with 20 online locks (locksim.RunMQTT):
//   - remote unlocks asked on A and on B all get their
//     results, although the locks' acks and logs are split between the two
//     (results are not shared: each reaches every server, the waiter takes it);
//   - several grant/revoke rounds claimed by both pushers leave no door
//     behind, no door.state row undelivered and no event recorded twice.
func TestDoorSync_TwoServersShareInbound(t *testing.T) {
	url := os.Getenv("DOOROS_TEST_MQTT_URL")
	if url == "" {
		t.Skip("DOOROS_TEST_MQTT_URL not set (e.g. mqtt://127.0.0.1:1883, an anonymous Mosquitto): two-server test skipped")
	}
	st := storetest.OpenPostgres(t)
	group := "test-" + strings.ReplaceAll(domain.NewID("g"), "_", "-")
	e := newEnvWith(t, st, url, func(c *doorsync.Config) { c.SharedGroup, c.Backoff = group, time.Second })
	b, stopB, err := doorsync.Start(e.ctx, st, e.keys, doorsync.Config{URL: url, SharedGroup: group,
		ClientID: "dooros-test-b-" + domain.NewID("c"), Poll: 50 * time.Millisecond, Backoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopB)

	const n = 20
	var locks []*lock.Lock
	doors := make([]domain.KeyDoor, n)
	for i := range n {
		d, err := st.CreateDoor(e.ctx, e.F.PM, e.prop(), domain.DoorInput{Name: fmt.Sprintf("Scale %02d", i), Type: domain.DoorEntrance, Connectivity: domain.Online})
		if err != nil {
			t.Fatal(err)
		}
		svc := e.svc
		if i%2 == 1 {
			svc = b // provisioned on either server
		}
		p, err := svc.Provision(e.ctx, e.F.PM, e.prop(), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		l := bootLock(t, p.Provisioning, lock.Options{})
		go locksim.RunMQTT(e.ctx, url, p.MQTTPassword, l, nil)
		locks, doors[i] = append(locks, l), domain.KeyDoor{DoorID: d.ID, Doorcodes: true}
	}
	k, err := st.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: "Scale", Doors: doors})
	if err != nil {
		t.Fatal(err)
	}
	allAcked := func(what string) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() bool {
			for _, l := range locks {
				v, acked, _, err := st.DoorVersion(e.ctx, l.LockID())
				if err != nil || acked != v || int64(l.Status().Version) != v {
					return false
				}
			}
			return true
		})
	}
	allAcked("every lock acknowledges its provisioning")

	invite := func(email string) domain.PersonView {
		t.Helper()
		r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Scale", "last_name": "Out",
			"email": email, "access": "app", "resident": true, "keys": []map[string]any{{"key_id": k.ID}}})
		if r.Status != 201 {
			t.Fatalf("invite = %d: %s", r.Status, r.Body)
		}
		var p domain.PersonView
		r.Decode(t, &p)
		return p
	}
	walker := invite("walker@example.com")
	allAcked("every lock receives the invite")

	phone := e.login("walker@example.com")
	resident, err := st.AuthenticateResident(e.ctx, phone.token)
	if err != nil {
		t.Fatal(err)
	}
	// Three in a row on each: a broker sharing the results round-robin
	// would hand some of them to the server that is not waiting.
	for i, l := range locks[:6] {
		svc, name := e.svc, "A"
		if i >= 3 {
			svc, name = b, "B"
		}
		res, err := svc.RemoteUnlock(e.ctx, resident, l.LockID(), 10*time.Second)
		if err != nil || !res.Granted {
			t.Fatalf("remote unlock %d on %s: %+v, %v", i, name, res, err)
		}
	}

	// Grant/revoke rounds: both pushers claim the door.state rows.
	var codes []string
	for i := range 4 {
		p := invite(fmt.Sprintf("round%d@example.com", i))
		var code string
		if err := st.DB().QueryRow(`SELECT code FROM doorcodes WHERE person_id = $1`, p.ID).Scan(&code); err != nil {
			t.Fatal(err)
		}
		codes = append(codes, code)
		if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+p.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
	}
	if r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+walker.ID+"/revoke", e.PMToken, nil); r.Status != 200 {
		t.Fatalf("revoke = %d: %s", r.Status, r.Body)
	}
	allAcked("every lock receives every round and the last revocation")
	for _, l := range locks {
		for _, c := range codes {
			if d, _ := l.EnterCode(c); d.Granted {
				t.Fatalf("%s opens for a revoked code", l.LockID())
			}
		}
	}
	eventually(t, 30*time.Second, "no door.state row is left undelivered", func() bool {
		var pending int
		err := st.DB().QueryRow(`SELECT count(*) FROM outbox WHERE topic = $1 AND delivered_at IS NULL AND failed_at IS NULL`, store.TopicDoorState).Scan(&pending)
		return err == nil && pending == 0
	})
	var failed int
	if err := st.DB().QueryRow(`SELECT count(*) FROM outbox WHERE topic = $1 AND failed_at IS NOT NULL`, store.TopicDoorState).Scan(&failed); err != nil || failed != 0 {
		t.Fatalf("%d door.state rows failed (%v)", failed, err)
	}
	// Every event logged reaches the cloud once: each remote unlock shows
	// once in Activity, whichever server recorded the lock's log.
	eventually(t, 30*time.Second, "every lock's log is recorded", func() bool {
		for _, l := range locks {
			var next int64
			if err := st.DB().QueryRow(`SELECT log_next FROM door_locks WHERE door_id = $1`, l.LockID()).Scan(&next); err != nil || uint64(next) < l.Status().LogNext {
				return false
			}
		}
		return true
	})
	for _, l := range locks[:6] {
		a := e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?door_id="+l.LockID(), e.PMToken, nil)
		if c := strings.Count(string(a.Body), "unlocked with remote"); a.Status != 200 || c != 1 {
			t.Errorf("%s: the remote unlock shows %d times in Activity, want once (%d)", l.LockID(), c, a.Status)
		}
	}
}
