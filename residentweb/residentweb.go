// Package residentweb is the DOOR App for residents in the browser, served
// by `dooros serve` under /app/: a phone-first page (html/template, embedded
// assets, no build step) that is installable as a progressive web app
// (manifest, service worker, icon). It holds no rules of its own: every
// action is a call to the resident API (/api/v1/app/* and /api/v1/me/*)
// with the resident's bearer token, so nothing here can bypass a check the
// API makes. The service worker keeps the shell and the last-known keys and
// doorcode readable offline.
package residentweb

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed templates/shell.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is where the app is served.
const Prefix = "/app/"

// csp allows only the app's own scripts, styles and API: no inline script,
// no third-party origin.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"manifest-src 'self'; worker-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// App serves the resident web app.
type App struct {
	shell   []byte
	version string
	static  fs.FS
}

// New renders the shell once; its assets are versioned by content so a new
// server release replaces the service worker's cache.
func New() (*App, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	err = fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	if err != nil {
		return nil, err
	}
	version := hex.EncodeToString(h.Sum(nil))[:12]
	t, err := template.ParseFS(templateFS, "templates/shell.html")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, struct{ Version string }{version}); err != nil {
		return nil, err
	}
	return &App{shell: buf.Bytes(), version: version, static: static}, nil
}

// Version names this build of the shell and its assets.
func (a *App) Version() string { return a.version }

// Routes registers the app on mux.
func (a *App) Routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /app", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /app/{$}", a.serveShell)
	mux.HandleFunc("GET /app/{file}", a.serveStatic)
}

func headers(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", csp)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

func (a *App) serveShell(w http.ResponseWriter, r *http.Request) {
	headers(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Always revalidated: the service worker serves it when the network
	// does not answer.
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(a.shell)
}

var types = map[string]string{
	".js":          "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".svg":         "image/svg+xml",
	".webmanifest": "application/manifest+json",
}

func (a *App) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ct, ok := types[path.Ext(name)]
	if !ok || strings.Contains(name, "/") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(a.static, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	headers(w)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Cache-Control", "no-cache")
	if name == "sw.js" {
		// The worker learns the build it caches from its own URL's version.
		b = bytes.ReplaceAll(b, []byte("__VERSION__"), []byte(a.version))
	}
	w.Write(b)
}
