package demo_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/demo"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/locksim"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// doorSync is what `dooros serve` runs: keyring, embedded broker, pusher.
func doorSync(t *testing.T, st *store.Store) *doorsync.Service {
	t.Helper()
	svc, stop, err := doorsync.Start(context.Background(), st, storetest.Keyring(t, st), doorsync.Config{Addr: "127.0.0.1:0", ClientID: "demo-test", Poll: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return svc
}

func TestStartLocks(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		res, err := demo.Seed(ctx, st, demo.Options{Password: storetest.PMPassword})
		if err != nil {
			t.Fatal(err)
		}
		svc := doorSync(t, st)
		locks, err := demo.StartLocks(ctx, svc, res, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer locks.Close()
		org, err := st.Organisation(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sys := domain.System(org.ID, "test")
		byName := map[string]demo.Lock{}
		for _, l := range locks.Locks {
			byName[l.Door.Name] = l
		}
		if len(locks.Locks) != len(res.Doors) {
			t.Fatalf("%d locks for %d doors", len(locks.Locks), len(res.Doors))
		}

		t.Run("every door has a provisioned lock", func(t *testing.T) {
			devs, err := st.ListDoorDevices(ctx, sys, res.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range devs {
				if !d.Provisioned {
					t.Errorf("door %s not provisioned", d.DoorID)
				}
			}
		})
		t.Run("online doors connect over MQTT, offline ones do not", func(t *testing.T) {
			for _, l := range locks.Locks {
				if l.MQTT != (l.Door.Connectivity == domain.Online) {
					t.Errorf("%s: MQTT %v, connectivity %s", l.Door.Name, l.MQTT, l.Door.Connectivity)
				}
			}
		})
		entrance := byName["Main Entrance"]
		keypad := func(code string) bool {
			t.Helper()
			r, err := locksim.Ask(ctx, entrance.Control, "keypad "+code)
			if err != nil || r.Error != "" {
				t.Fatalf("keypad: %v %s", err, r.Error)
			}
			return *r.Granted
		}
		t.Run("online doors go in sync by themselves and open for Ben's code", func(t *testing.T) {
			if locks.Code == "" || locks.Card != demo.Keycard {
				t.Fatalf("code %q card %q", locks.Code, locks.Card)
			}
			waitFor(t, func() bool {
				v, acked, _, err := st.DoorVersion(ctx, entrance.Door.ID)
				return err == nil && acked == v
			})
			if !keypad(locks.Code) {
				t.Fatal("Ben's doorcode refused at the synced Main Entrance")
			}
			r, err := locksim.Ask(ctx, entrance.Control, "card "+locks.Card)
			if err != nil || r.Granted == nil || !*r.Granted {
				t.Fatalf("Ben's card at the Main Entrance: %+v %v", r, err)
			}
		})
		t.Run("a revocation reaches the online door within seconds", func(t *testing.T) {
			people, _, err := st.ListPeople(ctx, sys, res.Property.ID, domain.PeopleFilter{Query: "ben.okafor@"})
			if err != nil || len(people) != 1 {
				t.Fatalf("%v %v", people, err)
			}
			start := time.Now()
			if _, err := st.Revoke(ctx, sys, res.Property.ID, people[0].ID); err != nil {
				t.Fatal(err)
			}
			svc.Wake()
			waitFor(t, func() bool { return !keypad(locks.Code) })
			t.Logf("online refusal %v after the revoke", time.Since(start))
		})
		t.Run("offline doors answer on their BLE link", func(t *testing.T) {
			gym := byName["Gym"]
			s, err := ble.DialLock(ctx, gym.BLE, ble.Config{}, gym.Door.ID, gym.PublicKey)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// The channel is open; the log stays shut to a phone with no credential.
			if _, err := s.FetchLog(ctx, 1); !errors.Is(err, lockproto.ErrNotAuthenticated) {
				t.Fatalf("log read without a credential: %v", err)
			}
		})
		t.Run("the printed instructions name the locks and the commands", func(t *testing.T) {
			var out bytes.Buffer
			locks.Print(&out, "http://127.0.0.1:8080")
			for _, want := range []string{"Main Entrance", "online: MQTT", "Gym", "offline", "doorlock keypad --control " + entrance.Control + " " + locks.Code,
				"doorapp --server http://127.0.0.1:8080", "login --email ana.garcia@example.com", "unlock --door "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
		t.Run("Close stops them", func(t *testing.T) {
			if err := locks.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := locksim.Ask(ctx, entrance.Control, "status"); err == nil {
				t.Fatal("a lock still answers after Close")
			}
		})
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSeed_RefusesARealOrganisation: `serve --demo` on a database that
// holds a real organisation adds nothing to it — no demo property, no demo
// Portfolio Manager with a printed password.
func TestSeed_RefusesARealOrganisation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		_, err := st.Init(ctx, "Acme Homes", domain.ManagerInput{Email: "owner@acme.example", Password: storetest.PMPassword, FirstName: "Olga", LastName: "Owner"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = demo.Seed(ctx, st, demo.Options{Password: storetest.PMPassword})
		if !errors.Is(err, demo.ErrNotDemo) || !strings.Contains(err.Error(), "fresh --data directory") {
			t.Fatalf("Seed on a real organisation = %v, want ErrNotDemo saying to use a fresh --data directory", err)
		}
		if _, _, err := st.Login(ctx, demo.PMEmail, storetest.PMPassword, store.TokenKindSession); err == nil {
			t.Error("the demo Portfolio Manager can log in to the real organisation")
		}
		org, _ := st.Organisation(ctx)
		props, err := st.ListProperties(ctx, domain.System(org.ID, "test"))
		if err != nil {
			t.Fatal(err)
		}
		if len(props) != 0 {
			t.Errorf("properties after the refused demo: %+v, want none", props)
		}
	})
}
