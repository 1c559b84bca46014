package lock

import (
	"testing"

	"github.com/dooros/dooros/lockproto"
)

func TestNoticeSmoke(t *testing.T) {
	e := newEnv(t, "lock-1")
	e.apply(lockproto.Bundle{LockID: "lock-1", Version: 1, Snapshot: true, TrustedTime: t0,
		Doorcodes: []lockproto.DoorcodeEntry{{Code: "123456", PersonID: "p1"}}})
	wantDecision(t, e.code("123456"), true, ReasonOK)
	signed, err := lockproto.SignRevocationNotice(e.propPriv, lockproto.RevocationNotice{Persons: []string{"p1"}, IssuedAt: t0})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := lockproto.SealRevocationNotice(signed, "lock-1", e.keys.Symmetric, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !lockproto.IsRevocationNotice(sealed) || lockproto.IsRevocationNotice(e.seal(lockproto.Bundle{LockID: "lock-1", Version: 2, Base: 1, TrustedTime: t0})) {
		t.Fatal("IsRevocationNotice")
	}
	if err := e.lock.ApplyNotice(sealed); err != nil {
		t.Fatal(err)
	}
	if s := e.lock.Status(); s.Suspended != 1 || s.SuspendedDoorcodes != 1 {
		t.Fatalf("status %+v", s)
	}
	wantDecision(t, e.code("123456"), false, ReasonRevoked)
	e.reboot()
	wantDecision(t, e.code("123456"), false, ReasonRevoked)
	e.apply(lockproto.Bundle{LockID: "lock-1", Version: 2, Base: 1, TrustedTime: t0})
	wantDecision(t, e.code("123456"), true, ReasonOK)
}
