package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/throttle"
)

// An outsider spraying passwords over many accounts cannot escape the
// per-address limit by writing a new X-Forwarded-For on every request:
// the header counts only from a configured trusted proxy. Behind one, the
// forwarded address is what is limited, so one client behind the proxy
// does not block the others.
func TestLoginLimitIgnoresForgedForwardedFor(t *testing.T) {
	st := storetest.OpenSQLite(t)
	storetest.Seed(t, st)
	s := api.New(st, nil, nil)
	mux := http.NewServeMux()
	s.Routes(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	login := func(email, xff string) int {
		b, _ := json.Marshal(map[string]string{"email": email, "password": "guess"})
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/auth/login", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for i := range throttle.AddressLoginFailures {
		if code := login(fmt.Sprintf("victim%d@example.com", i), fmt.Sprintf("198.51.100.%d", i)); code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, code)
		}
	}
	if code := login("another@example.com", "203.0.113.77"); code != http.StatusTooManyRequests {
		t.Fatalf("after %d guesses from one peer with forged X-Forwarded-For: %d, want 429", throttle.AddressLoginFailures, code)
	}

	// Now the test client is a trusted proxy: the forwarded address counts.
	proxies, err := throttle.ParseProxies("127.0.0.1, ::1")
	if err != nil {
		t.Fatal(err)
	}
	s.Limiter = throttle.NewLogin()
	s.Limiter.Proxies = proxies
	mux2 := http.NewServeMux()
	s.Routes(mux2)
	srv.Config.Handler = mux2
	for i := range throttle.AddressLoginFailures {
		login(fmt.Sprintf("v%d@example.com", i), "198.51.100.1")
	}
	if code := login("another@example.com", "198.51.100.1"); code != http.StatusTooManyRequests {
		t.Errorf("behind a trusted proxy the forwarded address was not limited: %d", code)
	}
	if code := login("another@example.com", "198.51.100.2"); code != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy is blocked: %d", code)
	}
}
