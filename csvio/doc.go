// Package csvio reads bulk invite/edit spreadsheets and writes CSV exports
// that are safe to open in a spreadsheet program. It knows nothing about
// properties, keys or people in the store: rows come out as plain structs
// and the caller decides what they mean.
//
// # Import format
//
// Columns (header names compared ignoring case, spaces, "_", "-" and "."):
//
//	First Name, Last Name, Email   required
//	Phone, Unit                    optional text
//	Keys                           key names separated by ";"
//	May Share, Resident            yes/no, y/n, true/false, t/f, 1/0 (x = yes)
//	Access                         app or doorcode
//	Start, Expiration              dates, see below
//
// A few aliases are accepted ("E-mail", "Email Address", "Surname", "Start
// Date", "Expiration Date", "Expires", "End Date", …; see columnAliases).
// An unknown column is an error (HeaderError), not a warning: a misspelt
// "Expiraton" silently dropped would hand out access that never ends. A
// header cell left empty (a trailing comma) is ignored, but a value under it
// refuses that row.
//
// Files from Excel and Google Sheets work: UTF-8 with or without BOM (a
// UTF-16 file is refused with a hint), CRLF or LF, quoted cells with commas,
// quotes and line breaks, and semicolon- or tab-separated files (detected
// from a header line without commas). Line breaks inside names and units
// fold into a space.
//
// Row numbers are those a spreadsheet shows: the header is row 1, the first
// data row is row 2, a quoted cell spanning several lines is one row, and an
// empty line is a row of its own. Rows with only empty cells are skipped.
//
// Dates: ISO 8601 (2026-03-01, 2026-03-01T09:30, 2026-03-01 09:30:00,
// 2026-03-01T09:30:00Z, …+02:00) and US spreadsheet forms (03/01/2026,
// 3/1/2026 9:30, 3/1/2026 9:30 PM). Values without a zone are in the
// property's time zone. A date without a time means the start of that day
// for Start and the end of that day (midnight starting the next day) for
// Expiration, so "Expiration 12/31/2026" includes New Year's Eve. Day-first
// (31/12/2026) and two-digit years are refused rather than guessed.
//
// Each row is checked on its own and yields either a Row or RowErrors
// {Row, Column, Reason}; a bad row never stops the others. Checks: names
// present, at most 100 characters, no control characters; email a bare
// address (net/mail, no display name) with a dotted domain, at most 254
// bytes; phone digits and " +()-./" only (an Excel "5.55E+09" gets its own
// hint); Expiration after Start; an email already used on an earlier row
// (case-insensitive) refuses the later row — the first row claims the
// address even when it is itself refused. Malformed quoting refuses that row
// (Column empty) and reading goes on with the next.
//
// A cell written by Writer as "'=…" (a neutralised formula) reads back
// without the quote, so an export can be edited and imported again.
//
// # Export
//
// Writer wraps encoding/csv and prefixes "'" to any cell starting with =, +,
// -, @, tab, CR or LF (OWASP CSV injection guidance), their full-width forms,
// or any of those after leading spaces. NewExcelWriter adds a UTF-8 BOM and
// CRLF. Template and WriteTemplate give the downloadable import template.
package csvio
