package console_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dooros/dooros/demo"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func TestPersonPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		host := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Building.ID, MayShare: true})
		guest, err := st.Invite(ctx, e.f.PM, e.f.Property.ID, domain.InviteInput{FirstName: "Gina", LastName: "Guest", Email: "gina@example.com",
			Access: domain.AccessApp, InvitedBy: host.ID, Keys: []domain.GrantInput{{KeyID: e.f.Building.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		c := e.login(storetest.PMEmail)
		page := e.p("people", host.ID)

		t.Run("shows details, keys, guests and activity", func(t *testing.T) {
			r := c.get(page)
			mustContain(t, r.Body, "Ana Garcia", "Building", "Gym, Lobby", "Gina Guest", "person.invited", "Revoke All Keys", "Delete Person", "Devices", "Keycard")
		})
		t.Run("give a key", func(t *testing.T) {
			r := c.submit(page+"/keys", url.Values{"key_id": {e.f.Home.ID}, "may_share": {"on"}, "expires_at": {fmt.Sprintf("%d-06-01T12:00", storetest.YearsAhead(4))}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, host.ID)
			if len(v.Keys) != 2 {
				t.Fatalf("%d keys, want 2", len(v.Keys))
			}
		})
		t.Run("ErrNoKey", func(t *testing.T) {
			r := c.submit(page+"/keys", url.Values{"key_id": {""}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "choose a key")
		})
		t.Run("take a key", func(t *testing.T) {
			r := c.submit(page+"/keys/"+e.f.Home.ID+"/remove", nil)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, host.ID)
			if len(v.Keys) != 1 {
				t.Fatalf("%d keys, want 1", len(v.Keys))
			}
		})
		t.Run("edit expiration only", func(t *testing.T) {
			r := c.get(page)
			expires := fmt.Sprintf("%d-02-03T04:05", storetest.YearsAhead(5))
			form := url.Values{"first_name": {"Ana"}, "last_name": {"Garcia"}, "email": {"ana@example.com"}, "phone": {""}, "unit_id": {""}, "resident": {"on"},
				"starts_at": {valueOf(r.Body, "e-start")}, "expires_at": {expires}}
			r = c.submit(page+"/edit", form)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, host.ID)
			if v.ExpiresAt == nil || v.ExpiresAt.In(e.f.Property.Location()).Format("2006-01-02T15:04") != expires {
				t.Fatalf("expires %v", v.ExpiresAt)
			}
			if !v.StartsAt.Equal(host.StartsAt) {
				t.Fatalf("start moved from %v to %v by a form showing minutes", host.StartsAt, v.StartsAt)
			}
		})
		t.Run("ErrEditBadEmail writes nothing", func(t *testing.T) {
			r := c.get(page)
			r = c.submit(page+"/edit", url.Values{"first_name": {"Ana"}, "last_name": {"Garcia"}, "email": {"nope"}, "resident": {"on"},
				"starts_at": {valueOf(r.Body, "e-start")}, "expires_at": {valueOf(r.Body, "e-exp")}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "is not a valid email address")
			v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, host.ID)
			if v.Email != "ana@example.com" {
				t.Fatalf("email %q written", v.Email)
			}
		})
		t.Run("revoke confirmation names guests and offline doors", func(t *testing.T) {
			r := c.get(page + "/revoke")
			mustContain(t, r.Body, "Gina Guest", "<li>Gym</li>", "Until each is synced", "Lobby")
			mustNotContain(t, r.Body, "<li>Lobby</li>") // online: no sync needed
			v, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, host.ID)
			if v.Status != domain.StatusActive {
				t.Fatal("the confirmation page changed something")
			}
		})
		t.Run("revoke, then find under Show Expired Users", func(t *testing.T) {
			if r := c.submit(page+"/revoke", nil); r.Status != http.StatusSeeOther {
				t.Fatalf("status %d", r.Status)
			}
			g, _ := st.Person(ctx, e.f.PM, e.f.Property.ID, guest.ID)
			if g.Status != domain.StatusRevoked {
				t.Fatalf("guest %s, want revoked with the host", g.Status)
			}
			r := c.get(e.p("people"))
			mustNotContain(t, r.Body, "ana@example.com")
			r = c.get(e.p("people") + "?expired=1")
			mustContain(t, r.Body, "ana@example.com", `class="badge revoked"`)
		})
		t.Run("delete, then find their activity", func(t *testing.T) {
			r := c.get(page + "/delete")
			mustContain(t, r.Body, "leaves the People tab", "past activity stays")
			r = c.submit(page+"/delete", nil)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d", r.Status)
			}
			if r := c.get(page); r.Status != http.StatusNotFound {
				t.Fatalf("deleted person page: %d, want 404", r.Status)
			}
			if got, want := r.Header.Get("Location"), e.p("activity")+"?person_id="+host.ID; got != want {
				t.Fatalf("after deleting: %q, want %q", got, want)
			}
			r = c.get(e.p("activity") + "?person_id=" + host.ID)
			mustContain(t, r.Body, "person.deleted", "Ana Garcia", "person.invited")
			r = c.get(e.p("people") + "?expired=1")
			mustNotContain(t, r.Body, "ana@example.com")
		})
	})
}

// valueOf returns the value attribute of the input with the given id.
func valueOf(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	rest := body[i:]
	j := strings.Index(rest, `value="`)
	if j < 0 {
		return ""
	}
	rest = rest[j+len(`value="`):]
	return rest[:strings.IndexByte(rest, '"')]
}

func TestActivity(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.invite("=HYPERLINK(\"http://evil\")", "Formula", "formula@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		e.invite("Ben", "Okafor", "ben@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		c := e.login(storetest.PMEmail)
		t.Run("filter by kind and door", func(t *testing.T) {
			r := c.get(e.p("activity") + "?kind=person.invited&door_id=" + e.f.Unit101.ID)
			mustContain(t, r.Body, "ben@example.com")
			mustNotContain(t, r.Body, "formula@example.com", "key.created")
		})
		t.Run("a door's page stops at the scan budget and says so", func(t *testing.T) {
			st.ActivityScan = 2 // the newest two entries: Ben's invite (Unit 101), then the other's
			defer func() { st.ActivityScan = 0 }()
			r := c.get(e.p("activity") + "?door_id=" + e.f.Unit101.ID)
			mustContain(t, r.Body, "ben@example.com", `id="activity-partial"`, `rel="next"`)
			st.ActivityScan = 0
			r = c.get(e.p("activity") + "?door_id=" + e.f.Unit101.ID)
			mustContain(t, r.Body, "ben@example.com")
			mustNotContain(t, r.Body, `id="activity-partial"`)
		})
		t.Run("ErrDate", func(t *testing.T) {
			r := c.get(e.p("activity") + "?from=yesterday")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "is not a date")
		})
		t.Run("date range excludes other days", func(t *testing.T) {
			r := c.get(e.p("activity") + "?to=2001-01-01")
			mustContain(t, r.Body, "No activity.")
		})
		t.Run("CSV export neutralises formulas", func(t *testing.T) {
			r := c.get(e.p("activity.csv") + "?kind=person.")
			if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("status %d type %q", r.Status, r.Header.Get("Content-Type"))
			}
			rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != 3 || rows[0][0] != "at" {
				t.Fatalf("rows %q", rows)
			}
			found := false
			for _, row := range rows[1:] {
				if strings.Contains(row[4], "HYPERLINK") {
					found = true
					if !strings.HasPrefix(row[4], "'=") {
						t.Fatalf("person_name %q not neutralised", row[4])
					}
				}
			}
			if !found {
				t.Fatal("formula row missing")
			}
		})
	})
}

func TestKeysAndSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		// Start from synced doors.
		tasks, _ := st.ListSyncTasks(ctx, e.f.PM, e.f.Property.ID)
		for _, tk := range tasks {
			st.AckDoor(ctx, tk.DoorID, tk.Version)
		}
		t.Run("no sync tasks", func(t *testing.T) {
			mustContain(t, c.get(e.p("sync")).Body, "Every offline door is up to date.")
		})
		var keyID string
		t.Run("create a key with doorcodes and a schedule", func(t *testing.T) {
			r := c.submit(e.p("keys", "new"), url.Values{"name": {"Pool"}, "door": {e.f.Gym.ID, e.f.Lobby.ID}, "doorcodes": {e.f.Lobby.ID},
				"schedule_" + e.f.Gym.ID: {"mon-fri 06:00-22:00; sat,sun 08:00-20:00"}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			keys, _ := st.ListKeys(ctx, e.f.PM, e.f.Property.ID)
			for _, k := range keys {
				if k.Name != "Pool" {
					continue
				}
				keyID = k.ID
				for _, d := range k.Doors {
					if d.DoorID == e.f.Gym.ID && (len(d.Schedule) != 2 || len(d.Schedule[0].Days) != 5 || d.Doorcodes) {
						t.Fatalf("gym %+v", d)
					}
					if d.DoorID == e.f.Lobby.ID && (!d.Doorcodes || len(d.Schedule) != 0) {
						t.Fatalf("lobby %+v", d)
					}
				}
			}
			if keyID == "" {
				t.Fatal("key not created")
			}
			mustContain(t, c.get(e.p("keys")).Body, "Pool", "mon,tue,wed,thu,fri 06:00-22:00")
		})
		bad := []struct{ name, schedule, message string }{
			{"ErrScheduleSyntax", "weekdays", "is not like"},
			{"ErrScheduleDay", "mon-fry 06:00-22:00", "is not a range of weekdays"},
			{"ErrScheduleOrder", "mon 22:00-06:00", "must be after start"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := c.submit(e.p("keys", "new"), url.Values{"name": {"Bad"}, "door": {e.f.Gym.ID}, "schedule_" + e.f.Gym.ID: {tc.schedule}})
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
				mustContain(t, r.Body, tc.message)
			})
		}
		t.Run("ErrKeyWithoutDoors", func(t *testing.T) {
			r := c.submit(e.p("keys", "new"), url.Values{"name": {"Empty"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "a key needs at least one door")
		})
		t.Run("a change makes a Door Sync task appear", func(t *testing.T) {
			p := e.invite("Ana", "Garcia", "ana@example.com")
			if r := c.submit(e.p("people", p.ID, "keys"), url.Values{"key_id": {keyID}}); r.Status != http.StatusSeeOther {
				t.Fatalf("give: %d", r.Status)
			}
			r := c.get(e.p("sync"))
			mustContain(t, r.Body, "<td data-label=\"Door\">Gym</td>")
			mustNotContain(t, r.Body, `id="exposure"`)
			if r := c.submit(e.p("people", p.ID, "keys", keyID, "remove"), nil); r.Status != http.StatusSeeOther {
				t.Fatalf("take: %d", r.Status)
			}
			r = c.get(e.p("sync"))
			mustContain(t, r.Body, `id="exposure"`, "Revocation pending")
			mustContain(t, c.get(e.p("doors")).Body, "revocation pending", "not provisioned")
		})
		t.Run("delete a key", func(t *testing.T) {
			mustContain(t, c.get(e.p("keys", keyID, "delete")).Body, "<li>Gym</li>")
			if r := c.submit(e.p("keys", keyID, "delete"), nil); r.Status != http.StatusSeeOther {
				t.Fatalf("status %d", r.Status)
			}
			if _, err := st.Key(ctx, e.f.PM, e.f.Property.ID, keyID); domain.ErrorCode(err) != domain.ENotFound {
				t.Fatalf("key still there: %v", err)
			}
		})
	})
}

func TestStaff(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		r := c.submit("/staff", url.Values{"email": {"pam@example.com"}, "first_name": {"Pam"}, "last_name": {"Property"}, "role": {"property_manager"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("add: %d %s", r.Status, r.Body)
		}
		mpage := r.Header.Get("Location")
		r = c.get(mpage)
		mustContain(t, r.Body, "invitation email", "Elm Court", "not assigned")
		t.Run("ErrSpecificWithoutKeys", func(t *testing.T) {
			r := c.submit(mpage+"/properties", url.Values{"property_id": {e.f.Property.ID}, "key_management": {"specific"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "needs at least one key")
		})
		t.Run("assign limited with device management", func(t *testing.T) {
			r := c.submit(mpage+"/properties", url.Values{"property_id": {e.f.Property.ID}, "key_management": {"limited"}, "device_management": {"on"}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			mustContain(t, c.get("/staff").Body, "Elm Court: key management limited, devices")
		})
		t.Run("ErrDuplicateEmail", func(t *testing.T) {
			r := c.submit("/staff", url.Values{"email": {"pam@example.com"}, "first_name": {"Pam"}, "last_name": {"Again"}, "role": {"property_manager"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "already exists")
		})
	})
}

func TestDemoSeed(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		pwFile := t.TempDir() + "/demo-login.txt"
		first, err := demo.Seed(ctx, st, demo.Options{PasswordFile: pwFile})
		if err != nil {
			t.Fatal(err)
		}
		second, err := demo.Seed(ctx, st, demo.Options{PasswordFile: pwFile})
		if err != nil {
			t.Fatal(err)
		}
		if !first.Created || second.Created || second.Property.ID != first.Property.ID || second.Password != first.Password {
			t.Fatalf("first %+v second %+v: want the second run to reuse the demo", first, second)
		}
		token, _, err := st.Login(ctx, first.Email, first.Password, store.TokenKindSession)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := st.Authenticate(ctx, token, store.TokenKindSession)
		people, _, err := st.ListPeople(ctx, a, first.Property.ID, domain.PeopleFilter{IncludeExpired: true})
		if err != nil {
			t.Fatal(err)
		}
		statuses := map[domain.Status]int{}
		for _, p := range people {
			statuses[p.Status]++
		}
		for _, s := range []domain.Status{domain.StatusActive, domain.StatusPending, domain.StatusExpired, domain.StatusRevoked} {
			if statuses[s] == 0 {
				t.Errorf("no %s person in the demo: %v", s, statuses)
			}
		}
		tasks, _ := st.ListSyncTasks(ctx, a, first.Property.ID)
		if len(tasks) == 0 {
			t.Error("no Door Sync tasks in the demo")
		}
		if _, _, err := st.Login(ctx, demo.LimitedEmail, first.Password, store.TokenKindSession); err != nil {
			t.Errorf("limited manager: %v", err)
		}
	})
}
