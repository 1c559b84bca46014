package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// dooros simulate exposure prints the table for a seed (the same twice)
// and refuses what it cannot simulate with a clear error.
func TestSimulateExposure(t *testing.T) {
	sim := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"simulate"}, args...), func(string) string { return "" }, strings.NewReader(""), &out, &errb)
		return out.String() + errb.String(), err
	}
	a, err := sim("exposure", "--seed", "3", "--revocations", "200")
	if err != nil || !strings.Contains(a, "| unit | today |") || !strings.Contains(a, "credential lifetime with no sync") {
		t.Fatalf("simulate: %v\n%s", err, a)
	}
	if b, _ := sim("exposure", "--seed", "3", "--revocations", "200"); b != a {
		t.Fatal("the same seed gave another table")
	}
	for _, bad := range [][]string{{}, {"crowds"}, {"exposure", "--residents", "1"}, {"exposure", "--revocations", "0"}, {"exposure", "extra"}, {"exposure", "--seed", "x"}} {
		if out, err := sim(bad...); err == nil {
			t.Errorf("simulate %v succeeded:\n%s", bad, out)
		}
	}
}
