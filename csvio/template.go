package csvio

import (
	"io"
	"strings"
	"time"
)

// templateExample is the example row of the import template. The phone is
// written so that no spreadsheet reads it as a number or a formula.
var templateExample = []string{
	"Jane", "Doe", "jane.doe@example.com", "(555) 010-0100", "101",
	"Main Entrance;Gym", "no", "yes", "app", "2026-01-01", "2026-12-31",
}

// Template returns the rows of the downloadable import template: the
// header row and one example row.
func Template() [][]string {
	return [][]string{append([]string(nil), Columns...), append([]string(nil), templateExample...)}
}

// WriteTemplate writes the import template as CSV for Excel (UTF-8 BOM,
// CRLF). Serve it as text/csv with a .csv file name.
func WriteTemplate(w io.Writer) error {
	return NewExcelWriter(w).WriteAll(Template())
}

// TemplateFor is the template whose example row names what one property
// has, so that the example row itself imports there: up to two of its
// keys (the generic example names keys a property may not have), its
// first unit or none, and a year of access from the day start (a date in
// the property's zone).
func TemplateFor(keys []string, unit string, start time.Time) [][]string {
	ex := append([]string(nil), templateExample...)
	if len(keys) > 2 {
		keys = keys[:2]
	}
	ex[5] = strings.Join(keys, ";")
	ex[4] = unit
	ex[9], ex[10] = start.Format("2006-01-02"), start.AddDate(1, 0, -1).Format("2006-01-02")
	return [][]string{append([]string(nil), Columns...), ex}
}

// WriteTemplateFor writes TemplateFor as WriteTemplate writes Template.
func WriteTemplateFor(w io.Writer, keys []string, unit string, start time.Time) error {
	return NewExcelWriter(w).WriteAll(TemplateFor(keys, unit, start))
}
