package csvio

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode/utf8"
)

// Writer writes CSV that a spreadsheet program opens as plain data: a cell
// that would start a formula is prefixed with a single quote, following the
// OWASP guidance on CSV injection. Exports of names, emails and notes typed
// by residents go through it, so "=HYPERLINK(…)" in a last name stays text.
//
// The cost is that values such as "-5" or "+1 555 0100" are written as
// "'-5" and "'+1 555 0100"; the importer strips that quote again.
type Writer struct {
	// BOM writes a UTF-8 byte order mark before the first record, which
	// Excel needs to read the file as UTF-8 rather than the system code page.
	BOM bool
	// UseCRLF ends lines with \r\n.
	UseCRLF bool

	out     io.Writer
	csv     *csv.Writer
	started bool
	buf     []string
}

// NewWriter returns a Writer to w. Set BOM and UseCRLF before the first Write.
func NewWriter(w io.Writer) *Writer {
	return &Writer{out: w}
}

// NewExcelWriter returns a Writer with a BOM and CRLF line ends, the form
// Excel on every platform opens correctly by double-click.
func NewExcelWriter(w io.Writer) *Writer {
	return &Writer{out: w, BOM: true, UseCRLF: true}
}

// Write writes one record, neutralising formula cells. It does not change
// the caller's slice.
func (w *Writer) Write(record []string) error {
	if !w.started {
		w.started = true
		if w.BOM {
			if _, err := io.WriteString(w.out, "\uFEFF"); err != nil {
				return err
			}
		}
		w.csv = csv.NewWriter(w.out)
		w.csv.UseCRLF = w.UseCRLF
	}
	w.buf = w.buf[:0]
	for _, cell := range record {
		w.buf = append(w.buf, Neutralise(cell))
	}
	return w.csv.Write(w.buf)
}

// WriteAll writes records and flushes.
func (w *Writer) WriteAll(records [][]string) error {
	for _, r := range records {
		if err := w.Write(r); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}

// Flush writes buffered data to the underlying writer.
func (w *Writer) Flush() {
	if w.csv != nil {
		w.csv.Flush()
	}
}

// Error reports any error from a previous Write or Flush.
func (w *Writer) Error() error {
	if w.csv == nil {
		return nil
	}
	return w.csv.Error()
}

// Neutralise returns cell unchanged unless a spreadsheet would read it as a
// formula, in which case it is prefixed with a single quote.
func Neutralise(cell string) string {
	if needsNeutralising(cell) {
		return "'" + cell
	}
	return cell
}

// needsNeutralising reports whether a spreadsheet could treat s as a
// formula: it starts with = + - @, a tab or a carriage return (OWASP), or
// with their full-width forms, which some East Asian locales of Excel
// convert on input. Leading spaces are looked through because some
// programs trim them before deciding.
func needsNeutralising(s string) bool {
	if s == "" {
		return false
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return true
	}
	r, _ := utf8.DecodeRuneInString(s)
	switch r {
	case '＝', '＋', '－', '＠':
		return true
	}
	if t := strings.TrimLeft(s, " \u00A0\u3000"); t != s {
		return needsNeutralising(t)
	}
	return false
}
