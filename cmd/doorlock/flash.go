package main

import (
	"encoding/base64"
	"fmt"

	"github.com/dooros/dooros/lock"
)

// deviceKeyEnv names the variable holding the simulated lock's device key
// (base64, 32 bytes): what a real lock keeps in its secure element, outside
// the flash. With it the state directory is sealed (lock.SealedFS), so a
// copy of the directory gives no doorcode, day secret or lock key.
const deviceKeyEnv = "DOORLOCK_DEVICE_KEY"

// flash returns the lock's flash in dir, sealed when a device key is set.
func flash(dir string, getenv func(string) string) (lock.FS, error) {
	v := getenv(deviceKeyEnv)
	if v == "" {
		return lock.DirFS(dir), nil
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) != lock.DeviceKeySize {
		return nil, fmt.Errorf("%s must be %d bytes, base64", deviceKeyEnv, lock.DeviceKeySize)
	}
	return lock.SealedFS(lock.DirFS(dir), key)
}
