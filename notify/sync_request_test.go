package notify_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestSyncRequestEmail: a manager asks a door's residents to open the app
// near it; the email goes out over SMTP to who still holds access when it
// is sent, once per door per hour.
func TestSyncRequestEmail(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		w := e.worker()
		ann, bo := e.invite("ann@example.com"), e.invite("bo@example.com")
		runOnce(t, w) // the welcome emails
		for i, p := range []domain.PersonView{ann, bo, bo} {
			if err := st.AddEvent(ctx, domain.Event{PropertyID: e.F.Property.ID, At: e.now.Add(-time.Duration(i+1) * time.Hour), Kind: domain.EventDoorUnlocked,
				Actor: "Door Sync", PersonID: p.ID, PersonName: p.Name(), DoorID: e.F.Unit101.ID}); err != nil {
				t.Fatal(err)
			}
		}
		asked, err := st.RequestResidentSync(ctx, e.F.PM, e.F.Property.ID, e.F.Unit101.ID)
		if err != nil || len(asked) != 2 || asked[0].PersonID != bo.ID {
			t.Fatalf("RequestResidentSync = %+v, %v; want Bo then Ann", asked, err)
		}
		// Ann is revoked before the email goes out: she gets none.
		if r := e.Do("POST", "/api/v1/properties/"+e.F.Property.ID+"/people/"+ann.ID+"/revoke", e.PMToken, nil); r.Status/100 != 2 {
			t.Fatalf("revoke = %d: %s", r.Status, r.Body)
		}
		runOnce(t, w)
		kinds := func(addr string) (n int) {
			for _, m := range e.smtp.MessagesTo(addr) {
				if m.MustParse(t).HeaderValue(mail.KindHeader) == mail.KindSyncRequest {
					n++
				}
			}
			return n
		}
		if a, b := kinds("ann@example.com"), kinds("bo@example.com"); a != 0 || b != 1 {
			t.Fatalf("sync request emails: Ann %d, Bo %d; want 0 and 1", a, b)
		}
		if _, err := st.RequestResidentSync(ctx, e.F.PM, e.F.Property.ID, e.F.Unit101.ID); domain.ErrorCode(err) != domain.ERateLimited {
			t.Fatalf("second ask within the hour = %v, want rate_limited", err)
		}
		e.advance(61 * time.Minute)
		if asked, err := st.RequestResidentSync(ctx, e.F.PM, e.F.Property.ID, e.F.Unit101.ID); err != nil || len(asked) != 1 || asked[0].PersonID != bo.ID {
			t.Fatalf("ask after the hour = %+v, %v; want Bo only (Ann revoked)", asked, err)
		}
		runOnce(t, w)
		if b := kinds("bo@example.com"); b != 2 {
			t.Fatalf("Bo got %d sync request emails, want 2", b)
		}
	})
}
