package locksim_test

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/locksim"
)

// The control socket presents a secure card when given its key, and a bare
// serial as a serial-only card, which a secure entry refuses.
func TestControlSecureCard(t *testing.T) {
	propPub, propPriv, _ := lockproto.NewPropertyKey()
	keys, _ := lockproto.NewLockKeys("door-gym")
	fs := lock.NewMemFS()
	if err := lock.Provision(fs, lockproto.NewProvisioning(keys, propPub, "Europe/Berlin", time.Now())); err != nil {
		t.Fatal(err)
	}
	l, err := lock.Open(lock.Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	master, _ := lockproto.NewCardMasterKey()
	key := lockproto.CardKey(master, "04SECURE")
	sealed, err := lockproto.SealBundle(propPriv, keys.Symmetric, lockproto.Bundle{LockID: "door-gym", Version: 1, Snapshot: true,
		Keycards: []lockproto.KeycardEntry{{Serial: "04SECURE", PersonID: "p1", Key: key}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.ApplyBundle(sealed); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		line    string
		granted bool
		reason  string
	}{
		{"card 04SECURE " + base64.StdEncoding.EncodeToString(key), true, lock.ReasonOK},
		{"card 04SECURE", false, lock.ReasonCardAuth},
		{"card 04SECURE " + base64.StdEncoding.EncodeToString(lockproto.CardKey(master, "04OTHER")), false, lock.ReasonCardAuth},
	} {
		r := locksim.ControlCommand(l, c.line)
		if r.Error != "" || r.Granted == nil || *r.Granted != c.granted || r.Reason != c.reason {
			t.Errorf("%q: %+v", c.line[:min(len(c.line), 20)], r)
		}
	}
	if r := locksim.ControlCommand(l, "card 04SECURE not-base64!"); r.Error == "" {
		t.Errorf("bad key accepted: %+v", r)
	}
}
