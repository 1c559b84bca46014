package doorsync_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/dooros/dooros/lock"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorSync_SecureKeycard: a secure card activated through the API gets
// its key once; the lock learns it from its sealed bundle and then refuses
// the serial alone (read from a log or the air) and a card keyed for
// another serial, and opens for the genuine card. A serial-only card is
// marked cloneable. Deactivation removes the secure card too.
func TestDoorSync_SecureKeycard(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		lobby, lp := e.provision("lobby")
		connectMQTT(e.ctx, t, e.url, lp.MQTTPassword, lobby.Lock)
		ana := e.invite("ana@example.com")
		ben := e.invite("ben@example.com")
		path := "/api/v1/properties/" + e.prop() + "/people/"

		var plain store.Keycard
		if r := e.Do("POST", path+ben.ID+"/keycard", e.PMToken, map[string]any{"serial": "04PLAIN"}); r.Status != 200 {
			t.Fatalf("activate = %d: %s", r.Status, r.Body)
		} else {
			r.Decode(t, &plain)
		}
		if !plain.Cloneable || plain.Secure || plain.CardKey != nil {
			t.Fatalf("serial-only card: %+v, want cloneable without key", plain)
		}

		var k store.Keycard
		r := e.Do("POST", path+ana.ID+"/keycard", e.PMToken, map[string]any{"serial": "04secure", "secure": true})
		if r.Status != 200 {
			t.Fatalf("activate secure = %d: %s", r.Status, r.Body)
		}
		r.Decode(t, &k)
		if !k.Secure || k.Cloneable || len(k.CardKey) != lockproto.CardKeySize {
			t.Fatalf("secure card: %+v", k)
		}
		var again store.Keycard
		e.Do("GET", path+ana.ID+"/keycard", e.PMToken, nil).Decode(t, &again)
		if again.CardKey != nil || !again.Secure {
			t.Fatalf("reading the card again: %+v (the key is given only at activation)", again)
		}
		card := lockproto.SimCard{UID: "04SECURE", Key: k.CardKey}
		eventually(t, 10*time.Second, "online lock takes the secure card", func() bool { d, _ := lobby.PresentCard(card); return d.Granted })
		if d, _ := lobby.TapCard("04SECURE"); d.Granted || d.Reason != lock.ReasonCardAuth {
			t.Fatalf("the serial alone: %+v", d)
		}
		if d, _ := lobby.PresentCard(lockproto.SimCard{UID: "04SECURE", Key: bytes.Repeat([]byte{1}, 16)}); d.Granted {
			t.Fatal("a card with a guessed key opened")
		}
		if d, _ := lobby.TapCard("04PLAIN"); !d.Granted {
			t.Fatalf("serial-only card: %+v", d)
		}
		// Making an active serial-only card secure stops its serial alone.
		var upgraded store.Keycard
		e.Do("POST", path+ben.ID+"/keycard", e.PMToken, map[string]any{"serial": "04PLAIN", "secure": true}).Decode(t, &upgraded)
		if !upgraded.Secure || len(upgraded.CardKey) != lockproto.CardKeySize {
			t.Fatalf("upgrade: %+v", upgraded)
		}
		eventually(t, 10*time.Second, "lock refuses the upgraded card's serial alone", func() bool { d, _ := lobby.TapCard("04PLAIN"); return !d.Granted })
		if d, _ := lobby.PresentCard(lockproto.SimCard{UID: "04PLAIN", Key: upgraded.CardKey}); !d.Granted {
			t.Fatalf("upgraded card with its key: %+v", d)
		}
		if r := e.Do("DELETE", path+ana.ID+"/keycard", e.PMToken, nil); r.Status != 200 {
			t.Fatalf("deactivate = %d", r.Status)
		}
		eventually(t, 10*time.Second, "lock refuses the deactivated secure card", func() bool { d, _ := lobby.PresentCard(card); return !d.Granted })
	})
}
