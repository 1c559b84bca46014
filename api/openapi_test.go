package api_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/api/apitest"
)

// routePattern finds every route registration in the api package source.
var routePattern = regexp.MustCompile(`mux\.Handle(?:Func)?\("([A-Z]+) (/api/v1/[^"]*)"`)

// TestOpenAPIDescribesEveryRoute reads every route registered in api/*.go
// and checks the merged document describes it, so a new endpoint without
// documentation fails here even before a test calls it.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	router := apitest.Router(t)
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range routePattern.FindAllStringSubmatch(string(src), -1) {
			method, path := m[1], m[2]
			n++
			concrete := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, "x")
			req, _ := http.NewRequest(method, "http://localhost"+concrete, nil)
			if _, _, err := router.FindRoute(req); err != nil {
				t.Errorf("%s: %s %s is registered but not described in the OpenAPI document: %v", f, method, path, err)
			}
		}
	}
	if n < 30 {
		t.Errorf("found only %d routes in api/*.go; the route pattern no longer matches routes.go", n)
	}
}

// TestOpenAPIDocument checks the merged document is valid OpenAPI 3.1 and
// that every error response uses the shared Error schema.
func TestOpenAPIDocument(t *testing.T) {
	b, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema struct {
						Ref string `json:"$ref"`
					} `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got, want := doc.OpenAPI, "3.1.0"; got != want {
		t.Errorf("openapi = %q, want %q", got, want)
	}
	for path, item := range doc.Paths {
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		for method, op := range item {
			for status, res := range op.Responses {
				if status >= "400" && status < "600" && res.Content["application/json"].Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s %s → %s: error responses must use #/components/schemas/Error", method, path, status)
				}
			}
		}
	}
	apitest.Router(t) // loads and validates the document
}
