package lockproto_test

import (
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func cborUnmarshal(b []byte, v any) error { return cbor.Unmarshal(b, v) }

func cborMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
