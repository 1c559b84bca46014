// Package apitest runs the real API over HTTP against a real store and
// validates every response against the OpenAPI document, so the document
// cannot drift from the code.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// Env is a running API with a seeded store.
type Env struct {
	T       testing.TB
	Store   *store.Store
	Server  *httptest.Server
	API     *api.Server
	F       storetest.Fixture
	PMToken string
	router  routers.Router
}

// New starts the API on st, seeded with storetest.Seed. Extra routes
// (areas built on top of the core) can be registered with mount.
func New(t testing.TB, st *store.Store, mount ...func(mux *http.ServeMux)) *Env {
	t.Helper()
	e := &Env{T: t, Store: st}
	e.F = storetest.Seed(t, st)
	e.PMToken = storetest.Token(t, st, storetest.PMEmail)
	mux := http.NewServeMux()
	e.API = api.New(st, nil, api.NewMetrics())
	e.API.Routes(mux)
	for _, m := range mount {
		m(mux)
	}
	e.Server = httptest.NewServer(mux)
	t.Cleanup(e.Server.Close)
	e.router = Router(t)
	return e
}

// Router loads the merged OpenAPI document and builds a router over it.
func Router(t testing.TB) routers.Router {
	t.Helper()
	b, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatalf("openapi: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi document is invalid: %v", err)
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("openapi router: %v", err)
	}
	return r
}

// Response is an HTTP answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test on error.
func (r *Response) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ErrorCode returns the error.code of an error body.
func (r *Response) ErrorCode() string {
	var e struct {
		Error struct{ Code, Message, Field string }
	}
	json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

// Do sends a request (body: nil, a string of raw bytes, or a value to
// encode as JSON) with token (may be empty) and validates the response
// against the OpenAPI document.
func (e *Env) Do(method, path, token string, body any) *Response {
	e.T.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		raw = j
	}
	contentType := ""
	if body != nil {
		contentType = "application/json"
	}
	return e.DoRaw(method, path, token, contentType, raw)
}

// DoRaw sends body with its own content type (a CSV upload, a multipart
// form, a vendor file; none when contentType is empty) and validates the
// response against the OpenAPI document.
func (e *Env) DoRaw(method, path, token, contentType string, body []byte) *Response {
	e.T.Helper()
	req, err := http.NewRequest(method, e.Server.URL+path, bytes.NewReader(body))
	if err != nil {
		e.T.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer res.Body.Close()
	out := &Response{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	e.validate(req, res, out)
	return out
}

// validate checks the response against the operation in the document. A
// path the document does not know fails the test: every endpoint must be
// described.
func (e *Env) validate(req *http.Request, res *http.Response, out *Response) {
	e.T.Helper()
	// The catch-all's answers for unknown paths (404) and known paths with
	// another method (405) belong to no operation of the document.
	if (res.StatusCode == http.StatusNotFound && strings.Contains(string(out.Body), "no such endpoint")) ||
		(res.StatusCode == http.StatusMethodNotAllowed && strings.Contains(string(out.Body), "does not take that method")) {
		return
	}
	vreq, _ := http.NewRequest(req.Method, req.URL.String(), nil)
	route, params, err := e.router.FindRoute(vreq)
	if err != nil {
		e.T.Errorf("%s %s is not described in the OpenAPI document: %v", req.Method, req.URL.Path, err)
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true}}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	rv.SetBodyBytes(out.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), rv); err != nil {
		e.T.Errorf("%s %s → %d does not match the OpenAPI document: %v\nbody: %s", req.Method, req.URL.Path, res.StatusCode, err, truncate(out.Body))
	}
}

func truncate(b []byte) string {
	if len(b) > 800 {
		return string(b[:800]) + "…"
	}
	return string(b)
}
