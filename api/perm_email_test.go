package api_test

import (
	"context"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestEmailChangeEndsOldLogin is the takeover of issue 12 item 1: a
// "specific" manager may not change the email (the app login) of a person
// holding a key outside his list; when an email does change, whatever the
// old one was given in the app ends: its phones are removed, its tokens
// stop working, and the person's doors get a revocation so offline locks
// refuse the credentials already on those phones. A record with the old
// email at another property keeps its login.
func TestEmailChangeEndsOldLogin(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		ctx := context.Background()
		pid := e.prop()
		P := "/api/v1/properties/" + pid
		rita := e.invite("rita@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
		// The same email at another property of the organisation.
		oak, err := st.CreateProperty(ctx, e.F.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		door, err := st.CreateDoor(ctx, e.F.PM, oak.ID, domain.DoorInput{Name: "Oak Gate", Type: domain.DoorEntrance, Connectivity: domain.Offline})
		if err != nil {
			t.Fatal(err)
		}
		oakKey, err := st.CreateKey(ctx, e.F.PM, oak.ID, domain.KeyInput{Name: "Oak", Doors: []domain.KeyDoor{{DoorID: door.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Invite(ctx, e.F.PM, oak.ID, domain.InviteInput{FirstName: "Rita", LastName: "Oak", Email: "rita@example.com",
			Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: oakKey.ID}}}); err != nil {
			t.Fatal(err)
		}
		token := e.login("rita@example.com")
		wantStatus(t, e.Do("POST", "/api/v1/me/credentials", token, nil), 200, "")
		storetest.Manager(t, st, e.F.PM, "specific@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{e.F.Building.ID}})
		specific := storetest.Token(t, st, "specific@example.com")

		t.Run("SpecificRefused", func(t *testing.T) {
			wantStatus(t, e.Do("PATCH", P+"/people/"+rita.ID, specific, map[string]any{"email": "mallory@example.com"}), 403, "forbidden")
			if code := e.requestCode("mallory@example.com"); code != "" {
				t.Fatal("mallory@example.com got a login code: the email changed")
			}
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", token, nil), 200, "")
		})

		var before, revsBefore int
		st.DB().QueryRow(`SELECT version FROM doors WHERE id = '` + e.F.Unit101.ID + `'`).Scan(&before)
		st.DB().QueryRow(`SELECT COUNT(*) FROM door_revocations WHERE person_id = '` + rita.ID + `'`).Scan(&revsBefore)
		wantStatus(t, e.Do("PATCH", P+"/people/"+rita.ID, e.PMToken, map[string]any{"email": "rita.new@example.com"}), 200, "")

		t.Run("PhonesRemovedAndRevoked", func(t *testing.T) {
			var l struct{ Items []store.Device }
			e.Do("GET", P+"/people/"+rita.ID+"/devices", e.PMToken, nil).Decode(t, &l)
			if len(l.Items) != 0 {
				t.Errorf("phones of the old email still enrolled: %+v", l.Items)
			}
			var after, revs int
			st.DB().QueryRow(`SELECT version FROM doors WHERE id = '` + e.F.Unit101.ID + `'`).Scan(&after)
			st.DB().QueryRow(`SELECT COUNT(*) FROM door_revocations WHERE person_id = '` + rita.ID + `' AND door_id = '` + e.F.Unit101.ID + `'`).Scan(&revs)
			if after != before+1 || revs <= revsBefore {
				t.Errorf("email change: door version %d → %d, revocations %d; want a revocation at the person's door", before, after, revs)
			}
			if e.kinds(rita.ID)[store.EventDeviceRemoved] != 1 {
				t.Errorf("Activity of the person: %v, want one %s", e.kinds(rita.ID), store.EventDeviceRemoved)
			}
		})
		t.Run("OldTokenNoLongerCoversThePerson", func(t *testing.T) {
			var l struct {
				Items []struct {
					PropertyID string `json:"property_id"`
				}
			}
			r := e.Do("GET", "/api/v1/me/keys", token, nil)
			wantStatus(t, r, 200, "")
			r.Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].PropertyID != oak.ID {
				t.Errorf("old login covers %+v, want only Oak House", l.Items)
			}
		})
		t.Run("OldEmailAloneIsLoggedOut", func(t *testing.T) {
			// Without the other property's record the token covers nothing
			// and is deleted.
			bob := e.invite("bob@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
			bobToken := e.login("bob@example.com")
			wantStatus(t, e.Do("PATCH", P+"/people/"+bob.ID, e.PMToken, map[string]any{"email": "bob.new@example.com"}), 200, "")
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", bobToken, nil), 401, "unauthenticated")
			var n int
			st.DB().QueryRow(`SELECT COUNT(*) FROM resident_tokens WHERE email = 'bob@example.com'`).Scan(&n)
			if n != 0 {
				t.Errorf("%d tokens of the old email remain", n)
			}
		})
		t.Run("NewEmailLogsIn", func(t *testing.T) {
			tok := e.login("rita.new@example.com")
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", tok, nil), 200, "")
		})
		// Removing a phone is a revocation at every door of the person:
		// like Revoke All Keys, it needs every key they hold.
		t.Run("RemovePhone", func(t *testing.T) {
			devices := func(id string) []store.Device {
				var l struct{ Items []store.Device }
				e.Do("GET", P+"/people/"+id+"/devices", e.PMToken, nil).Decode(t, &l)
				return l.Items
			}
			cy := e.invite("cy@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
			e.login("cy@example.com")
			dev := devices(cy.ID)
			if len(dev) != 1 {
				t.Fatalf("devices %+v", dev)
			}
			wantStatus(t, e.Do("DELETE", P+"/people/"+cy.ID+"/devices/"+dev[0].ID, specific, nil), 403, "forbidden")
			if len(devices(cy.ID)) != 1 {
				t.Fatal("refused removal removed the phone")
			}
			di := e.invite("di@example.com", []map[string]any{{"key_id": e.F.Building.ID}}, nil)
			e.login("di@example.com")
			dev = devices(di.ID)
			if len(dev) != 1 {
				t.Fatalf("devices %+v", dev)
			}
			wantStatus(t, e.Do("DELETE", P+"/people/"+di.ID+"/devices/"+dev[0].ID, specific, nil), 204, "")
			if len(devices(di.ID)) != 0 {
				t.Fatal("phone still there")
			}
		})
		t.Run("SpecificMayChangeWhatHeCouldCreate", func(t *testing.T) {
			ann := e.invite("ann@example.com", []map[string]any{{"key_id": e.F.Building.ID}}, nil)
			annToken := e.login("ann@example.com")
			wantStatus(t, e.Do("PATCH", P+"/people/"+ann.ID, specific, map[string]any{"email": "ann.new@example.com"}), 200, "")
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", annToken, nil), 401, "unauthenticated")
			var revs int
			st.DB().QueryRow(`SELECT COUNT(*) FROM door_revocations WHERE person_id = '` + ann.ID + `' AND door_id = '` + e.F.Gym.ID + `'`).Scan(&revs)
			if revs == 0 {
				t.Error("no revocation at the Gym (offline) for Ann's old phone")
			}
		})
	})
}
