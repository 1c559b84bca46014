package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// TestServeFreshDataDir: `dooros serve` on an empty data directory starts,
// says where the first-run page is, and the console sends a browser there.
func TestServeFreshDataDir(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--data", dir, "--addr", addr, "--mqtt-addr", "127.0.0.1:0"}, noEnv, nil, &out, &errb)
	}()
	base := "http://" + addr
	waitHealthy(t, base, done, &errb)
	if want := "First run: open " + base + "/setup"; !strings.Contains(out.String(), want) {
		t.Errorf("serve printed %q, want %q", out.String(), want)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := hc.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/setup" {
		t.Errorf("GET /login on a fresh install: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	res, err = hc.Get(base + "/setup")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Errorf("GET /setup: %d", res.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, errb.String())
	}
}
