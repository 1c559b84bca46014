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

// TestBadInput sends every endpoint input it must refuse. Each case wants
// the status, an error naming the field (error.field, or the message when
// the problem is the body as a whole), and no write at all.
func TestBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		f, ctx := e.F, context.Background()
		now := st.Now()
		other, err := st.CreateProperty(ctx, f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		otherDoor, err := st.CreateDoor(ctx, f.PM, other.ID, domain.DoorInput{Name: "Oak Lobby", Type: domain.DoorEntrance, Connectivity: domain.Online})
		if err != nil {
			t.Fatal(err)
		}
		otherKey, err := st.CreateKey(ctx, f.PM, other.ID, domain.KeyInput{Name: "Oak", Doors: []domain.KeyDoor{{DoorID: otherDoor.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		gymOnly, err := st.CreateKey(ctx, f.PM, f.Property.ID, domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: f.Gym.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		alice := e.invite(map[string]any{"first_name": "Alice", "last_name": "Archer", "email": "alice@example.com", "access": "app",
			"expires_at": ts(now.Add(24 * time.Hour)), "keys": []map[string]any{{"key_id": f.Building.ID, "may_share": true}}})
		bob := e.invite(map[string]any{"first_name": "Bob", "last_name": "Baker", "email": "bob@example.com", "access": "app"})
		gina := e.invite(map[string]any{"first_name": "Gina", "last_name": "Guest", "email": "gina@example.com", "access": "app",
			"invited_by": alice.ID, "expires_at": ts(now.Add(time.Hour)), "keys": []map[string]any{{"key_id": f.Building.ID}}})
		var mgr struct{ ID string }
		e.ok("POST", "/api/v1/managers", map[string]any{"email": "mia@example.com", "first_name": "Mia", "last_name": "M", "role": "property_manager"}, 201).Decode(t, &mgr)

		valid := func(over map[string]any) map[string]any {
			b := map[string]any{"first_name": "New", "last_name": "Person", "email": "new@example.com", "access": "app",
				"keys": []map[string]any{{"key_id": f.Building.ID}}}
			for k, v := range over {
				if v == nil {
					delete(b, k)
					continue
				}
				b[k] = v
			}
			return b
		}
		long := strings.Repeat("x", 101)
		people := e.prop + "/people"
		aliceP := people + "/" + alice.ID
		type tc struct {
			name, method, path string
			body               any
			status             int
			field              string // error.field, or
			msg                string // a substring of error.message
		}
		cases := []tc{
			// Bodies that are not one JSON object of known fields.
			{"invite malformed JSON", "POST", people, `{"first_name": "A",`, 400, "", "malformed JSON"},
			{"invite broken JSON", "POST", people, `{"first_name" "A"}`, 400, "", "malformed JSON"},
			{"invite unknown field", "POST", people, `{"first_name":"A","nickname":"x"}`, 400, "", "nickname"},
			{"invite empty body", "POST", people, ``, 400, "", "empty"},
			{"invite array body", "POST", people, `[]`, 400, "", "JSON object"},
			{"invite two objects", "POST", people, `{}{}`, 400, "", "exactly one"},
			{"invite wrong type", "POST", people, `{"resident":"yes"}`, 400, "resident", "boolean"},
			{"invite keys not an array", "POST", people, `{"keys":{}}`, 400, "keys", "array"},
			{"invite time not RFC 3339", "POST", people, valid(map[string]any{"starts_at": "tomorrow"}), 400, "starts_at", "RFC 3339"},
			{"invite expiry not a time", "POST", people, valid(map[string]any{"expires_at": 12}), 400, "expires_at", ""},
			{"invite oversized body", "POST", people, `{"first_name":"` + strings.Repeat("a", 1<<20) + `"}`, 400, "", "larger than"},
			// Field rules.
			{"invite no first name", "POST", people, valid(map[string]any{"first_name": " "}), 400, "first_name", "required"},
			{"invite long last name", "POST", people, valid(map[string]any{"last_name": long}), 400, "last_name", "at most"},
			{"invite name with newline", "POST", people, valid(map[string]any{"first_name": "A\nB"}), 400, "first_name", "single line"},
			{"invite invalid email", "POST", people, valid(map[string]any{"email": "not-an-email"}), 400, "email", "valid email"},
			{"invite email without domain dot", "POST", people, valid(map[string]any{"email": "a@localhost"}), 400, "email", ""},
			{"invite email with display name", "POST", people, valid(map[string]any{"email": "Al <al@example.com>"}), 400, "email", ""},
			{"invite over-long email", "POST", people, valid(map[string]any{"email": strings.Repeat("a", 250) + "@example.com"}), 400, "email", "at most"},
			{"invite missing email", "POST", people, valid(map[string]any{"email": nil}), 400, "email", "required"},
			{"invite bad phone", "POST", people, valid(map[string]any{"phone": "call me"}), 400, "phone", ""},
			{"invite long phone", "POST", people, valid(map[string]any{"phone": strings.Repeat("1", 33)}), 400, "phone", ""},
			{"invite unknown access", "POST", people, valid(map[string]any{"access": "badge"}), 400, "access", ""},
			{"invite no access", "POST", people, valid(map[string]any{"access": nil}), 400, "access", "required"},
			{"invite expiry before start", "POST", people, valid(map[string]any{"starts_at": ts(now.Add(48 * time.Hour)), "expires_at": ts(now.Add(24 * time.Hour))}), 400, "expires_at", "after starts_at"},
			{"invite expiry equal start", "POST", people, valid(map[string]any{"starts_at": ts(now.Add(time.Hour)), "expires_at": ts(now.Add(time.Hour))}), 400, "expires_at", ""},
			{"invite key of another property", "POST", people, valid(map[string]any{"keys": []map[string]any{{"key_id": otherKey.ID}}}), 400, "keys", otherKey.ID},
			{"invite unknown key", "POST", people, valid(map[string]any{"keys": []map[string]any{{"key_id": "key_nope"}}}), 400, "keys", "key_nope"},
			{"invite key without id", "POST", people, valid(map[string]any{"keys": []map[string]any{{"may_share": true}}}), 400, "keys", "key_id"},
			{"invite key twice", "POST", people, valid(map[string]any{"keys": []map[string]any{{"key_id": f.Home.ID}, {"key_id": f.Home.ID}}}), 400, "keys", "twice"},
			{"invite doorcode person without doorcodes", "POST", people, valid(map[string]any{"access": "doorcode", "keys": []map[string]any{{"key_id": gymOnly.ID}}}), 400, "keys", "doorcode"},
			{"invite unknown unit", "POST", people, valid(map[string]any{"unit_id": "unt_nope"}), 400, "unit_id", ""},
			{"invite duplicate email", "POST", people, valid(map[string]any{"email": "alice@example.com"}), 409, "email", "already"},
			{"invite duplicate email other case", "POST", people, valid(map[string]any{"email": " ALICE@example.com "}), 409, "email", ""},
			{"invite guest of unknown host", "POST", people, valid(map[string]any{"invited_by": "per_nope"}), 400, "invited_by", ""},
			{"invite guest without keys", "POST", people, valid(map[string]any{"invited_by": alice.ID, "keys": []any{}, "expires_at": ts(now.Add(time.Hour))}), 400, "keys", ""},
			{"invite guest on a key the host lacks", "POST", people, valid(map[string]any{"invited_by": alice.ID, "keys": []map[string]any{{"key_id": f.Home.ID}}, "expires_at": ts(now.Add(time.Hour))}), 400, "keys", ""},
			{"invite guest without end, host ends", "POST", people, valid(map[string]any{"invited_by": alice.ID}), 400, "expires_at", ""},
			{"invite guest before host starts", "POST", people, valid(map[string]any{"invited_by": alice.ID, "starts_at": ts(now.Add(-time.Hour)), "expires_at": ts(now.Add(time.Hour))}), 400, "starts_at", ""},
			{"invite guest of a host who may not share", "POST", people, valid(map[string]any{"invited_by": bob.ID}), 400, "keys", ""},
			{"invite on unknown property", "POST", "/api/v1/properties/prp_nope/people", valid(nil), 404, "", "not found"},

			// Person edits.
			{"patch unknown person", "PATCH", people + "/per_nope", map[string]any{"phone": "1"}, 404, "", "not found"},
			{"patch malformed", "PATCH", aliceP, `{"phone":`, 400, "", "malformed"},
			{"patch unknown field", "PATCH", aliceP, map[string]any{"status": "active"}, 400, "", "status"},
			{"patch expiry before start", "PATCH", aliceP, map[string]any{"expires_at": ts(now.Add(-48 * time.Hour))}, 400, "expires_at", ""},
			{"patch expiry not a time", "PATCH", aliceP, map[string]any{"expires_at": "soon"}, 400, "expires_at", ""},
			{"patch start not a time", "PATCH", aliceP, map[string]any{"starts_at": "now"}, 400, "starts_at", ""},
			{"patch invalid email", "PATCH", aliceP, map[string]any{"email": "alice@"}, 400, "email", ""},
			{"patch email of another person", "PATCH", aliceP, map[string]any{"email": "BOB@example.com"}, 409, "email", ""},
			{"patch empty first name", "PATCH", aliceP, map[string]any{"first_name": ""}, 400, "first_name", ""},
			{"patch long name", "PATCH", aliceP, map[string]any{"last_name": long}, 400, "last_name", ""},
			{"patch unknown unit", "PATCH", aliceP, map[string]any{"unit_id": "unt_nope"}, 400, "unit_id", ""},
			{"delete unknown person", "DELETE", people + "/per_nope", nil, 404, "", ""},
			{"revoke unknown person", "POST", people + "/per_nope/revoke", nil, 404, "", ""},
			{"give key to unknown person", "PUT", people + "/per_nope/keys/" + f.Home.ID, nil, 404, "", ""},
			{"give unknown key", "PUT", aliceP + "/keys/key_nope", nil, 404, "", "key_nope"},
			{"give key of another property", "PUT", aliceP + "/keys/" + otherKey.ID, nil, 404, "", ""},
			{"give key expiry before start", "PUT", aliceP + "/keys/" + f.Home.ID, map[string]any{"starts_at": ts(now.Add(2 * time.Hour)), "expires_at": ts(now.Add(time.Hour))}, 400, "expires_at", ""},
			{"give key malformed", "PUT", aliceP + "/keys/" + f.Home.ID, `{"may_share":`, 400, "", "malformed"},
			{"give key unknown field", "PUT", aliceP + "/keys/" + f.Home.ID, map[string]any{"doorcodes": true}, 400, "", "doorcodes"},
			{"give a guest a key the host lacks", "PUT", people + "/" + gina.ID + "/keys/" + f.Home.ID, nil, 400, "keys", ""},
			{"take key not held", "DELETE", aliceP + "/keys/" + f.Home.ID, nil, 404, "", "does not hold"},
			{"take unknown key", "DELETE", aliceP + "/keys/key_nope", nil, 404, "", ""},

			// Lists.
			{"people bad cursor", "GET", people + "?cursor=!!!", nil, 400, "cursor", ""},
			{"people forged cursor", "GET", people + "?cursor=Zm9v", nil, 400, "cursor", ""},
			{"people bad include_expired", "GET", people + "?include_expired=maybe", nil, 400, "include_expired", ""},
			{"people zero limit", "GET", people + "?limit=0", nil, 400, "limit", ""},
			{"people text limit", "GET", people + "?limit=ten", nil, 400, "limit", ""},
			{"people long query", "GET", people + "?q=" + strings.Repeat("a", 201), nil, 400, "q", ""},
			{"activity bad cursor", "GET", e.prop + "/activity?cursor=Zm9v", nil, 400, "cursor", ""},
			{"activity bad since", "GET", e.prop + "/activity?since=yesterday", nil, 400, "since", ""},
			{"activity bad until", "GET", e.prop + "/activity?until=2026-13-01", nil, 400, "until", ""},
			{"activity negative limit", "GET", e.prop + "/activity?limit=-1", nil, 400, "limit", ""},
			{"activity unknown property", "GET", "/api/v1/properties/prp_nope/activity", nil, 404, "", ""},
			{"sync tasks unknown property", "GET", "/api/v1/properties/prp_nope/sync-tasks", nil, 404, "", ""},

			// Properties, doors, units, keys.
			{"property doorcode length 3", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "UTC", "doorcode_length": 3}, 400, "doorcode_length", "between 4 and 9"},
			{"property doorcode length 10", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "UTC", "doorcode_length": 10}, 400, "doorcode_length", ""},
			{"property unknown zone", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "Mars/Olympus"}, 400, "time_zone", ""},
			{"property Local zone", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "Local"}, 400, "time_zone", ""},
			{"property no zone", "POST", "/api/v1/properties", map[string]any{"name": "P"}, 400, "time_zone", ""},
			{"property no name", "POST", "/api/v1/properties", map[string]any{"time_zone": "UTC"}, 400, "name", ""},
			{"property long name", "POST", "/api/v1/properties", map[string]any{"name": long, "time_zone": "UTC"}, 400, "name", ""},
			{"property credential lifetime", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "UTC", "credential_lifetime_hours": 1000}, 400, "credential_lifetime_hours", ""},
			{"property unknown field", "POST", "/api/v1/properties", map[string]any{"name": "P", "time_zone": "UTC", "owner": "me"}, 400, "", "owner"},
			{"property length as string", "POST", "/api/v1/properties", `{"name":"P","time_zone":"UTC","doorcode_length":"7"}`, 400, "doorcode_length", "integer"},
			{"get unknown property", "GET", "/api/v1/properties/prp_nope", nil, 404, "", ""},
			{"patch unknown property", "PATCH", "/api/v1/properties/prp_nope", map[string]any{"name": "X"}, 404, "", ""},
			{"patch property length 10", "PATCH", e.prop, map[string]any{"doorcode_length": 10}, 400, "doorcode_length", ""},
			{"patch property bad zone", "PATCH", e.prop, map[string]any{"time_zone": "Nowhere"}, 400, "time_zone", ""},
			{"door unknown type", "POST", e.prop + "/doors", map[string]any{"name": "G", "type": "garage", "connectivity": "online"}, 400, "type", "garage"},
			{"door unknown connectivity", "POST", e.prop + "/doors", map[string]any{"name": "G", "type": "service", "connectivity": "wifi"}, 400, "connectivity", ""},
			{"door no name", "POST", e.prop + "/doors", map[string]any{"type": "service", "connectivity": "online"}, 400, "name", ""},
			{"door duplicate name", "POST", e.prop + "/doors", map[string]any{"name": "Lobby", "type": "service", "connectivity": "online"}, 409, "name", ""},
			{"door unknown unit", "POST", e.prop + "/doors", map[string]any{"name": "G", "type": "residence", "connectivity": "online", "unit_id": "unt_nope"}, 400, "unit_id", ""},
			{"doors of unknown property", "GET", "/api/v1/properties/prp_nope/doors", nil, 404, "", ""},
			{"unknown door", "GET", e.prop + "/doors/dor_nope", nil, 404, "", ""},
			{"door of another property", "GET", e.prop + "/doors/" + otherDoor.ID, nil, 404, "", ""},
			{"unit no name", "POST", e.prop + "/units", map[string]any{"name": ""}, 400, "name", ""},
			{"unit long name", "POST", e.prop + "/units", map[string]any{"name": long}, 400, "name", ""},
			{"units of unknown property", "GET", "/api/v1/properties/prp_nope/units", nil, 404, "", ""},
			{"key without doors", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []any{}}, 400, "doors", ""},
			{"key door of another property", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []map[string]any{{"door_id": otherDoor.ID}}}, 400, "doors", otherDoor.ID},
			{"key door twice", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []map[string]any{{"door_id": f.Gym.ID}, {"door_id": f.Gym.ID}}}, 400, "doors", "twice"},
			{"key bad weekday", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []map[string]any{{"door_id": f.Gym.ID, "schedule": []map[string]any{{"days": []string{"funday"}, "start": "08:00", "end": "09:00"}}}}}, 400, "doors.schedule[0].days", ""},
			{"key schedule ends before start", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []map[string]any{{"door_id": f.Gym.ID, "schedule": []map[string]any{{"days": []string{"mon"}, "start": "18:00", "end": "09:00"}}}}}, 400, "doors.schedule[0].end", ""},
			{"key schedule bad clock", "POST", e.prop + "/keys", map[string]any{"name": "K", "doors": []map[string]any{{"door_id": f.Gym.ID, "schedule": []map[string]any{{"days": []string{"mon"}, "start": "8am", "end": "09:00"}}}}}, 400, "doors.schedule[0].start", ""},
			{"key duplicate name", "POST", e.prop + "/keys", map[string]any{"name": "Building", "doors": []map[string]any{{"door_id": f.Gym.ID}}}, 409, "name", ""},
			{"key long name", "POST", e.prop + "/keys", map[string]any{"name": long, "doors": []map[string]any{{"door_id": f.Gym.ID}}}, 400, "name", ""},
			{"unknown key", "GET", e.prop + "/keys/key_nope", nil, 404, "", ""},
			{"key of another property", "GET", e.prop + "/keys/" + otherKey.ID, nil, 404, "", ""},
			{"patch key empty doors", "PATCH", e.prop + "/keys/" + f.Home.ID, map[string]any{"doors": []any{}}, 400, "doors", ""},
			{"patch key rename to taken name", "PATCH", e.prop + "/keys/" + f.Home.ID, map[string]any{"name": "Building"}, 409, "name", ""},
			{"patch unknown key", "PATCH", e.prop + "/keys/key_nope", map[string]any{"name": "X"}, 404, "", ""},
			{"delete unknown key", "DELETE", e.prop + "/keys/key_nope", nil, 404, "", ""},

			// Managers and auth.
			{"manager invalid email", "POST", "/api/v1/managers", map[string]any{"email": "mia", "first_name": "M", "last_name": "M", "role": "property_manager"}, 400, "email", ""},
			{"manager unknown role", "POST", "/api/v1/managers", map[string]any{"email": "z@example.com", "first_name": "M", "last_name": "M", "role": "admin"}, 400, "role", ""},
			{"manager short password", "POST", "/api/v1/managers", map[string]any{"email": "z@example.com", "first_name": "M", "last_name": "M", "role": "property_manager", "password": "short"}, 400, "password", ""},
			{"manager duplicate email", "POST", "/api/v1/managers", map[string]any{"email": "PM@example.com", "first_name": "M", "last_name": "M", "role": "property_manager"}, 409, "email", ""},
			{"manager unknown", "GET", "/api/v1/managers/mgr_nope", nil, 404, "", ""},
			{"assign unknown key management", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/" + f.Property.ID, map[string]any{"key_management": "most"}, 400, "key_management", ""},
			{"assign specific without keys", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/" + f.Property.ID, map[string]any{"key_management": "specific"}, 400, "keys", ""},
			{"assign keys without specific", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/" + f.Property.ID, map[string]any{"key_management": "full", "keys": []string{f.Home.ID}}, 400, "keys", ""},
			{"assign key of another property", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/" + f.Property.ID, map[string]any{"key_management": "specific", "keys": []string{otherKey.ID}}, 400, "keys", ""},
			{"assign property mismatch", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/" + f.Property.ID, map[string]any{"key_management": "full", "property_id": other.ID}, 400, "property_id", ""},
			{"assign unknown manager", "PUT", "/api/v1/managers/mgr_nope/properties/" + f.Property.ID, map[string]any{"key_management": "full"}, 404, "", ""},
			{"assign unknown property", "PUT", "/api/v1/managers/" + mgr.ID + "/properties/prp_nope", map[string]any{"key_management": "full"}, 404, "", ""},
			{"login malformed", "POST", "/api/v1/auth/login", `{"email":`, 400, "", "malformed"},
			{"login unknown field", "POST", "/api/v1/auth/login", map[string]any{"email": storetest.PMEmail, "password": "x", "otp": "1"}, 400, "", "otp"},
			{"login wrong password", "POST", "/api/v1/auth/login", map[string]any{"email": storetest.PMEmail, "password": "wrong password"}, 401, "", "wrong email or password"},
			{"login unknown email", "POST", "/api/v1/auth/login", map[string]any{"email": "who@example.com", "password": "wrong password"}, 401, "", "wrong email or password"},
			{"accept unknown invitation", "POST", "/api/v1/auth/accept-invitation", map[string]any{"token": "nope", "password": "long enough password"}, 401, "", ""},
			{"accept short password", "POST", "/api/v1/auth/accept-invitation", map[string]any{"token": "nope", "password": "short"}, 400, "password", ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.counts()
				res := e.Do(c.method, c.path, e.PMToken, c.body)
				if res.Status != c.status {
					t.Fatalf("status %d, want %d: %s", res.Status, c.status, res.Body)
				}
				var ae apiError
				res.Decode(t, &ae)
				if c.field != "" && ae.Error.Field != c.field {
					t.Errorf("error.field %q, want %q (%s)", ae.Error.Field, c.field, ae.Error.Message)
				}
				if c.field != "" && !strings.Contains(ae.Error.Message, c.field) {
					t.Errorf("message %q does not name %s", ae.Error.Message, c.field)
				}
				if c.msg != "" && !strings.Contains(ae.Error.Message, c.msg) {
					t.Errorf("message %q, want it to mention %q", ae.Error.Message, c.msg)
				}
				if after := e.counts(); after != before {
					t.Errorf("refused request wrote:\nbefore %s\nafter  %s", before, after)
				}
			})
		}
		t.Run("no second person with a taken email", func(t *testing.T) {
			if n := e.countWhere("people", "email = ?", "alice@example.com"); n != 1 {
				t.Errorf("%d people with alice's email, want 1", n)
			}
		})
	})
}
