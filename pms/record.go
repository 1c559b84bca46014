package pms

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/dooros/dooros/csvio"
)

// Canonical fields every adapter fills from its own field names.
const (
	fID      = "id"
	fFirst   = "first"
	fLast    = "last"
	fName    = "name" // "Last, First" or "First Last" when no separate columns
	fEmail   = "email"
	fPhone   = "phone"
	fUnit    = "unit"
	fStart   = "start"
	fEnd     = "end"
	fMoveOut = "moveout"
	fStatus  = "status"
)

// fieldMap lists, per canonical field, the vendor's field names in order of
// preference, written as norm() returns them.
type fieldMap map[string][]string

// statusMap maps a vendor status, as norm() returns it, to a Status. A
// status mapped to "" is known but not a resident (applicant, cancelled…)
// and the record is skipped with a warning.
type statusMap map[string]Status

// commonStatuses are words used the same way by most systems.
var commonStatuses = statusMap{
	"current": StatusCurrent, "currentresident": StatusCurrent, "active": StatusCurrent,
	"notice": StatusNotice, "onnotice": StatusNotice, "noticetovacate": StatusNotice,
	// A resident under eviction still lives there and may not be locked out
	// without a court order; access follows the lease or move-out date.
	"eviction": StatusNotice, "evict": StatusNotice, "undereviction": StatusNotice,
	"future": StatusFuture, "futureresident": StatusFuture, "pendingmovein": StatusFuture,
	"past": StatusPast, "former": StatusPast, "formerresident": StatusPast, "pastresident": StatusPast,
	"movedout": StatusPast, "moveout": StatusPast,
	"applicant": "", "approved": "", "cancelled": "", "canceled": "", "denied": "",
	"waitlist": "", "vacant": "", "prospect": "",
}

func (m statusMap) with(extra statusMap) statusMap {
	out := make(statusMap, len(m)+len(extra))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// norm folds case and drops everything but letters and digits, so that
// "Lease From", "lease_from" and "LeaseFrom" agree.
func norm(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// builder turns one raw record into a Resident.
type builder struct {
	fields   fieldMap
	statuses statusMap
	loc      *time.Location
	warns    []ParseWarning
	// display turns a norm() field name back into the vendor's spelling
	// for warnings; nil keeps the normalised name.
	display func(string) string
}

// build reads one record. get returns the value of a vendor field (by its
// norm() name) and whether the record has that field.
func (b *builder) build(n int, get func(string) (string, bool)) (Resident, bool) {
	val := func(f string) (string, string) {
		for _, name := range b.fields[f] {
			if v, ok := get(name); ok && strings.TrimSpace(v) != "" {
				return strings.Join(strings.Fields(v), " "), name
			}
		}
		return "", ""
	}
	var r Resident
	r.ExternalID, _ = val(fID)
	r.FirstName, _ = val(fFirst)
	r.LastName, _ = val(fLast)
	if r.FirstName == "" && r.LastName == "" {
		if name, _ := val(fName); name != "" {
			r.FirstName, r.LastName = splitName(name)
		}
	}
	email, _ := val(fEmail)
	r.Email = firstOf(email)
	phone, _ := val(fPhone)
	r.Phone = firstPhone(phone)
	r.Unit, _ = val(fUnit)
	warn := func(field, reason string) {
		if b.display != nil {
			field = b.display(field)
		}
		b.warns = append(b.warns, ParseWarning{Record: n, ExternalID: r.ExternalID, Field: field, Reason: reason})
	}

	raw, field := val(fStatus)
	if raw == "" {
		warn(firstName(b.fields[fStatus]), "no status; record skipped")
		return Resident{}, false
	}
	st, known := b.statuses[norm(raw)]
	switch {
	case !known:
		warn(field, fmt.Sprintf("unknown status %q; record skipped", raw))
		return Resident{}, false
	case st == "":
		warn(field, fmt.Sprintf("status %q is not a resident; record skipped", raw))
		return Resident{}, false
	}
	r.Status, r.VendorStatus = st, norm(raw)

	date := func(f string) *time.Time {
		v, field := val(f)
		if v == "" {
			return nil
		}
		t, err := parseDate(v, b.loc)
		if err != nil {
			warn(field, fmt.Sprintf("%q is not a date; left empty", v))
			return nil
		}
		return &t
	}
	r.LeaseStart = date(fStart)
	r.LeaseEnd = date(fEnd)
	if mo := date(fMoveOut); mo != nil && r.Status == StatusNotice && (r.LeaseEnd == nil || mo.Before(*r.LeaseEnd)) {
		r.LeaseEnd = mo
	}
	return r, true
}

// parseDate reads a lease date and returns that calendar date at midnight in
// loc. A value with a zone keeps the date it names ("2026-01-31T00:00:00Z"
// is the 31st everywhere).
func parseDate(s string, loc *time.Location) (time.Time, error) {
	t, _, err := csvio.ParseTime(s, loc)
	if err != nil {
		// Some systems add a zone-less time with seconds and a fraction, or
		// write "2026-01-31 00:00:00.000".
		for _, layout := range []string{"2006-01-02T15:04:05", "1/2/2006 15:04:05.000"} {
			if t, err = time.ParseInLocation(layout, s, loc); err == nil {
				break
			}
		}
		if err != nil {
			return time.Time{}, err
		}
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc), nil
}

// splitName reads "Last, First" or "First Middle Last".
func splitName(s string) (first, last string) {
	if l, f, ok := strings.Cut(s, ","); ok {
		return strings.TrimSpace(f), strings.TrimSpace(l)
	}
	if i := strings.LastIndexByte(s, ' '); i > 0 {
		return s[:i], s[i+1:]
	}
	return "", s
}

// firstOf returns the first of several values separated by , ; or space,
// as in an "Emails" column listing every address of a tenant.
func firstOf(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' })
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// firstPhone returns the first number of "Mobile: (555) 010-0100, Home: …".
func firstPhone(s string) string {
	first, _, _ := strings.Cut(s, ",")
	if _, num, ok := strings.Cut(first, ":"); ok {
		first = num
	}
	return strings.TrimSpace(first)
}

func firstName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// readCSV reads a CSV export whose header row is somewhere in its first
// lines (report exports put a title, the property and a date above it):
// the header is the first row that has every field in required.
func readCSV(r io.Reader, provider string, fields fieldMap, required []string, statuses statusMap, loc *time.Location) (Roster, []ParseWarning, error) {
	if loc == nil {
		loc = time.UTC
	}
	br := bufio.NewReader(r)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true // report writers are less careful than spreadsheets
	roster := Roster{Provider: provider}
	b := &builder{fields: fields, statuses: statuses, loc: loc}

	const maxPreamble = 25
	var col map[string]int
	for n := 1; col == nil; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) || n > maxPreamble {
			return Roster{}, nil, fmt.Errorf("%s roster: no header row with columns for %s in the first %d rows", provider, describe(fields, required), maxPreamble)
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				continue
			}
			return Roster{}, nil, err
		}
		col = headerIndex(rec, fields, required)
		if col != nil {
			names := make(map[string]string, len(col))
			for n, i := range col {
				names[n] = strings.TrimSpace(rec[i])
			}
			b.display = func(n string) string { return cmp.Or(names[n], n) }
		}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return roster, b.warns, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				b.warns = append(b.warns, ParseWarning{Record: pe.StartLine, Reason: "malformed CSV row; skipped"})
				continue
			}
			return Roster{}, nil, err
		}
		row, _ := cr.FieldPos(0) // the record's line in the file
		if blank(rec) {
			continue
		}
		res, ok := b.build(row, func(name string) (string, bool) {
			i, ok := col[name]
			if !ok || i >= len(rec) {
				return "", ok
			}
			return rec[i], true
		})
		if ok {
			roster.Residents = append(roster.Residents, res)
		}
	}
}

// headerIndex returns the column index of every known field name in rec,
// or nil when rec lacks a required field.
func headerIndex(rec []string, fields fieldMap, required []string) map[string]int {
	known := make(map[string]bool)
	for _, names := range fields {
		for _, n := range names {
			known[n] = true
		}
	}
	col := make(map[string]int)
	for i, cell := range rec {
		n := norm(cell)
		if _, dup := col[n]; known[n] && !dup {
			col[n] = i
		}
	}
	for _, f := range required {
		if !hasAny(col, fields[f]) {
			return nil
		}
	}
	if !hasAny(col, fields[fFirst]) && !hasAny(col, fields[fName]) {
		return nil // a roster without names is not a roster
	}
	return col
}

func hasAny(col map[string]int, names []string) bool {
	for _, n := range names {
		if _, ok := col[n]; ok {
			return true
		}
	}
	return false
}

func describe(fields fieldMap, required []string) string {
	var parts []string
	for _, f := range required {
		parts = append(parts, strings.Join(fields[f], "/"))
	}
	parts = append(parts, strings.Join(append(slices.Clone(fields[fFirst]), fields[fName]...), "/"))
	return strings.Join(parts, ", ")
}

func blank(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}
