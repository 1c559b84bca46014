package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/throttle"
)

// loginFrom logs in from a given loopback source address (127.0.0.N), so
// tests can tell the per-address limit from the per-account one. These
// requests bypass apitest's validation; the limited answers themselves are
// validated through e.Do below.
func loginFrom(t *testing.T, e *env, src, email, password string) int {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	defer c.CloseIdleConnections()
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	res, err := c.Post(e.Server.URL+"/api/v1/auth/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestLoginRateLimit: five failed logins block the account (from any
// address) for a minute; an address is blocked (for any account) only
// after throttle.AddressLoginFailures failures, so one manager mistyping a
// password behind a shared address locks nobody else out; a correct
// password does not get through a block.
func TestLoginRateLimit(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		t.Run("per account", func(t *testing.T) {
			e := newEnv(t, st)
			for i := 0; i < 5; i++ {
				// One failure from each of five addresses: no address reaches the limit.
				if got := loginFrom(t, e, "127.0.0."+itoa(int64(10+i)), storetest.PMEmail, "wrong password"); got != 401 {
					t.Fatalf("attempt %d: %d, want 401", i, got)
				}
			}
			if got := loginFrom(t, e, "127.0.0.20", storetest.PMEmail, storetest.PMPassword); got != 429 {
				t.Errorf("right password on a blocked account from a fresh address: %d, want 429", got)
			}
			res := e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": storetest.PMEmail, "password": storetest.PMPassword})
			if res.Status != 429 || res.ErrorCode() != "rate_limited" || res.Header.Get("Retry-After") == "" {
				t.Errorf("blocked account: %d Retry-After=%q %s, want 429 rate_limited with Retry-After", res.Status, res.Header.Get("Retry-After"), res.Body)
			}
			// Other accounts still log in from those addresses.
			storetest.Manager(t, st, e.F.PM, "other@example.com", nil)
			if got := loginFrom(t, e, "127.0.0.10", "other@example.com", storetest.PMPassword); got != 200 {
				t.Errorf("other account: %d, want 200", got)
			}
		})
	})
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		t.Run("per address", func(t *testing.T) {
			e := newEnv(t, st)
			storetest.Manager(t, st, e.F.PM, "colleague@example.com", nil)
			// One manager locks their own account out from a shared address…
			for i := 0; i < throttle.AccountLoginFailures; i++ {
				if got := loginFrom(t, e, "127.0.0.30", "colleague@example.com", "wrong password"); got != 401 {
					t.Fatalf("attempt %d: %d, want 401", i, got)
				}
			}
			if got := loginFrom(t, e, "127.0.0.30", "colleague@example.com", storetest.PMPassword); got != 429 {
				t.Errorf("the failing account from its address: %d, want 429", got)
			}
			// …and only their own: the next manager behind it logs in.
			if got := loginFrom(t, e, "127.0.0.30", storetest.PMEmail, storetest.PMPassword); got != 200 {
				t.Errorf("another account from the same address: %d, want 200", got)
			}
			// One address spraying guesses over many accounts is stopped at
			// the per-address limit.
			for i := throttle.AccountLoginFailures; i < throttle.AddressLoginFailures; i++ {
				if got := loginFrom(t, e, "127.0.0.30", "guess"+itoa(int64(i))+"@example.com", "wrong password"); got != 401 {
					t.Fatalf("attempt %d: %d, want 401", i, got)
				}
			}
			if got := loginFrom(t, e, "127.0.0.30", storetest.PMEmail, storetest.PMPassword); got != 429 {
				t.Errorf("right password from an address over its limit: %d, want 429", got)
			}
			if got := loginFrom(t, e, "127.0.0.31", storetest.PMEmail, storetest.PMPassword); got != 200 {
				t.Errorf("same account from another address: %d, want 200", got)
			}
		})
	})
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		t.Run("success resets the account", func(t *testing.T) {
			e := newEnv(t, st)
			for round := 0; round < 3; round++ {
				for i := 0; i < 4; i++ {
					loginFrom(t, e, "127.0.0."+itoa(int64(40+round*5+i)), storetest.PMEmail, "wrong password")
				}
				if got := loginFrom(t, e, "127.0.0."+itoa(int64(44+round*5)), storetest.PMEmail, storetest.PMPassword); got != 200 {
					t.Fatalf("round %d: login after 4 failures: %d, want 200", round, got)
				}
			}
		})
	})
}

// TestTokens: login gives a working token that expires with the clock;
// logout ends only that token; invitation tokens are not API tokens.
func TestTokens(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		var login struct {
			Token     string    `json:"token"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		e.want(e.Do("POST", "/api/v1/auth/login", "", map[string]string{"email": " PM@Example.com ", "password": storetest.PMPassword}), 200).Decode(t, &login)
		if d := login.ExpiresAt.Sub(st.Now()); d < 11*time.Hour || d > store.APITokenTTL {
			t.Errorf("token lives %v, want about %v", d, store.APITokenTTL)
		}
		e.want(e.Do("GET", "/api/v1/me", login.Token, nil), 200)

		t.Run("missing or malformed header", func(t *testing.T) {
			for _, h := range []string{"", "Bearer", "Bearer ", "Basic " + login.Token, "bearer " + login.Token, login.Token} {
				req, _ := http.NewRequest("GET", e.Server.URL+"/api/v1/me", nil)
				if h != "" {
					req.Header.Set("Authorization", h)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != 401 {
					t.Errorf("Authorization %q: %d, want 401", h, res.StatusCode)
				}
			}
		})

		t.Run("expiry", func(t *testing.T) {
			real := st.Now
			defer func() { st.Now = real }()
			st.Now = func() time.Time { return real().Add(store.APITokenTTL - time.Minute) }
			e.want(e.Do("GET", "/api/v1/me", login.Token, nil), 200)
			st.Now = func() time.Time { return real().Add(store.APITokenTTL + time.Minute) }
			res := e.Do("GET", "/api/v1/me", login.Token, nil)
			if res.Status != 401 || res.ErrorCode() != "unauthenticated" {
				t.Errorf("expired token: %d %s", res.Status, res.Body)
			}
		})

		t.Run("logout", func(t *testing.T) {
			other := storetest.Token(t, st, storetest.PMEmail)
			e.want(e.Do("POST", "/api/v1/auth/logout", login.Token, nil), 204)
			e.want(e.Do("GET", "/api/v1/me", login.Token, nil), 401)
			e.want(e.Do("POST", "/api/v1/auth/logout", login.Token, nil), 401)
			e.want(e.Do("GET", "/api/v1/me", other, nil), 200)
		})
	})
}

// TestManagerInvitation: a manager added without a password cannot log in
// until they accept the invitation from the outbox email; the token works
// once and expires.
func TestManagerInvitation(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		ctx := context.Background()
		var m struct {
			ID          string `json:"id"`
			HasPassword bool   `json:"has_password"`
		}
		e.ok("POST", "/api/v1/managers", map[string]any{"email": "newpm@example.com", "first_name": "New", "last_name": "Manager", "role": "property_manager"}, 201).Decode(t, &m)
		if m.HasPassword {
			t.Error("has_password true without a password")
		}
		e.ok("PUT", "/api/v1/managers/"+m.ID+"/properties/"+e.F.Property.ID, map[string]any{"key_management": "limited"}, 200)
		login := map[string]string{"email": "newpm@example.com", "password": "chosen password 1"}
		e.want(e.Do("POST", "/api/v1/auth/login", "", login), 401)

		items, err := st.ClaimOutbox(ctx, store.TopicManagerInvitation, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 1 || items[0].SubjectID != m.ID {
			t.Fatalf("invitation outbox rows %+v, want one for %s", items, m.ID)
		}
		var payload struct{ Token string }
		if err := json.Unmarshal([]byte(items[0].Payload), &payload); err != nil || payload.Token == "" {
			t.Fatalf("payload %s: %v", items[0].Payload, err)
		}
		e.want(e.Do("GET", "/api/v1/me", payload.Token, nil), 401) // not an API token

		res := e.Do("POST", "/api/v1/auth/accept-invitation", "", map[string]string{"token": payload.Token, "password": "short"})
		if res.Status != 400 || fieldOf(res.Body) != "password" {
			t.Errorf("short password: %d %s", res.Status, res.Body)
		}
		e.want(e.Do("POST", "/api/v1/auth/accept-invitation", "", map[string]string{"token": payload.Token, "password": "chosen password 1"}), 204)
		e.want(e.Do("POST", "/api/v1/auth/accept-invitation", "", map[string]string{"token": payload.Token, "password": "chosen password 2"}), 401)

		var tok struct{ Token string }
		e.want(e.Do("POST", "/api/v1/auth/login", "", login), 200).Decode(t, &tok)
		var me struct {
			ID         string
			Properties []struct {
				KeyManagement string `json:"key_management"`
			}
		}
		e.want(e.Do("GET", "/api/v1/me", tok.Token, nil), 200).Decode(t, &me)
		if me.ID != m.ID || len(me.Properties) != 1 || me.Properties[0].KeyManagement != "limited" {
			t.Errorf("me %+v", me)
		}
		var after struct {
			HasPassword bool `json:"has_password"`
		}
		e.ok("GET", "/api/v1/managers/"+m.ID, nil, 200).Decode(t, &after)
		if !after.HasPassword {
			t.Error("has_password still false after accepting")
		}

		t.Run("expired invitation", func(t *testing.T) {
			if _, err := st.CreateManager(ctx, e.F.PM, domain.ManagerInput{Email: "late@example.com", FirstName: "Late", LastName: "Manager", Role: domain.RolePropertyManager}); err != nil {
				t.Fatal(err)
			}
			items, err := st.ClaimOutbox(ctx, store.TopicManagerInvitation, 10)
			if err != nil || len(items) != 1 {
				t.Fatalf("claim: %v %+v", err, items)
			}
			var p struct{ Token string }
			json.Unmarshal([]byte(items[0].Payload), &p)
			real := st.Now
			defer func() { st.Now = real }()
			st.Now = func() time.Time { return real().Add(store.InvitationTTL + time.Minute) }
			e.want(e.Do("POST", "/api/v1/auth/accept-invitation", "", map[string]string{"token": p.Token, "password": "chosen password 1"}), 401)
		})
	})
}
