package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpExitsZero: asking any command for help succeeds and prints its
// flags; a wrong flag still fails.
func TestHelpExitsZero(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"init", "--help"}, {"serve", "--help"}, {"serve", "-h"},
		{"migrate", "--help"}, {"import", "--help"}} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), args, noEnv, nil, &out, &errb); err != nil {
			t.Errorf("dooros %s: %v", strings.Join(args, " "), err)
		}
		if out.Len()+errb.Len() == 0 {
			t.Errorf("dooros %s printed nothing", strings.Join(args, " "))
		}
		if len(args) == 2 && !strings.Contains(out.String()+errb.String(), "-data") {
			t.Errorf("dooros %s does not list its flags:\n%s%s", strings.Join(args, " "), out.String(), errb.String())
		}
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"serve", "--no-such-flag"}, noEnv, nil, &out, &errb); err == nil {
		t.Error("dooros serve --no-such-flag succeeded")
	}
}
