package api_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestSpecificSeesTheDoorsOfHisKeys: a "specific" manager sees exactly the
// doors of his keys in Activity, the exposure view and the reports (issue
// 12 item 2). His list holds the Building key (Lobby, Gym), not the Home
// key (Unit 101). Ana holds Building, Ben holds Home; both are revoked
// while the offline locks of Gym and Unit 101 have not synced. Device
// Management shows every door's sync state and what goes with it, so a
// specific manager who also has it sees every door there (not in reports).
func TestSpecificSeesTheDoorsOfHisKeys(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f, ctx := e.F, context.Background()
		pid := f.Property.ID
		kr := storetest.Keyring(t, st)
		storetest.ProvisionLocks(t, st, kr, f.PM, pid, f.Gym.ID, f.Unit101.ID)
		tokens := map[string]string{"portfolio": e.PMToken}
		tokens["limited"] = e.managerToken("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited})
		tokens["specific"] = e.managerToken("specific@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{f.Building.ID}})
		tokens["specific_devices"] = e.managerToken("specdev@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{f.Building.ID}, DeviceManagement: true})
		tokens["device_only"] = e.managerToken("device@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		tokens["none"] = e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone})

		ana := e.invite(map[string]any{"first_name": "Ana", "last_name": "Buildingkey", "email": "ana@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": f.Building.ID}}})
		ben := e.invite(map[string]any{"first_name": "Ben", "last_name": "Homekey", "email": "ben@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": f.Home.ID}}})
		// A phone credential each, issued before the revocation (as a
		// refresh of their app would record it): what the never-synced
		// locks would still take from them.
		issued := st.Now().Add(-time.Hour)
		for i, c := range [][2]string{{ana.ID, f.Gym.ID}, {ben.ID, f.Unit101.ID}} {
			q := `INSERT INTO issued_credentials (serial, person_id, property_id, device_id, issued_at, not_before, not_after, door_ids) VALUES (?,?,?,?,?,?,?,?)`
			if st.Dialect() == store.Postgres {
				q = `INSERT INTO issued_credentials (serial, person_id, property_id, device_id, issued_at, not_before, not_after, door_ids) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`
			}
			if _, err := st.DB().ExecContext(ctx, q, 700+i, c[0], pid, "dev_test", issued.UnixMicro(), issued.UnixMicro(), issued.Add(24*time.Hour).UnixMicro(), `["`+c[1]+`"]`); err != nil {
				t.Fatal(err)
			}
		}
		e.ok("POST", e.prop+"/people/"+ana.ID+"/revoke", nil, 200)
		e.ok("POST", e.prop+"/people/"+ben.ID+"/revoke", nil, 200)
		// Actions on people with no keys: no door. The specific manager
		// sees his own, not the Portfolio Manager's.
		dan := e.invite(map[string]any{"first_name": "Dan", "last_name": "Nokeys", "email": "dan@example.com", "access": "app"})
		eve := e.invite(map[string]any{"first_name": "Eve", "last_name": "Nokeys", "email": "eve@example.com", "access": "app"})
		e.want(e.Do("PATCH", e.prop+"/people/"+dan.ID, tokens["specific"], map[string]any{"phone": "555 0101"}), 200)
		e.ok("PATCH", e.prop+"/people/"+eve.ID, map[string]any{"phone": "555 0102"}, 200)

		activity := func(role, query string) []event {
			t.Helper()
			var l list[event]
			e.want(e.Do("GET", e.prop+"/activity"+query, tokens[role], nil), 200).Decode(t, &l)
			return l.Items
		}
		people := func(evs []event) map[string]bool {
			out := map[string]bool{}
			for _, ev := range evs {
				out[ev.PersonID] = true
			}
			return out
		}
		t.Run("Activity", func(t *testing.T) {
			for role, want := range map[string]map[string]bool{
				"portfolio":        {ana.ID: true, ben.ID: true, dan.ID: true, eve.ID: true},
				"limited":          {ana.ID: true, ben.ID: true, dan.ID: true, eve.ID: true},
				"specific":         {ana.ID: true, ben.ID: false, dan.ID: true, eve.ID: false},
				"specific_devices": {ana.ID: true, ben.ID: true, dan.ID: true, eve.ID: true},
				"device_only":      {ana.ID: true, ben.ID: true, dan.ID: true, eve.ID: true},
			} {
				got := people(activity(role, "?limit=200"))
				for id, w := range want {
					if got[id] != w {
						t.Errorf("as %s: entries of %s shown = %v, want %v", role, id, got[id], w)
					}
				}
			}
			if evs := activity("specific", "?person_id="+ben.ID); len(evs) != 0 {
				t.Errorf("specific filtered on Ben sees %+v", evs)
			}
			if evs := activity("specific", "?door_id="+f.Unit101.ID); len(evs) != 0 {
				t.Errorf("specific filtered on Unit 101 sees %+v", evs)
			}
			if evs := activity("specific", "?door_id="+f.Gym.ID); len(evs) == 0 {
				t.Error("specific sees nothing at the Gym, a door of his key")
			}
			e.want(e.Do("GET", e.prop+"/activity", tokens["none"], nil), 403)
		})

		t.Run("Exposure", func(t *testing.T) {
			for role, want := range map[string]map[string]bool{
				"portfolio":        {f.Gym.ID: true, f.Unit101.ID: true},
				"limited":          {f.Gym.ID: true, f.Unit101.ID: true},
				"specific":         {f.Gym.ID: true, f.Unit101.ID: false},
				"specific_devices": {f.Gym.ID: true, f.Unit101.ID: true},
			} {
				var l list[store.Exposure]
				e.want(e.Do("GET", e.prop+"/exposure", tokens[role], nil), 200).Decode(t, &l)
				got := map[string]bool{}
				for _, x := range l.Items {
					got[x.DoorID] = true
					if role == "specific" && x.PersonID == ben.ID {
						t.Errorf("specific sees Ben's exposure at %s", x.DoorName)
					}
				}
				for d, w := range want {
					if got[d] != w {
						t.Errorf("as %s: exposure at %s shown = %v, want %v (%+v)", role, d, got[d], w, l.Items)
					}
				}
			}
			e.want(e.Do("GET", e.prop+"/exposure", tokens["none"], nil), 403)
		})

		t.Run("Reports", func(t *testing.T) {
			// What a report of the whole property holds that is Ben's or
			// Unit 101's, and what the specific manager's must still hold.
			outside := map[string][]string{
				"admin-actions":   {"Homekey"},
				"assigned-access": {"ben@example.com", f.Home.Name},
				"keys":            {f.Home.Name, f.Unit101.Name},
				"devices":         {f.Unit101.Name},
				"people-keys":     {"ben@example.com", f.Home.Name},
			}
			inside := map[string][]string{
				"admin-actions":   {"Buildingkey"},
				"assigned-access": {"First Name"},
				"keys":            {f.Building.Name, f.Gym.Name},
				"devices":         {f.Gym.Name, f.Lobby.Name},
				"people-keys":     {f.Building.Name},
			}
			// Ana holds Building again so she is on the people reports.
			e.ok("PUT", e.prop+"/people/"+ana.ID+"/keys/"+f.Building.ID, map[string]any{"may_share": false}, 200)
			e.ok("PUT", e.prop+"/people/"+ben.ID+"/keys/"+f.Home.ID, map[string]any{"may_share": false}, 200)
			inside["assigned-access"] = append(inside["assigned-access"], "ana@example.com")
			inside["people-keys"] = append(inside["people-keys"], "ana@example.com")
			for _, name := range reports {
				whole := string(e.ok("GET", e.prop+"/reports/"+name+".csv", nil, 200).Body)
				limited := string(e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", tokens["limited"], nil), 200).Body)
				mine := string(e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", tokens["specific"], nil), 200).Body)
				if limited != whole {
					t.Errorf("%s: limited's report differs from the whole property's", name)
				}
				for _, s := range outside[name] {
					if !strings.Contains(whole, s) {
						t.Errorf("%s: the whole report lacks %q (the test proves nothing):\n%s", name, s, whole)
					}
					if strings.Contains(mine, s) {
						t.Errorf("%s: specific's report shows %q:\n%s", name, s, mine)
					}
				}
				for _, s := range inside[name] {
					if !strings.Contains(mine, s) {
						t.Errorf("%s: specific's report lacks %q:\n%s", name, s, mine)
					}
				}
				e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", tokens["none"], nil), 403)
				e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", tokens["device_only"], nil), 403)
			}
		})
	})
}
