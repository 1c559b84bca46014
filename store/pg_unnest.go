package store

import (
	"database/sql"
	"reflect"
	"strings"
)

// unnestInsert turns a multi-row INSERT (head ending in "VALUES ", rows of
// equal length) into one whose rows come from one array per column:
//
//	INSERT INTO t (a, b) SELECT * FROM unnest(?::text[], ?::bigint[])
//
// PostgreSQL parses and plans a VALUES list of a thousand rows each time
// it sees one (about as long as it takes to insert them: 9 ms of planning
// for 10 ms of execution, 1,000 Activity rows), and a statement of as many
// parameters is prepared anew for every row count; this one has a
// parameter per column, so its text and its prepared statement are the
// same for any number of rows. A column's array type follows its Go
// values (strings, integers, booleans and their sql.Null forms); ok is
// false when a column holds anything else or only untyped nils, and the
// caller keeps the VALUES form.
func unnestInsert(head string, rows [][]any) (q string, args []any, ok bool) {
	if len(rows) == 0 || !strings.HasSuffix(head, "VALUES ") {
		return "", nil, false
	}
	cols := len(rows[0])
	var b strings.Builder
	b.WriteString(strings.TrimSuffix(head, "VALUES "))
	b.WriteString("SELECT * FROM unnest(")
	args = make([]any, cols)
	for c := 0; c < cols; c++ {
		kind := ""
		for _, r := range rows {
			k := pgKind(r[c])
			if k == "?" {
				return "", nil, false
			}
			if k == "" {
				continue
			}
			if kind != "" && k != kind {
				return "", nil, false
			}
			kind = k
		}
		switch kind {
		case "text":
			a := make([]*string, len(rows))
			for i, r := range rows {
				a[i] = pgText(r[c])
			}
			args[c] = a
		case "bigint":
			a := make([]*int64, len(rows))
			for i, r := range rows {
				a[i] = pgInt(r[c])
			}
			args[c] = a
		case "boolean":
			a := make([]*bool, len(rows))
			for i, r := range rows {
				a[i] = pgBool(r[c])
			}
			args[c] = a
		default: // only nils: the column's type is unknown
			return "", nil, false
		}
		if c > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?::")
		b.WriteString(kind)
		b.WriteString("[]")
	}
	b.WriteString(")")
	return b.String(), args, true
}

// pgKind is the array element type for v: "" for a NULL of no type, "?"
// for a value unnestInsert does not take.
func pgKind(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case sql.NullString:
		return "text"
	case sql.NullInt64:
		return "bigint"
	case sql.NullBool:
		return "boolean"
	default:
		switch reflect.ValueOf(v).Kind() {
		case reflect.String:
			return "text"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			return "bigint"
		case reflect.Bool:
			return "boolean"
		}
		return "?"
	}
}

func pgText(v any) *string {
	switch v := v.(type) {
	case nil:
		return nil
	case sql.NullString:
		if !v.Valid {
			return nil
		}
		return &v.String
	}
	s := reflect.ValueOf(v).String()
	return &s
}

func pgInt(v any) *int64 {
	switch v := v.(type) {
	case nil:
		return nil
	case sql.NullInt64:
		if !v.Valid {
			return nil
		}
		return &v.Int64
	}
	n := reflect.ValueOf(v).Int()
	return &n
}

func pgBool(v any) *bool {
	switch v := v.(type) {
	case nil:
		return nil
	case sql.NullBool:
		if !v.Valid {
			return nil
		}
		return &v.Bool
	}
	x := reflect.ValueOf(v).Bool()
	return &x
}
