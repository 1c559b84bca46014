package console_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/console"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/mail/mailtest"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// syncEnv is a console that provisions locks: a real keyring and Door
// Sync service (no broker: online locks are not reached in these tests).
type syncEnv struct {
	*env
	svc *doorsync.Service
}

const testBrokerURL = "mqtt://127.0.0.1:18830"

func newSyncEnv(t *testing.T, st *store.Store) *syncEnv {
	t.Helper()
	se := &syncEnv{}
	se.env = newEnvWith(t, st, func(storetest.Fixture) console.Options {
		se.svc = doorsync.New(st, storetest.Keyring(t, st), nil)
		se.svc.LockMQTTURL = testBrokerURL
		return console.Options{DoorSync: se.svc}
	})
	return se
}

var provisioningFileRE = regexp.MustCompile(`(?s)<pre class="secret" id="provisioning-file">(.*?)</pre>`)

// provisionedFile is the file the page offers, parsed both ways.
type provisionedFile struct {
	Prov   *lockproto.Provisioning
	Fields map[string]any
}

// provision provisions a door's lock through the console's Doors page.
func (e *syncEnv) provision(c *client, doorID string) (*resp, provisionedFile) {
	e.t.Helper()
	c.get(e.p("doors"))
	r := c.submit(e.p("doors", doorID, "lock"), nil)
	if r.Status != http.StatusOK {
		e.t.Fatalf("provision %s: %d: %s", doorID, r.Status, r.Body)
	}
	m := provisioningFileRE.FindStringSubmatch(r.Body)
	if m == nil {
		e.t.Fatalf("no provisioning file on the page: %s", r.Body)
	}
	raw := []byte(html.UnescapeString(m[1]))
	var f provisionedFile
	var err error
	if f.Prov, err = lockproto.ParseProvisioning(raw); err != nil {
		e.t.Fatalf("provisioning file: %v", err)
	}
	if err := json.Unmarshal(raw, &f.Fields); err != nil {
		e.t.Fatal(err)
	}
	return r, f
}

// boot provisions a door's lock and starts its firmware in memory.
func (e *syncEnv) boot(c *client, doorID string) *lock.Lock {
	e.t.Helper()
	_, f := e.provision(c, doorID)
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, f.Prov); err != nil {
		e.t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// sync is a Door Sync: the door's pending bundle into the lock, its ack back.
func (e *syncEnv) sync(l *lock.Lock, doorID string) {
	e.t.Helper()
	ctx := context.Background()
	b, err := e.svc.Bundle(ctx, doorID)
	if err != nil {
		e.t.Fatalf("bundle %s: %v", doorID, err)
	}
	ack, err := l.ApplyBundle(b.Sealed)
	if err != nil {
		e.t.Fatalf("apply %s: %v", doorID, err)
	}
	if _, err := e.svc.HandleAck(ctx, doorID, ack, "test phone"); err != nil {
		e.t.Fatal(err)
	}
}

func tap(t *testing.T, l *lock.Lock, serial string) bool {
	t.Helper()
	d, err := l.TapCard(serial)
	if err != nil {
		t.Fatal(err)
	}
	return d.Granted
}

func TestKeycard(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		ben := e.invite("Ben", "Okafor", "ben@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		e.manager("limited@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementLimited})
		c := e.login(storetest.PMEmail)
		unit := e.boot(c, e.f.Unit101.ID)
		card := func() store.Keycard {
			k, err := st.PersonKeycard(ctx, e.f.PM, e.f.Property.ID, ana.ID)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}

		t.Run("no card yet", func(t *testing.T) {
			r := c.get(e.p("people", ana.ID))
			mustContain(t, r.Body, `id="keycard-none"`, `id="keycard-form"`, "A deactivated card keeps working on doors that are not internet-connected until they are synced.")
			mustNotContain(t, r.Body, `id="keycard-deactivate"`)
		})
		t.Run("activate", func(t *testing.T) {
			r := c.submit(e.p("people", ana.ID, "keycard"), url.Values{"serial": {" 04:a2:19:7c "}})
			if r.Status != http.StatusSeeOther || !strings.HasSuffix(r.Header.Get("Location"), "#keycard") {
				t.Fatalf("status %d location %q: %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			r = c.get(r.Header.Get("Location"))
			mustContain(t, r.Body, "Activated keycard 04:A2:19:7C", "<code>04:A2:19:7C</code>", `id="keycard-deactivate"`)
			if k := card(); !k.Active || k.Serial != "04:A2:19:7C" {
				t.Fatalf("card %+v", k)
			}
			e.sync(unit, e.f.Unit101.ID)
			if !tap(t, unit, "04:A2:19:7C") {
				t.Fatal("the synced lock refuses the activated card")
			}
		})
		bad := []struct{ name, serial, message string }{
			{"ErrSerialCharacters", "04 a2!", "may contain only letters, digits"},
			{"ErrSerialEmpty", "", "must be 1 to 64 characters"},
			{"ErrSerialTooLong", strings.Repeat("A", 65), "must be 1 to 64 characters"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := c.submit(e.p("people", ana.ID, "keycard"), url.Values{"serial": {tc.serial}})
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
				mustContain(t, r.Body, tc.message, `role="alert"`, `value="`+html.EscapeString(tc.serial)+`"`)
				if k := card(); !k.Active || k.Serial != "04:A2:19:7C" {
					t.Fatalf("card changed: %+v", k)
				}
			})
		}
		t.Run("ErrSerialActiveForAnotherPerson", func(t *testing.T) {
			r := c.submit(e.p("people", ben.ID, "keycard"), url.Values{"serial": {"04:A2:19:7C"}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", r.Status)
			}
			mustContain(t, r.Body, "is active for another person")
		})
		t.Run("ErrCSRF", func(t *testing.T) {
			r := c.post(e.p("people", ana.ID, "keycard", "deactivate"), url.Values{"csrf": {"forged"}})
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if !card().Active {
				t.Fatal("card deactivated by a forged form")
			}
		})
		t.Run("without Card Activation: no form, POST refused", func(t *testing.T) {
			lc := e.login("limited@example.com")
			r := lc.get(e.p("people", ana.ID))
			mustContain(t, r.Body, "<code>04:A2:19:7C</code>", "needs Card Activation")
			mustNotContain(t, r.Body, `id="keycard-form"`, `id="keycard-deactivate"`)
			if r := lc.submit(e.p("people", ana.ID, "keycard", "deactivate"), nil); r.Status != http.StatusForbidden {
				t.Fatalf("deactivate: %d, want 403", r.Status)
			}
			if r := lc.submit(e.p("people", ben.ID, "keycard"), url.Values{"serial": {"99"}}); r.Status != http.StatusForbidden {
				t.Fatalf("activate: %d, want 403", r.Status)
			}
			if !card().Active {
				t.Fatal("card deactivated without Card Activation")
			}
		})
		t.Run("deactivate: the page names the doors where it still works", func(t *testing.T) {
			c.get(e.p("people", ana.ID))
			r := c.submit(e.p("people", ana.ID, "keycard", "deactivate"), nil)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			r = c.get(r.Header.Get("Location"))
			mustContain(t, r.Body, "Deactivated keycard 04:A2:19:7C. It still works at Unit 101 until that door is synced.",
				`id="keycard-pending"`, "<li>Unit 101 <span class=\"badge offline\">offline</span></li>", "deactivated")
			if !tap(t, unit, "04:A2:19:7C") {
				t.Fatal("the unsynced lock should still take the card (as the page says)")
			}
			e.sync(unit, e.f.Unit101.ID)
			if tap(t, unit, "04:A2:19:7C") {
				t.Fatal("the synced lock still takes the deactivated card")
			}
			r = c.get(e.p("people", ana.ID))
			mustNotContain(t, r.Body, `id="keycard-pending"`)
			mustContain(t, r.Body, "deactivated", "Activate card")
		})
		t.Run("ErrNoActiveCard", func(t *testing.T) {
			r := c.submit(e.p("people", ana.ID, "keycard", "deactivate"), nil)
			if r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.Status)
			}
		})
	})
}

func TestExposure(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Home.ID}, domain.GrantInput{KeyID: e.f.Building.ID})
		ben := e.invite("Ben", "Okafor", "ben@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		e.manager("nokm@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone})
		e.manager("devices@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		c := e.login(storetest.PMEmail)
		if _, err := st.ActivateKeycard(ctx, e.f.PM, e.f.Property.ID, ana.ID, "CARD-1"); err != nil {
			t.Fatal(err)
		}
		unit := e.boot(c, e.f.Unit101.ID)
		e.sync(unit, e.f.Unit101.ID) // holds Ana's doorcode and card
		gym := e.boot(c, e.f.Gym.ID)
		e.sync(gym, e.f.Gym.ID)

		t.Run("nobody exposed", func(t *testing.T) {
			r := c.get(e.p("exposure"))
			mustContain(t, r.Body, `id="exposure-none"`, "Worst case: none")
			mustNotContain(t, r.Body, `id="exposure-summary"`)
		})
		// Three phone credentials for the Gym, as three refreshes of Ana's
		// app would record them (written directly: no phone in this test).
		issued := st.Now().Add(-time.Hour)
		latest := issued.Add(24 * time.Hour)
		for i, notAfter := range []time.Time{issued.Add(2 * time.Hour), latest, issued.Add(12 * time.Hour)} {
			if _, err := st.DB().ExecContext(ctx, rebind(st, `INSERT INTO issued_credentials (serial, person_id, property_id, device_id, issued_at, not_before, not_after, door_ids) VALUES (?,?,?,?,?,?,?,?)`),
				900+i, ana.ID, e.f.Property.ID, "dev_test", issued.UnixMicro(), issued.UnixMicro(), notAfter.UnixMicro(), `["`+e.f.Gym.ID+`"]`); err != nil {
				t.Fatal(err)
			}
		}
		c.get(e.p("people", ana.ID, "revoke"))
		if r := c.submit(e.p("people", ana.ID, "revoke"), nil); r.Status != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.Status)
		}
		t.Run("each way once, credentials counted with the latest expiry", func(t *testing.T) {
			items, err := st.ListExposure(ctx, e.f.PM, e.f.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			var gymWays []store.ExposureWay
			for _, it := range items {
				seen := map[string]bool{}
				for _, w := range it.Ways {
					if seen[w.Kind] {
						t.Errorf("%s: way %q listed twice: %+v", it.DoorName, w.Kind, it.Ways)
					}
					seen[w.Kind] = true
				}
				if it.DoorID == e.f.Gym.ID {
					gymWays = it.Ways
				}
			}
			var cred *store.ExposureWay
			for i, w := range gymWays {
				if w.Kind == "credential" {
					cred = &gymWays[i]
				}
			}
			if cred == nil || cred.Count != 3 || cred.Until == nil || !cred.Until.Equal(latest.Truncate(time.Microsecond)) {
				t.Fatalf("Gym ways %+v, want one credential way counting 3 until %v", gymWays, latest)
			}
			r := c.get(e.p("exposure"))
			if n := strings.Count(r.Body, `data-kind="credential"`); n != 1 {
				t.Errorf("%d credential ways on the page, want 1", n)
			}
			mustContain(t, r.Body, "3 phone credentials issued before the revocation")
		})
		t.Run("a revoked person: every unsynced door, how and until when", func(t *testing.T) {
			r := c.get(e.p("exposure"))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d", r.Status)
			}
			mustContain(t, r.Body, `id="exposure-summary"`, `<a href="`+e.p("people", ana.ID)+`">Ana Garcia</a>`,
				"2 doors may still admit 1 person beyond the access they hold now.",
				"Unit 101", `data-kind="doorcode"`, "doorcode still on the lock", `data-kind="keycard"`, "<code>CARD-1</code>",
				"Gym <span", "until the lock syncs")
			// The worst case stands at the top: a doorcode and a card
			// have no bound of their own.
			mustContain(t, r.Body, `id="exposure-worst"`, "Worst case: a door stays open to a revoked person until its lock syncs", "(Ana Garcia at ")
			// The Lobby has no lock: it admits nobody.
			mustNotContain(t, r.Body, "Lobby <span", `data-kind="pending_sync"`)
		})
		t.Run("the person page of a revoked person links to it", func(t *testing.T) {
			r := c.get(e.p("people", ana.ID))
			mustContain(t, r.Body, `id="person-exposure"`, "Until they sync, 2 doors may still admit Ana.",
				e.p("exposure")+"?person_id="+ana.ID)
		})
		t.Run("the Door Sync tasks link to it", func(t *testing.T) {
			mustContain(t, c.get(e.p("sync")).Body, `id="exposure-link"`, `href="`+e.p("exposure")+`"`)
		})
		t.Run("the Door Sync tasks say who can sync", func(t *testing.T) {
			// Unlocks at Unit 101 in the log: Ben 3, Ana (revoked) 5, and
			// one of Ben's 40 days ago (outside the 30 days counted).
			for i, who := range []domain.PersonView{ben, ben, ben, ana, ana, ana, ana, ana} {
				if err := st.AddEvent(ctx, domain.Event{PropertyID: e.f.Property.ID, At: st.Now().Add(-time.Duration(i+1) * time.Hour), Kind: domain.EventDoorUnlocked,
					Actor: "Door Sync", PersonID: who.ID, PersonName: who.Name(), DoorID: e.f.Unit101.ID, Detail: "unlocked with app"}); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.AddEvent(ctx, domain.Event{PropertyID: e.f.Property.ID, At: st.Now().Add(-40 * 24 * time.Hour), Kind: domain.EventDoorUnlocked,
				Actor: "Door Sync", PersonID: ben.ID, PersonName: ben.Name(), DoorID: e.f.Unit101.ID, Detail: "unlocked with app"}); err != nil {
				t.Fatal(err)
			}
			r := c.get(e.p("sync"))
			// Staff: the Portfolio Manager and the manager with Device
			// Management, not the one without.
			mustContain(t, r.Body, "Who can sync", "Staff in the DOOR App: Prop Manager, Pat Portfolio.", "Residents who unlock here most: Ben Okafor (3).")
			mustNotContain(t, r.Body, "Ana Garcia (")
		})
		t.Run("ask the residents who can sync by email", func(t *testing.T) {
			smtp := mailtest.NewServer(t)
			sender, err := mail.NewSMTPSender(smtp.URL(), "DOOR OS <door@example.com>")
			if err != nil {
				t.Fatal(err)
			}
			worker := &notify.Worker{Store: st, Sender: sender, PublicURL: e.srv.URL}
			asks := func() []domain.Event {
				evs, _, err := st.ListActivity(ctx, e.f.PM, e.f.Property.ID, store.ActivityFilter{Kind: store.EventSyncRequested, Limit: 100})
				if err != nil {
					t.Fatal(err)
				}
				return evs
			}
			syncEmails := func() []mailtest.Email {
				var out []mailtest.Email
				for _, m := range smtp.Messages() {
					if em := m.MustParse(t); em.Header.Get(mail.KindHeader) == mail.KindSyncRequest {
						out = append(out, em)
					}
				}
				return out
			}
			ask := e.p("sync", e.f.Unit101.ID, "ask")
			r := c.get(e.p("sync"))
			mustContain(t, r.Body, `action="`+ask+`"`, "Email them to open the DOOR App near the door")

			// Who may not see Door Sync tasks may not ask: nothing written.
			nokm := e.login("nokm@example.com")
			nokm.get(e.p("people"))
			if r := nokm.submit(ask, nil); r.Status != http.StatusForbidden {
				t.Fatalf("ask without Key or Device Management: %d, want 403", r.Status)
			}
			if n := len(asks()); n != 0 {
				t.Fatalf("%d Activity entries after a refused ask", n)
			}

			r = c.submit(ask, nil)
			if r.Status != http.StatusSeeOther {
				t.Fatalf("ask: %d: %s", r.Status, r.Body)
			}
			mustContain(t, c.get(e.p("sync")).Body, "Asked Ben Okafor by email to open the DOOR App near the door.")
			if _, err := worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			got := syncEmails()
			if len(got) != 1 || got[0].To.Email != "ben@example.com" {
				t.Fatalf("sync request emails %+v, want one to ben@example.com (not to revoked Ana)", got)
			}
			if got[0].Subject != "Please open the DOOR app near Unit 101" || !strings.Contains(got[0].Text, "Pat Portfolio asks for your help") {
				t.Errorf("email: %q\n%s", got[0].Subject, got[0].Text)
			}
			evs := asks()
			if len(evs) != 1 || evs[0].DoorID != e.f.Unit101.ID || evs[0].Actor != "Pat Portfolio" || !strings.Contains(evs[0].Detail, "Ben Okafor") {
				t.Fatalf("Activity %+v, want one entry by Pat Portfolio naming Ben", evs)
			}

			// Again within the hour: refused with a clear message, nothing
			// queued or logged (Device Management may ask too).
			dc := e.login("devices@example.com")
			dc.get(e.p("sync"))
			r = dc.submit(ask, nil)
			if r.Status != http.StatusTooManyRequests {
				t.Fatalf("second ask: %d, want 429", r.Status)
			}
			mustContain(t, r.Body, "residents were already asked to sync Unit 101 at", "you can ask again after")
			if _, err := worker.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			if n, m := len(syncEmails()), len(asks()); n != 1 || m != 1 {
				t.Fatalf("after a refused ask: %d emails, %d Activity entries; want 1 and 1", n, m)
			}
			// A door nobody unlocked lately: nobody to ask.
			if r := c.submit(e.p("sync", e.f.Gym.ID, "ask"), nil); r.Status != http.StatusConflict || !strings.Contains(r.Body, "nobody to ask") {
				t.Fatalf("ask for the Gym: %d, want 409 nobody to ask", r.Status)
			}
			// An unknown door.
			if r := c.submit(e.p("sync", "door_nope", "ask"), nil); r.Status != http.StatusNotFound {
				t.Fatalf("ask for an unknown door: %d, want 404", r.Status)
			}
		})
		t.Run("filtered by person", func(t *testing.T) {
			r := c.get(e.p("exposure") + "?person_id=" + url.QueryEscape(ben.ID))
			mustContain(t, r.Body, "Showing Ben Okafor only", `id="exposure-none"`)
			mustNotContain(t, r.Body, "Ana Garcia")
		})
		t.Run("a synced door leaves the list", func(t *testing.T) {
			e.sync(unit, e.f.Unit101.ID)
			r := c.get(e.p("exposure"))
			mustNotContain(t, r.Body, `data-kind="doorcode"`, "Unit 101 <span")
			mustContain(t, r.Body, "1 door may still admit 1 person", "Gym <span", "CARD-1")
		})
		t.Run("a synced door: nothing to ask", func(t *testing.T) {
			r := c.submit(e.p("sync", e.f.Unit101.ID, "ask"), nil)
			if r.Status != http.StatusConflict || !strings.Contains(r.Body, "Unit 101 is up to date") {
				t.Fatalf("ask for a synced door: %d, want 409 up to date", r.Status)
			}
		})
		t.Run("a deleted person is listed without a link", func(t *testing.T) {
			if _, err := st.DB().ExecContext(ctx, rebind(st, `INSERT INTO issued_credentials (serial, person_id, property_id, device_id, issued_at, not_before, not_after, door_ids) VALUES (?,?,?,?,?,?,?,?)`),
				990, ben.ID, e.f.Property.ID, "dev_ben", issued.UnixMicro(), issued.UnixMicro(), latest.UnixMicro(), `["`+e.f.Gym.ID+`"]`); err != nil {
				t.Fatal(err)
			}
			c.get(e.p("people", ben.ID, "delete"))
			if r := c.submit(e.p("people", ben.ID, "delete"), nil); r.Status != http.StatusSeeOther {
				t.Fatalf("delete: %d", r.Status)
			}
			r := c.get(e.p("exposure"))
			mustContain(t, r.Body, `Ben Okafor <span class="badge deleted">deleted</span>`, "1 door may still admit 2 people")
			mustNotContain(t, r.Body, `href="`+e.p("people", ben.ID)+`"`)
		})
		t.Run("permissions", func(t *testing.T) {
			if r := e.login("nokm@example.com").get(e.p("exposure")); r.Status != http.StatusForbidden {
				t.Errorf("without Key or Device Management: %d, want 403", r.Status)
			}
			r := e.login("devices@example.com").get(e.p("exposure"))
			if r.Status != http.StatusOK {
				t.Fatalf("Device Management: %d, want 200", r.Status)
			}
			mustContain(t, r.Body, "Ana Garcia")
			mustNotContain(t, r.Body, `href="`+e.p("people", ana.ID)+`"`)
		})
	})
}

func TestDoorsAndProvisioning(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		e.manager("limited@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementLimited})
		e.manager("devices@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		c := e.login(storetest.PMEmail)
		provisioned := func(doorID string) store.DoorDevice {
			ds, err := st.ListDoorDevices(ctx, e.f.PM, e.f.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range ds {
				if d.DoorID == doorID {
					return d
				}
			}
			t.Fatalf("door %s not listed", doorID)
			return store.DoorDevice{}
		}

		t.Run("nothing provisioned", func(t *testing.T) {
			r := c.get(e.p("doors"))
			mustContain(t, r.Body, `id="unprovisioned"`, "3 doors have no lock provisioned yet", "not provisioned",
				`aria-label="Provision the lock of Gym"`, `action="`+e.p("doors", e.f.Gym.ID, "lock")+`"`)
		})
		t.Run("provision an offline door: the file is shown once, never cached", func(t *testing.T) {
			r, f := e.provision(c, e.f.Gym.ID)
			if got := r.Header.Get("Cache-Control"); !strings.Contains(got, "no-store") {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := r.Header.Get("Pragma"); got != "no-cache" {
				t.Errorf("Pragma %q, want no-cache", got)
			}
			if f.Prov.LockID != e.f.Gym.ID || len(f.Prov.LockPrivateKey) == 0 {
				t.Fatalf("provisioning %+v", f.Prov)
			}
			if _, ok := f.Fields["mqtt_password"]; ok {
				t.Error("an offline lock got MQTT credentials")
			}
			mustContain(t, r.Body, `download="lock-gym.json"`, `href="data:application/json;base64,`, "shown only this once",
				"doorlock provision --state ./lock-gym lock-gym.json", "--ble 127.0.0.1:PORT")
			// The download link carries the same file.
			m := regexp.MustCompile(`href="data:application/json;base64,([^"]+)"`).FindStringSubmatch(r.Body)
			b, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[1]))
			if err != nil {
				t.Fatal(err)
			}
			if p, err := lockproto.ParseProvisioning(b); err != nil || p.LockID != e.f.Gym.ID {
				t.Fatalf("download: %v %+v", err, p)
			}
			if d := provisioned(e.f.Gym.ID); !d.Provisioned || d.Generation != 1 || d.Connection != store.ConnBluetooth {
				t.Fatalf("device %+v", d)
			}
		})
		t.Run("provision an online door: the file has its broker and password", func(t *testing.T) {
			r, f := e.provision(c, e.f.Lobby.ID)
			if f.Fields["mqtt_url"] != testBrokerURL || f.Fields["mqtt_username"] != e.f.Lobby.ID || f.Fields["mqtt_password"] == "" || f.Fields["mqtt_password"] == nil {
				t.Fatalf("MQTT fields %v", f.Fields)
			}
			mustContain(t, r.Body, "DOORLOCK_MQTT_PASSWORD=", "--mqtt-url "+testBrokerURL)
		})
		t.Run("the Doors page shows each lock", func(t *testing.T) {
			r := c.get(e.p("doors"))
			mustContain(t, r.Body, "1 door has no lock provisioned yet", "never connected", "Bluetooth only",
				`aria-label="Re-provision the lock of Gym"`, `aria-label="Provision the lock of Unit 101"`)
		})
		t.Run("re-provisioning makes a new generation", func(t *testing.T) {
			r, _ := e.provision(c, e.f.Gym.ID)
			mustContain(t, r.Body, "Generation 2: the previous device of this door no longer verifies")
			if d := provisioned(e.f.Gym.ID); d.Generation != 2 {
				t.Fatalf("generation %d, want 2", d.Generation)
			}
			mustContain(t, c.get(e.p("doors")).Body, "(generation 2)")
		})
		t.Run("sync tasks show the connection", func(t *testing.T) {
			r := c.get(e.p("sync"))
			mustContain(t, r.Body, `<th scope="col">Connection</th>`, `<th scope="col">Last seen</th>`, "Bluetooth only", "never connected")
		})
		t.Run("ErrGET", func(t *testing.T) {
			if r := c.get(e.p("doors", e.f.Unit101.ID, "lock")); r.Status != http.StatusMethodNotAllowed {
				t.Fatalf("GET: %d, want 405", r.Status)
			}
		})
		t.Run("ErrCSRF", func(t *testing.T) {
			r := c.post(e.p("doors", e.f.Unit101.ID, "lock"), url.Values{"csrf": {"forged"}})
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if provisioned(e.f.Unit101.ID).Provisioned {
				t.Fatal("provisioned by a forged form")
			}
		})
		t.Run("ErrUnknownDoor", func(t *testing.T) {
			c.get(e.p("doors"))
			if r := c.submit(e.p("doors", "door_nope", "lock"), nil); r.Status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.Status)
			}
		})
		t.Run("without Device Management: no button, POST refused", func(t *testing.T) {
			lc := e.login("limited@example.com")
			r := lc.get(e.p("doors"))
			mustContain(t, r.Body, "not provisioned", "Provisioning locks needs Device Management on this property")
			mustNotContain(t, r.Body, "Provision the lock of")
			if r := lc.submit(e.p("doors", e.f.Unit101.ID, "lock"), nil); r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403", r.Status)
			}
			if provisioned(e.f.Unit101.ID).Provisioned {
				t.Fatal("provisioned without Device Management")
			}
		})
		t.Run("Device Management alone provisions", func(t *testing.T) {
			dc := e.login("devices@example.com")
			mustContain(t, dc.get(e.p("doors")).Body, `aria-label="Provision the lock of Unit 101"`)
			e.provision(dc, e.f.Unit101.ID)
			if !provisioned(e.f.Unit101.ID).Provisioned {
				t.Fatal("not provisioned")
			}
		})
	})
	t.Run("a server without Door Sync does not provision", func(t *testing.T) {
		st := storetest.OpenSQLite(t)
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		mustNotContain(t, c.get(e.p("doors")).Body, "Provision the lock of")
		if r := c.submit(e.p("doors", e.f.Gym.ID, "lock"), nil); r.Status != http.StatusConflict {
			t.Fatalf("status %d, want 409", r.Status)
		}
	})
}

// rebind writes a test's "?" placeholders for the store's database.
func rebind(st *store.Store, q string) string {
	if st.Dialect() != store.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestSigningKeyRotation: a Portfolio Manager sees the property's signing
// key on the Doors page and starts its rotation there; the page then
// shows its progress and no second button, and a second POST is refused
// (409). A manager with Device Management sees no key and is refused
// (403); a forged form starts nothing.
func TestSigningKeyRotation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		e.manager("devices@example.com", &domain.Assignment{PropertyID: e.f.Property.ID, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		c := e.login(storetest.PMEmail)
		e.provision(c, e.f.Gym.ID)
		before, err := st.PropertyKeyStatus(ctx, e.f.PM, e.f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		rotating := func() bool {
			k, err := st.PropertyKeyStatus(ctx, e.f.PM, e.f.Property.ID)
			if err != nil {
				t.Fatal(err)
			}
			return k.Rotation != nil
		}

		r := c.get(e.p("doors"))
		mustContain(t, r.Body, `id="signing-key"`, before.Fingerprint, `action="`+e.p("signing-key", "rotate")+`"`, "Rotate signing key")

		dc := e.login("devices@example.com")
		r = dc.get(e.p("doors"))
		mustNotContain(t, r.Body, `id="signing-key"`, "Rotate signing key")
		if r := dc.submit(e.p("signing-key", "rotate"), nil); r.Status != http.StatusForbidden {
			t.Fatalf("Device Management rotation: %d, want 403", r.Status)
		}
		if r := c.post(e.p("signing-key", "rotate"), url.Values{"csrf": {"forged"}}); r.Status != http.StatusForbidden {
			t.Fatalf("forged form: %d, want 403", r.Status)
		}
		if rotating() {
			t.Fatal("a refused request started a rotation")
		}

		c.get(e.p("doors"))
		r = c.submit(e.p("signing-key", "rotate"), nil)
		if r.Status != http.StatusSeeOther || r.Header.Get("Location") != e.p("doors")+"#signing-key" {
			t.Fatalf("rotate: %d to %q: %s", r.Status, r.Header.Get("Location"), r.Body)
		}
		r = c.get(e.p("doors"))
		after, err := st.PropertyKeyStatus(ctx, e.f.PM, e.f.Property.ID)
		if err != nil || after.Rotation == nil {
			t.Fatalf("no rotation under way: %+v %v", after, err)
		}
		mustContain(t, r.Body, "Signing key rotation started", after.Rotation.NextFingerprint, `id="signing-key-rotation"`, "0 of 1 locks took the new key")
		mustNotContain(t, r.Body, "Rotate signing key")
		if r := c.submit(e.p("signing-key", "rotate"), nil); r.Status != http.StatusConflict || !strings.Contains(r.Body, "under way") {
			t.Fatalf("second rotation: %d", r.Status)
		}
	})
}
