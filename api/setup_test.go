package api_test

import (
	"encoding/json"
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestSetupEndpoints: properties, doors, units, keys, managers, /me and the
// OpenAPI document answer their happy paths with the documented shapes.
func TestSetupEndpoints(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		type property struct {
			ID, Name              string
			DoorcodeLength        int    `json:"doorcode_length"`
			CredentialLifetimeHrs int    `json:"credential_lifetime_hours"`
			TimeZone              string `json:"time_zone"`
		}
		var p property
		e.ok("POST", "/api/v1/properties", map[string]any{"name": "Birch Tower", "time_zone": "Europe/Berlin"}, 201).Decode(t, &p)
		t.Run("property defaults", func(t *testing.T) {
			if p.DoorcodeLength != 7 || p.CredentialLifetimeHrs != 24 || p.TimeZone != "Europe/Berlin" {
				t.Errorf("property %+v, want doorcode length 7, lifetime 24h, Europe/Berlin", p)
			}
		})
		path := "/api/v1/properties/" + p.ID
		e.ok("GET", path, nil, 200)
		var props list[property]
		e.ok("GET", "/api/v1/properties", nil, 200).Decode(t, &props)
		if len(props.Items) != 2 {
			t.Errorf("%d properties, want 2", len(props.Items))
		}
		var patched property
		e.ok("PATCH", path, map[string]any{"name": "Birch Tower East", "doorcode_length": 9}, 200).Decode(t, &patched)
		if patched.Name != "Birch Tower East" || patched.DoorcodeLength != 9 || patched.TimeZone != "Europe/Berlin" {
			t.Errorf("patched %+v", patched)
		}

		var door struct{ ID, Type, Connectivity, UnitID string }
		e.ok("POST", path+"/doors", map[string]any{"name": "Main", "type": "entrance", "connectivity": "offline"}, 201).Decode(t, &door)
		e.ok("GET", path+"/doors/"+door.ID, nil, 200)
		var doors list[map[string]any]
		e.ok("GET", path+"/doors", nil, 200).Decode(t, &doors)
		if len(doors.Items) != 1 {
			t.Errorf("%d doors, want 1", len(doors.Items))
		}
		var unit struct{ ID string }
		e.ok("POST", path+"/units", map[string]any{"name": "4B"}, 201).Decode(t, &unit)
		var units list[map[string]any]
		e.ok("GET", path+"/units", nil, 200).Decode(t, &units)
		if len(units.Items) != 1 {
			t.Errorf("%d units, want 1", len(units.Items))
		}
		e.ok("POST", path+"/doors", map[string]any{"name": "4B door", "type": "residence", "connectivity": "online", "unit_id": unit.ID}, 201)
		t.Run("assigning a unit grants nothing", func(t *testing.T) {
			versions := func() (v int64) {
				if err := st.DB().QueryRow(`SELECT COALESCE(SUM(version), 0) FROM doors`).Scan(&v); err != nil {
					t.Fatal(err)
				}
				return v
			}
			before := versions()
			var u person
			e.ok("POST", path+"/people", map[string]any{"first_name": "Uma", "last_name": "Unit", "email": "uma@example.com", "access": "app", "unit_id": unit.ID}, 201).Decode(t, &u)
			if u.UnitID != unit.ID || len(u.Keys) != 0 || u.Doorcode != "" {
				t.Errorf("person with a unit: %+v, want the unit and no keys or code", u)
			}
			if after := versions(); after != before {
				t.Errorf("door versions %d → %d: a unit alone changed doors", before, after)
			}
		})

		type key struct {
			ID, Name string
			Doors    []struct {
				DoorID    string `json:"door_id"`
				Doorcodes bool
				Schedule  []struct {
					Days       []string
					Start, End string
				}
			}
		}
		var k key
		e.ok("POST", path+"/keys", map[string]any{"name": "Day", "doors": []map[string]any{{"door_id": door.ID, "doorcodes": true,
			"schedule": []map[string]any{{"days": []string{"mon", "sat"}, "start": "08:00", "end": "24:00"}}}}}, 201).Decode(t, &k)
		if len(k.Doors) != 1 || !k.Doors[0].Doorcodes || len(k.Doors[0].Schedule) != 1 || k.Doors[0].Schedule[0].End != "24:00" {
			t.Errorf("key %+v", k)
		}
		var got key
		e.ok("GET", path+"/keys/"+k.ID, nil, 200).Decode(t, &got)
		if got.Name != "Day" {
			t.Errorf("GET key %+v", got)
		}
		var renamed key
		e.ok("PATCH", path+"/keys/"+k.ID, map[string]any{"name": "Daytime"}, 200).Decode(t, &renamed)
		if renamed.Name != "Daytime" || len(renamed.Doors) != 1 || len(renamed.Doors[0].Schedule) != 1 {
			t.Errorf("renamed key kept doors? %+v", renamed)
		}
		var widened key
		e.ok("PATCH", path+"/keys/"+k.ID, map[string]any{"doors": []map[string]any{{"door_id": door.ID}}}, 200).Decode(t, &widened)
		if widened.Name != "Daytime" || len(widened.Doors[0].Schedule) != 0 || widened.Doors[0].Doorcodes {
			t.Errorf("doors replaced? %+v", widened)
		}
		var keys list[key]
		e.ok("GET", path+"/keys", nil, 200).Decode(t, &keys)
		if len(keys.Items) != 1 {
			t.Errorf("%d keys, want 1", len(keys.Items))
		}

		t.Run("deleting a key takes it from its holders", func(t *testing.T) {
			var holder person
			e.ok("POST", path+"/people", map[string]any{"first_name": "Kim", "last_name": "Holder", "email": "kim@example.com", "access": "app",
				"keys": []map[string]any{{"key_id": k.ID}}}, 201).Decode(t, &holder)
			var tasks list[struct {
				DoorID       string  `json:"door_id"`
				LastSyncedAt *string `json:"last_synced_at"`
				Connection   string  `json:"connection"`
			}]
			e.ok("GET", path+"/sync-tasks", nil, 200).Decode(t, &tasks)
			if len(tasks.Items) != 1 || tasks.Items[0].DoorID != door.ID || tasks.Items[0].LastSyncedAt != nil || tasks.Items[0].Connection != "bluetooth" {
				t.Errorf("sync tasks %+v, want the never-synced offline Main door", tasks.Items)
			}
			e.ok("DELETE", path+"/keys/"+k.ID, nil, 204)
			e.ok("GET", path+"/keys/"+k.ID, nil, 404)
			var after person
			e.ok("GET", path+"/people/"+holder.ID, nil, 200).Decode(t, &after)
			if len(after.Keys) != 0 {
				t.Errorf("holder still has %v", after.keyIDs())
			}
		})

		t.Run("managers", func(t *testing.T) {
			type manager struct {
				ID, Email, Role string
				HasPassword     bool `json:"has_password"`
				Properties      []struct {
					PropertyID    string `json:"property_id"`
					KeyManagement string `json:"key_management"`
					Keys          []string
				}
			}
			var m manager
			e.ok("POST", "/api/v1/managers", map[string]any{"email": "Mia@Example.com", "first_name": "Mia", "last_name": "Manager",
				"role": "property_manager", "password": storetest.PMPassword}, 201).Decode(t, &m)
			if m.Email != "mia@example.com" || !m.HasPassword || m.Role != "property_manager" || len(m.Properties) != 0 {
				t.Errorf("manager %+v", m)
			}
			e.ok("PUT", "/api/v1/managers/"+m.ID+"/properties/"+e.F.Property.ID, map[string]any{"key_management": "specific",
				"keys": []string{e.F.Home.ID}, "device_management": true}, 200).Decode(t, &m)
			if len(m.Properties) != 1 || m.Properties[0].KeyManagement != "specific" || len(m.Properties[0].Keys) != 1 {
				t.Errorf("assignment %+v", m.Properties)
			}
			var again manager
			e.ok("GET", "/api/v1/managers/"+m.ID, nil, 200).Decode(t, &again)
			if again.ID != m.ID || len(again.Properties) != 1 {
				t.Errorf("GET manager %+v", again)
			}
			var ms list[manager]
			e.ok("GET", "/api/v1/managers", nil, 200).Decode(t, &ms)
			if len(ms.Items) != 2 {
				t.Errorf("%d managers, want 2", len(ms.Items))
			}
			var me struct {
				ID, Name, Role string
				Properties     []map[string]any
			}
			token := storetest.Token(t, st, "mia@example.com")
			e.want(e.Do("GET", "/api/v1/me", token, nil), 200).Decode(t, &me)
			if me.ID != m.ID || me.Role != "property_manager" || len(me.Properties) != 1 || me.Name != "Mia Manager" {
				t.Errorf("me %+v", me)
			}
			evs := e.activity("?kind=manager.")
			if !hasKind(evs, "manager.assigned", "") {
				t.Errorf("no manager.assigned event: %+v", evs)
			}
		})

		t.Run("openapi document", func(t *testing.T) {
			res := e.Do("GET", "/api/v1/openapi.json", "", nil)
			e.want(res, 200)
			var doc struct {
				Paths map[string]any
			}
			if err := json.Unmarshal(res.Body, &doc); err != nil {
				t.Fatal(err)
			}
			if _, ok := doc.Paths["/api/v1/properties/{p}/people/{id}/revoke"]; !ok {
				t.Error("served document lacks the revoke path")
			}
		})

		t.Run("unknown endpoint answers in the error shape", func(t *testing.T) {
			res := e.Do("GET", "/api/v1/nothing-here", e.PMToken, nil)
			if res.Status != 404 || res.ErrorCode() != "not_found" {
				t.Errorf("%d %s", res.Status, res.Body)
			}
		})

		t.Run("known path with another method answers 405 with Allow", func(t *testing.T) {
			res := e.Do("PUT", "/api/v1/properties", e.PMToken, map[string]string{"name": "x"})
			if res.Status != 405 || res.ErrorCode() != "method_not_allowed" || res.Header.Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("%d Allow=%q %s", res.Status, res.Header.Get("Allow"), res.Body)
			}
			res = e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people/x/keys/y", e.PMToken, nil)
			if res.Status != 405 || res.Header.Get("Allow") != "PUT, DELETE" {
				t.Errorf("%d Allow=%q %s", res.Status, res.Header.Get("Allow"), res.Body)
			}
		})
	})
}
