package api

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"sort"
	"sync"
)

// The OpenAPI 3.1 document is kept in fragments, one per area
// (openapi/core.json, openapi/residents.json, …), each a document with
// "paths" and "components"; they are merged at start. The API tests
// validate every real response against the merged document.
//
//go:embed openapi/*.json
var openapiFS embed.FS

// OpenAPI returns the merged OpenAPI document.
func OpenAPI() ([]byte, error) {
	names, err := fs.Glob(openapiFS, "openapi/*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	doc := map[string]any{}
	paths := map[string]any{}
	hooks := map[string]any{}
	components := map[string]map[string]any{}
	for _, n := range names {
		b, err := openapiFS.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var frag map[string]any
		if err := json.Unmarshal(b, &frag); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		for k, v := range frag {
			switch k {
			case "paths":
				for p, item := range v.(map[string]any) {
					if _, dup := paths[p]; dup {
						return nil, fmt.Errorf("%s: path %s defined twice", n, p)
					}
					paths[p] = item
				}
			case "webhooks": // OpenAPI 3.1 top-level webhooks, merged like paths
				for name, item := range v.(map[string]any) {
					if _, dup := hooks[name]; dup {
						return nil, fmt.Errorf("%s: webhook %s defined twice", n, name)
					}
					hooks[name] = item
				}
			case "components":
				for kind, defs := range v.(map[string]any) {
					if components[kind] == nil {
						components[kind] = map[string]any{}
					}
					for name, def := range defs.(map[string]any) {
						// Fragments share one namespace: a second, different
						// definition would silently replace the first.
						if prev, dup := components[kind][name]; dup && !reflect.DeepEqual(prev, def) {
							return nil, fmt.Errorf("%s: components.%s.%s already defined differently by another fragment; prefix schema names with your area", n, kind, name)
						}
						components[kind][name] = def
					}
				}
			default:
				if _, set := doc[k]; !set {
					doc[k] = v
				}
			}
		}
	}
	doc["paths"] = paths
	if len(hooks) > 0 {
		doc["webhooks"] = hooks
	}
	doc["components"] = components
	return json.MarshalIndent(doc, "", "  ")
}

// mergedOpenAPI merges the fragments once per process: they are embedded,
// so the result never changes.
var mergedOpenAPI = sync.OnceValues(OpenAPI)

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	b, err := mergedOpenAPI()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
