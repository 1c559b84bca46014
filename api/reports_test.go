package api_test

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

var reports = []string{"admin-actions", "assigned-access", "keys", "devices", "keycards", "people-keys"}

func TestReports(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		// Names a spreadsheet would run as formulas.
		var door struct{ ID string }
		e.ok("POST", e.prop+"/doors", map[string]any{"name": "-Backdoor", "type": "service", "connectivity": "offline"}, 201).Decode(t, &door)
		var key struct{ ID string }
		e.ok("POST", e.prop+"/keys", map[string]any{"name": "=SUM(A1)", "doors": []map[string]any{{"door_id": door.ID, "doorcodes": true}}}, 201).Decode(t, &key)
		e.invite(map[string]any{"first_name": "@admin", "last_name": `=HYPERLINK("http://evil.example/","x")`, "email": "evil@example.com",
			"phone": "+1 555 0100", "access": "app", "keys": []map[string]any{{"key_id": key.ID}, {"key_id": e.F.Building.ID}}})
		e.invite(map[string]any{"first_name": "Plain", "last_name": "Person", "email": "plain@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Home.ID}}})

		want := map[string][]string{
			"admin-actions":   {"'@admin =HYPERLINK(", "person.invited", "key.created"},
			"assigned-access": {"'@admin", `'=HYPERLINK("http://evil.example/","x")`, "'=SUM(A1)", "Home 101"},
			"keys":            {"'=SUM(A1)", "'-Backdoor", "mon tue wed thu fri 06:00-22:00", "always"},
			"devices":         {"'-Backdoor", "Lobby", "Gym"},
			"keycards":        {"Serial Number"},
			"people-keys":     {"'=SUM(A1)", "'@admin", "plain@example.com"},
		}
		for _, name := range reports {
			t.Run(name, func(t *testing.T) {
				res := e.ok("GET", e.prop+"/reports/"+name+".csv", nil, 200)
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
					t.Errorf("content type %q", ct)
				}
				if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, name) {
					t.Errorf("content disposition %q", cd)
				}
				body, ok := bytes.CutPrefix(res.Body, []byte("\uFEFF"))
				if !ok {
					t.Error("no UTF-8 BOM (Excel would guess the code page)")
				}
				if !bytes.Contains(body, []byte("\r\n")) {
					t.Error("lines do not end in CRLF")
				}
				recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
				if err != nil {
					t.Fatal(err)
				}
				cells := map[string]bool{}
				for _, rec := range recs {
					for _, c := range rec {
						cells[c] = true
						if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
							t.Errorf("cell %q would start a formula", c)
						}
					}
				}
				for _, w := range want[name] {
					found := false
					for c := range cells {
						if strings.HasPrefix(c, w) {
							found = true
						}
					}
					if !found {
						t.Errorf("no cell starts with %q in:\n%s", w, body)
					}
				}
			})
		}
		t.Run("AssignedAccessOneLinePerKey", func(t *testing.T) {
			body := string(e.ok("GET", e.prop+"/reports/assigned-access.csv", nil, 200).Body)
			if n := strings.Count(body, "evil@example.com"); n != 2 {
				t.Errorf("%d lines for a person holding 2 keys", n)
			}
		})
		// Reports need Key Management (any level; "specific" gets them cut
		// to his keys: TestSpecificSeesTheDoorsOfHisKeys).
		t.Run("ErrNeedsKeyManagement", func(t *testing.T) {
			pid := e.F.Property.ID
			none := e.managerToken("none@example.com", &domain.Assignment{PropertyID: pid, KeyManagement: domain.KeyManagementNone, DeviceManagement: true, CardActivation: true})
			other := e.managerToken("other@example.com", nil)
			for _, name := range reports {
				e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", none, nil), 403)
				e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", other, nil), 404)
				e.want(e.Do("GET", e.prop+"/reports/"+name+".csv", "", nil), 401)
			}
			e.ok("GET", e.prop+"/reports/secrets.csv", nil, 404)
		})
	})
}
