package keyring_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
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
