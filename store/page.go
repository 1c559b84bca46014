package store

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// Page sizes: a list asked for no limit gets defaultPageSize; a list caps
// the limit at its own maximum (maxPageSize for the screens, maxLogPage
// for the logs and job lists).
const (
	defaultPageSize = 50
	maxPageSize     = 200
	maxLogPage      = 1000
)

// pageLimit is the page size for a requested limit n: the default when n
// is not positive, at most max.
func pageLimit(n, max int) int {
	if n <= 0 {
		return defaultPageSize
	}
	return min(n, max)
}

// page cuts items, queried with LIMIT limit+1, to limit and returns the
// cursor of the next page ("" when items was the last page). key gives the
// two sort keys of an item, the cursor's content.
func page[T any](items []T, limit int, key func(T) (string, string)) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	return items, encodeCursor(key(items[limit-1]))
}

// encodeCursor is the opaque next_cursor of a list sorted by (a, b).
func encodeCursor(a, b string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(a + "\x00" + b))
}

// decodeCursor reads a cursor made by encodeCursor.
func decodeCursor(c string) (string, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	a, id, ok := strings.Cut(string(b), "\x00")
	if err != nil || !ok {
		return "", "", badCursor()
	}
	return a, id, nil
}

// decodeIntCursor reads a cursor whose first key is an integer (a time in
// micros, a row number).
func decodeIntCursor(c string) (int64, string, error) {
	a, id, err := decodeCursor(c)
	if err != nil {
		return 0, "", err
	}
	n, err := strconv.ParseInt(a, 10, 64)
	if err != nil {
		return 0, "", badCursor()
	}
	return n, id, nil
}

// microsKey is a cursor key pair for a list sorted by a time and an id.
func microsKey(at int64, id string) (string, string) {
	return strconv.FormatInt(at, 10), id
}

func badCursor() error {
	return domain.FieldError("cursor", "is not a cursor this server issued")
}

// newestFirst runs q (a SELECT ending in its WHERE clause) as one page of a
// list ordered by the time column col, newest first, with id breaking ties;
// at and id read those two values back for the next cursor.
func newestFirst[T any](ctx context.Context, t *Tx, q string, args []any, col, cursor string, limit int,
	scan func(rowScanner) (T, error), at func(T) time.Time, id func(T) string) ([]T, string, error) {
	if cursor != "" {
		c, cid, err := decodeIntCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q += ` AND (` + col + ` < ? OR (` + col + ` = ? AND id < ?))`
		args = append(args, c, c, cid)
	}
	q += ` ORDER BY ` + col + ` DESC, id DESC LIMIT ?`
	rows, err := t.query(ctx, q, append(args, limit+1)...)
	out, err := collect(rows, err, scan)
	if err != nil {
		return nil, "", err
	}
	out, next := page(out, limit, func(x T) (string, string) { return microsKey(micros(at(x)), id(x)) })
	return out, next, nil
}
