package store

import "database/sql"

// rowScanner is what the scan functions read one row from: a *sql.Row or
// the current row of a *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// collect reads every row of a query with scan and closes rows. It takes
// the query's error as well, so a call reads
//
//	rows, err := t.query(ctx, q, args...)
//	out, err := collect(rows, err, scanDoor)
//
// The result is never nil without an error: an empty result is an empty
// slice.
func collect[T any](rows *sql.Rows, err error, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// scanString reads a one-column row of text.
func scanString(sc rowScanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}
