package store

import (
	"database/sql"
	"reflect"
	"testing"
)

type stateName string

// unnestInsert: one array per column, typed from the rows' Go values
// (named string types, integers, booleans, sql.Null forms, untyped nils
// beside typed values); the VALUES form is kept for what it cannot type.
func TestUnnestInsert(t *testing.T) {
	s := func(v string) *string { return &v }
	n := func(v int64) *int64 { return &v }
	b := func(v bool) *bool { return &v }
	q, args, ok := unnestInsert(`INSERT INTO t (a, b, c, d, e) VALUES `, [][]any{
		{"x", int64(1), true, sql.NullString{String: "u", Valid: true}, sql.NullInt64{}},
		{stateName("y"), 2, false, sql.NullString{}, sql.NullInt64{Int64: 7, Valid: true}},
		{"z", int32(3), sql.NullBool{}, nil, nil},
	})
	if !ok {
		t.Fatal("not taken")
	}
	if want := `INSERT INTO t (a, b, c, d, e) SELECT * FROM unnest(?::text[], ?::bigint[], ?::boolean[], ?::text[], ?::bigint[])`; q != want {
		t.Fatalf("query\n%s\nwant\n%s", q, want)
	}
	want := []any{
		[]*string{s("x"), s("y"), s("z")},
		[]*int64{n(1), n(2), n(3)},
		[]*bool{b(true), b(false), nil},
		[]*string{s("u"), nil, nil},
		[]*int64{nil, n(7), nil},
	}
	if !reflect.DeepEqual(args, want) {
		t.Fatalf("args %v, want %v", args, want)
	}
	for name, rows := range map[string][][]any{
		"only nils":    {{"x", nil}, {"y", nil}},
		"mixed types":  {{"x", int64(1)}, {"y", "2"}},
		"a float":      {{"x", 1.5}},
		"a byte slice": {{"x", []byte("b")}},
	} {
		if _, _, ok := unnestInsert(`INSERT INTO t (a, b) VALUES `, rows); ok {
			t.Errorf("%s: taken", name)
		}
	}
	if _, _, ok := unnestInsert(`INSERT INTO t (a) SELECT `, [][]any{{"x"}}); ok {
		t.Error("a head without VALUES taken")
	}
}
