package console_test

import (
	"net/http"
	"testing"

	"github.com/dooros/dooros/store/storetest"
)

// TestStaticBadNames asks for asset names no file can have, as an
// outsider typing URLs would: each is a 400 or 404, never a 500, and the
// real assets still load.
func TestStaticBadNames(t *testing.T) {
	c := newEnv(t, storetest.OpenSQLite(t)).anon()
	for _, p := range []string{"/static/%ff/", "/static/%ff", "/static/%ff", "/static/%ff%fe.css", "/static/a%00b", "/static/%c0%af", "/static/..%2f..%2fgo.mod", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/nope.js", "/static/%ed%a0%80"} {
		r := c.get(p)
		if r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 404 or 400: %.200s", p, r.Status, r.Body)
		}
	}
	if r := c.get("/static/app.js"); r.Status != http.StatusOK || r.Body == "" {
		t.Errorf("GET /static/app.js: %d", r.Status)
	}
}
