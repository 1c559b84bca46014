package csvio_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/csvio"
)

func mustLoc(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func parse(t *testing.T, src string) *csvio.Import {
	t.Helper()
	imp, err := csvio.ParseImport(strings.NewReader(src), mustLoc(t, "America/New_York"))
	if err != nil {
		t.Fatalf("ParseImport: %v", err)
	}
	return imp
}

func TestParseImport_HeaderNames(t *testing.T) {
	for _, header := range []string{
		"First Name,Last Name,Email",
		"first name,last name,email",
		"FirstName,LastName,EMAIL",
		" First  Name , LAST_NAME ,  EMAIL ",
		"first-name,last.name,E-mail",
		"\uFEFFFirst Name,Last Name,Email",
		"Given Name,Surname,Email Address",
	} {
		t.Run(header, func(t *testing.T) {
			imp := parse(t, header+"\nJane,Doe,jane@example.com\n")
			if len(imp.Errors) != 0 || len(imp.Rows) != 1 {
				t.Fatalf("rows %v errors %v", imp.Rows, imp.Errors)
			}
			if got, want := imp.Rows[0].Email, "jane@example.com"; got != want {
				t.Fatalf("email %q, want %q", got, want)
			}
		})
	}
}

func TestParseImport_HeaderErrors(t *testing.T) {
	for _, tt := range []struct {
		name, src string
		want      csvio.HeaderError
	}{
		{"MissingEmail", "First Name,Last Name\n", csvio.HeaderError{Missing: []string{"Email"}}},
		{"MissingAll", "Phone\n", csvio.HeaderError{Missing: []string{"First Name", "Last Name", "Email"}}},
		{"Unknown", "First Name,Last Name,Email,Expiraton\n", csvio.HeaderError{Unknown: []string{"Expiraton"}}},
		{"Repeated", "First Name,Last Name,Email,email\n", csvio.HeaderError{Repeat: []string{"Email"}}},
		{"Empty", "", csvio.HeaderError{Reason: "the file is empty", Missing: []string{"First Name", "Last Name", "Email"}}},
		{"UTF16", "\xff\xfeF\x00", csvio.HeaderError{Reason: `the file is UTF-16 text; save it as "CSV UTF-8"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := csvio.ParseImport(strings.NewReader(tt.src), time.UTC)
			var herr *csvio.HeaderError
			if !errors.As(err, &herr) {
				t.Fatalf("err %v, want *HeaderError", err)
			}
			if !reflect.DeepEqual(*herr, tt.want) {
				t.Fatalf("got %#v\nwant %#v", *herr, tt.want)
			}
			if tt.want.Missing != nil && !strings.Contains(err.Error(), `"`+tt.want.Missing[0]+`"`) {
				t.Fatalf("message %q does not name the missing column", err)
			}
		})
	}
}

// An Excel "CSV UTF-8" export: BOM, CRLF, quoted cells with commas and
// line breaks, an empty trailing column and blank rows at the end.
func TestParseImport_ExcelExport(t *testing.T) {
	src := "\uFEFFFirst Name,Last Name,Email,Phone,Unit,Keys,May Share,Resident,Access,Start,Expiration,\r\n" +
		"Jane,Doe,jane@example.com,(555) 010-0100,101,Main Entrance; Gym ;main entrance,yes,Y,App,2026-03-01,12/31/2026,\r\n" +
		"\"Smith, Jr.\",\"O'Brien\",\"bob@example.com\",,\"Bldg A,\r\n 2F\",,0,no,DoorCode,3/1/2026 9:30 pm,2026-03-02T10:00:00Z,\r\n" +
		",,,,,,,,,,,\r\n" +
		",,,,,,,,,,,\r\n"
	imp := parse(t, src)
	if len(imp.Errors) != 0 {
		t.Fatalf("errors: %v", imp.Errors)
	}
	ny := mustLoc(t, "America/New_York")
	yes, no := true, false
	start1 := time.Date(2026, 3, 1, 0, 0, 0, 0, ny)
	end1 := time.Date(2026, 12, 31, 23, 59, 59, 0, ny) // a date: the end of that day
	start2 := time.Date(2026, 3, 1, 21, 30, 0, 0, ny)
	end2 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	want := []csvio.Row{
		{Row: 2, FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Phone: "(555) 010-0100", Unit: "101",
			Keys: []string{"Main Entrance", "Gym"}, MayShare: &yes, Resident: &yes, Access: "app", Start: &start1, Expiration: &end1},
		{Row: 3, FirstName: "Smith, Jr.", LastName: "O'Brien", Email: "bob@example.com", Unit: "Bldg A, 2F",
			MayShare: &no, Resident: &no, Access: "doorcode", Start: &start2, Expiration: &end2},
	}
	if len(imp.Rows) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(imp.Rows), len(want), imp.Rows)
	}
	for i := range want {
		got := imp.Rows[i]
		if !got.Start.Equal(*want[i].Start) || !got.Expiration.Equal(*want[i].Expiration) {
			t.Errorf("row %d: start %v end %v, want %v %v", i, got.Start, got.Expiration, want[i].Start, want[i].Expiration)
		}
		got.Start, got.Expiration = want[i].Start, want[i].Expiration
		if !reflect.DeepEqual(got, want[i]) {
			t.Errorf("row %d:\ngot  %+v\nwant %+v", i, got, want[i])
		}
	}
}

func TestParseImport_LineBreaksInNamesFold(t *testing.T) {
	imp := parse(t, "First Name,Last Name,Email,Unit\n\"Mary\r\nAnn\",B,a@example.com,\"1\n  2\"\n")
	if len(imp.Errors) != 0 || imp.Rows[0].FirstName != "Mary Ann" || imp.Rows[0].Unit != "1 2" {
		t.Fatalf("rows %+v errors %v", imp.Rows, imp.Errors)
	}
}

func TestParseImport_RowErrors(t *testing.T) {
	const head = "First Name,Last Name,Email,Phone,May Share,Access,Start,Expiration\n"
	long := strings.Repeat("x", 101)
	for _, tt := range []struct {
		name, row string
		want      []csvio.RowError
	}{
		{"OK", "A,B,a@example.com,,,,,", nil},
		{"NameMissing", ",B,a@example.com,,,,,", []csvio.RowError{{2, "First Name", "required"}}},
		{"NameTooLong", "A," + long + ",a@example.com,,,,,", []csvio.RowError{{2, "Last Name", "longer than 100 characters"}}},
		{"EmailMissing", "A,B,,,,,,", []csvio.RowError{{2, "Email", "required"}}},
		{"EmailBad", "A,B,not-an-email,,,,,", []csvio.RowError{{2, "Email", `"not-an-email" is not an email address`}}},
		{"EmailDisplayName", "A,B,Bob <b@example.com>,,,,,", []csvio.RowError{{2, "Email", `"Bob <b@example.com>" is not an email address`}}},
		{"EmailNoDomainDot", "A,B,a@localhost,,,,,", []csvio.RowError{{2, "Email", `"a@localhost" has no valid domain`}}},
		{"PhoneScientific", "A,B,a@example.com,5.55E+09,,,,", []csvio.RowError{{2, "Phone", "looks like a number in scientific notation; format the column as text in the spreadsheet"}}},
		{"PhoneLetters", "A,B,a@example.com,call me,,,,", []csvio.RowError{{2, "Phone", "may contain only digits, spaces and + ( ) - . /"}}},
		{"BoolBad", "A,B,a@example.com,,maybe,,,", []csvio.RowError{{2, "May Share", `"maybe" is not yes/no, true/false, y/n or 1/0`}}},
		{"AccessBad", "A,B,a@example.com,,,card,,", []csvio.RowError{{2, "Access", `"card" is not app or doorcode`}}},
		{"DateBad", "A,B,a@example.com,,,,31/12/2026,", []csvio.RowError{{2, "Start", `"31/12/2026" is not a date: use YYYY-MM-DD, YYYY-MM-DDTHH:MM or MM/DD/YYYY [HH:MM]`}}},
		{"ExpirationBeforeStart", "A,B,a@example.com,,,,2026-05-01,2026-04-01", []csvio.RowError{{2, "Expiration", "must be after Start"}}},
		{"ExpirationEqualsStart", "A,B,a@example.com,,,,2026-05-01 10:00,2026-05-01 10:00", []csvio.RowError{{2, "Expiration", "must be after Start"}}},
		{"SameDayDateOnly", "A,B,a@example.com,,,,2026-05-01,2026-05-01", nil}, // through the end of that day
		{"Several", ",,x,,,,,", []csvio.RowError{{2, "First Name", "required"}, {2, "Last Name", "required"}, {2, "Email", `"x" is not an email address`}}},
		{"TooManyCells", "A,B,a@example.com,,,,,,surprise", []csvio.RowError{{2, "", "9 cells but the header has 8 columns"}}},
		{"ShortRowIsFine", "A,B,a@example.com", nil},
		{"NotUTF8", "A,B\xe9,a@example.com,,,,,", []csvio.RowError{{2, "Last Name", `not UTF-8 text; save the file as "CSV UTF-8"`}}},
		{"BareQuote", "A,B\"x,a@example.com,,,,,", []csvio.RowError{{2, "", `malformed quoting: " inside a cell that is not quoted`}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			imp := parse(t, head+tt.row+"\n")
			if !reflect.DeepEqual(imp.Errors, tt.want) {
				t.Fatalf("errors\ngot  %q\nwant %q", imp.Errors, tt.want)
			}
			if got, want := len(imp.Rows), 1-min(1, len(tt.want)); got != want {
				t.Fatalf("got %d rows, want %d", got, want)
			}
		})
	}
}

// A bad row never stops the good ones, also after malformed quoting.
func TestParseImport_BadRowsDoNotStopGoodOnes(t *testing.T) {
	src := "First Name,Last Name,Email\n" +
		"A,B,a@example.com\n" + // 2
		"C,D\"oops,c@example.com\n" + // 3 bare quote
		"E,F,bad\n" + // 4
		"G,H,A@Example.com\n" + // 5 duplicate of row 2
		"I,J,i@example.com\n" // 6
	imp := parse(t, src)
	var rows []int
	for _, r := range imp.Rows {
		rows = append(rows, r.Row)
	}
	if !reflect.DeepEqual(rows, []int{2, 6}) {
		t.Fatalf("good rows %v, want [2 6]", rows)
	}
	var errRows []string
	for _, e := range imp.Errors {
		errRows = append(errRows, fmt.Sprintf("%d:%s:%s", e.Row, e.Column, e.Reason))
	}
	want := []string{
		`3::malformed quoting: " inside a cell that is not quoted`,
		`4:Email:"bad" is not an email address`,
		"5:Email:duplicate email: already on row 2",
	}
	if !reflect.DeepEqual(errRows, want) {
		t.Fatalf("errors\ngot  %q\nwant %q", errRows, want)
	}
}

func TestParseImport_DuplicateEmailFirstRowClaimsIt(t *testing.T) {
	// Row 2 is refused for its name, but it still owns the address: row 3
	// is refused too, so fixing row 2 never changes which row wins.
	imp := parse(t, "First Name,Last Name,Email\n,B,a@example.com\nC,D, a@example.com \n")
	if len(imp.Rows) != 0 || len(imp.Errors) != 2 || imp.Errors[1].Reason != "duplicate email: already on row 2" {
		t.Fatalf("rows %v errors %v", imp.Rows, imp.Errors)
	}
}

func TestParseImport_SemicolonDelimited(t *testing.T) {
	imp := parse(t, "First Name;Last Name;Email;Keys\nA;B;a@example.com;\"Gym;Pool\"\n")
	if len(imp.Errors) != 0 || !reflect.DeepEqual(imp.Rows[0].Keys, []string{"Gym", "Pool"}) {
		t.Fatalf("rows %+v errors %v", imp.Rows, imp.Errors)
	}
}

func TestParseImport_RowNumbersCountRecordsNotLines(t *testing.T) {
	imp := parse(t, "First Name,Last Name,Email\n\"multi\nline\",B,x\nC,D,bad\n")
	if len(imp.Errors) != 2 || imp.Errors[0].Row != 2 || imp.Errors[len(imp.Errors)-1].Row != 3 {
		t.Fatalf("errors %v", imp.Errors)
	}
}

// Row numbers match what a spreadsheet shows: a quoted cell spanning lines
// is one row, and an empty line is a row of its own.
func TestParseImport_RowNumbersMatchSpreadsheet(t *testing.T) {
	src := "First Name,Last Name,Email\r\n" + // 1
		"A,B,a@example.com\r\n" + // 2
		"\r\n" + // 3 empty line
		"\"C\r\nC\",D,\"c@example.com\r\n\"\r\n" + // 4, three lines; trailing line break trimmed
		"E,F,bad\r\n" + // 5
		"\r\n\r\n" + // 6, 7
		"G,\"H\"x,g@example.com\r\n" + // 8 malformed
		"I,J,i@example.com\r\n" // 9
	imp := parse(t, src)
	var got []string
	for _, r := range imp.Rows {
		got = append(got, fmt.Sprintf("%d ok", r.Row))
	}
	for _, e := range imp.Errors {
		got = append(got, fmt.Sprintf("%d %s", e.Row, e.Column))
	}
	want := []string{"2 ok", "4 ok", "9 ok", "5 Email", "8 "}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestImportReader_Streams(t *testing.T) {
	ir, err := csvio.NewImportReader(strings.NewReader("First Name,Last Name,Email\nA,B,a@example.com\n,,bad\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ir.Columns(), []string{"First Name", "Last Name", "Email"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("columns %v", got)
	}
	row, errs, err := ir.Next()
	if err != nil || errs != nil || row == nil || row.Row != 2 {
		t.Fatalf("first: %v %v %v", row, errs, err)
	}
	row, errs, err = ir.Next()
	if err != nil || row != nil || len(errs) != 3 {
		t.Fatalf("second: %v %v %v", row, errs, err)
	}
	if _, _, err := ir.Next(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
}

func TestParseImport_ReadErrorIsReturned(t *testing.T) {
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader("First Name,Last Name,Email\nA,B,a@example.com\n"), errReader{boom})
	if _, err := csvio.ParseImport(r, time.UTC); !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestParseTime(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	for _, tt := range []struct {
		in       string
		want     time.Time
		dateOnly bool
	}{
		{"2026-03-08", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), true},
		{"2026-03-08T02:30", time.Date(2026, 3, 8, 2, 30, 0, 0, ny), false}, // DST gap: Go normalises forward
		{"2026-03-08T14:30:15", time.Date(2026, 3, 8, 14, 30, 15, 0, ny), false},
		{"2026-03-08 14:30", time.Date(2026, 3, 8, 14, 30, 0, 0, ny), false},
		{"2026-03-08T14:30:00Z", time.Date(2026, 3, 8, 14, 30, 0, 0, time.UTC), false},
		{"2026-03-08T14:30:00+02:00", time.Date(2026, 3, 8, 12, 30, 0, 0, time.UTC), false},
		{"2026-03-08T14:30:00.123-05:00", time.Date(2026, 3, 8, 19, 30, 0, 123e6, time.UTC), false},
		{"03/08/2026", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), true},
		{"3/8/2026", time.Date(2026, 3, 8, 0, 0, 0, 0, ny), true},
		{"03/08/2026 14:30", time.Date(2026, 3, 8, 14, 30, 0, 0, ny), false},
		{"3/8/2026 2:30 PM", time.Date(2026, 3, 8, 14, 30, 0, 0, ny), false},
		{"3/8/2026 2:30 pm", time.Date(2026, 3, 8, 14, 30, 0, 0, ny), false},
		{"3/8/2026 12:05 AM", time.Date(2026, 3, 8, 0, 5, 0, 0, ny), false},
		{"3/8/2026 2:30:59 PM", time.Date(2026, 3, 8, 14, 30, 59, 0, ny), false},
		{" 3/8/2026  2:30PM ", time.Date(2026, 3, 8, 14, 30, 0, 0, ny), false},
	} {
		t.Run(tt.in, func(t *testing.T) {
			got, dateOnly, err := csvio.ParseTime(tt.in, ny)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(tt.want) || dateOnly != tt.dateOnly {
				t.Fatalf("got %v %v, want %v %v", got, dateOnly, tt.want, tt.dateOnly)
			}
		})
	}
	for _, bad := range []string{"", "tomorrow", "13/01/2026", "2026-02-30", "2026/03/08", "3/8/26", "3/8/2026 25:00"} {
		if _, _, err := csvio.ParseTime(bad, ny); err == nil {
			t.Errorf("ParseTime(%q) = nil error", bad)
		}
	}
}

func TestTemplate_ParsesCleanly(t *testing.T) {
	var buf bytes.Buffer
	if err := csvio.WriteTemplate(&buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("\uFEFFFirst Name,Last Name,Email,")) || !bytes.Contains(buf.Bytes(), []byte("\r\n")) {
		t.Fatalf("template %q", buf.String())
	}
	imp, err := csvio.ParseImport(&buf, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Errors) != 0 || len(imp.Rows) != 1 || len(imp.Columns) != len(csvio.Columns) {
		t.Fatalf("template import: %+v", imp)
	}
}
