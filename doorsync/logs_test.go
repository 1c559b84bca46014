package doorsync_test

import (
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// uploadLog posts sealed batches as a phone's sync report and returns the
// result of each.
func (p *phone) uploadLog(t *testing.T, doorID string, batches ...[]byte) []store.LogResult {
	t.Helper()
	r := p.e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": doorID, "events": batches})
	if r.Status != 200 {
		t.Fatalf("sync report = %d: %s", r.Status, r.Body)
	}
	var out struct{ Events []store.LogResult }
	r.Decode(t, &out)
	return out.Events
}

// logFrom is the mailbox's log_from for a door (0 when absent).
func (p *phone) logFrom(t *testing.T, doorID string) uint64 {
	t.Helper()
	var box struct {
		LogFrom map[string]uint64 `json:"log_from"`
	}
	p.e.Do("GET", "/api/v1/me/mailbox", p.token, nil).Decode(t, &box)
	return box.LogFrom[doorID]
}

// syncLog is the honest phone: fetch from where the cloud says, upload,
// repeat until the cloud has everything.
func (p *phone) syncLog(t *testing.T, l *simLock) (added int, gap uint64) {
	t.Helper()
	from := p.logFrom(t, l.id)
	if from == 0 {
		t.Fatal("mailbox gives no log_from for the door")
	}
	for range 100 {
		batch, err := l.EventsSince(from)
		if err != nil {
			t.Fatal(err)
		}
		r := p.uploadLog(t, l.id, batch)[0]
		added, gap = added+r.Added, gap+r.Gap
		if r.LogNext <= from {
			return added, gap
		}
		from = r.LogNext
	}
	t.Fatal("log sync did not finish")
	return
}

func activity(t *testing.T, e *env, kind string) []domain.Event {
	t.Helper()
	var acts struct{ Items []domain.Event }
	e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?limit=200&kind="+kind, e.PMToken, nil).Decode(t, &acts)
	return acts.Items
}

// TestDoorSync_LogBatchesOutOfOrder: a batch delivered before the one it
// follows is stored, not discarded; the earlier batch fills the hole
// later, and no gap is flagged because nothing was lost.
func TestDoorSync_LogBatchesOutOfOrder(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for range 2 {
			if d := p.unlockDirect(bike); !d.Granted {
				t.Fatalf("unlock: %+v", d)
			}
		}
		first, _ := bike.EventsSince(1) // boot + 2 unlocks
		for range 3 {
			p.unlockDirect(bike)
		}
		second, _ := bike.EventsSince(4)

		r := p.uploadLog(t, bike.id, second)[0]
		if r.Added != 3 || r.Gap != 0 || r.LogNext != 1 {
			t.Fatalf("later batch first: %+v, want 3 added, no gap, next still 1", r)
		}
		if got := p.logFrom(t, bike.id); got != 1 {
			t.Fatalf("log_from = %d, want 1 (events 1-3 still missing)", got)
		}
		r = p.uploadLog(t, bike.id, first)[0]
		if r.Added != 3 || r.Gap != 0 || r.LogNext != 7 {
			t.Fatalf("earlier batch: %+v, want 3 added, next 7", r)
		}
		if r := p.uploadLog(t, bike.id, second)[0]; r.Added != 0 {
			t.Fatalf("replayed batch added %d", r.Added)
		}
		if n := len(activity(t, e, domain.EventDoorUnlocked)); n != 5 {
			t.Errorf("%d unlocks in Activity, want 5", n)
		}
		if g := activity(t, e, store.EventLogGap); len(g) != 0 {
			t.Errorf("gap flagged though nothing was lost: %+v", g)
		}
	})
}

// TestDoorSync_LostEventsFlaggedAsGap: events overwritten on the lock
// before anyone collected them are flagged, exactly those, around a batch
// the cloud did receive.
func TestDoorSync_LostEventsFlaggedAsGap(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provisionWith("bike", lock.Options{LogRetention: 5})
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for range 3 {
			p.unlockDirect(bike)
		}
		middle, _ := bike.EventsSince(3) // events 3-4
		if r := p.uploadLog(t, bike.id, middle)[0]; r.Added != 2 || r.Gap != 0 {
			t.Fatalf("middle batch: %+v", r)
		}
		for range 12 {
			p.unlockDirect(bike)
		}
		oldest := bike.Status().LogNext - 5 // at least the retained five
		added, gap := p.syncLog(t, bike)
		gaps := activity(t, e, store.EventLogGap)
		if len(gaps) != 2 {
			t.Fatalf("gap entries = %d (%+v), want 2: events 1-2 and 5 up to the lock's oldest", len(gaps), gaps)
		}
		if gap < 2 || gap+2 >= oldest || added < 5 {
			t.Fatalf("gap %d, added %d (lock next %d)", gap, added, bike.Status().LogNext)
		}
		if got := p.logFrom(t, bike.id); got != bike.Status().LogNext {
			t.Fatalf("log_from = %d, lock next = %d", got, bike.Status().LogNext)
		}
	})
}

// TestDoorSync_JunkDoesNotMakeSyncSkipIntrusion: after an intrusion attempt
// ~300 junk requests pile up; the next honest sync (no bundle pending)
// still collects the intrusion, because the cloud says where to fetch from.
func TestDoorSync_JunkDoesNotMakeSyncSkipIntrusion(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for _, it := range p.mailbox() {
			if it.LockID == bike.id {
				ack, err := bike.ApplyBundle(it.Bundle)
				if err != nil {
					t.Fatal(err)
				}
				p.e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": bike.id, "ack": ack})
			}
		}
		p.syncLog(t, bike)
		for _, it := range p.mailbox() {
			if it.LockID == bike.id {
				t.Fatal("bike still has a pending bundle")
			}
		}
		bike.TapCard("INTRUDER-CLONE")
		for i := range 300 {
			junkProof(t, bike.Lock, []byte{byte(i)})
			bike.EnterCode("000000" + string(rune('0'+i%10)))
		}
		p.syncLog(t, bike)
		found := false
		for _, a := range activity(t, e, domain.EventDoorDenied) {
			found = found || strings.Contains(a.Detail, "INTRUDER-CLONE")
		}
		if !found {
			t.Fatal("the intrusion attempt never reached Activity")
		}
	})
}

// TestDoorSync_HugeCardSerialDoesNotStickLog: a 60 KiB card "serial" is
// logged bounded, the batch is accepted and collection goes on.
func TestDoorSync_HugeCardSerialDoesNotStickLog(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		for i := range 300 {
			bike.TapCard(strings.Repeat(string(rune('A'+i%26)), 60<<10))
		}
		p.unlockDirect(bike)
		p.syncLog(t, bike)
		if got := p.logFrom(t, bike.id); got != bike.Status().LogNext {
			t.Fatalf("log collection stuck at %d, lock at %d", got, bike.Status().LogNext)
		}
		denied := activity(t, e, domain.EventDoorDenied)
		if len(denied) == 0 || !strings.Contains(denied[len(denied)-1].Detail, "sha256:") {
			t.Fatalf("huge serial not logged as a digest: %+v", denied)
		}
		if len(activity(t, e, domain.EventDoorUnlocked)) != 1 {
			t.Fatal("the unlock after the junk was not collected")
		}
	})
}

// TestDoorSync_LogForkFlagged: a second history signed with the same lock
// key (a lock restored from an old flash image, or a copied key) is
// refused, and flagged in Activity rather than sticking unseen.
func TestDoorSync_LogForkFlagged(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		bike, prov := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		twin := bootLock(t, prov.Provisioning, lock.Options{})
		p.unlockDirect(bike)
		twin.TapCard("OTHER-HISTORY")
		p.syncLog(t, bike)
		forked, _ := twin.EventsSince(1)
		r := p.e.Do("POST", "/api/v1/me/sync-reports", p.token, map[string]any{"door_id": bike.id, "events": [][]byte{forked}})
		if r.Status != 409 {
			t.Fatalf("forked batch: %d %s, want 409", r.Status, r.Body)
		}
		if f := activity(t, e, store.EventLogFork); len(f) != 1 || !strings.Contains(f[0].Detail, "forks at event") {
			t.Fatalf("fork flags = %+v, want one", f)
		}
		if n := len(activity(t, e, domain.EventDoorDenied)); n != 0 {
			t.Fatalf("the forked history reached Activity (%d denials)", n)
		}
	})
}

// junkProof is a stranger's garbage "unlock" over the v2 channel: anyone
// may run the handshake, and what he sends then is judged and logged.
func junkProof(t testing.TB, l *lock.Lock, junk []byte) {
	t.Helper()
	hs, hello, err := lockproto.NewPhoneHandshake(l.LockID(), l.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	s, accept, err := l.OpenSession(hello)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := hs.Finish(accept)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Handle(ch.Seal(lockproto.EncodeChannelMsg(lockproto.ChanUnlock, junk))); err != nil {
		t.Fatal(err)
	}
}
