package console_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestKeycardsPage: a manager with Card Activation and no Key Management
// finds people by email or name and activates and deactivates their card,
// which a real lock then takes and refuses.
func TestKeycardsPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		ben := e.invite("Ben", "Okafor", "ben@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		pid := e.f.Property.ID
		e.manager("cards@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, CardActivation: true})
		e.manager("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited})
		e.manager("nothing@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		unit := e.boot(e.login(storetest.PMEmail), e.f.Unit101.ID)
		e.sync(unit, e.f.Unit101.ID)
		cards := e.login("cards@example.com")
		card := func(id string) *store.Keycard {
			k, err := st.PersonKeycard(ctx, e.f.PM, pid, id)
			if domain.ErrorCode(err) == domain.ENotFound {
				return nil
			}
			if err != nil {
				t.Fatal(err)
			}
			return &k
		}

		t.Run("Card Activation alone reaches the page, not the person page", func(t *testing.T) {
			r := cards.get(e.p("people"))
			mustContain(t, r.Body, `id="nav-keycards"`)
			mustNotContain(t, r.Body, `id="nav-imports"`, `id="nav-pms"`, `id="nav-reports"`)
			if r := cards.get(e.p("people", ana.ID)); r.Status != http.StatusForbidden {
				t.Errorf("person page: %d, want 403", r.Status)
			}
			r = cards.get(e.p("keycards"))
			if r.Status != http.StatusOK {
				t.Fatalf("status %d", r.Status)
			}
			mustContain(t, r.Body, `id="keycards-search"`, `id="keycards-none"`)
		})
		t.Run("find by email and activate", func(t *testing.T) {
			r := cards.get(e.p("keycards") + "?q=" + url.QueryEscape("ana@example.com"))
			mustContain(t, r.Body, `id="holder-`+ana.ID+`"`, "Ana Garcia", `action="`+e.p("keycards", ana.ID, "activate")+`"`)
			mustNotContain(t, r.Body, "Ben Okafor", `href="`+e.p("people", ana.ID)+`"`)
			r = cards.submit(e.p("keycards", ana.ID, "activate"), url.Values{"serial": {"04:a2:19"}, "q": {"ana@example.com"}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != e.p("keycards")+"?q=ana%40example.com" {
				t.Fatalf("status %d location %q: %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			if k := card(ana.ID); k == nil || k.Serial != "04:A2:19" || !k.Active {
				t.Fatalf("card %+v", k)
			}
			mustContain(t, cards.get(r.Header.Get("Location")).Body, "Activated keycard 04:A2:19", "<code>04:A2:19</code>")
		})
		bad := []struct{ name, person, serial, want string }{
			{"ErrSerialCharacters", ben.ID, "04 A2 <b>", "may contain only"},
			{"ErrSerialEmpty", ben.ID, "  ", "must be 1 to 64 characters"},
			{"ErrSerialActiveElsewhere", ben.ID, "04:A2:19", "active for another person"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				r := cards.submit(e.p("keycards", tc.person, "activate"), url.Values{"serial": {tc.serial}, "q": {"okafor"}})
				if r.Status != http.StatusBadRequest {
					t.Fatalf("status %d, want 400", r.Status)
				}
				mustContain(t, r.Body, tc.want, `id="holder-`+ben.ID+`"`)
				if k := card(ben.ID); k != nil {
					t.Fatalf("Ben got a card anyway: %+v", k)
				}
			})
		}
		t.Run("the lock takes the card after a sync", func(t *testing.T) {
			e.sync(unit, e.f.Unit101.ID)
			if !tap(t, unit, "04:A2:19") {
				t.Fatal("Unit 101 refuses the activated card")
			}
		})
		t.Run("deactivate: the page names the door still holding it", func(t *testing.T) {
			cards.get(e.p("keycards") + "?q=garcia")
			r := cards.submit(e.p("keycards", ana.ID, "deactivate"), url.Values{"q": {"garcia"}})
			if r.Status != http.StatusSeeOther {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			r = cards.get(r.Header.Get("Location"))
			mustContain(t, r.Body, "It still works at Unit 101 until that door is synced", `id="keycards-still-held"`)
			if !tap(t, unit, "04:A2:19") {
				t.Fatal("before its sync the offline lock should still take the card")
			}
			e.sync(unit, e.f.Unit101.ID)
			if tap(t, unit, "04:A2:19") {
				t.Fatal("the synced lock still takes the deactivated card")
			}
			mustNotContain(t, cards.get(e.p("keycards")).Body, `id="keycards-still-held"`)
		})
		t.Run("Key Management without Card Activation sees, cannot change", func(t *testing.T) {
			lim := e.login("limited@example.com")
			r := lim.get(e.p("keycards") + "?q=ben")
			if r.Status != http.StatusOK {
				t.Fatalf("status %d", r.Status)
			}
			mustContain(t, r.Body, "Ben Okafor", "Needs Card Activation", `href="`+e.p("people", ben.ID)+`"`)
			mustNotContain(t, r.Body, `action="`+e.p("keycards", ben.ID, "activate")+`"`)
			if r := lim.submit(e.p("keycards", ben.ID, "activate"), url.Values{"serial": {"CARD-9"}}); r.Status != http.StatusForbidden {
				t.Errorf("activate: %d, want 403", r.Status)
			}
			if k := card(ben.ID); k != nil {
				t.Fatalf("Ben got a card: %+v", k)
			}
		})
		t.Run("neither: 403", func(t *testing.T) {
			n := e.login("nothing@example.com")
			mustNotContain(t, n.get(e.p("doors")).Body, `id="nav-keycards"`)
			if r := n.get(e.p("keycards") + "?q=ana"); r.Status != http.StatusForbidden {
				t.Errorf("page: %d, want 403", r.Status)
			}
			if r := n.submit(e.p("keycards", ben.ID, "activate"), url.Values{"serial": {"CARD-9"}}); r.Status != http.StatusForbidden {
				t.Errorf("activate: %d, want 403", r.Status)
			}
		})
		t.Run("ErrForgedCSRF", func(t *testing.T) {
			if r := cards.post(e.p("keycards", ben.ID, "activate"), url.Values{"serial": {"CARD-9"}, "csrf": {"forged"}}); r.Status != http.StatusForbidden {
				t.Errorf("status %d, want 403", r.Status)
			}
			if k := card(ben.ID); k != nil {
				t.Fatalf("Ben got a card: %+v", k)
			}
		})
	})
}

// TestReportsPage: the six reports from the console, the same files as the
// API's, for full Key Management only; the keycards report names the door
// a deactivated card still opens until it syncs.
func TestReportsPage(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		e := newSyncEnv(t, st)
		evil := e.invite("=HYPERLINK(1)", "@Evil", "evil@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		pid := e.f.Property.ID
		e.manager("limited@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementLimited, CardActivation: true})
		c := e.login(storetest.PMEmail)
		unit := e.boot(c, e.f.Unit101.ID)
		if _, err := st.ActivateKeycard(ctx, e.f.PM, pid, evil.ID, "-CARD-1"); err != nil {
			t.Fatal(err)
		}
		e.sync(unit, e.f.Unit101.ID)
		if _, err := st.DeactivateKeycard(ctx, e.f.PM, pid, evil.ID); err != nil {
			t.Fatal(err)
		}
		download := func(c *client, name string) [][]string {
			t.Helper()
			r := c.get(e.p("reports", name+".csv"))
			if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("%s: status %d %q: %s", name, r.Status, r.Header.Get("Content-Type"), r.Body)
			}
			body, ok := bytes.CutPrefix([]byte(r.Body), []byte("\uFEFF"))
			if !ok {
				t.Errorf("%s: no BOM", name)
			}
			recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				for _, cell := range rec {
					if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
						t.Errorf("%s: cell %q would start a formula", name, cell)
					}
				}
			}
			return recs
		}

		r := c.get(e.p("reports"))
		mustContain(t, r.Body, `id="nav-reports"`)
		for _, name := range []string{"admin-actions", "assigned-access", "keys", "devices", "keycards", "people-keys"} {
			t.Run(name, func(t *testing.T) {
				mustContain(t, r.Body, `id="report-`+name+`"`, `href="`+e.p("reports", name+".csv")+`"`)
				if recs := download(c, name); len(recs) < 2 {
					t.Errorf("%d lines", len(recs))
				}
			})
		}
		t.Run("keycards: the deactivated card and the door still holding it", func(t *testing.T) {
			recs := download(c, "keycards")
			if len(recs) != 2 {
				t.Fatalf("lines %q", recs)
			}
			line := strings.Join(recs[1], "|")
			for _, want := range []string{"'-CARD-1", "'=HYPERLINK(1)", "'@Evil", "deactivated", "Unit 101 (offline)"} {
				if !strings.Contains(line, want) {
					t.Errorf("line %q lacks %q", line, want)
				}
			}
			e.sync(unit, e.f.Unit101.ID)
			if recs := download(c, "keycards"); strings.Contains(strings.Join(recs[1], "|"), "Unit 101") {
				t.Errorf("after the sync the card is still held: %q", recs[1])
			}
		})
		t.Run("devices: the lock's state", func(t *testing.T) {
			recs := download(c, "devices")
			head := strings.Join(recs[0], "|")
			for _, want := range []string{"Lock Provisioned", "Connection", "Last Seen", "Lock Version"} {
				if !strings.Contains(head, want) {
					t.Errorf("header %q lacks %q", head, want)
				}
			}
			found := false
			for _, rec := range recs[1:] {
				if rec[0] == "Unit 101" {
					found = true
					if line := strings.Join(rec, "|"); !strings.Contains(line, "|yes|") || !strings.Contains(line, "bluetooth") {
						t.Errorf("Unit 101: %q, want provisioned and bluetooth", line)
					}
				}
			}
			if !found {
				t.Error("no line for Unit 101")
			}
		})
		t.Run("permissions", func(t *testing.T) {
			// Reports need Key Management (any level).
			lim := e.login("limited@example.com")
			mustContain(t, lim.get(e.p("people")).Body, `id="nav-reports"`)
			if r := lim.get(e.p("reports")); r.Status != http.StatusOK {
				t.Errorf("limited: page %d, want 200", r.Status)
			}
			e.manager("cardsonly@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, CardActivation: true, DeviceManagement: true})
			none := e.login("cardsonly@example.com")
			mustNotContain(t, none.get(e.p("doors")).Body, `id="nav-reports"`)
			if r := none.get(e.p("reports")); r.Status != http.StatusForbidden {
				t.Errorf("page: %d, want 403", r.Status)
			}
			if r := none.get(e.p("reports", "keycards.csv")); r.Status != http.StatusForbidden || strings.Contains(r.Body, "CARD-1") {
				t.Errorf("download: %d, want 403", r.Status)
			}
			if r := c.get(e.p("reports", "secrets.csv")); r.Status != http.StatusNotFound {
				t.Errorf("unknown report: %d, want 404", r.Status)
			}
			if r := e.anon().get(e.p("reports", "keys.csv")); r.Status != http.StatusSeeOther {
				t.Errorf("without a session: %d, want a redirect to login", r.Status)
			}
		})
	})
}
