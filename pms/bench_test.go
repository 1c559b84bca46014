package pms_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/dooros/dooros/pms"
)

// BenchmarkReconcile5000 plans a 5,000-resident roster against 5,000
// existing contacts of which 100 differ.
func BenchmarkReconcile5000(b *testing.B) {
	roster, existing := syntheticRoster(5000, 5000, 100)
	units := syntheticUnits()
	b.ReportAllocs()
	for b.Loop() {
		plan := pms.Reconcile(roster, existing, units, auto, now)
		if len(plan.Grants) == 0 {
			b.Fatal("no grants")
		}
	}
}

func yardiExport(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\uFEFFResident Directory\r\nTenant Code,Unit,Name,Email,Cell Phone,Lease From,Lease To,Move Out,Status\r\n")
	for i := range n {
		fmt.Fprintf(&buf, "t%07d,%d,\"Last%d, First%d\",person%d@example.com,(555) 010-%04d,01/01/2026,12/31/2026,,Current\r\n",
			i, 100+i%400, i, i, i, i%10000)
	}
	return buf.Bytes()
}

func BenchmarkYardiParse5000(b *testing.B) {
	data := yardiExport(5000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		roster, _, err := pms.Yardi{}.Parse(bytes.NewReader(data), ny)
		if err != nil || len(roster.Residents) != 5000 {
			b.Fatal(err, len(roster.Residents))
		}
	}
}

func BenchmarkGenericParse5000(b *testing.B) {
	doc := pms.GenericRoster{Provider: "bench"}
	for i := range 5000 {
		doc.Residents = append(doc.Residents, pms.GenericResident{ExternalID: fmt.Sprint(i), FirstName: "First", LastName: fmt.Sprint("Last", i),
			Email: fmt.Sprintf("person%d@example.com", i), Unit: fmt.Sprint(100 + i%400), LeaseStart: "2026-01-01", LeaseEnd: "2026-12-31", Status: "current"})
	}
	data, _ := json.Marshal(doc)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		roster, _, err := pms.Generic{}.Parse(bytes.NewReader(data), ny)
		if err != nil || len(roster.Residents) != 5000 {
			b.Fatal(err)
		}
	}
}
