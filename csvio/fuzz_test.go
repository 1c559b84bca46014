package csvio_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
)

// FuzzParseImport feeds malformed files to the importer: it must not
// panic, every refused row must carry a row number and a reason, and the
// rows it accepts must satisfy the documented invariants.
func FuzzParseImport(f *testing.F) {
	const head = "First Name,Last Name,Email,Phone,Unit,Keys,May Share,Resident,Access,Start,Expiration\r\n"
	for _, s := range []string{
		head + "Jane,Doe,jane@example.com,(555) 010-0100,101,A;B,yes,no,app,2026-01-01,12/31/2026 5:00 PM\r\n",
		head + "\"a,\nb\",\"c\"\"d\",x@y.z,,,,,,,,\r\n",
		"\uFEFF" + head + "\"unterminated,b,c\r\n",
		head + "a,b\"c,d@e.f\r\nA,B,a@b.co\r\n",
		"first name;last name;email\nA;B;a@b.co\n",
		"Email\n",
		"",
		"\xff\xfe",
		head + ",,,,,,,,,,,,,,,\n\n\n",
		head + "A,B,a@b.co,5.55E+09,,,maybe,2,card,2026-13-01,yesterday\n",
		head + "A,B,a@b.co\nC,D,A@B.CO\n",
	} {
		f.Add([]byte(s))
	}
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ir, err := csvio.NewImportReader(strings.NewReader(string(data)), loc)
		if err != nil {
			var herr *csvio.HeaderError
			if !errors.As(err, &herr) || err.Error() == "" {
				t.Fatalf("header error %T %v", err, err)
			}
			return
		}
		last := 1
		emails := make(map[string]bool)
		for {
			row, errs, err := ir.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("Next: %v", err) // strings.Reader never fails
			}
			if (row == nil) == (len(errs) == 0) {
				t.Fatalf("want exactly one of row and errors: %v %v", row, errs)
			}
			for _, e := range errs {
				if e.Row <= last || e.Reason == "" {
					t.Fatalf("row error without row or reason: %+v (previous row %d)", e, last)
				}
			}
			if row == nil {
				last = errs[0].Row
				continue
			}
			if row.Row <= last {
				t.Fatalf("row number %d not after %d", row.Row, last)
			}
			last = row.Row
			if row.FirstName == "" || row.LastName == "" || row.Email == "" {
				t.Fatalf("accepted row without a required value: %+v", row)
			}
			if k := strings.ToLower(row.Email); emails[k] {
				t.Fatalf("duplicate email accepted: %q", row.Email)
			} else {
				emails[k] = true
			}
			if row.Start != nil && row.Expiration != nil && !row.Expiration.After(*row.Start) {
				t.Fatalf("expiration not after start: %+v", row)
			}
		}
	})
}
