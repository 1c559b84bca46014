package doorsync_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/lockproto/ble"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// The cloud certifies each provisioned lock's key to the phones whose
// credentials name its door, and a re-provisioned lock's new key replaces
// the old: the old lock (or anyone with its key) can no longer pass as the
// door.
func TestLockCertificates(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		old, _ := e.provision("bike")
		e.invite("ana@example.com")
		p := e.login("ana@example.com")
		if got := p.lockKeys[old.id]; !got.Equal(old.PublicKey()) {
			t.Fatalf("certified key of the bike room %x, lock's %x", got, old.PublicKey())
		}
		if _, ok := p.lockKeys[e.doors["lobby"].ID]; ok {
			t.Fatal("a certificate for the lobby, whose lock was never provisioned")
		}

		replaced, _ := e.provision("bike")
		serveBLE(e.ctx, t, old)
		p = e.login("ana@example.com")
		if got := p.lockKeys[replaced.id]; !got.Equal(replaced.PublicKey()) || got.Equal(old.PublicKey()) {
			t.Fatal("the certificate does not follow the re-provisioned lock's key")
		}
		ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
		defer cancel()
		if _, err := ble.DialLock(ctx, old.ble, ble.Config{Rate: -1}, old.id, p.lockKeys[old.id]); !errors.Is(err, lockproto.ErrSignature) {
			t.Fatalf("the replaced lock passes as the bike room: %v", err)
		}
	})
}
