package api_test

import (
	"bytes"
	"encoding/csv"
	"testing"

	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// reportRecords fetches a report and parses it, header first.
func (e *env) reportRecords(name string) [][]string {
	e.t.Helper()
	body, _ := bytes.CutPrefix(e.ok("GET", e.prop+"/reports/"+name+".csv", nil, 200).Body, []byte("\uFEFF"))
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// byColumn maps a report's records by the value of one column.
func byColumn(t *testing.T, recs [][]string, column string) (map[string]map[string]string, []string) {
	t.Helper()
	head := recs[0]
	col := -1
	for i, h := range head {
		if h == column {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("no column %q in %q", column, head)
	}
	out := map[string]map[string]string{}
	for _, rec := range recs[1:] {
		m := map[string]string{}
		for i, h := range head {
			m[h] = rec[i]
		}
		out[rec[col]] = m
	}
	return out, head
}

func TestReportKeycards(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		evil := e.invite(map[string]any{"first_name": "=cmd", "last_name": "+Evil", "email": "evil@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Home.ID}}})
		plain := e.invite(map[string]any{"first_name": "Plain", "last_name": "Person", "email": "plain@example.com", "access": "app",
			"keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		e.ok("POST", e.prop+"/people/"+evil.ID+"/keycard", map[string]any{"serial": "-04:A2:19"}, 200)
		e.ok("POST", e.prop+"/people/"+plain.ID+"/keycard", map[string]any{"serial": "CARD-OLD"}, 200)
		e.ok("DELETE", e.prop+"/people/"+plain.ID+"/keycard", nil, 200)
		e.ok("POST", e.prop+"/people/"+plain.ID+"/keycard", map[string]any{"serial": "CARD-NEW"}, 200)

		recs := e.reportRecords("keycards")
		cards, head := byColumn(t, recs, "Serial Number")
		if len(recs) != 4 {
			t.Fatalf("%d lines, want a header and 3 cards:\n%q", len(recs), recs)
		}
		for _, rec := range recs {
			for _, c := range rec {
				if c != "" && bytes.ContainsRune([]byte("=+-@\t\r"), rune(c[0])) {
					t.Errorf("cell %q would start a formula", c)
				}
			}
		}
		tests := []struct {
			serial, first, last, status, person string
			deactivated                         bool
		}{
			{"'-04:A2:19", "'=cmd", "'+Evil", "active", evil.ID, false},
			{"CARD-OLD", "Plain", "Person", "deactivated", plain.ID, true},
			{"CARD-NEW", "Plain", "Person", "active", plain.ID, false},
		}
		for _, tc := range tests {
			t.Run(tc.serial, func(t *testing.T) {
				c, ok := cards[tc.serial]
				if !ok {
					t.Fatalf("no line for %s in %q", tc.serial, recs)
				}
				if c["First Name"] != tc.first || c["Last Name"] != tc.last || c["Status"] != tc.status || c["Person ID"] != tc.person || c["Activated"] == "" {
					t.Errorf("line %v", c)
				}
				if got := c["Deactivated"] != ""; got != tc.deactivated {
					t.Errorf("Deactivated %q, want set: %v", c["Deactivated"], tc.deactivated)
				}
				if c["Still Works At Until Synced"] != "" {
					t.Errorf("no lock holds cards in this test, yet %q", c["Still Works At Until Synced"])
				}
			})
		}
		if head[len(head)-1] != "Person ID" {
			t.Errorf("header %q", head)
		}
	})
}

func TestReportDevices(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		e.ok("POST", e.prop+"/doors", map[string]any{"name": "@Roof", "type": "service", "connectivity": "online"}, 201)
		doors, _ := byColumn(t, e.reportRecords("devices"), "Door")
		tests := []struct{ door, connection, provisioned string }{
			{"Lobby", "never", "no"},
			{"Gym", "bluetooth", "no"},
			{"'@Roof", "never", "no"},
		}
		for _, tc := range tests {
			d, ok := doors[tc.door]
			if !ok {
				t.Fatalf("no line for %s in %v", tc.door, doors)
			}
			if d["Connection"] != tc.connection || d["Lock Provisioned"] != tc.provisioned || d["Version"] == "" || d["Lock Version"] == "" {
				t.Errorf("%s: %v", tc.door, d)
			}
		}
	})
}
