package console_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var utcStamp = regexp.MustCompile(`\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z`)

// TestFormErrorsInWords: the invite and key forms answer a wrong field
// beside it, with its label and times in the property's zone; nothing is
// written. An access that has already ended is refused; an invite without
// a key does not claim an email went out.
func TestFormErrorsInWords(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		c := e.login(storetest.PMEmail)
		c.get(e.p("people", "invite"))
		before := e.countPeople()
		invite := func(over map[string]string) url.Values {
			f := url.Values{"access": {"app"}, "first_name": {"Ana"}, "last_name": {"Garcia"}, "email": {"ana@example.com"},
				"key": {e.f.Building.ID}, "resident": {"on"}, "starts_at": {""}, "expires_at": {""}}
			for k, v := range over {
				if v == "" {
					f.Del(k)
				} else {
					f.Set(k, v)
				}
			}
			return f
		}
		later := storetest.YearsAhead(5)
		for _, tc := range []struct {
			name, field, want string
			over              map[string]string
		}{
			{"access already ended", "expires_at", "Expiration must be in the future", map[string]string{"starts_at": "2025-01-01T09:00", "expires_at": "2025-06-01T18:00"}},
			{"ends before it starts", "expires_at", "Expiration must be after the start", map[string]string{"starts_at": fmt.Sprintf("%d-02-01T09:00", later), "expires_at": fmt.Sprintf("%d-01-01T09:00", later)}},
			{"not an email", "email", "Email ", map[string]string{"email": "ana.example.com"}},
			{"no first name", "first_name", "First name ", map[string]string{"first_name": ""}},
		} {
			r := c.submit(e.p("people", "invite"), invite(tc.over))
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: status %d", tc.name, r.Status)
			}
			body := words(r)
			mustContain(t, body, `id="err-`+tc.field+`"`, tc.want)
			mustNotContain(t, body, tc.field+": ", "after starts_at", "expires_at:")
			if m := utcStamp.FindString(body); m != "" {
				t.Errorf("%s: a UTC time in the page: %s", tc.name, m)
			}
			if n := e.countPeople(); n != before {
				t.Fatalf("%s: %d people written", tc.name, n-before)
			}
		}
		// The ended access names its end in the property's zone.
		r := c.submit(e.p("people", "invite"), invite(map[string]string{"starts_at": "2025-01-01T09:00", "expires_at": "2025-06-01T18:00"}))
		mustContain(t, words(r), "(2025-06-01 18:00 EDT has passed)")

		// No key: no claim of an email going out.
		r = c.submit(e.p("people", "invite"), invite(map[string]string{"key": ""}))
		if r.Status != http.StatusSeeOther {
			t.Fatalf("invite without key: %d %s", r.Status, r.Body)
		}
		page := words(c.get(r.Header.Get("Location")))
		mustContain(t, page, "Invited Ana Garcia without a key", "the welcome email goes out when they get their first key")
		mustNotContain(t, page, "The welcome email goes out now")

		// A key's schedule names its door, beside that door's field.
		c.get(e.p("keys", "new"))
		r = c.submit(e.p("keys", "new"), url.Values{"name": {"Pool"}, "door": {e.f.Gym.ID, e.f.Lobby.ID},
			"schedule_" + e.f.Lobby.ID: {"mon-fri 06:00-22:00"}, "schedule_" + e.f.Gym.ID: {"mon,funday 06:00-22:00"}})
		if r.Status != http.StatusBadRequest {
			t.Fatalf("bad schedule: %d", r.Status)
		}
		body := words(r)
		mustContain(t, body, `id="err-schedule-`+e.f.Gym.ID+`"`, `Schedule for Gym: unknown weekday "funday"`)
		mustNotContain(t, body, "doors.schedule", `id="err-schedule-`+e.f.Lobby.ID+`"`)
		keys, _ := st.ListKeys(t.Context(), e.f.PM, e.f.Property.ID)
		for _, k := range keys {
			if strings.EqualFold(k.Name, "Pool") {
				t.Fatal("the key was written")
			}
		}
	})
}

// TestResendWelcomeButton: the person page's "Resend welcome email" queues
// it again and says so; for a person without a key the button is absent
// and a forged POST says why and queues nothing.
func TestResendWelcomeButton(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		cal := e.invite("Cal", "Contact", "cal@example.com")
		c := e.login(storetest.PMEmail)
		mustContain(t, c.get(e.p("people", ana.ID)).Body, `id="resend-welcome"`)
		r := c.submit(e.p("people", ana.ID, "welcome"), nil)
		if r.Status != http.StatusSeeOther {
			t.Fatalf("resend: %d %s", r.Status, r.Body)
		}
		mustContain(t, words(c.get(r.Header.Get("Location"))), "The welcome email goes out again to ana@example.com.")
		mustNotContain(t, c.get(e.p("people", cal.ID)).Body, `id="resend-welcome"`)
		r = c.submit(e.p("people", cal.ID, "welcome"), nil)
		mustContain(t, words(c.get(r.Header.Get("Location"))), "Cal Contact holds no key that opens anything for them yet")
		outbox, err := st.OutboxForSubject(t.Context(), cal.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(outbox) != 0 {
			t.Fatalf("emails queued for Cal: %+v", outbox)
		}
		if outbox, _ := st.OutboxForSubject(t.Context(), ana.ID); len(outbox) != 2 {
			t.Fatalf("Ana's emails: %+v, want the welcome twice", outbox)
		}
	})
}

// TestPeopleUnitColumnAndNameSearch: People shows each person's unit, and
// finds a person by the name as the list writes it ("Last, First").
func TestPeopleUnitColumnAndNameSearch(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		u, err := st.CreateUnit(t.Context(), e.f.PM, e.f.Property.ID, domain.UnitInput{Name: "4B"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Invite(t.Context(), e.f.PM, e.f.Property.ID, domain.InviteInput{FirstName: "Ana", LastName: "Garcia", Email: "ana@example.com",
			Access: domain.AccessApp, Resident: true, UnitID: u.ID, Keys: []domain.GrantInput{{KeyID: e.f.Building.ID}}}); err != nil {
			t.Fatal(err)
		}
		e.invite("Eve", "Martin", "eve@example.com", domain.GrantInput{KeyID: e.f.Building.ID})
		c := e.login(storetest.PMEmail)
		body := c.get(e.p("people")).Body
		mustContain(t, body, `id="sort-unit">Unit</a></th>`, `<td data-label="Unit">4B</td>`, `<td data-label="Unit">—</td>`)
		body = c.get(e.p("people") + "?q=" + url.QueryEscape("Garcia, Ana")).Body
		mustContain(t, body, "ana@example.com")
		mustNotContain(t, body, "eve@example.com")
	})
}
