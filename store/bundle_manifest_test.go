package store_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestLargeBundleManifest: a bundle over lockproto.ChunkThreshold is
// stored with a manifest signed by the property key the lock trusts; every
// courier is handed the same one (the stored bundle is reused), and a
// small bundle has none.
func TestLargeBundleManifest(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		keys := storetest.Keyring(t, st)
		door := e.f.Lobby.ID
		pub, _ := storetest.ProvisionLocks(t, st, keys, e.f.PM, e.prop(), door)
		small, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if len(small.Sealed) > lockproto.ChunkThreshold || small.Manifest != nil {
			t.Fatalf("a bundle of %d bytes got a manifest of %d", len(small.Sealed), len(small.Manifest))
		}
		doorcode := func(in *domain.InviteInput) { in.Access = domain.AccessDoorcode }
		for i := range 520 {
			e.invite("Code", fmt.Sprintf("Holder%d", i), fmt.Sprintf("code%d@example.com", i), doorcode)
		}
		big, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if len(big.Sealed) <= lockproto.ChunkThreshold {
			t.Fatalf("520 doorcodes sealed in %d bytes: not over the chunk threshold", len(big.Sealed))
		}
		m, err := lockproto.OpenBundleManifest(pub, door, big.Manifest)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m.Digest, lockproto.BundleDigest(big.Sealed)) || int(m.Length) != len(big.Sealed) || m.Version != uint64(big.Version) {
			t.Fatalf("manifest %d bytes v%d does not describe the bundle (%d bytes v%d)", m.Length, m.Version, len(big.Sealed), big.Version)
		}
		again, err := st.BuildDoorBundle(ctx, keys, keys, door)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again.Sealed, big.Sealed) || !bytes.Equal(again.Manifest, big.Manifest) {
			t.Fatal("a second courier got another bundle or manifest: it could not resume the first one's transfer")
		}
	})
}
