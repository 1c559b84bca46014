package keyring_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/keyring"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func master(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, keyring.MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSeal(t *testing.T) {
	kr, err := keyring.New(master(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kr.Seal([]byte("secret"), "row/1")
	if err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		got, err := kr.Open(sealed, "row/1")
		if err != nil || string(got) != "secret" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	})
	t.Run("ErrOtherRow", func(t *testing.T) {
		if _, err := kr.Open(sealed, "row/2"); err == nil {
			t.Fatal("a sealed value opened under another row's aad")
		}
	})
	t.Run("ErrOtherMasterKey", func(t *testing.T) {
		other, _ := keyring.New(master(t), nil)
		if _, err := other.Open(sealed, "row/1"); err == nil {
			t.Fatal("opened with another master key")
		}
	})
	t.Run("ErrTampered", func(t *testing.T) {
		raw, _ := base64.RawStdEncoding.DecodeString(sealed[3:])
		raw[len(raw)-1] ^= 1
		if _, err := kr.Open("v1."+base64.RawStdEncoding.EncodeToString(raw), "row/1"); err == nil {
			t.Fatal("a tampered value opened")
		}
	})
	t.Run("ErrNotSealed", func(t *testing.T) {
		if _, err := kr.Open("plain", "row/1"); err == nil {
			t.Fatal("opened a value that was never sealed")
		}
	})
	t.Run("ErrMasterKeySize", func(t *testing.T) {
		if _, err := keyring.New(make([]byte, 16), nil); err == nil {
			t.Fatal("accepted a 16-byte master key")
		}
	})
}

func TestMasterKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "data", "master.key")
	t.Run("CreatedOnFirstStart", func(t *testing.T) {
		k, created, err := keyring.LoadMasterKey("", path, true)
		if err != nil || !created || len(k) != keyring.MasterKeySize {
			t.Fatalf("LoadMasterKey = %d bytes, created %v, %v", len(k), created, err)
		}
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("master key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
		}
		again, created, err := keyring.LoadMasterKey("", path, true)
		if err != nil || created || !bytes.Equal(again, k) {
			t.Fatalf("second start: created %v, same %v, %v", created, bytes.Equal(again, k), err)
		}
	})
	t.Run("EnvironmentWins", func(t *testing.T) {
		want := master(t)
		k, _, err := keyring.LoadMasterKey(base64.StdEncoding.EncodeToString(want), path, true)
		if err != nil || !bytes.Equal(k, want) {
			t.Fatalf("env key not used: %v", err)
		}
	})
	t.Run("ErrMissingWithoutCreate", func(t *testing.T) {
		if _, _, err := keyring.LoadMasterKey("", filepath.Join(dir, "none.key"), false); err == nil {
			t.Fatal("a missing --master-key-file was not an error")
		}
	})
	t.Run("ErrReadableByOthers", func(t *testing.T) {
		p := filepath.Join(dir, "open.key")
		os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(master(t))), 0o644)
		if _, _, err := keyring.LoadMasterKey("", p, false); err == nil {
			t.Fatal("a world-readable master key was accepted")
		}
	})
	t.Run("ErrBadBase64", func(t *testing.T) {
		if _, err := keyring.ParseMasterKey("not base64!"); err == nil {
			t.Fatal("accepted garbage")
		}
	})
}

func TestPropertySigner(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		m := master(t)
		a, _ := keyring.New(m, st)
		b, _ := keyring.New(m, st)
		// Two servers asking at once agree on one key.
		var wg sync.WaitGroup
		keys := make([]ed25519.PrivateKey, 2)
		for i, kr := range []*keyring.Keyring{a, b} {
			wg.Go(func() {
				k, err := kr.PropertySigner(ctx, f.Property.ID)
				if err != nil {
					t.Error(err)
				}
				keys[i] = k
			})
		}
		wg.Wait()
		if !keys[0].Equal(keys[1]) {
			t.Fatal("two keyrings created different property keys")
		}
		pub, sealed, err := st.PropertyKey(ctx, f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains([]byte(sealed), []byte(base64.StdEncoding.EncodeToString(keys[0].Seed()))) {
			t.Fatal("the private key is stored in the clear")
		}
		if pub != base64.StdEncoding.EncodeToString(keys[0].Public().(ed25519.PublicKey)) {
			t.Error("stored public key does not match")
		}
		wrong, _ := keyring.New(master(t), st)
		if _, err := wrong.PropertySigner(ctx, f.Property.ID); err == nil {
			t.Error("the property key opened under another master key")
		}
		if _, err := a.PropertySigner(ctx, domain.NewID("prp")); err == nil {
			t.Error("a key was created for a property that does not exist")
		}
	})
}

// TestPropertyKeyRotation: the next key is sealed like the current one and
// bound to its property; once a rotation finishes (at once here: no lock is
// provisioned) every server signs with the new key — a keyring that had
// opened the old key does not keep handing it out — and the old private key
// is gone from storage.
func TestPropertyKeyRotation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		m := master(t)
		a, _ := keyring.New(m, st)
		b, _ := keyring.New(m, st)
		old, err := b.PropertySigner(ctx, f.Property.ID) // b caches the old key
		if err != nil {
			t.Fatal(err)
		}
		pub, sealed, err := a.NewPropertyKey(f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		if signers, _ := a.PropertySigners(ctx, f.Property.ID); len(signers) != 1 {
			t.Fatal("NewPropertyKey stored a key by itself")
		}
		state, err := st.StartPropertyKeyRotation(ctx, f.PM, f.Property.ID, pub, sealed)
		if err != nil {
			t.Fatal(err)
		}
		if state.Rotation != nil || state.PublicKey != base64.StdEncoding.EncodeToString(pub) || state.PreviousFingerprint != store.KeyFingerprint(old.Public().(ed25519.PublicKey)) {
			t.Fatalf("a property with no lock did not finish at once: %+v", state)
		}
		got, err := b.PropertySigners(ctx, f.Property.ID)
		if err != nil || len(got) != 1 || !got[0].Public().(ed25519.PublicKey).Equal(pub) {
			t.Fatalf("another server after the rotation: %d keys, %v", len(got), err)
		}
		row, err := st.PropertyKeys(ctx, f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		if row.NextSealed != "" || strings.Contains(row.Sealed, base64.StdEncoding.EncodeToString(got[0].Seed())) {
			t.Fatal("storage after the rotation holds a next key or the key in the clear")
		}
		wrong, _ := keyring.New(master(t), st)
		if _, err := wrong.PropertySigner(ctx, f.Property.ID); err == nil {
			t.Error("the rotated key opened under another master key")
		}

		// A next key sealed for another property does not open here: a row
		// copied between properties signs nothing.
		other, err := st.CreateProperty(ctx, f.PM, domain.PropertyInput{Name: "Other Court", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.PropertySigner(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		pub2, sealed2, err := a.NewPropertyKey(f.Property.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.StartPropertyKeyRotation(ctx, f.PM, other.ID, pub2, sealed2); err != nil {
			t.Fatal(err)
		}
		fresh, _ := keyring.New(m, st)
		if _, err := fresh.PropertySigner(ctx, other.ID); err == nil {
			t.Fatal("a key sealed for another property opened")
		}
	})
}
