// Package console is the server-rendered web console of DOOR OS: what a
// property manager does in a browser (People, Invite, Keys, Activity, Door
// Sync tasks, Staff). Pages are html/template with embedded assets and no
// build step. Every action calls a store use case with the logged-in
// manager's domain.Actor, so the console has exactly the API's permissions;
// it only decides what to show (an Invite button, an explanation) by asking
// the same domain rules.
package console

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/dooros/dooros/api/httperr"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/throttle"
	"github.com/dooros/dooros/zwave"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options tune a Console; the zero value is the embedded default.
type Options struct {
	// Limiter counts failed logins; share the API's so both surfaces count
	// against one budget. Nil makes a console-only limiter.
	Limiter *throttle.Login
	// SecureCookies marks cookies Secure even when the request did not
	// arrive over TLS (a TLS-terminating proxy in front).
	SecureCookies bool
	// DoorSync provisions locks (the Doors page's "Provision lock") and is
	// woken after keycard changes; nil hides provisioning.
	DoorSync *doorsync.Service
	// PMS is the process's PMS User Sync, shared with the API and the
	// scheduler; nil builds one per request.
	PMS *imports.Syncer
	// Keys seals webhook secrets and Webhooks is what the operator allows
	// their URLs (webhooks.go); nil Keys hides the Webhooks page.
	Keys     store.Sealer
	Webhooks domain.WebhookPolicy
	// ZWave drives Z-Wave locks (Lock/Unlock now); nil: the Z-Wave page
	// says this server does not.
	ZWave *zwave.Syncer
}

// Console serves the web console.
type Console struct {
	store   *store.Store
	mailbox *mail.Mailbox
	log     *slog.Logger
	opts    Options
	pages   map[string]*template.Template
}

// New builds the console on st. mailbox is the local mailbox of the
// embedded mail default; nil (a real SMTP relay) hides the Mailbox page.
func New(st *store.Store, mailbox *mail.Mailbox, log *slog.Logger, opts Options) *Console {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Limiter == nil {
		opts.Limiter = throttle.NewLogin()
	}
	return &Console{store: st, mailbox: mailbox, log: log, opts: opts, pages: mustParsePages()}
}

// Routes registers the console on mux, under / (the API keeps /api/v1/).
func (c *Console) Routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", c.secure(http.StripPrefix("/static/", staticFiles(static))))
	mux.Handle("GET /setup", c.secure(http.HandlerFunc(c.setupForm)))
	mux.Handle("POST /setup", c.secure(http.HandlerFunc(c.setupSubmit)))
	mux.Handle("GET /login", c.secure(http.HandlerFunc(c.loginForm)))
	mux.Handle("POST /login", c.secure(http.HandlerFunc(c.loginSubmit)))
	mux.Handle("POST /logout", c.authed(c.logout))
	mux.Handle("GET /invite/accept", c.secure(http.HandlerFunc(c.inviteAcceptForm)))
	mux.Handle("POST /invite/accept", c.secure(http.HandlerFunc(c.inviteAcceptSubmit)))

	mux.Handle("GET /{$}", c.authed(c.propertyPicker))
	mux.Handle("GET /go", c.authed(c.propertyGo))

	mux.Handle("GET /p/{p}/people", c.inProperty(c.peopleList))
	mux.Handle("POST /p/{p}/people/bulk", c.inProperty(c.peopleBulk))
	mux.Handle("GET /p/{p}/people/invite", c.inProperty(c.personInviteForm))
	mux.Handle("POST /p/{p}/people/invite", c.inProperty(c.personInviteSubmit))
	mux.Handle("GET /p/{p}/people/{id}", c.inProperty(c.personShow))
	mux.Handle("POST /p/{p}/people/{id}/edit", c.inProperty(c.personEdit))
	mux.Handle("POST /p/{p}/people/{id}/keys", c.inProperty(c.personKeyGive))
	mux.Handle("POST /p/{p}/people/{id}/keys/{k}/remove", c.inProperty(c.personKeyTake))
	mux.Handle("POST /p/{p}/people/{id}/keys/{k}/edit", c.inProperty(c.personKeyEdit))
	mux.Handle("POST /p/{p}/people/{id}/devices/{d}/remove", c.inProperty(c.personDeviceRemove))
	mux.Handle("GET /p/{p}/people/{id}/revoke", c.inProperty(c.personRevokeConfirm))
	mux.Handle("POST /p/{p}/people/{id}/revoke", c.inProperty(c.personRevoke))
	mux.Handle("GET /p/{p}/people/{id}/delete", c.inProperty(c.personDeleteConfirm))
	mux.Handle("POST /p/{p}/people/{id}/delete", c.inProperty(c.personDelete))
	mux.Handle("POST /p/{p}/people/{id}/keycard", c.inProperty(c.keycardActivate))
	mux.Handle("POST /p/{p}/people/{id}/keycard/deactivate", c.inProperty(c.keycardDeactivate))

	mux.Handle("GET /p/{p}/activity", c.inProperty(c.activityList))
	mux.Handle("GET /p/{p}/activity.csv", c.inProperty(c.activityExport))
	c.importRoutes(mux)
	c.pmsRoutes(mux)
	c.reportRoutes(mux)
	c.keycardRoutes(mux)
	c.propertyRoutes(mux)
	c.webhookRoutes(mux)
	mux.Handle("GET /p/{p}/doors", c.inProperty(c.doorsList))
	mux.Handle("POST /p/{p}/doors/{d}/lock", c.inProperty(c.doorProvision))
	mux.Handle("POST /p/{p}/signing-key/rotate", c.inProperty(c.signingKeyRotate))
	mux.Handle("GET /p/{p}/sync", c.inProperty(c.syncTasks))
	mux.Handle("POST /p/{p}/sync/{d}/ask", c.inProperty(c.syncAsk))
	c.zwaveRoutes(mux)
	mux.Handle("GET /p/{p}/exposure", c.inProperty(c.exposureList))

	mux.Handle("GET /p/{p}/keys", c.inProperty(c.keysList))
	mux.Handle("GET /p/{p}/keys/new", c.inProperty(c.keyForm))
	mux.Handle("POST /p/{p}/keys/new", c.inProperty(c.keySave))
	mux.Handle("GET /p/{p}/keys/{k}", c.inProperty(c.keyForm))
	mux.Handle("POST /p/{p}/keys/{k}", c.inProperty(c.keySave))
	mux.Handle("GET /p/{p}/keys/{k}/delete", c.inProperty(c.keyDeleteConfirm))
	mux.Handle("POST /p/{p}/keys/{k}/delete", c.inProperty(c.keyDelete))

	// Anything else under a property: the styled 404 page, with the
	// property's navigation, instead of the mux's plain text.
	const anyPage = "/p/{p}/"
	notFound := c.inProperty(func(w http.ResponseWriter, r *http.Request, rq *request) error {
		return domain.Errorf(domain.ENotFound, "there is no page at %s", r.URL.Path)
	})
	mux.Handle(anyPage, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A page that exists for another method is still a 405.
		var allow []string
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != anyPage {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		notFound.ServeHTTP(w, r)
	}))

	mux.Handle("GET /staff", c.authed(c.staffList))
	mux.Handle("POST /staff", c.authed(c.staffAdd))
	mux.Handle("GET /staff/{m}", c.authed(c.staffShow))
	mux.Handle("POST /staff/{m}/properties", c.authed(c.staffAssign))

	mux.Handle("GET /mailbox", c.authed(c.mailboxList))
	mux.Handle("GET /mailbox/{id}", c.authed(c.mailboxShow))
}

// staticFiles serves embedded assets with a cache lifetime: they change
// only with a new binary.
func staticFiles(fsys fs.FS) http.Handler {
	h := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A name no file can have (invalid UTF-8, a NUL) is a plain 404:
		// the file server would report fs.ErrInvalid as a 500.
		if name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/"); name != "" && (!fs.ValidPath(name) || strings.ContainsRune(name, 0) || !utf8.ValidString(name)) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// secure sets the security headers of every console response. The CSP
// allows no inline script or style: the little JavaScript there is lives
// in /static/app.js.
func (c *Console) secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// request is what a handler of a logged-in page gets.
type request struct {
	Actor    domain.Actor
	Token    string
	CSRF     string
	Property domain.Property // set on /p/{p}/… pages
	r        *http.Request
}

type handler func(w http.ResponseWriter, r *http.Request, rq *request) error

// authed authenticates the session cookie (a missing or stale session
// goes to the login page) and checks the CSRF token of every POST before
// anything is written.
func (c *Console) authed(h handler) http.Handler {
	return c.secure(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, ok := c.session(w, r)
		if !ok {
			return
		}
		if err := h(w, r, rq); err != nil {
			c.fail(w, r, rq, err)
		}
	}))
}

func (c *Console) session(w http.ResponseWriter, r *http.Request) (*request, bool) {
	ck, err := r.Cookie(sessionCookie)
	var a domain.Actor
	if err == nil && ck.Value != "" {
		a, err = c.store.Authenticate(r.Context(), ck.Value, store.TokenKindSession)
	}
	if err != nil || ck == nil || ck.Value == "" {
		if err != nil && domain.ErrorCode(err) != domain.EUnauthenticated && !errors.Is(err, http.ErrNoCookie) {
			c.log.Error("console session", "err", err)
			http.Error(w, "Internal error.", http.StatusInternalServerError)
			return nil, false
		}
		if r.Method == http.MethodPost {
			// A form posted after the session ended: nothing is written.
			http.Error(w, "Your session has ended; log in again.", http.StatusForbidden)
			return nil, false
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return nil, false
	}
	rq := &request{Actor: a, Token: ck.Value, CSRF: csrfToken(ck.Value), r: r}
	if r.Method == http.MethodPost && !validCSRF(ck.Value, r.PostFormValue(csrfField)) {
		http.Error(w, "This form is out of date or was not sent by DOOR OS (CSRF check failed). Go back, reload the page and try again.", http.StatusForbidden)
		return nil, false
	}
	return rq, true
}

// inProperty is authed plus the property of the path, which the manager
// must be assigned to (anything else is "not found", as in the API).
func (c *Console) inProperty(h handler) http.Handler {
	return c.authed(func(w http.ResponseWriter, r *http.Request, rq *request) error {
		p, err := c.store.Property(r.Context(), rq.Actor, r.PathValue("p"))
		if err != nil {
			return err
		}
		rq.Property = p
		return h(w, r, rq)
	})
}

// fail shows an error page with the status of the error's code.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	status := httperr.StatusOf(err)
	if status == http.StatusInternalServerError {
		if errors.Is(err, context.Canceled) {
			return
		}
		c.log.Error("console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	title := map[int]string{400: "Check the form", 401: "Log in", 403: "Not allowed", 404: "Not found", 409: "Conflict", 429: "Too many attempts"}[status]
	if title == "" {
		title = "Something went wrong"
	}
	c.render(w, r, rq, status, "error", title, "", map[string]any{"Status": status, "Message": domain.ErrorMessage(err)})
}

// page is what every template gets.
type page struct {
	Title      string
	Nav        string
	Actor      domain.Actor
	CSRF       string
	Property   *domain.Property
	Properties []domain.Property
	Flash      string
	IsPM       bool
	CanPeople  bool
	CanKeys    bool
	CanDevices bool
	CanCards   bool
	// CanActivity: Key Management (any level) or Device Management.
	CanActivity bool
	// CanReports: any Key Management ("specific": cut to his keys).
	CanReports bool
	// CanSetup: edit the property, add doors and units (Portfolio Managers).
	CanSetup   bool
	HasMailbox bool
	Path       string
	Data       any
}

// render writes a full page; the template is executed into a buffer first
// so a template error becomes a clean 500 instead of half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, rq *request, status int, name, title, nav string, data any) {
	t, ok := c.pages[name]
	if !ok {
		panic("console: no template " + name)
	}
	pg := page{Title: title, Nav: nav, Data: data, Path: r.URL.Path, HasMailbox: c.mailbox != nil}
	if rq != nil {
		pg.Actor, pg.CSRF = rq.Actor, rq.CSRF
		pg.IsPM = rq.Actor.CanManageManagers() == nil
		if rq.Property.ID != "" {
			p := rq.Property
			pg.Property = &p
			pg.CanPeople = rq.Actor.Can(p.ID, domain.PermPeople) == nil
			pg.CanKeys = rq.Actor.Can(p.ID, domain.PermManageKeys) == nil
			pg.CanDevices = rq.Actor.Can(p.ID, domain.PermDevices) == nil
			pg.CanCards = rq.Actor.Can(p.ID, domain.PermCards) == nil
			pg.CanActivity = rq.Actor.Can(p.ID, domain.PermActivity) == nil
			pg.CanReports = rq.Actor.Can(p.ID, domain.PermReports) == nil
			pg.CanSetup = rq.Actor.Can(p.ID, domain.PermManageProperty) == nil
		}
		if props, err := c.store.ListProperties(r.Context(), rq.Actor); err == nil {
			pg.Properties = props
		}
		pg.Flash = takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		c.log.Error("console template", "template", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// redirect answers a successful POST with a redirect to a GET page and a
// one-time message shown there.
func (c *Console) redirect(w http.ResponseWriter, r *http.Request, to, flash string) error {
	if flash != "" {
		setFlash(w, r, c.secureCookies(r), flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

// propertyURL builds /p/{id}/rest with escaped segments.
func propertyURL(id string, rest ...string) string {
	parts := []string{"/p", url.PathEscape(id)}
	for _, s := range rest {
		parts = append(parts, url.PathEscape(s))
	}
	return path.Join(parts...)
}

// formError is an invalid form shown again with its message.
type formError struct {
	Field   string
	Message string
}

func toFormError(err error) (*formError, bool) {
	var de *domain.Error
	if !errors.As(err, &de) {
		return nil, false
	}
	switch de.Code {
	case domain.EInvalid, domain.EConflict:
		return &formError{Field: de.Field, Message: inWords(de)}, true
	}
	return nil, false
}
