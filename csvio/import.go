package csvio

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Column names as they appear in the import template.
const (
	ColFirstName  = "First Name"
	ColLastName   = "Last Name"
	ColEmail      = "Email"
	ColPhone      = "Phone"
	ColUnit       = "Unit"
	ColKeys       = "Keys"
	ColMayShare   = "May Share"
	ColResident   = "Resident"
	ColAccess     = "Access"
	ColStart      = "Start"
	ColExpiration = "Expiration"
)

// Columns lists every column the importer understands, in template order.
var Columns = []string{
	ColFirstName, ColLastName, ColEmail, ColPhone, ColUnit, ColKeys,
	ColMayShare, ColResident, ColAccess, ColStart, ColExpiration,
}

var requiredColumns = []string{ColFirstName, ColLastName, ColEmail}

// columnAliases lists, besides the template name itself, the spellings
// spreadsheet users reach for most often, so that "E-mail" or "Expiration
// Date" is not an error. Entries are compared after normHeader.
var columnAliases = map[string][]string{
	ColFirstName:  {"first", "givenname"},
	ColLastName:   {"last", "surname", "familyname"},
	ColEmail:      {"emailaddress"},
	ColPhone:      {"phonenumber", "mobile"},
	ColUnit:       {"unitnumber", "apartment"},
	ColKeys:       {"key"},
	ColMayShare:   {"canshare"},
	ColAccess:     {"accesstype"},
	ColStart:      {"startdate", "starts", "startsat"},
	ColExpiration: {"expirationdate", "expires", "expiresat", "expiry", "end", "enddate"},
}

// headerAliases maps a normalised header cell to its column.
var headerAliases = func() map[string]string {
	m := make(map[string]string)
	for _, c := range Columns {
		m[normHeader(c)] = c
		for _, a := range columnAliases[c] {
			m[a] = c
		}
	}
	return m
}()

// Limits checked on every row.
const (
	MaxNameLen  = 100 // characters, per name field
	MaxEmailLen = 254 // RFC 5321 path limit
	MaxPhoneLen = 32
)

// Access modes accepted in the Access column.
const (
	AccessApp      = "app"
	AccessDoorcode = "doorcode"
)

// Row is one valid data row.
type Row struct {
	// Row is the row number a spreadsheet shows for this record: the header
	// is row 1, the first data row is row 2. A quoted cell spanning several
	// lines still counts as one row.
	Row       int
	FirstName string
	LastName  string
	Email     string // trimmed, as written; compare case-insensitively
	Phone     string
	Unit      string
	Keys      []string // key names, trimmed, duplicates removed, in file order
	// Optional yes/no columns: nil when the column is absent or the cell empty,
	// so the caller can tell "leave as it is" from "no".
	MayShare *bool
	Resident *bool
	Access   string // "", AccessApp or AccessDoorcode
	// Start and Expiration are nil when empty. A date without a time means
	// the start of that day for Start and the end of that day (midnight
	// that begins the next day) for Expiration, in the property's time zone.
	Start      *time.Time
	Expiration *time.Time
}

// RowError says why one row was refused. Column is empty when the problem
// is the row as a whole (for example malformed quoting).
type RowError struct {
	Row    int
	Column string
	Reason string
}

func (e RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Reason)
	}
	return fmt.Sprintf("row %d, %s: %s", e.Row, e.Column, e.Reason)
}

// HeaderError reports a header row the importer cannot work with. Nothing
// in the file is imported.
type HeaderError struct {
	Missing []string // required columns not found
	Unknown []string // header cells that name no known column, as written
	Repeat  []string // columns given more than once
	Reason  string   // set when the file has no header at all or is not UTF-8 text
}

func (e *HeaderError) Error() string {
	var parts []string
	if e.Reason != "" {
		parts = append(parts, e.Reason)
	}
	if len(e.Missing) > 0 {
		parts = append(parts, "missing required column "+quoteList(e.Missing))
	}
	if len(e.Unknown) > 0 {
		parts = append(parts, "unknown column "+quoteList(e.Unknown)+" (expected "+quoteList(Columns)+")")
	}
	if len(e.Repeat) > 0 {
		parts = append(parts, "column given twice "+quoteList(e.Repeat))
	}
	return "csv header: " + strings.Join(parts, "; ")
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// ImportReader streams rows from an import file. Only the current record
// and the set of emails seen so far are held in memory.
type ImportReader struct {
	csv    *csv.Reader
	loc    *time.Location
	col    map[string]int // column name → index in the record
	blank  []int          // indexes of header cells left empty
	row    int            // spreadsheet row number of the last record read
	end    int            // file line the last record ended on
	emails map[string]int // lower-cased email → first row it appeared on
}

// NewImportReader reads the header row and returns a reader for the data
// rows. loc is the property's time zone, used for dates without a zone.
//
// Unknown columns are an error rather than a warning: a misspelt
// "Expiraton" silently ignored would hand out access that never ends.
// Header cells left empty (a trailing comma) are ignored.
func NewImportReader(r io.Reader, loc *time.Location) (*ImportReader, error) {
	if loc == nil {
		loc = time.UTC
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(4096)
	switch {
	case bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}):
		_, _ = br.Discard(3)
		head = head[3:]
	case bytes.HasPrefix(head, []byte{0xFF, 0xFE}), bytes.HasPrefix(head, []byte{0xFE, 0xFF}):
		return nil, &HeaderError{Reason: "the file is UTF-16 text; save it as \"CSV UTF-8\""}
	}
	cr := csv.NewReader(br)
	cr.Comma = sniffDelimiter(head)
	cr.FieldsPerRecord = -1 // short and long rows are reported per row, not fatal
	cr.ReuseRecord = true

	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &HeaderError{Reason: "the file is empty", Missing: requiredColumns}
	}
	if err != nil {
		return nil, &HeaderError{Reason: "header row: " + csvReason(err)}
	}
	ir := &ImportReader{csv: cr, loc: loc, col: make(map[string]int), row: 1, emails: make(map[string]int)}
	ir.end = ir.lastLine(header)
	var herr HeaderError
	for i, cell := range header {
		if !utf8.ValidString(cell) {
			return nil, &HeaderError{Reason: "the header is not UTF-8 text; save the file as \"CSV UTF-8\""}
		}
		n := normHeader(cell)
		if n == "" {
			ir.blank = append(ir.blank, i)
			continue
		}
		name, ok := headerAliases[n]
		if !ok {
			herr.Unknown = append(herr.Unknown, strings.TrimSpace(cell))
			continue
		}
		if _, dup := ir.col[name]; dup {
			herr.Repeat = append(herr.Repeat, name)
			continue
		}
		ir.col[name] = i
	}
	for _, name := range requiredColumns {
		if _, ok := ir.col[name]; !ok {
			herr.Missing = append(herr.Missing, name)
		}
	}
	if len(herr.Missing)+len(herr.Unknown)+len(herr.Repeat) > 0 {
		return nil, &herr
	}
	return ir, nil
}

// Columns reports which known columns the file has, in template order.
func (ir *ImportReader) Columns() []string {
	var cols []string
	for _, c := range Columns {
		if _, ok := ir.col[c]; ok {
			cols = append(cols, c)
		}
	}
	return cols
}

// Next returns the next data row. Exactly one of row and errs is set for a
// record; entirely empty rows are skipped. At the end it returns io.EOF;
// any other error is a read error of the underlying reader, after which
// the import cannot continue.
func (ir *ImportReader) Next() (*Row, []RowError, error) {
	for {
		rec, err := ir.csv.Read()
		if errors.Is(err, io.EOF) {
			return nil, nil, io.EOF
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				ir.row += max(1, pe.StartLine-ir.end)
				ir.end = pe.Line
				// encoding/csv resumes at the next record after a syntax
				// error, so one bad quote costs one row, not the file.
				return nil, []RowError{{Row: ir.row, Reason: csvReason(err)}}, nil
			}
			return nil, nil, err
		}
		// Spreadsheet rows are records, but an empty line is a row too and
		// encoding/csv skips it without a word.
		start, _ := ir.csv.FieldPos(0)
		ir.row += max(1, start-ir.end)
		ir.end = ir.lastLine(rec)
		if isBlank(rec) {
			continue
		}
		row, errs := ir.parseRecord(rec)
		if errs != nil {
			return nil, errs, nil
		}
		return row, nil, nil
	}
}

func (ir *ImportReader) parseRecord(rec []string) (*Row, []RowError) {
	row := &Row{Row: ir.row}
	var errs []RowError
	fail := func(col, reason string) {
		errs = append(errs, RowError{Row: ir.row, Column: col, Reason: reason})
	}
	for i, v := range rec {
		if !utf8.ValidString(v) {
			fail(ir.columnAt(i), "not UTF-8 text; save the file as \"CSV UTF-8\"")
			return nil, errs
		}
	}
	for _, i := range ir.blank {
		if i < len(rec) && strings.TrimSpace(rec[i]) != "" {
			fail("", fmt.Sprintf("value %q in a column without a header", clip(rec[i])))
		}
	}
	if len(rec) > ir.width() && !allBlank(rec[ir.width():]) {
		fail("", fmt.Sprintf("%d cells but the header has %d columns", len(rec), ir.width()))
	}
	cell := func(name string) (string, bool) {
		i, ok := ir.col[name]
		if !ok || i >= len(rec) {
			return "", ok
		}
		return unneutralise(strings.TrimSpace(rec[i])), true
	}

	// A line break typed inside a cell (Alt+Enter in Excel) folds into a
	// space: names and units are one line everywhere else.
	row.FirstName = oneLine(cell(ColFirstName))
	row.LastName = oneLine(cell(ColLastName))
	for _, c := range []struct {
		col string
		v   string
	}{{ColFirstName, row.FirstName}, {ColLastName, row.LastName}} {
		switch {
		case c.v == "":
			fail(c.col, "required")
		case utf8.RuneCountInString(c.v) > MaxNameLen:
			fail(c.col, fmt.Sprintf("longer than %d characters", MaxNameLen))
		case hasControl(c.v):
			fail(c.col, "contains a control character")
		}
	}

	row.Email, _ = cell(ColEmail)
	emailOK := false
	switch {
	case row.Email == "":
		fail(ColEmail, "required")
	case len(row.Email) > MaxEmailLen:
		fail(ColEmail, fmt.Sprintf("longer than %d characters", MaxEmailLen))
	default:
		if reason := checkEmail(row.Email); reason != "" {
			fail(ColEmail, reason)
		} else {
			emailOK = true
		}
	}
	if emailOK {
		// The first row with an address claims it, valid or not, so the
		// answer to "which row won?" never depends on other columns.
		key := strings.ToLower(row.Email)
		if first, seen := ir.emails[key]; seen {
			fail(ColEmail, fmt.Sprintf("duplicate email: already on row %d", first))
		} else {
			ir.emails[key] = ir.row
		}
	}

	if v, _ := cell(ColPhone); v != "" {
		switch {
		case len(v) > MaxPhoneLen:
			fail(ColPhone, fmt.Sprintf("longer than %d characters", MaxPhoneLen))
		case isScientific(v):
			fail(ColPhone, "looks like a number in scientific notation; format the column as text in the spreadsheet")
		case !isPhone(v):
			fail(ColPhone, "may contain only digits, spaces and + ( ) - . /")
		default:
			row.Phone = v
		}
	}
	if v := oneLine(cell(ColUnit)); v != "" {
		if utf8.RuneCountInString(v) > MaxNameLen || hasControl(v) {
			fail(ColUnit, fmt.Sprintf("must be one line of at most %d characters", MaxNameLen))
		} else {
			row.Unit = v
		}
	}
	if v, _ := cell(ColKeys); v != "" {
		row.Keys = splitKeys(v)
	}
	for _, c := range []struct {
		col string
		dst **bool
	}{{ColMayShare, &row.MayShare}, {ColResident, &row.Resident}} {
		if v, _ := cell(c.col); v != "" {
			b, ok := parseBool(v)
			if !ok {
				fail(c.col, fmt.Sprintf("%q is not yes/no, true/false, y/n or 1/0", clip(v)))
				continue
			}
			*c.dst = &b
		}
	}
	if v, _ := cell(ColAccess); v != "" {
		switch strings.ToLower(strings.Join(strings.Fields(v), "")) {
		case AccessApp:
			row.Access = AccessApp
		case AccessDoorcode:
			row.Access = AccessDoorcode
		default:
			fail(ColAccess, fmt.Sprintf("%q is not app or doorcode", clip(v)))
		}
	}
	if v, _ := cell(ColStart); v != "" {
		t, _, err := ParseTime(v, ir.loc)
		if err != nil {
			fail(ColStart, err.Error())
		} else {
			row.Start = &t
		}
	}
	if v, _ := cell(ColExpiration); v != "" {
		t, dateOnly, err := ParseTime(v, ir.loc)
		if err != nil {
			fail(ColExpiration, err.Error())
		} else {
			if dateOnly {
				// A date means through the end of that day in the
				// property's zone: its last second, so the expiration reads
				// "2027-12-31 23:59", not the next day's midnight.
				t = t.AddDate(0, 0, 1).Add(-time.Second)
			}
			row.Expiration = &t
		}
	}
	if row.Start != nil && row.Expiration != nil && !row.Expiration.After(*row.Start) {
		fail(ColExpiration, "must be after Start")
	}
	if errs != nil {
		return nil, errs
	}
	return row, nil
}

// lastLine is the file line the record just read ends on.
func (ir *ImportReader) lastLine(rec []string) int {
	if len(rec) == 0 {
		return ir.end
	}
	line, _ := ir.csv.FieldPos(len(rec) - 1)
	return line + strings.Count(rec[len(rec)-1], "\n")
}

func (ir *ImportReader) width() int {
	w := 0
	for _, i := range ir.col {
		w = max(w, i+1)
	}
	for _, i := range ir.blank {
		w = max(w, i+1)
	}
	return w
}

func (ir *ImportReader) columnAt(i int) string {
	for name, j := range ir.col {
		if i == j {
			return name
		}
	}
	return ""
}

// Import is a whole file parsed at once.
type Import struct {
	Columns []string // known columns present, in template order
	Rows    []Row
	Errors  []RowError // in row order
}

// ParseImport reads a whole import file. It returns an error only when the
// header is unusable or the reader fails; bad rows are in Import.Errors and
// never stop the good ones. Prefer NewImportReader for large files.
func ParseImport(r io.Reader, loc *time.Location) (*Import, error) {
	ir, err := NewImportReader(r, loc)
	if err != nil {
		return nil, err
	}
	imp := &Import{Columns: ir.Columns()}
	for {
		row, errs, err := ir.Next()
		if errors.Is(err, io.EOF) {
			return imp, nil
		}
		if err != nil {
			return nil, err
		}
		if row != nil {
			imp.Rows = append(imp.Rows, *row)
		}
		imp.Errors = append(imp.Errors, errs...)
	}
}

// normHeader folds case and drops spaces, underscores, hyphens and dots so
// that "First Name", "first_name", "FirstName" and " FIRST NAME " agree.
func normHeader(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r == '_' || r == '-' || r == '.' || r == '\uFEFF':
		case r == ' ' || r == '\t' || r == '\u00A0' || r == '\r' || r == '\n':
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// sniffDelimiter picks ';' or tab for files whose first line has no comma
// but has one of those: spreadsheet programs in many European locales save
// "CSV" with semicolons.
func sniffDelimiter(head []byte) rune {
	line := head
	if i := bytes.IndexAny(head, "\r\n"); i >= 0 {
		line = head[:i]
	}
	if bytes.IndexByte(line, ',') >= 0 {
		return ','
	}
	if bytes.IndexByte(line, ';') >= 0 {
		return ';'
	}
	if bytes.IndexByte(line, '\t') >= 0 {
		return '\t'
	}
	return ','
}

func csvReason(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(pe.Err, csv.ErrQuote):
			return "malformed quoting: a quoted cell has a stray or missing \""
		case errors.Is(pe.Err, csv.ErrBareQuote):
			return "malformed quoting: \" inside a cell that is not quoted"
		}
		return "malformed CSV: " + pe.Err.Error()
	}
	return err.Error()
}

func checkEmail(s string) string {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return fmt.Sprintf("%q is not an email address", clip(s))
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || !strings.Contains(s[at+1:], ".") || strings.HasSuffix(s, ".") {
		return fmt.Sprintf("%q has no valid domain", clip(s))
	}
	return ""
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "yes", "y", "true", "t", "1", "x":
		return true, true
	case "no", "n", "false", "f", "0":
		return false, true
	}
	return false, false
}

func splitKeys(s string) []string {
	var keys []string
	seen := make(map[string]bool)
	for k := range strings.SplitSeq(s, ";") {
		k = strings.TrimSpace(k)
		if k == "" || seen[strings.ToLower(k)] {
			continue
		}
		seen[strings.ToLower(k)] = true
		keys = append(keys, k)
	}
	return keys
}

func isPhone(s string) bool {
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune(" +()-./", r):
		default:
			return false
		}
	}
	return digits >= 3
}

// isScientific spots a phone number Excel has turned into "5.55E+09".
func isScientific(s string) bool {
	mant, exp, ok := strings.Cut(strings.ToUpper(s), "E+")
	if !ok || mant == "" || exp == "" {
		return false
	}
	for _, r := range strings.Replace(mant, ".", "", 1) + exp {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func oneLine(s string, _ bool) string {
	if strings.ContainsAny(s, "\r\n\t") || strings.Contains(s, "  ") {
		return strings.Join(strings.Fields(s), " ")
	}
	return s
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7F {
			return true
		}
	}
	return false
}

func isBlank(rec []string) bool { return allBlank(rec) }

func allBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// unneutralise undoes what Writer does to a cell, so an export can be
// edited and imported again: "'+1 555" reads as "+1 555".
func unneutralise(s string) string {
	if len(s) >= 2 && s[0] == '\'' && needsNeutralising(s[1:]) {
		return s[1:]
	}
	return s
}

// clip shortens a value quoted back in an error message.
func clip(s string) string {
	const n = 40
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
