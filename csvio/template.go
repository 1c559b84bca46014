package csvio

import "io"

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
