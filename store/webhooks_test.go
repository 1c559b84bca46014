package store_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var localHooks = domain.WebhookPolicy{AllowPrivate: true}

func (e *env) webhook(a domain.Actor, property string, kinds ...string) domain.Webhook {
	e.t.Helper()
	w, _, err := e.st.CreateWebhook(ctx, a, storetest.Keyring(e.t, e.st), localHooks, domain.WebhookInput{PropertyID: property, URL: "https://hooks.example.com/" + property, Kinds: kinds})
	if err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *env) deliveries(w domain.Webhook) []store.WebhookDelivery {
	e.t.Helper()
	ds, _, err := e.st.WebhookDeliveries(ctx, e.f.PM, w.ID, "", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ds
}

// TestWebhookQueuedWithTheChange: a delivery is queued in the transaction
// that writes the Activity entry — none when it rolls back — for every
// enabled endpoint of the property or organisation that wants the kind.
func TestWebhookQueuedWithTheChange(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		other, err := st.CreateProperty(ctx, e.f.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		people := e.webhook(e.f.PM, e.prop(), "person.*")
		unlocks := e.webhook(e.f.PM, e.prop(), "door.unlocked")
		org := e.webhook(e.f.PM, "", "*")
		oak := e.webhook(e.f.PM, other.ID, "*")
		paused := e.webhook(e.f.PM, e.prop(), "*")
		off := false
		if _, err := st.UpdateWebhook(ctx, e.f.PM, localHooks, paused.ID, domain.WebhookPatch{Enabled: &off}); err != nil {
			t.Fatal(err)
		}

		p := e.invite("Ana", "Lopez", "ana@example.com")
		if ds := e.deliveries(people); len(ds) != 1 || ds[0].Kind != domain.EventPersonInvited || ds[0].PersonID != p.ID || ds[0].State != store.WebhookPending {
			t.Fatalf("person.* endpoint: %+v", ds)
		}
		if n := len(e.deliveries(unlocks)); n != 0 {
			t.Fatalf("door.unlocked endpoint got %d deliveries for an invite", n)
		}
		if n := len(e.deliveries(org)); n != 1 {
			t.Fatalf("organisation endpoint: %d", n)
		}
		if n := len(e.deliveries(oak)) + len(e.deliveries(paused)); n != 0 {
			t.Fatalf("another property's or a paused endpoint got %d", n)
		}
		// A use case that fails leaves no delivery behind.
		_, err = st.Invite(ctx, e.f.PM, e.prop(), domain.InviteInput{FirstName: "Ana", LastName: "Again", Email: "ana@example.com", Access: domain.AccessApp})
		if err == nil {
			t.Fatal("second invite of one email succeeded")
		}
		if n := len(e.deliveries(people)); n != 1 {
			t.Fatalf("a failed invite queued %d deliveries", n-1)
		}
		// Another property's Activity reaches the organisation's endpoint.
		if _, err := st.CreateDoor(ctx, e.f.PM, other.ID, domain.DoorInput{Name: "Oak Lobby", Type: domain.DoorEntrance, Connectivity: domain.Online}); err != nil {
			t.Fatal(err)
		}
		if len(e.deliveries(org)) != 2 || len(e.deliveries(oak)) != 1 || len(e.deliveries(people)) != 1 {
			t.Fatal("door.created of the other property went to the wrong endpoints")
		}
		// An event a device reports goes through the same hook.
		if err := st.AddEvent(ctx, domain.Event{PropertyID: e.prop(), Kind: domain.EventDoorUnlocked, DoorID: e.f.Lobby.ID, PersonID: p.ID, Detail: "app"}); err != nil {
			t.Fatal(err)
		}
		if ds := e.deliveries(unlocks); len(ds) != 1 || ds[0].DoorID != e.f.Lobby.ID {
			t.Fatalf("unlock: %+v", ds)
		}
	})
}

// TestWebhookCreatorLosesAccess: an endpoint receives only events of
// properties its creator may still manage webhooks of; the others are
// skipped with the reason.
func TestWebhookCreatorLosesAccess(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		m := storetest.Manager(t, st, e.f.PM, "full@example.com", &domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementFull})
		w := e.webhook(m, e.prop(), "person.*")
		e.invite("Ana", "Lopez", "ana@example.com")
		if _, err := st.SetAssignment(ctx, e.f.PM, m.ManagerID, domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementLimited}); err != nil {
			t.Fatal(err)
		}
		jobs, err := st.ClaimWebhookDeliveries(ctx, 10)
		if err != nil || len(jobs) != 0 {
			t.Fatalf("claimed %d jobs (%v) for a creator without full Key Management", len(jobs), err)
		}
		ds := e.deliveries(w)
		if len(ds) != 1 || ds[0].State != store.WebhookSkipped || !strings.Contains(ds[0].LastError, "no longer manages") {
			t.Fatalf("%+v", ds)
		}
		now, err := st.Authenticate(ctx, storetest.Token(t, st, "full@example.com"), store.TokenKindAPI)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Webhook(ctx, now, w.ID); domain.ErrorCode(err) != domain.EForbidden {
			t.Fatalf("the manager still manages the endpoint: %v", err)
		}
	})
}

// TestWebhookOrderAndLease: a claimed delivery is leased; a later one
// about the same person waits until the first is done, another person's
// does not.
func TestWebhookOrderAndLease(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		w := e.webhook(e.f.PM, e.prop(), "person.*")
		ana := e.invite("Ana", "Lopez", "ana@example.com")
		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), ana.ID); err != nil {
			t.Fatal(err)
		}
		bob := e.invite("Bob", "Berg", "bob@example.com")
		jobs, err := st.ClaimWebhookDeliveries(ctx, 10)
		if err != nil || len(jobs) != 2 || jobs[0].Event.PersonID != ana.ID || jobs[0].Event.Kind != domain.EventPersonInvited || jobs[1].Event.PersonID != bob.ID {
			t.Fatalf("first claim %v %+v", err, jobs)
		}
		if again, _ := st.ClaimWebhookDeliveries(ctx, 10); len(again) != 0 {
			t.Fatalf("claimed %d while leased or waiting", len(again))
		}
		if err := st.RecordWebhookAttempt(ctx, jobs[0].DeliveryID, store.WebhookAttempt{At: e.clock.Now(), Status: 200, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		next, _ := st.ClaimWebhookDeliveries(ctx, 10)
		if len(next) != 1 || next[0].Event.Kind != domain.EventPersonRevoked {
			t.Fatalf("after the invite was delivered: %+v", next)
		}
		e.clock.Add(store.WebhookLease)
		if again, _ := st.ClaimWebhookDeliveries(ctx, 10); len(again) != 2 {
			t.Fatalf("after the lease ran out: %d", len(again))
		}
		if n := len(e.deliveries(w)); n != 3 {
			t.Fatalf("%d deliveries", n)
		}
	})
}

// TestWebhookPrune: finished deliveries older than the cutoff go; pending
// ones stay.
func TestWebhookPrune(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		w := e.webhook(e.f.PM, e.prop(), "person.*")
		e.invite("Ana", "Lopez", "ana@example.com")
		e.invite("Bob", "Berg", "bob@example.com")
		jobs, err := st.ClaimWebhookDeliveries(ctx, 1)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("%v %d", err, len(jobs))
		}
		if err := st.RecordWebhookAttempt(ctx, jobs[0].DeliveryID, store.WebhookAttempt{At: e.clock.Now(), Status: 204, Delivered: true}); err != nil {
			t.Fatal(err)
		}
		if n, err := st.PruneWebhookDeliveries(ctx, e.clock.Now().Add(-time.Hour), 100); err != nil || n != 0 {
			t.Fatalf("pruned %d recent (%v)", n, err)
		}
		e.clock.Add(31 * 24 * time.Hour)
		if n, err := st.PruneWebhookDeliveries(ctx, e.clock.Now().Add(-30*24*time.Hour), 100); err != nil || n != 1 {
			t.Fatalf("pruned %d (%v), want the delivered one", n, err)
		}
		if ds := e.deliveries(w); len(ds) != 1 || ds[0].State != store.WebhookPending {
			t.Fatalf("left %+v", ds)
		}
	})
}
