package csvio_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
)

func importFile(n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("\uFEFFFirst Name,Last Name,Email,Phone,Unit,Keys,May Share,Resident,Access,Start,Expiration\r\n")
	for i := range n {
		fmt.Fprintf(&buf, "First%d,\"Last, %d\",person%d@example.com,(555) 010-%04d,%d,Main Entrance;Gym,yes,yes,app,2026-01-01,12/31/2026 5:00 PM\r\n",
			i, i, i, i%10000, 100+i%400)
	}
	return buf.Bytes()
}

// BenchmarkImportReader10k streams a 10,000-row Excel-style file. The
// live-heap-MB metric is the largest heap growth over the file (input
// bytes excluded), sampled every 500 rows.
func BenchmarkImportReader10k(b *testing.B) {
	data := importFile(10000)
	loc, _ := time.LoadLocation("America/New_York")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var peak uint64
	var ms runtime.MemStats
	for b.Loop() {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		ir, err := csvio.NewImportReader(bytes.NewReader(data), loc)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for {
			row, errs, err := ir.Next()
			if err != nil {
				break
			}
			if errs != nil {
				b.Fatal(errs)
			}
			_ = row
			n++
			if n%500 == 0 {
				runtime.ReadMemStats(&ms)
				if ms.HeapAlloc > base {
					peak = max(peak, ms.HeapAlloc-base)
				}
			}
		}
		if n != 10000 {
			b.Fatalf("%d rows", n)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "live-heap-MB")
}

// BenchmarkParseImport10k collects all 10,000 rows in memory.
func BenchmarkParseImport10k(b *testing.B) {
	data := importFile(10000)
	loc, _ := time.LoadLocation("America/New_York")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		imp, err := csvio.ParseImport(bytes.NewReader(data), loc)
		if err != nil || len(imp.Rows) != 10000 {
			b.Fatal(err, len(imp.Errors))
		}
	}
}
