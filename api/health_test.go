package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// /healthz reports each dependency; it is 200 while the database answers
// and 503 once it does not, and /metrics says the same.
func TestHealthz(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		m := api.NewMetrics()
		s := api.New(st, nil, m)
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", s.Healthz)
		mux.Handle("GET /metrics", m.Handler())
		m.WatchHealth(s)
		srv := httptest.NewServer(mux)
		defer srv.Close()
		get := func(path string) (int, string) {
			res, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		type doc struct {
			Status       string `json:"status"`
			Ready        bool   `json:"ready"`
			Dependencies []struct {
				Name, Status, Error string
			} `json:"dependencies"`
		}
		read := func() (int, doc) {
			code, body := get("/healthz")
			var d doc
			if err := json.Unmarshal([]byte(body), &d); err != nil {
				t.Fatalf("/healthz %d is not JSON: %v: %s", code, err, body)
			}
			return code, d
		}
		code, d := read()
		if code != 200 || !d.Ready || d.Status != "ok" || len(d.Dependencies) != 2 ||
			d.Dependencies[0].Name != "database" || d.Dependencies[0].Status != "up" ||
			d.Dependencies[1].Name != "mqtt_broker" || d.Dependencies[1].Status != "disabled" {
			t.Fatalf("healthy: %d %+v", code, d)
		}
		if _, m := get("/metrics"); !strings.Contains(m, `dooros_dependency_up{dependency="database"} 1`) || strings.Contains(m, `dependency="mqtt_broker"`) {
			t.Errorf("/metrics while healthy without a broker:\n%s", grepLines(m, "dooros_dependency_up"))
		}
		st.DB().Close()
		code, d = read()
		if code != http.StatusServiceUnavailable || d.Ready || d.Status != "unavailable" || d.Dependencies[0].Status != "down" || d.Dependencies[0].Error == "" {
			t.Fatalf("database closed: %d %+v", code, d)
		}
		if _, m := get("/metrics"); !strings.Contains(m, `dooros_dependency_up{dependency="database"} 0`) {
			t.Errorf("/metrics with the database closed:\n%s", grepLines(m, "dooros_dependency_up"))
		}
	})
}
