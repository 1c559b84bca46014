package lock

import (
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// A courier credential (SyncOnly) proves the phone for a Door Sync: the
// lock takes its bundle and hands its log, and never opens the door, even
// in an Unlock, whatever the schedule; revoked or expired it proves nothing.
func TestCourierCredentialSyncsNeverOpens(t *testing.T) {
	e := newEnv(t, "lock-a")
	syncOnly := func(mod func(*lockproto.Credential)) []byte {
		return e.cred(func(c *lockproto.Credential) {
			c.PersonID, c.SyncOnly = "p-courier", true
			if mod != nil {
				mod(c)
			}
		})
	}
	prove := func(t *testing.T, typ lockproto.ChannelMsg, cred []byte) (*Session, *lockproto.Channel, *lockproto.UnlockResult) {
		t.Helper()
		s, ch := e.connect()
		req, _ := lockproto.NewUnlockRequest(ch, cred, e.devPriv, nil)
		rb, _ := req.Encode()
		rt, body := sealed(t, s, ch, typ, rb)
		if rt != lockproto.ChanResult {
			t.Fatalf("proof answered %d", rt)
		}
		res, err := lockproto.DecodeUnlockResult(body)
		if err != nil {
			t.Fatal(err)
		}
		return s, ch, res
	}
	wantDecision(t, e.unlock(syncOnly(nil)), false, ReasonSyncOnly)

	t.Run("UnlockRefusedButSyncs", func(t *testing.T) {
		s, ch, res := prove(t, lockproto.ChanUnlock, syncOnly(nil))
		if res.Granted || !res.Authenticated || res.Reason != ReasonSyncOnly {
			t.Fatalf("result %+v", res)
		}
		if rt, _ := sealed(t, s, ch, lockproto.ChanBundle, e.seal(lockproto.Bundle{Version: 1, Snapshot: true})); rt != lockproto.ChanAck {
			t.Fatalf("bundle answered %d", rt)
		}
		if e.lock.Status().Version != 1 {
			t.Fatal("bundle from a courier not applied")
		}
		if rt, _ := sealed(t, s, ch, lockproto.ChanLogRequest, lockproto.EncodeLogRequest(1)); rt != lockproto.ChanEvents {
			t.Fatalf("log request answered %d", rt)
		}
	})
	t.Run("OutsideScheduleStillNeverOpens", func(t *testing.T) {
		always := lockproto.Schedule{{Day: time.Sunday, Start: 0, End: 24 * 60}, {Day: time.Monday, Start: 0, End: 24 * 60},
			{Day: time.Tuesday, Start: 0, End: 24 * 60}, {Day: time.Wednesday, Start: 0, End: 24 * 60}, {Day: time.Thursday, Start: 0, End: 24 * 60},
			{Day: time.Friday, Start: 0, End: 24 * 60}, {Day: time.Saturday, Start: 0, End: 24 * 60}}
		c := syncOnly(func(c *lockproto.Credential) { c.Locks[0].Schedule = always })
		wantDecision(t, e.unlock(c), false, ReasonSyncOnly)
	})
	t.Run("RevokedProvesNothing", func(t *testing.T) {
		c := syncOnly(nil) // issued an hour before now
		e.apply(lockproto.Bundle{Base: 1, Version: 2, Revocations: []lockproto.Revocation{{PersonID: "p-courier", EffectiveAt: e.clock.Now()}}})
		s, ch, res := prove(t, lockproto.ChanAuthenticate, c)
		if res.Authenticated || res.Reason != ReasonRevoked {
			t.Fatalf("result %+v", res)
		}
		rt, rb := sealed(t, s, ch, lockproto.ChanBundle, e.seal(lockproto.Bundle{Base: 2, Version: 3}))
		if ce, err := lockproto.DecodeChannelError(rb); rt != lockproto.ChanError || err != nil || ce.Code != "not_authenticated" {
			t.Fatalf("bundle from a revoked courier answered %d %+v", rt, ce)
		}
	})
	t.Run("ExpiredProvesNothing", func(t *testing.T) {
		c := syncOnly(func(c *lockproto.Credential) { c.PersonID = "p-other"; c.NotAfter = e.clock.Now().Add(-time.Second) })
		if _, _, res := prove(t, lockproto.ChanAuthenticate, c); res.Authenticated || res.Reason != ReasonExpired {
			t.Fatalf("result %+v", res)
		}
	})
}
