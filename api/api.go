// Package api is the HTTP JSON API v1 (DESIGN.md §5). Handlers decode,
// call the store, encode; every rule lives in the domain package.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"time"

	"github.com/dooros/dooros/api/httperr"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/imports"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/throttle"
	"github.com/dooros/dooros/zwave"
)

// Server holds what the handlers need.
type Server struct {
	Store   *store.Store
	Log     *slog.Logger
	Metrics *Metrics
	Limiter *throttle.Login
	// Keys seals secrets and signs phone credentials (api/residents.go).
	Keys ResidentKeys
	// DoorSync provisions locks and takes their answers (api/doorsync.go);
	// nil builds one over Store and Keys without an MQTT broker.
	DoorSync *doorsync.Service
	// RemoteUnlockWait bounds how long a remote unlock waits for the lock
	// (doorsync.DefaultRemoteWait when zero).
	RemoteUnlockWait time.Duration
	// PMS is the process's PMS User Sync (roster intake, Sync Now), shared
	// with the console and the scheduler; nil builds one per request.
	PMS *imports.Syncer
	// Webhooks is what the operator allows webhook URLs (dooros serve
	// --webhooks-allow-private).
	Webhooks domain.WebhookPolicy
	// ZWave drives Z-Wave locks (api/zwave.go); nil: Lock/Unlock now
	// answers that the gateway is not connected.
	ZWave *zwave.Syncer
}

// New builds the API server.
func New(st *store.Store, log *slog.Logger, m *Metrics) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if m != nil {
		m.WatchStore(st, log)
	}
	return &Server{Store: st, Log: log, Metrics: m, Limiter: throttle.NewLogin()}
}

// authed wraps a handler that needs a valid bearer token.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, a domain.Actor) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			s.fail(w, r, domain.Errorf(domain.EUnauthenticated, "send Authorization: Bearer TOKEN (POST /api/v1/auth/login gives one)"))
			return
		}
		a, err := s.Store.Authenticate(r.Context(), token, store.TokenKindAPI)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := h(w, r, a); err != nil {
			s.fail(w, r, err)
		}
	})
}

// public wraps a handler that needs no token.
func (s *Server) public(h func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.fail(w, r, err)
		}
	})
}

// fail writes the error shape of §5; unexpected errors are logged and shown
// as "Internal error".
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := domain.ErrorCode(err)
	status := httperr.StatusOf(err)
	if status == http.StatusInternalServerError {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == domain.ERateLimited {
		// Every limit here is counted over a minute or more.
		w.Header().Set("Retry-After", "60")
	}
	body := map[string]any{"code": string(code), "message": domain.ErrorMessage(err)}
	var de *domain.Error
	if errors.As(err, &de) && de.Field != "" {
		body["field"] = de.Field
	}
	writeJSON(w, status, map[string]any{"error": body})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

// list is the §5 list shape.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func writeList[T any](w http.ResponseWriter, items []T, next string) error {
	if items == nil {
		items = []T{}
	}
	writeJSON(w, http.StatusOK, list[T]{Items: items, NextCursor: next})
	return nil
}

const maxBody = 1 << 20

// decode reads one JSON object, refusing unknown fields, trailing data and
// oversized bodies with a message that names the problem.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return domain.Errorf(domain.EInvalid, "could not read the request body: %v", err)
	}
	if len(body) > maxBody {
		return domain.Errorf(domain.EInvalid, "request body is larger than %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		var pe *time.ParseError
		switch {
		case errors.Is(err, io.EOF):
			return domain.Errorf(domain.EInvalid, "request body is empty; send a JSON object")
		case errors.As(err, &se):
			return domain.Errorf(domain.EInvalid, "malformed JSON at byte %d", se.Offset)
		case errors.As(err, &te):
			if te.Field == "" {
				return domain.Errorf(domain.EInvalid, "send a JSON object, not a JSON %s", te.Value)
			}
			return &domain.Error{Code: domain.EInvalid, Field: te.Field, Message: "must be a JSON " + jsonKind(te.Type)}
		case errors.As(err, &pe) || strings.HasPrefix(err.Error(), "Time.UnmarshalJSON"):
			return &domain.Error{Code: domain.EInvalid, Field: timeField(body, v), Message: "must be an RFC 3339 time, such as 2026-01-31T18:00:00Z"}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return domain.Errorf(domain.EInvalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
		case errors.Is(err, io.ErrUnexpectedEOF):
			return domain.Errorf(domain.EInvalid, "malformed JSON: unexpected end of input")
		}
		return domain.Errorf(domain.EInvalid, "malformed JSON: %v", err)
	}
	if dec.More() {
		return domain.Errorf(domain.EInvalid, "send exactly one JSON object")
	}
	return nil
}

// jsonKind names a Go type the way a JSON client knows it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "object"
}

// timeField finds which top-level field of body holds the time that failed
// to parse (encoding/json does not say), by decoding each field alone.
func timeField(body []byte, v any) string {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return ""
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		probe := reflect.New(reflect.TypeOf(v).Elem()).Interface()
		if err := json.Unmarshal(one, probe); err != nil {
			return k
		}
	}
	return ""
}

// clientIP is the client's address for rate limiting: the peer's, or
// the one a trusted proxy forwarded (throttle.Proxies).
func (s *Server) clientIP(r *http.Request) string {
	return s.Limiter.ClientIP(r)
}
