package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/webhook"
)

// TestServeWebhooks: `dooros serve --webhooks-allow-private` delivers a
// change made over the API to a receiver on this machine, signed; without
// the flag such an endpoint is refused when it is added.
func TestServeWebhooks(t *testing.T) {
	var mu sync.Mutex
	var got []string
	var secret string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if err := webhook.Verify(r.Header.Get(webhook.SignatureHeader), b, secret, time.Now(), webhook.DefaultTolerance); err != nil {
			t.Errorf("signature: %v", err)
		}
		got = append(got, string(b))
	}))
	defer recv.Close()
	dir := t.TempDir()
	initData(t, dir)
	srv := startServe(t, []string{"--data", dir, "--mqtt-addr", "127.0.0.1:0", "--webhooks-allow-private"})
	c := login(t, srv.base)
	var prop struct{ ID string }
	c.do("POST", "/api/v1/properties", map[string]any{"name": "Elm Court", "time_zone": "UTC"}, 201, &prop)
	var hook struct{ ID, Secret string }
	c.do("POST", "/api/v1/webhooks", map[string]any{"property_id": prop.ID, "url": recv.URL + "/hook", "kinds": []string{"person.*"}}, 201, &hook)
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()
	c.do("POST", "/api/v1/properties/"+prop.ID+"/people", map[string]any{"first_name": "Ana", "last_name": "Lopez", "email": "ana@example.com", "access": "app"}, 201, nil)
	eventually(t, 10*time.Second, "the invite delivered", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && strings.Contains(got[0], `"type":"person.invited"`)
	})
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}

	strict := startServe(t, []string{"--data", dir, "--mqtt-addr", "127.0.0.1:0"})
	c = login(t, strict.base)
	c.do("POST", "/api/v1/webhooks", map[string]any{"property_id": prop.ID, "url": recv.URL + "/other", "kinds": []string{"*"}}, 400, nil)
	c.do("POST", "/api/v1/webhooks", map[string]any{"property_id": prop.ID, "url": "https://127.0.0.1/hook", "kinds": []string{"*"}}, 400, nil)

	t.Run("bad flag value", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var out, errb syncBuffer
		err := run(ctx, []string{"serve", "--data", dir, "--mqtt-addr", "127.0.0.1:0", "--webhooks-allow-private=maybe"}, noEnv, nil, &out, &errb)
		if err == nil || !strings.Contains(err.Error()+errb.String(), "webhooks-allow-private") {
			t.Fatalf("run = %v; stderr %q", err, errb.String())
		}
	})
}
