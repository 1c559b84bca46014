package residentweb_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dooros/dooros/residentweb"
)

func server(t *testing.T) *httptest.Server {
	t.Helper()
	app, err := residentweb.New()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	app.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r, string(b)
}

// TestShellAndAssets: the shell and every asset it names are served with
// their types and a CSP that allows no inline script and no other origin.
func TestShellAndAssets(t *testing.T) {
	srv := server(t)
	r, body := get(t, srv.URL+"/app/")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("shell: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "default-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, " onclick=") {
		t.Error("the shell has inline script, which the CSP refuses")
	}
	for _, want := range []string{`rel="manifest"`, `<label for="email">`, `<label for="code">`, `name="viewport"`} {
		if !strings.Contains(body, want) {
			t.Errorf("shell lacks %s", want)
		}
	}
	for path, ctype := range map[string]string{
		"/app/app.js": "text/javascript", "/app/app.css": "text/css", "/app/sw.js": "text/javascript",
		"/app/manifest.webmanifest": "application/manifest+json", "/app/icon.svg": "image/svg+xml",
	} {
		r, b := get(t, srv.URL+path)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) || len(b) == 0 {
			t.Errorf("%s: %d %q", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	if _, sw := get(t, srv.URL+"/app/sw.js"); strings.Contains(sw, "__VERSION__") {
		t.Error("service worker served without its build version")
	}
	if r, _ := get(t, srv.URL+"/app"); r.Request.URL.Path != "/app/" {
		t.Errorf("/app did not redirect to /app/: %s", r.Request.URL.Path)
	}
}

// TestUnknownFilesRefused: only the app's own files, no directory walking.
func TestUnknownFilesRefused(t *testing.T) {
	srv := server(t)
	for _, p := range []string{"/app/nope.js", "/app/residentweb.go", "/app/..%2fresidentweb.go", "/app/static", "/app/shell.html", "/app/x.exe"} {
		if r, _ := get(t, srv.URL+p); r.StatusCode != 404 {
			t.Errorf("%s = %d, want 404", p, r.StatusCode)
		}
	}
}

// TestShellWeight: the shell, script, style, manifest and icon together
// stay under 100 KB, uncompressed and gzip-compressed (the figure in
// docs/bench-residentapp.md).
func TestShellWeight(t *testing.T) {
	srv := server(t)
	var raw, gz int
	for _, p := range []string{"/app/", "/app/app.js", "/app/app.css", "/app/manifest.webmanifest", "/app/icon.svg", "/app/sw.js"} {
		_, b := get(t, srv.URL+p)
		raw += len(b)
		var w countWriter
		z := gzip.NewWriter(&w)
		z.Write([]byte(b))
		z.Close()
		gz += w.n
	}
	t.Logf("app shell: %d bytes, %d bytes gzip", raw, gz)
	if raw >= 100<<10 {
		t.Errorf("app shell weighs %d bytes, over 100 KB", raw)
	}
}

type countWriter struct{ n int }

func (c *countWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }
