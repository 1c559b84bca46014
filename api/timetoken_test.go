package api_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"testing"

	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestCredentialsCarryTimeToken: POST /me/credentials hands the phone, per
// property, a time token signed by the same property key as the credential
// (lockproto.TimeToken), stamped with the cloud's time: what a lock whose
// clock was reset needs from the first phone that unlocks it.
func TestCredentialsCarryTimeToken(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		e.invite("tina@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
		token := e.login("tina@example.com")
		r := e.Do("POST", "/api/v1/me/credentials", token, nil)
		if r.Status != 200 {
			t.Fatalf("refresh = %d: %s", r.Status, r.Body)
		}
		var l struct{ Items []store.IssuedCredential }
		r.Decode(t, &l)
		if len(l.Items) != 1 {
			t.Fatalf("credentials = %+v", l.Items)
		}
		c := l.Items[0]
		pub, _ := base64.StdEncoding.DecodeString(c.PropertyPublicKey)
		raw, err := base64.StdEncoding.DecodeString(c.TimeToken)
		if err != nil || len(raw) == 0 {
			t.Fatalf("time_token %q: %v", c.TimeToken, err)
		}
		tok, err := lockproto.VerifyTimeToken(ed25519.PublicKey(pub), raw)
		if err != nil {
			t.Fatalf("time token does not verify with the property key: %v", err)
		}
		if !tok.Time.Equal(e.clock().Truncate(1e9)) || tok.Epoch != 0 {
			t.Fatalf("token = %+v, want the cloud's time %v, epoch 0", tok, e.clock())
		}
		// It is a time, not a credential: the lock's credential check refuses it.
		if _, err := lockproto.VerifyCredential(ed25519.PublicKey(pub), raw); err == nil {
			t.Fatal("a time token verified as a credential")
		}
	})
}
