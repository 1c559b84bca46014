package store_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestRevocationKeptForLongestLifetimeEver: a 168 h lifetime, the person
// revoked, the lifetime lowered to 24 h, 25 h later the lock's next bundle
// still carries the revocation and tells the lock to keep revocations 168 h
// (credentials issued under the old setting are still on phones); once
// every such credential has expired the cloud's snapshot leaves it out.
// Also: guest-code slots — only allocated ones and the spares are active.
func TestRevocationKeptForLongestLifetimeEver(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		keys := storetest.Keyring(t, st)
		door := e.f.Lobby.ID
		if _, err := st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{CredentialLifetimeHours: 168}); err != nil {
			t.Fatal(err)
		}
		mal := e.invite("Mal", "Lory", "mal@example.com")
		pub, provs := storetest.ProvisionLocks(t, st, keys, e.f.PM, e.prop(), door)
		prov := provs[0]
		bundle := func() *lockproto.Bundle { return e.lockBundle(keys, pub, prov, door) }
		revoked := func(b *lockproto.Bundle) bool {
			for _, r := range b.Revocations {
				if r.PersonID == mal.ID {
					return true
				}
			}
			return false
		}

		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), mal.ID); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Minute)
		if _, err := st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{CredentialLifetimeHours: 24}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(25 * time.Hour)
		e.invite("Ann", "Other", "ann@example.com") // a new version of the door
		b := bundle()
		if !revoked(b) {
			t.Fatalf("25 h after the revocation the bundle dropped it: %+v", b.Revocations)
		}
		if b.MaxCredentialLifetime != 24*time.Hour || b.RevocationRetention != 168*time.Hour {
			t.Fatalf("bundle lifetime %v retention %v, want 24h and 168h", b.MaxCredentialLifetime, b.RevocationRetention)
		}
		// Lowering further, or raising below the old maximum, keeps 168 h.
		if _, err := st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{CredentialLifetimeHours: 48}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(144 * time.Hour) // 169 h after the revocation
		e.invite("Bea", "Other", "bea@example.com")
		b = bundle()
		if revoked(b) {
			t.Fatal("revocation kept after every credential issued before it expired")
		}
		if b.RevocationRetention != 168*time.Hour {
			t.Fatalf("retention %v after raising to 48 h, want 168h", b.RevocationRetention)
		}

		// The Lobby takes doorcodes: its Building key's guest slots — no
		// guest code handed out yet — are the spares only.
		if len(b.DayKeys) == 0 {
			t.Fatal("no day key at the Lobby")
		}
		for _, k := range b.DayKeys {
			if len(k.ActiveSlots) != domain.SpareCodeSlots || int(k.Slots) <= domain.SpareCodeSlots {
				t.Fatalf("day key %s: active slots %v of %d", k.KeyID, k.ActiveSlots, k.Slots)
			}
		}
	})
}
