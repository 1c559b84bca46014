package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// fieldRoles are the Key Management levels the field matrix sends as.
var fieldRoles = [...]string{"none", "limited", "specific", "full", "portfolio"}

// TestManagerChangesOnlyWhatHeCouldCreate sends every write endpoint on
// people and keys, one field at a time, as every Key Management level,
// against people holding different keys, and proves the rule of issue 12:
// a manager can change nothing he could not have created himself. The
// "specific" manager's list holds the Building key, not the Home key. A
// change he could have made from scratch (a person with no keys or only
// listed keys, a guest on a listed key) goes through and is visible; any
// other is refused with 403 and writes nothing — no row, no door
// version, no field of the person.
func TestManagerChangesOnlyWhatHeCouldCreate(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f, ctx := e.F, context.Background()
		pid := f.Property.ID
		kr := storetest.Keyring(t, st)
		tokens := map[string]string{"portfolio": e.PMToken}
		tokens["full"] = e.managerToken("full@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementFull})
		tokens["limited"] = e.managerToken("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited})
		tokens["specific"] = e.managerToken("specific@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementSpecific, Keys: []string{f.Building.ID}})
		tokens["none"] = e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, DeviceManagement: true, CardActivation: true})
		unit, err := st.CreateUnit(ctx, f.PM, pid, domain.UnitInput{Name: "Unit 101"})
		if err != nil {
			t.Fatal(err)
		}

		n, codeGuests := 0, 0
		uniq := func() string { n++; return fmt.Sprint(n) }
		invite := func(in domain.InviteInput) domain.PersonView {
			t.Helper()
			in.FirstName, in.LastName, in.Email = "P", "N"+uniq(), "p"+uniq()+"@example.com"
			if in.Access == "" {
				in.Access = domain.AccessApp
			}
			p, err := st.Invite(ctx, f.PM, pid, in)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		keys := func(ids ...string) []domain.GrantInput {
			out := []domain.GrantInput{}
			for _, id := range ids {
				out = append(out, domain.GrantInput{KeyID: id, MayShare: true})
			}
			return out
		}
		// targets are the people a change is tried on; listed says whether
		// the specific manager could have created them as they are.
		type target struct {
			name   string
			listed bool
			make   func() string
		}
		targets := []target{
			{"no keys", true, func() string { return invite(domain.InviteInput{}).ID }},
			{"listed key", true, func() string { return invite(domain.InviteInput{Keys: keys(f.Building.ID)}).ID }},
			{"unlisted key", false, func() string { return invite(domain.InviteInput{Keys: keys(f.Home.ID)}).ID }},
			{"listed and unlisted keys", false, func() string { return invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)}).ID }},
			// A host with only the listed key whose guest... holds a subset:
			// the host's record stays within the list.
			{"app guest on listed key of a host with both", true, func() string {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)})
				return invite(domain.InviteInput{InvitedBy: h.ID, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}}).ID
			}},
			{"app guest on unlisted key", false, func() string {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)})
				return invite(domain.InviteInput{InvitedBy: h.ID, Keys: []domain.GrantInput{{KeyID: f.Home.ID}}}).ID
			}},
			// A code guest holds no grant: the key of their code counts.
			{"code guest on unlisted key", false, func() string {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID), Resident: true})
				// A key has 20 day codes a day: spread the guests over days.
				codeGuests++
				day := st.Now().In(f.Property.Location()).AddDate(0, 0, codeGuests/10).Format("2006-01-02")
				g, err := st.InviteGuest(ctx, kr, store.Resident{Email: h.Email, People: []store.ResidentPerson{{Person: h.Person}}},
					store.GuestInput{Kind: domain.GuestDayCode, FirstName: "Gus", LastName: "G" + uniq(), Email: "g" + uniq() + "@example.com", Keys: []string{f.Home.ID}, Day: day})
				if err != nil {
					t.Fatal(err)
				}
				return g.ID
			}},
			{"host whose guest holds the unlisted key", false, func() string {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)})
				invite(domain.InviteInput{InvitedBy: h.ID, Keys: []domain.GrantInput{{KeyID: f.Home.ID}}})
				return h.ID
			}},
		}
		P := "/api/v1/properties/" + pid
		now := st.Now()
		// Person fields: the body of a PATCH and how to see it applied.
		type field struct {
			name      string
			body      func() map[string]any
			check     func(p person) bool
			codeGuest bool // a code guest may change it too (their window is the day of their code)
		}
		fields := []field{
			{"first_name", func() map[string]any { return map[string]any{"first_name": "Changed"} }, func(p person) bool { return p.FirstName == "Changed" }, true},
			{"last_name", func() map[string]any { return map[string]any{"last_name": "Changed"} }, func(p person) bool { return p.LastName == "Changed" }, true},
			{"email", func() map[string]any { return map[string]any{"email": "taken-over-" + uniq() + "@example.com"} }, func(p person) bool { return strings.HasPrefix(p.Email, "taken-over-") }, true},
			{"phone", func() map[string]any { return map[string]any{"phone": "555 0199"} }, func(p person) bool { return p.Phone == "555 0199" }, true},
			{"unit_id", func() map[string]any { return map[string]any{"unit_id": unit.ID} }, func(p person) bool { return p.UnitID == unit.ID }, true},
			{"resident", func() map[string]any { return map[string]any{"resident": true} }, func(p person) bool { return p.Resident }, true},
			{"starts_at", func() map[string]any { return map[string]any{"starts_at": ts(now.Add(time.Hour))} }, func(p person) bool { return p.StartsAt.Equal(now.Add(time.Hour).Truncate(time.Microsecond)) }, false},
			{"expires_at", func() map[string]any { return map[string]any{"expires_at": ts(now.Add(48 * time.Hour))} }, func(p person) bool {
				return p.ExpiresAt != nil && p.ExpiresAt.Equal(now.Add(48*time.Hour).Truncate(time.Microsecond))
			}, false},
		}
		snapshot := func(id string) string {
			t.Helper()
			res := e.Do("GET", P+"/people/"+id+"?", e.PMToken, nil)
			if res.Status != 200 {
				return fmt.Sprint(res.Status)
			}
			return string(res.Body)
		}
		// try sends one request as role and checks the outcome: allowed →
		// wantOK (and applied() when given); refused → 403 and nothing
		// written.
		try := func(t *testing.T, role string, allowed bool, wantOK int, method, path string, body any, idForSnapshot string, applied func() bool) {
			t.Helper()
			before, snap := e.counts(), ""
			if idForSnapshot != "" {
				snap = snapshot(idForSnapshot)
			}
			res := e.Do(method, path, tokens[role], body)
			if !allowed {
				if res.Status != 403 {
					t.Errorf("as %s: %s %s → %d, want 403: %s", role, method, path, res.Status, res.Body)
					return
				}
				if after := e.counts(); after != before {
					t.Errorf("as %s: refused %s %s wrote:\nbefore %s\nafter  %s", role, method, path, before, after)
				}
				if idForSnapshot != "" {
					if after := snapshot(idForSnapshot); after != snap {
						t.Errorf("as %s: refused %s %s changed the person:\nbefore %s\nafter  %s", role, method, path, snap, after)
					}
				}
				return
			}
			if res.Status != wantOK {
				t.Errorf("as %s: %s %s → %d, want %d: %s", role, method, path, res.Status, wantOK, res.Body)
				return
			}
			if applied != nil && !applied() {
				t.Errorf("as %s: %s %s answered %d but the change is not there", role, method, path, res.Status)
			}
		}
		// may says whether role may change a target of the given kind.
		may := func(role string, listed bool) bool {
			switch role {
			case "none":
				return false
			case "specific":
				return listed
			}
			return true
		}

		for _, tg := range targets {
			for _, fd := range fields {
				if tg.name == "code guest on unlisted key" && !fd.codeGuest {
					continue
				}
				t.Run("PATCH person/"+tg.name+"/"+fd.name, func(t *testing.T) {
					for _, role := range fieldRoles {
						id := tg.make()
						try(t, role, may(role, tg.listed), 200, "PATCH", P+"/people/"+id, fd.body(), id, func() bool { return fd.check(e.person(id)) })
					}
				})
			}
			t.Run("POST revoke/"+tg.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					id := tg.make()
					try(t, role, may(role, tg.listed), 200, "POST", P+"/people/"+id+"/revoke", nil, id, func() bool { return e.person(id).Status == "revoked" })
				}
			})
			// Delete Person removes the record: full Key Management only.
			t.Run("DELETE person/"+tg.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					id := tg.make()
					try(t, role, role == "full" || role == "portfolio", 204, "DELETE", P+"/people/"+id, nil, id, func() bool {
						return e.Do("GET", P+"/people/"+id, e.PMToken, nil).Status == 404
					})
				}
			})
		}

		// One key of a person: give (each field), change, take. A listed
		// key may be handled on anyone; an unlisted one by no specific.
		grantFields := []struct {
			name string
			body map[string]any
		}{
			{"may_share", map[string]any{"may_share": true}},
			{"starts_at", map[string]any{"starts_at": ts(now.Add(2 * time.Hour))}},
			{"expires_at", map[string]any{"expires_at": ts(now.Add(72 * time.Hour))}},
		}
		for _, k := range []struct {
			name   string
			id     string
			listed bool
		}{{"listed", f.Building.ID, true}, {"unlisted", f.Home.ID, false}} {
			for _, gf := range grantFields {
				t.Run("PUT person key/"+k.name+"/new/"+gf.name, func(t *testing.T) {
					for _, role := range fieldRoles {
						id := invite(domain.InviteInput{}).ID
						try(t, role, may(role, k.listed), 200, "PUT", P+"/people/"+id+"/keys/"+k.id, gf.body, id, func() bool { return slices.Contains(e.person(id).keyIDs(), k.id) })
					}
				})
				t.Run("PUT person key/"+k.name+"/held/"+gf.name, func(t *testing.T) {
					for _, role := range fieldRoles {
						id := invite(domain.InviteInput{Keys: []domain.GrantInput{{KeyID: k.id}}}).ID
						try(t, role, may(role, k.listed), 200, "PUT", P+"/people/"+id+"/keys/"+k.id, gf.body, id, nil)
					}
				})
			}
			t.Run("DELETE person key/"+k.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					id := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)}).ID
					try(t, role, may(role, k.listed), 200, "DELETE", P+"/people/"+id+"/keys/"+k.id, nil, id, func() bool { return !slices.Contains(e.person(id).keyIDs(), k.id) })
				}
			})
		}

		// A CSV import edits existing people through the same use case:
		// a row a manager could not have made himself is refused, the
		// others applied.
		for _, tg := range []struct {
			name   string
			listed bool
			keys   []string
		}{{"listed key", true, []string{f.Building.ID}}, {"unlisted key", false, []string{f.Home.ID}}} {
			t.Run("POST imports/edit phone of person with "+tg.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					p := invite(domain.InviteInput{Keys: keys(tg.keys...)})
					body := "First Name,Last Name,Email,Phone\n" + p.FirstName + "," + p.LastName + "," + p.Email + ",555 0123\n"
					res := e.DoRaw("POST", P+"/imports", tokens[role], "text/csv", []byte(body))
					if role == "none" {
						if res.Status != 403 {
							t.Errorf("as none: import %d, want 403", res.Status)
						}
						continue
					}
					var j importJob
					e.want(res, 202).Decode(t, &j)
					e.runImports()
					e.ok("GET", P+"/imports/"+j.ID, nil, 200).Decode(t, &j)
					got := e.person(p.ID).Phone
					if may(role, tg.listed) {
						if got != "555 0123" || j.Counts.Changed != 1 {
							t.Errorf("as %s: phone %q after %s, want changed", role, got, j.summary())
						}
					} else if got != "" || j.Counts.Refused != 1 {
						t.Errorf("as %s: phone %q after %s, want the row refused and nothing changed", role, got, j.summary())
					}
				}
			})
		}

		// Invite: what the invitee gets is what the manager gives.
		inviteBodies := []struct {
			name   string
			listed bool
			body   func() map[string]any
		}{
			{"no keys", true, func() map[string]any { return map[string]any{} }},
			{"listed key", true, func() map[string]any {
				return map[string]any{"keys": []map[string]any{{"key_id": f.Building.ID, "may_share": true}}}
			}},
			{"unlisted key", false, func() map[string]any { return map[string]any{"keys": []map[string]any{{"key_id": f.Home.ID}}} }},
			{"guest on unlisted key", false, func() map[string]any {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)})
				return map[string]any{"invited_by": h.ID, "keys": []map[string]any{{"key_id": f.Home.ID}}}
			}},
			{"guest on listed key", true, func() map[string]any {
				h := invite(domain.InviteInput{Keys: keys(f.Building.ID, f.Home.ID)})
				return map[string]any{"invited_by": h.ID, "keys": []map[string]any{{"key_id": f.Building.ID}}}
			}},
		}
		for _, ib := range inviteBodies {
			t.Run("POST people/"+ib.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					body := ib.body()
					email := "inv" + uniq() + "@example.com"
					body["first_name"], body["last_name"], body["email"], body["access"] = "New", "Person", email, "app"
					try(t, role, may(role, ib.listed), 201, "POST", P+"/people", body, "", func() bool {
						return len(e.people("?q="+email)) == 1
					})
				}
			})
		}

		// Keys themselves (name, doors, doorcodes, schedule): full Key
		// Management; no one else could have created them.
		keyFields := []struct {
			name string
			body map[string]any
		}{
			{"name", map[string]any{"name": "Renamed"}}, // made unique per request below
			{"doors", map[string]any{"doors": []map[string]any{{"door_id": f.Lobby.ID}, {"door_id": f.Unit101.ID}}}},
			{"doorcodes", map[string]any{"doors": []map[string]any{{"door_id": f.Gym.ID, "doorcodes": true}}}},
			{"schedule", map[string]any{"doors": []map[string]any{{"door_id": f.Gym.ID, "schedule": []map[string]any{{"days": []string{"mon"}, "start": "08:00", "end": "18:00"}}}}}},
		}
		freshKey := func() string {
			// Listed for the specific manager would need a new assignment;
			// the Building key stands for a listed one below.
			k, err := st.CreateKey(ctx, f.PM, pid, domain.KeyInput{Name: "K" + uniq(), Doors: []domain.KeyDoor{{DoorID: f.Gym.ID}}})
			if err != nil {
				t.Fatal(err)
			}
			return k.ID
		}
		full := func(role string) bool { return role == "full" || role == "portfolio" }
		for _, kf := range keyFields {
			t.Run("PATCH key/"+kf.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					body := map[string]any{}
					for k, v := range kf.body {
						body[k] = v
					}
					if _, ok := body["name"]; ok {
						body["name"] = "Renamed " + uniq()
					}
					try(t, role, full(role), 200, "PATCH", P+"/keys/"+freshKey(), body, "", nil)
				}
			})
			// Even the key in his list: handing it out is not shaping it.
			t.Run("PATCH listed key/"+kf.name, func(t *testing.T) {
				for _, role := range []string{"none", "limited", "specific"} {
					try(t, role, false, 0, "PATCH", P+"/keys/"+f.Building.ID, kf.body, "", nil)
				}
			})
			t.Run("POST key/"+kf.name, func(t *testing.T) {
				for _, role := range fieldRoles {
					body := map[string]any{"name": "New " + uniq(), "doors": []map[string]any{{"door_id": f.Gym.ID}}}
					for k, v := range kf.body {
						body[k] = v
					}
					body["name"] = "New " + uniq()
					try(t, role, full(role), 201, "POST", P+"/keys", body, "", nil)
				}
			})
		}
		t.Run("DELETE key", func(t *testing.T) {
			for _, role := range fieldRoles {
				try(t, role, full(role), 204, "DELETE", P+"/keys/"+freshKey(), nil, "", nil)
			}
		})
	})
}
