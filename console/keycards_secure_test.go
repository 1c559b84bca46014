package console_test

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var cardKeyRE = regexp.MustCompile(`Write this key to the card \(shown once\): ([A-Za-z0-9+/=]+)\.`)

// TestKeycardsSecureAndCloneable: a serial-only card is marked cloneable on
// the Keycards page and the person page; a secure card activated from the
// page shows its key once, and a lock synced afterwards refuses its serial
// alone and opens for the card holding the key.
func TestKeycardsSecureAndCloneable(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newSyncEnv(t, st)
		ana := e.invite("Ana", "Garcia", "ana@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		ben := e.invite("Ben", "Okafor", "ben@example.com", domain.GrantInput{KeyID: e.f.Home.ID})
		pm := e.login(storetest.PMEmail)
		unit := e.boot(pm, e.f.Unit101.ID)

		r := pm.submit(e.p("keycards", ana.ID, "activate"), url.Values{"serial": {"04PLAIN"}, "q": {"garcia"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("activate: %d %s", r.Status, r.Body)
		}
		page := pm.get(r.Header.Get("Location")).Body
		mustContain(t, page, "serial only: cloneable", `>cloneable</span>`)
		mustContain(t, pm.get(e.p("people", ana.ID)).Body, `id="keycard-kind"`, `>cloneable</span>`, `id="card-secure"`)

		r = pm.submit(e.p("keycards", ben.ID, "activate"), url.Values{"serial": {"04SECURE"}, "secure": {"1"}, "q": {"okafor"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("activate secure: %d %s", r.Status, r.Body)
		}
		page = pm.get(r.Header.Get("Location")).Body
		// The page escapes '+' of the base64 key as &#43;: read it as a
		// browser shows it.
		m := cardKeyRE.FindStringSubmatch(html.UnescapeString(page))
		if m == nil {
			t.Fatalf("no card key shown:\n%.3000s", page)
		}
		key, err := base64.StdEncoding.DecodeString(m[1])
		if err != nil || len(key) != lockproto.CardKeySize {
			t.Fatalf("card key %q: %v", m[1], err)
		}
		mustContain(t, pm.get(e.p("people", ben.ID)).Body, `id="keycard-kind"`, `>secure</span>`)
		mustNotContain(t, html.UnescapeString(pm.get(e.p("people", ben.ID)).Body), m[1])

		e.sync(unit, e.f.Unit101.ID)
		if tap(t, unit, "04SECURE") {
			t.Fatal("the secure card's serial alone opened the lock")
		}
		if d, _ := unit.PresentCard(lockproto.SimCard{UID: "04SECURE", Key: key}); !d.Granted {
			t.Fatalf("the secure card with its key: %+v", d)
		}
		if !tap(t, unit, "04PLAIN") {
			t.Fatal("the serial-only card stopped working")
		}
	})
}
