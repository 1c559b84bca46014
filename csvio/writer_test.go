package csvio_test

import (
	"bytes"
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
)

func TestNeutralise(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"Jane", "Jane"},
		{"=HYPERLINK(\"http://x\",\"y\")", "'=HYPERLINK(\"http://x\",\"y\")"},
		{"+1 555 0100", "'+1 555 0100"},
		{"-5", "'-5"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"  =1+1", "'  =1+1"},
		{"＝1+1", "'＝1+1"},
		{"a=b", "a=b"},
		{"'quoted", "'quoted"},
		{"jane@example.com", "jane@example.com"},
	} {
		if got := csvio.Neutralise(tt.in); got != tt.want {
			t.Errorf("Neutralise(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	t.Run("Plain", func(t *testing.T) {
		var buf bytes.Buffer
		w := csvio.NewWriter(&buf)
		rec := []string{"=cmd|' /C calc'!A0", "a,b", "line\nbreak"}
		if err := w.WriteAll([][]string{rec}); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), "'=cmd|' /C calc'!A0,\"a,b\",\"line\nbreak\"\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if rec[0] != "=cmd|' /C calc'!A0" {
			t.Fatal("Write changed the caller's record")
		}
	})
	t.Run("Excel", func(t *testing.T) {
		var buf bytes.Buffer
		w := csvio.NewExcelWriter(&buf)
		if err := w.WriteAll([][]string{{"a", "b"}, {"c", "d"}}); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), "\uFEFFa,b\r\nc,d\r\n"; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	})
}

// What DOOR OS exports can be edited and imported again unchanged.
func TestWriter_RoundTripsThroughImport(t *testing.T) {
	var buf bytes.Buffer
	w := csvio.NewExcelWriter(&buf)
	_ = w.Write([]string{"First Name", "Last Name", "Email", "Phone"})
	_ = w.Write([]string{"-Jane", "=Doe", "jane@example.com", "+1 555 0100"})
	w.Flush()
	imp, err := csvio.ParseImport(&buf, time.UTC)
	if err != nil || len(imp.Errors) != 0 {
		t.Fatalf("%v %v", err, imp.Errors)
	}
	r := imp.Rows[0]
	if got, want := []string{r.FirstName, r.LastName, r.Phone}, []string{"-Jane", "=Doe", "+1 555 0100"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// FuzzWriterNeverStartsFormula checks the export property: whatever the
// cells, no cell of the written file, read back as CSV, starts a formula.
func FuzzWriterNeverStartsFormula(f *testing.F) {
	for _, s := range []string{"=1+1", "+1", "-1", "@x", "\t=1", "\r=1", " =1", "＝1", "a\"b", "a,b\n=c", "\uFEFF=1"} {
		f.Add(s, "x")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var buf bytes.Buffer
		w := csvio.NewWriter(&buf)
		if err := w.WriteAll([][]string{{a, b}, {b, a}}); err != nil {
			t.Skip() // encoding/csv refuses some invalid inputs; nothing written
		}
		r := csv.NewReader(&buf)
		r.FieldsPerRecord = -1
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("written CSV does not read back: %v\n%q", err, buf.String())
		}
		for _, rec := range recs {
			for _, cell := range rec {
				if startsFormula(cell) {
					t.Fatalf("cell %q starts a formula", cell)
				}
			}
		}
	})
}

func startsFormula(cell string) bool {
	c := strings.TrimLeft(cell, " \u00A0\u3000")
	return c != "" && strings.ContainsAny(c[:1], "=+-@\t\r\n") ||
		strings.HasPrefix(c, "＝") || strings.HasPrefix(c, "＋") || strings.HasPrefix(c, "－") || strings.HasPrefix(c, "＠")
}
