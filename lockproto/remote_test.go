package lockproto_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
)

// FuzzVerifyRemoteUnlock: nothing but the command the property signed
// verifies, whatever the bytes.
func FuzzVerifyRemoteUnlock(f *testing.F) {
	fx := fixedFixture()
	good, err := lockproto.IssueRemoteUnlock(fx.propPriv, lockproto.RemoteUnlock{LockID: "lock-1", PersonID: "p-1", Counter: 7,
		IssuedAt: now, NotAfter: now.Add(30 * time.Second), Schedule: lockproto.Schedule{{Day: time.Monday, Start: 60, End: 120}}})
	if err != nil {
		f.Fatal(err)
	}
	want, err := lockproto.VerifyRemoteUnlock(fx.propPub, good)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := lockproto.VerifyRemoteUnlock(fx.propPub, data)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("accepted a command the property never signed: %+v", got)
		}
	})
}

// TestRemoteContextsSeparate: a command is no credential, time token or
// ack, and a lock's result is no ack, whichever key signed them.
func TestRemoteContextsSeparate(t *testing.T) {
	fx := fixedFixture()
	cmd, err := lockproto.IssueRemoteUnlock(fx.propPriv, lockproto.RemoteUnlock{LockID: "lock-1", PersonID: "p-1", Counter: 1, IssuedAt: now, NotAfter: now.Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockproto.VerifyCredential(fx.propPub, cmd); err == nil {
		t.Error("a remote unlock command verified as a credential")
	}
	if _, err := lockproto.VerifyTimeToken(fx.propPub, cmd); err == nil {
		t.Error("a remote unlock command verified as a time token")
	}
	res, err := lockproto.SignRemoteResult(fx.lock.Private, lockproto.RemoteResult{LockID: "lock-1", Command: lockproto.RemoteDigest(cmd), Counter: 1, Granted: true, Reason: "ok", LockTime: now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockproto.VerifyAck(fx.lock.Public, "lock-1", res); err == nil {
		t.Error("a remote result verified as an ack")
	}
	if _, err := lockproto.VerifyRemoteResult(fx.lock.Public, "lock-2", cmd, res); err == nil {
		t.Error("a result from lock-1 verified as lock-2's")
	}
	if got, err := lockproto.VerifyRemoteResult(fx.lock.Public, "lock-1", cmd, res); err != nil || !got.Granted {
		t.Errorf("the genuine result: %+v, %v", got, err)
	}
}
