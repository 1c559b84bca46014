package pms_test

import (
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/pms"
)

// brief renders a resident as "id|first|last|email|phone|unit|start|end|status",
// with dates as YYYY-MM-DD, after checking they are midnight in ny.
func brief(t *testing.T, r pms.Resident) string {
	t.Helper()
	d := func(p *time.Time) string {
		if p == nil {
			return ""
		}
		if p.Location() != ny || p.Hour()+p.Minute()+p.Second() != 0 {
			t.Errorf("%s: date %v is not midnight in the property's zone", r.ExternalID, p)
		}
		return p.Format(time.DateOnly)
	}
	return strings.Join([]string{r.ExternalID, r.FirstName, r.LastName, r.Email, r.Phone, r.Unit,
		d(r.LeaseStart), d(r.LeaseEnd), string(r.Status)}, "|")
}

func TestConnectors(t *testing.T) {
	for _, tt := range []struct {
		connector pms.Connector
		file      string
		provider  string
		residents []string
		warnings  []string
	}{
		{
			connector: pms.Yardi{}, file: "yardi.csv", provider: "yardi",
			residents: []string{
				"t0000101|Jane|Doe|jane@example.com|(555) 010-0101|101|2026-01-01|2026-12-31|current",
				"t0000102|Rick|Roe|rick@example.com|555-0102|102|2025-07-01|2026-06-15|notice", // move-out before lease end
				"t0000103|Ann|Poe|ann@example.com||103|2026-08-01|2027-07-31|future",
				"t0000104|Bob|Loe|bob@example.com||104|2024-01-01|2024-12-31|past",
				"t0000106|Di|Zoe|di@example.com||106|2026-01-01||notice", // eviction keeps access
			},
			warnings: []string{
				`record 10 (t0000105) Status: status "Applicant" is not a resident; record skipped`,
				`record 11 (t0000106) Lease To: "31/12/2026" is not a date; left empty`,
				`record 12 (t0000107) Status: unknown status "Sublet"; record skipped`,
			},
		},
		{
			connector: pms.Yardi{}, file: "yardi_istatus.csv", provider: "yardi",
			residents: []string{
				"t1|Jane|Doe|jane@example.com|555-0101|101|2026-01-01|2026-12-31|current",
				"t2|Rick|Roe|rick@example.com||102|2025-01-01|2025-12-31|past",
				"t3|Ann|Poe|ann@example.com||103|2026-08-01|2027-07-31|future",
			},
			warnings: []string{`record 5 (t4) istatus: status "6" is not a resident; record skipped`},
		},
		{
			connector: pms.RealPage{}, file: "realpage.csv", provider: "realpage",
			residents: []string{
				"44120|Jane|Doe|jane@example.com|(555) 010-0101|A-101|2026-01-01|2026-12-31|current",
				"44121|Rick|Roe|rick@example.com||A-102|2025-07-01|2026-06-15|notice",
				"44122|Ann|Poe|ann@example.com||A-103|2026-08-01|2027-07-31|future",
				"44123|Bob|Loe|bob@example.com||A-104|2024-01-01|2024-12-31|past",
			},
			warnings: []string{`record 7 (44124) Resident Status: status "Applicant" is not a resident; record skipped`},
		},
		{
			connector: pms.AppFolio{}, file: "appfolio.csv", provider: "appfolio",
			residents: []string{
				"9001|Jane|Doe|jane@example.com|(555) 010-0101|101|2026-01-01|2026-12-31|current",
				"9002|Rick|Roe|rick@example.com||102|2025-07-01|2026-06-15|notice",
				"9003|Ann Marie|Poe|ann@example.com||103|2026-08-01|2027-07-31|future",
				"9004|Bob|Loe|bob@example.com||104|2024-01-01|2024-12-31|past",
				"9005|Cy|Moe|cy@example.com||105|2025-01-01|2026-12-31|notice",
			},
		},
		{
			connector: pms.Entrata{}, file: "entrata.json", provider: "entrata",
			residents: []string{
				"5001|Jane|Doe|jane@example.com|555-0101|101|2026-01-01|2026-12-31|current",
				"5003|Jim|Doe|jim@example.com||101|2026-01-01|2026-12-31|current",
				"5004|Rick|Roe|rick@example.com||102|2025-07-01|2026-06-15|notice",
				"5005|Bob|Loe|bob@example.com||104|2024-01-01|2024-12-31|past",
			},
			warnings: []string{`record 6 (5006) leaseintervalstatus: status "Cancelled" is not a resident; record skipped`},
		},
		{
			connector: pms.MRI{}, file: "mri.xml", provider: "mri",
			residents: []string{
				"R000101|Jane|Doe|jane@example.com|555-0101|101|2026-01-01|2026-12-31|current",
				"R000102|Rick|Roe|rick@example.com||102|2025-07-01|2026-06-15|notice",
				"R000104|Bob|Loe|bob@example.com||104|2024-01-01|2024-12-31|past",
				"R000105|Cy|Moe|cy@example.com|||||future",
			},
			warnings: []string{`record 4 (R000105) leaseenddate: "someday" is not a date; left empty`},
		},
		{
			connector: pms.Generic{}, file: "generic.json", provider: "acme-pms",
			residents: []string{
				"r-1|Jane|Doe|jane@example.com|555-0101|101|2026-01-01|2026-12-31|current",
				"r-2|Rick|Roe|rick@example.com||102|2025-07-01|2026-06-30|notice",
			},
			warnings: []string{`record 3 (r-3) status: unknown status "Current Resident"; record skipped`},
		},
	} {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open("testdata/" + tt.file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			roster, warns, err := tt.connector.Parse(f, ny)
			if err != nil {
				t.Fatal(err)
			}
			if roster.Provider != tt.provider {
				t.Errorf("provider %q, want %q", roster.Provider, tt.provider)
			}
			var got []string
			for _, r := range roster.Residents {
				got = append(got, brief(t, r))
			}
			if !reflect.DeepEqual(got, tt.residents) {
				t.Errorf("residents\ngot  %q\nwant %q", got, tt.residents)
			}
			var gotW []string
			for _, w := range warns {
				gotW = append(gotW, w.String())
			}
			if !reflect.DeepEqual(gotW, tt.warnings) {
				t.Errorf("warnings\ngot  %q\nwant %q", gotW, tt.warnings)
			}
		})
	}
}

func TestConnectors_RejectForeignFiles(t *testing.T) {
	for _, c := range pms.Connectors() {
		for _, src := range []string{"", "hello", "First,Last\nA,B\n", "{}", "[1,2", "<a><b>1</b>"} {
			if _, _, err := c.Parse(strings.NewReader(src), ny); err == nil {
				t.Errorf("%s accepted %q", c.Name(), src)
			}
		}
	}
}

func TestEntrata_ErrorResponse(t *testing.T) {
	_, _, err := pms.Entrata{}.Parse(strings.NewReader(`{"response":{"error":{"code":301,"message":"Invalid property id"}}}`), ny)
	if err == nil || !strings.Contains(err.Error(), "Invalid property id") {
		t.Fatalf("err %v", err)
	}
}

func TestGeneric_UnknownFieldIsAnError(t *testing.T) {
	_, _, err := pms.Generic{}.Parse(strings.NewReader(`[{"external_id":"1","first_name":"A","last_name":"B","email":"a@example.com","status":"current","lease_ends":"2026-01-01"}]`), ny)
	if err == nil || !strings.Contains(err.Error(), "lease_ends") {
		t.Fatalf("err %v", err)
	}
}

func TestConnectorFor(t *testing.T) {
	for _, name := range []string{"yardi", "RealPage", " entrata ", "appfolio", "mri", "generic"} {
		c, ok := pms.ConnectorFor(name)
		if !ok || !strings.EqualFold(c.Name(), strings.TrimSpace(name)) {
			t.Errorf("ConnectorFor(%q) = %v, %v", name, c, ok)
		}
	}
	if _, ok := pms.ConnectorFor("buildium"); ok {
		t.Error("ConnectorFor(buildium) found something")
	}
}

// FuzzConnectors feeds arbitrary bytes to every adapter: no panic, and
// every resident returned has a known status and dates in the property's
// time zone.
func FuzzConnectors(f *testing.F) {
	for _, name := range []string{"yardi.csv", "yardi_istatus.csv", "realpage.csv", "appfolio.csv", "entrata.json", "mri.xml", "generic.json"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range pms.Connectors() {
			roster, warns, err := c.Parse(strings.NewReader(string(data)), ny)
			if err != nil {
				continue
			}
			for _, r := range roster.Residents {
				switch r.Status {
				case pms.StatusCurrent, pms.StatusNotice, pms.StatusFuture, pms.StatusPast:
				default:
					t.Fatalf("%s: status %q", c.Name(), r.Status)
				}
				for _, d := range []*time.Time{r.LeaseStart, r.LeaseEnd} {
					if d != nil && d.Location() != ny {
						t.Fatalf("%s: date %v not in property zone", c.Name(), d)
					}
				}
			}
			for _, w := range warns {
				if w.Record < 1 || w.Reason == "" {
					t.Fatalf("%s: warning without record or reason: %+v", c.Name(), w)
				}
			}
			_ = fmt.Sprint(roster)
		}
	})
}
