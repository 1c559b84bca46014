package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
)

// TestProvisionSealedWithDeviceKey: with DOORLOCK_DEVICE_KEY set, the state
// directory (the simulated flash) holds no lock key in the clear, boots
// with that key and not with another; a malformed key is refused.
func TestProvisionSealedWithDeviceKey(t *testing.T) {
	propPub, _, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("door-gym")
	dir := t.TempDir()
	provFile := filepath.Join(dir, "lock.json")
	provJSON, _ := json.Marshal(lockproto.NewProvisioning(keys, propPub, "America/New_York", time.Now()))
	if err := os.WriteFile(provFile, provJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, lock.DeviceKeySize)
	rand.Read(key)
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == deviceKeyEnv {
				return v
			}
			return ""
		}
	}
	state := filepath.Join(dir, "state")
	var out bytes.Buffer
	if err := run(t.Context(), []string{"provision", "--state", state, provFile}, env("not base64!"), nil, &out, &out); err == nil {
		t.Fatal("a malformed device key was accepted")
	}
	if err := run(t.Context(), []string{"provision", "--state", state, provFile}, env(base64.StdEncoding.EncodeToString(key)), nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(state)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(state, e.Name()))
		if bytes.Contains(data, keys.Symmetric) || bytes.Contains(data, keys.Private.Seed()) {
			t.Errorf("%s holds a lock key in the clear", e.Name())
		}
	}
	fsys, err := flash(state, env(base64.StdEncoding.EncodeToString(key)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Open(lock.Options{FS: fsys}); err != nil {
		t.Fatalf("boot with the device key: %v", err)
	}
	other := make([]byte, lock.DeviceKeySize)
	rand.Read(other)
	fsys, _ = flash(state, env(base64.StdEncoding.EncodeToString(other)))
	if _, err := lock.Open(lock.Options{FS: fsys}); !errors.Is(err, lock.ErrCorrupt) {
		t.Fatalf("boot with another device key: %v", err)
	}
}
