package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// roles are the columns of the permission matrix.
var roles = [...]string{"portfolio", "full", "limited", "specific", "none", "device_only", "unassigned", "no_token", "bad_token", "expired_token"}

// TestPermissionMatrix sends every endpoint as every kind of manager (and
// without a valid token) and wants the status of DESIGN.md §2: Key
// Management for everything on People (specific: listed keys only), full
// Key Management for keys, Portfolio Managers for properties, doors and
// managers, 404 for a property the manager is not assigned to, 401 without
// a valid token. Every cell acts on objects of its own, so cells do not
// depend on each other.
func TestPermissionMatrix(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f, ctx := e.F, context.Background()
		pid := f.Property.ID
		other, err := st.CreateProperty(ctx, f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		tokens := map[string]string{"portfolio": e.PMToken, "bad_token": "not-a-token"}
		tokens["full"] = e.managerToken("full@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementFull})
		tokens["limited"] = e.managerToken("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited})
		// Specific: the Building key is listed, the Home key is not.
		tokens["specific"] = e.managerToken("specific@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{f.Building.ID}})
		tokens["none"] = e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone})
		tokens["device_only"] = e.managerToken("device@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		tokens["unassigned"] = e.managerToken("elsewhere@example.com", &domain.Assignment{PropertyID: other.ID, KeyManagement: domain.KeyManagementFull, DeviceManagement: true})
		// A token issued 13 hours ago has expired (API tokens live 12 hours).
		real := st.Now
		st.Now = func() time.Time { return real().Add(-13 * time.Hour) }
		tokens["expired_token"] = storetest.Token(t, st, "full@example.com")
		st.Now = real

		n := 0
		uniq := func() string { n++; return fmt.Sprint(n) }
		personWith := func(keyID string) string {
			p, err := st.Invite(ctx, f.PM, pid, domain.InviteInput{FirstName: "P", LastName: uniq(), Email: "p" + uniq() + "@example.com",
				Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: keyID, MayShare: true}}})
			if err != nil {
				t.Fatal(err)
			}
			return p.ID
		}
		freshKey := func() string {
			k, err := st.CreateKey(ctx, f.PM, pid, domain.KeyInput{Name: "K" + uniq(), Doors: []domain.KeyDoor{{DoorID: f.Gym.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			return k.ID
		}
		freshManager := func() string {
			m, err := st.CreateManager(ctx, f.PM, domain.ManagerInput{Email: "m" + uniq() + "@example.com", FirstName: "M", LastName: "M", Role: domain.RolePropertyManager})
			if err != nil {
				t.Fatal(err)
			}
			return m.ID
		}
		invite := func(keyID string) map[string]any {
			return map[string]any{"first_name": "New", "last_name": "Person", "email": "new" + uniq() + "@example.com", "access": "app",
				"keys": []map[string]any{{"key_id": keyID}}}
		}
		P := "/api/v1/properties/" + pid
		type req struct {
			method, path string
			body         any
		}
		// Columns: portfolio, full, limited, specific, none, device_only, unassigned, no_token, bad_token, expired_token.
		rows := []struct {
			name string
			req  func() req
			want [10]int
		}{
			{"GET /me", func() req { return req{"GET", "/api/v1/me", nil} }, [10]int{200, 200, 200, 200, 200, 200, 200, 401, 401, 401}},
			{"GET /properties", func() req { return req{"GET", "/api/v1/properties", nil} }, [10]int{200, 200, 200, 200, 200, 200, 200, 401, 401, 401}},
			{"POST /properties", func() req {
				return req{"POST", "/api/v1/properties", map[string]any{"name": "N" + uniq(), "time_zone": "UTC"}}
			}, [10]int{201, 403, 403, 403, 403, 403, 403, 401, 401, 401}},
			{"GET /properties/{p}", func() req { return req{"GET", P, nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"PATCH /properties/{p}", func() req { return req{"PATCH", P, map[string]any{"name": "Elm Court " + uniq()}} }, [10]int{200, 403, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"GET doors", func() req { return req{"GET", P + "/doors", nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"POST doors", func() req {
				return req{"POST", P + "/doors", map[string]any{"name": "D" + uniq(), "type": "service", "connectivity": "online"}}
			}, [10]int{201, 403, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"GET door", func() req { return req{"GET", P + "/doors/" + f.Lobby.ID, nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"GET units", func() req { return req{"GET", P + "/units", nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"POST units", func() req { return req{"POST", P + "/units", map[string]any{"name": "U" + uniq()}} }, [10]int{201, 201, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"GET keys", func() req { return req{"GET", P + "/keys", nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"POST keys", func() req {
				return req{"POST", P + "/keys", map[string]any{"name": "K" + uniq(), "doors": []map[string]any{{"door_id": f.Gym.ID}}}}
			}, [10]int{201, 201, 403, 403, 403, 403, 404, 401, 401, 401}},
			// Permission comes before validation: an invalid body from a
			// manager without the right is a 403, not a 400.
			{"POST doors, invalid body", func() req { return req{"POST", P + "/doors", map[string]any{"name": ""}} }, [10]int{400, 403, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"POST units, invalid body", func() req { return req{"POST", P + "/units", map[string]any{"name": ""}} }, [10]int{400, 400, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"POST keys, invalid body", func() req { return req{"POST", P + "/keys", map[string]any{"name": ""}} }, [10]int{400, 400, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"PATCH key, invalid body", func() req {
				return req{"PATCH", P + "/keys/" + freshKey(), map[string]any{"name": "K", "doors": []any{}}}
			}, [10]int{400, 400, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"GET key", func() req { return req{"GET", P + "/keys/" + f.Home.ID, nil} }, [10]int{200, 200, 200, 200, 200, 200, 404, 401, 401, 401}},
			{"PATCH key", func() req { return req{"PATCH", P + "/keys/" + freshKey(), map[string]any{"name": "K" + uniq()}} }, [10]int{200, 200, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"DELETE key", func() req { return req{"DELETE", P + "/keys/" + freshKey(), nil} }, [10]int{204, 204, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"GET people", func() req { return req{"GET", P + "/people", nil} }, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"POST people, listed key", func() req { return req{"POST", P + "/people", invite(f.Building.ID)} }, [10]int{201, 201, 201, 201, 403, 403, 404, 401, 401, 401}},
			{"POST people, unlisted key", func() req { return req{"POST", P + "/people", invite(f.Home.ID)} }, [10]int{201, 201, 201, 403, 403, 403, 404, 401, 401, 401}},
			{"GET person", func() req { return req{"GET", P + "/people/" + personWith(f.Home.ID), nil} }, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			// Changing any field of a person needs every key they hold
			// (the email is the app login): specific is refused a person
			// with the unlisted Home key.
			{"PATCH person contact, listed key", func() req {
				return req{"PATCH", P + "/people/" + personWith(f.Building.ID), map[string]any{"phone": "555 0100"}}
			}, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"PATCH person contact, unlisted key", func() req {
				return req{"PATCH", P + "/people/" + personWith(f.Home.ID), map[string]any{"phone": "555 0100"}}
			}, [10]int{200, 200, 200, 403, 403, 403, 404, 401, 401, 401}},
			{"PATCH person expiration, listed key", func() req {
				return req{"PATCH", P + "/people/" + personWith(f.Building.ID), map[string]any{"expires_at": ts(st.Now().Add(time.Hour))}}
			}, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"PATCH person expiration, unlisted key", func() req {
				return req{"PATCH", P + "/people/" + personWith(f.Home.ID), map[string]any{"expires_at": ts(st.Now().Add(time.Hour))}}
			}, [10]int{200, 200, 200, 403, 403, 403, 404, 401, 401, 401}},
			{"PUT person key, listed", func() req {
				return req{"PUT", P + "/people/" + personWith(f.Building.ID) + "/keys/" + f.Building.ID, map[string]any{"may_share": false}}
			}, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"PUT person key, unlisted", func() req {
				return req{"PUT", P + "/people/" + personWith(f.Building.ID) + "/keys/" + f.Home.ID, nil}
			}, [10]int{200, 200, 200, 403, 403, 403, 404, 401, 401, 401}},
			{"DELETE person key, listed", func() req {
				return req{"DELETE", P + "/people/" + personWith(f.Building.ID) + "/keys/" + f.Building.ID, nil}
			}, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"DELETE person key, unlisted", func() req {
				return req{"DELETE", P + "/people/" + personWith(f.Home.ID) + "/keys/" + f.Home.ID, nil}
			}, [10]int{200, 200, 200, 403, 403, 403, 404, 401, 401, 401}},
			{"POST revoke, listed key", func() req { return req{"POST", P + "/people/" + personWith(f.Building.ID) + "/revoke", nil} }, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"POST revoke, unlisted key", func() req { return req{"POST", P + "/people/" + personWith(f.Home.ID) + "/revoke", nil} }, [10]int{200, 200, 200, 403, 403, 403, 404, 401, 401, 401}},
			// Delete Person removes the record: full Key Management.
			{"DELETE person, listed key", func() req { return req{"DELETE", P + "/people/" + personWith(f.Building.ID), nil} }, [10]int{204, 204, 403, 403, 403, 403, 404, 401, 401, 401}},
			{"DELETE person, unlisted key", func() req { return req{"DELETE", P + "/people/" + personWith(f.Home.ID), nil} }, [10]int{204, 204, 403, 403, 403, 403, 404, 401, 401, 401}},
			// Activity names people and their emails: Key Management (any
			// level) or Device Management.
			{"GET activity", func() req { return req{"GET", P + "/activity", nil} }, [10]int{200, 200, 200, 200, 403, 200, 404, 401, 401, 401}},
			{"GET sync-tasks", func() req { return req{"GET", P + "/sync-tasks", nil} }, [10]int{200, 200, 200, 200, 403, 200, 404, 401, 401, 401}},
			// "specific" sees these cut to his keys' doors
			// (TestSpecificSeesTheDoorsOfHisKeys); reports need Key
			// Management of any level.
			{"GET exposure", func() req { return req{"GET", P + "/exposure", nil} }, [10]int{200, 200, 200, 200, 403, 200, 404, 401, 401, 401}},
			{"GET report", func() req { return req{"GET", P + "/reports/people-keys.csv", nil} }, [10]int{200, 200, 200, 200, 403, 403, 404, 401, 401, 401}},
			{"GET /managers", func() req { return req{"GET", "/api/v1/managers", nil} }, [10]int{200, 403, 403, 403, 403, 403, 403, 401, 401, 401}},
			{"POST /managers", func() req {
				return req{"POST", "/api/v1/managers", map[string]any{"email": "x" + uniq() + "@example.com", "first_name": "X", "last_name": "Y", "role": "property_manager"}}
			}, [10]int{201, 403, 403, 403, 403, 403, 403, 401, 401, 401}},
			{"GET /managers/{m}", func() req { return req{"GET", "/api/v1/managers/" + freshManager(), nil} }, [10]int{200, 403, 403, 403, 403, 403, 403, 401, 401, 401}},
			{"PUT /managers/{m}/properties/{p}", func() req {
				return req{"PUT", "/api/v1/managers/" + freshManager() + "/properties/" + pid, map[string]any{"key_management": "full"}}
			}, [10]int{200, 403, 403, 403, 403, 403, 403, 401, 401, 401}},
			{"GET openapi.json", func() req { return req{"GET", "/api/v1/openapi.json", nil} }, [10]int{200, 200, 200, 200, 200, 200, 200, 200, 200, 200}},
		}
		for _, r := range rows {
			t.Run(r.name, func(t *testing.T) {
				for i, role := range roles {
					q := r.req()
					before := e.counts()
					res := e.Do(q.method, q.path, tokens[role], q.body)
					if res.Status != r.want[i] {
						t.Errorf("as %s: %s %s → %d, want %d: %s", role, q.method, q.path, res.Status, r.want[i], res.Body)
						continue
					}
					if res.Status >= 400 {
						if after := e.counts(); after != before {
							t.Errorf("as %s: refused request wrote:\nbefore %s\nafter  %s", role, before, after)
						}
					}
				}
			})
		}

		t.Run("unassigned property is not listed", func(t *testing.T) {
			var l list[struct{ ID string }]
			e.want(e.Do("GET", "/api/v1/properties", tokens["unassigned"], nil), 200).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].ID != other.ID {
				t.Errorf("unassigned manager sees %+v, want only Oak House", l.Items)
			}
		})
		t.Run("logout", func(t *testing.T) {
			for _, role := range roles[:7] {
				email := map[string]string{"portfolio": storetest.PMEmail, "full": "full@example.com", "limited": "limited@example.com",
					"specific": "specific@example.com", "none": "none@example.com", "device_only": "device@example.com", "unassigned": "elsewhere@example.com"}[role]
				token := storetest.Token(t, st, email)
				if res := e.Do("POST", "/api/v1/auth/logout", token, nil); res.Status != 204 {
					t.Errorf("as %s: logout %d, want 204: %s", role, res.Status, res.Body)
				}
				if res := e.Do("GET", "/api/v1/me", token, nil); res.Status != 401 {
					t.Errorf("as %s: token works after logout (%d)", role, res.Status)
				}
			}
			for _, role := range roles[7:] {
				if res := e.Do("POST", "/api/v1/auth/logout", tokens[role], nil); res.Status != 401 {
					t.Errorf("as %s: logout %d, want 401", role, res.Status)
				}
			}
		})
	})
}
