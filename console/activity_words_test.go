package console_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var detailsRE = regexp.MustCompile(`(?s)<details class="event-detail">.*?</details>`)

// TestActivityInWords: a real lock's openings and refusals, carried up by
// a phone, read as When (zone) · Door · Person · What · How in words; the
// card's serial and the codes are only in each entry's detail view; Door
// Sync's acknowledgements are hidden until asked for, on the page and in
// the CSV export.
func TestActivityInWords(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newEnv(t, st)
		svc := startDoorSync(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		v, err := st.Person(ctx, e.f.PM, e.f.Property.ID, ana.ID)
		if err != nil || v.Doorcode == "" {
			t.Fatalf("Ana's doorcode: %+v %v", v, err)
		}
		door := e.f.Unit101.ID
		prov, err := svc.Provision(ctx, e.f.PM, e.f.Property.ID, door)
		if err != nil {
			t.Fatal(err)
		}
		fs := lock.NewMemFS()
		if err := lock.Provision(fs, prov.Provisioning); err != nil {
			t.Fatal(err)
		}
		lk, err := lock.Open(lock.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		syncLock(t, svc, door, lk)
		if d, _ := lk.EnterCode(v.Doorcode); !d.Granted {
			t.Fatalf("Ana's code: %+v", d)
		}
		lk.EnterCode(wrongCode(v.Doorcode))
		const serial = "04:AA:BB:CC:DD:EE"
		lk.TapCard(serial)
		batch, err := lk.EventsSince(0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.HandleEvents(ctx, door, batch, "test phone"); err != nil {
			t.Fatal(err)
		}

		// An invitation that starts later: its start in the property's zone.
		start := time.Date(storetest.YearsAhead(4), 1, 1, 15, 0, 0, 0, time.UTC)
		if _, err := st.Invite(ctx, e.f.PM, e.f.Property.ID, domain.InviteInput{FirstName: "Ben", LastName: "Okafor", Email: "ben@example.com",
			Access: domain.AccessApp, Resident: true, StartsAt: &start, Keys: []domain.GrantInput{{KeyID: e.f.Building.ID}}}); err != nil {
			t.Fatal(err)
		}
		c := e.login(storetest.PMEmail)
		r := c.get(e.p("activity"))
		if r.Status != http.StatusOK {
			t.Fatalf("activity: %d", r.Status)
		}
		body := words(r)
		mustContain(t, body, "When <span class=\"muted\">(America/New_York)</span>", `<th scope="col">Door</th>`, `<th scope="col">How</th>`,
			"Ana Garcia opened Unit 101", "Unknown doorcode at Unit 101", "Unknown keycard at Unit 101",
			"Pat Portfolio invited Ana Garcia (the DOOR App, 1 key)", "Pat Portfolio provisioned the lock of Unit 101", fmt.Sprintf("Pat Portfolio invited Ben Okafor (the DOOR App, 1 key, starting %d-01-01 10:00)", start.Year()), `<td data-label="How">Doorcode</td>`, `<td data-label="How">Keycard</td>`)
		outside := detailsRE.ReplaceAllString(body, "")
		mustNotContain(t, outside, serial, "unknown_code", "<code>door.unlocked</code>", "lock event", "lock Unit 101")
		mustContain(t, body, serial, "<code>door.denied</code>")
		// Door Sync's acknowledgements: hidden, then shown on request.
		mustNotContain(t, body, "<code>door.synced</code>")
		mustContain(t, words(c.get(e.p("activity")+"?system=1")), "<code>door.synced</code>", `id="system" checked`)
		mustContain(t, words(c.get(e.p("activity")+"?kind=door.synced")), "<code>door.synced</code>")
		csvAll := c.get(e.p("activity.csv") + "?system=1").Body
		csvDefault := c.get(e.p("activity.csv")).Body
		if !strings.Contains(csvAll, "door.synced") || strings.Contains(csvDefault, "door.synced") || !strings.Contains(csvDefault, "door.unlocked") {
			t.Errorf("CSV export does not follow the Door Sync filter:\n%s", csvDefault)
		}
		// The person page says the same.
		mustContain(t, words(c.get(e.p("people", ana.ID))), "Ana Garcia opened Unit 101")
	})
}
