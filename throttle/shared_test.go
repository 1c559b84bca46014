package throttle_test

import (
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/throttle"
)

// TestSharedLoginAcrossInstances: two servers on one database each have
// their own Login; failures made on either count on both, a success on
// one clears the account on both, and the address limit is shared too.
func TestSharedLoginAcrossInstances(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		a := throttle.NewSharedLogin(st, nil, nil)
		b := throttle.NewSharedLogin(st, nil, nil)
		const acct = "pat@example.com"
		for i := range throttle.AccountLoginFailures {
			if a.Blocked(acct, "198.51.100.1") || b.Blocked(acct, "198.51.100.2") {
				t.Fatalf("blocked after %d failures", i)
			}
			if i%2 == 0 {
				a.Fail(acct, "198.51.100.1")
			} else {
				b.Fail(acct, "198.51.100.2")
			}
		}
		if !a.Blocked(acct, "203.0.113.50") || !b.Blocked(acct, "203.0.113.51") {
			t.Fatalf("%d failures spread over two instances do not block the account", throttle.AccountLoginFailures)
		}
		if a.Blocked("other@example.com", "203.0.113.50") {
			t.Error("another account is blocked")
		}
		b.Reset(acct)
		if a.Blocked(acct, "203.0.113.50") {
			t.Error("a success on one instance did not clear the account on the other")
		}
		for i := range throttle.AddressLoginFailures {
			l := a
			if i%2 == 1 {
				l = b
			}
			l.Fail("spray"+string(rune('a'+i%26))+"@example.com", "192.0.2.66")
		}
		if !a.Blocked("new@example.com", "192.0.2.66") || !b.Blocked("new@example.com", "192.0.2.66") {
			t.Error("the address limit is not shared")
		}
	})
}
