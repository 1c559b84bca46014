package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestHelpExitsZero: doorapp --help and every command's --help succeed
// without a server or a state directory, and print that command's usage.
func TestHelpExitsZero(t *testing.T) {
	noEnv := func(string) string { return "" }
	cases := [][]string{{"--help"}, {"-h"}, {"help"}, {"guests", "invite", "--help"}, {"guests", "list", "-h"}, {"credentials", "--help"}}
	for name := range commands {
		cases = append(cases, []string{name, "--help"})
	}
	for _, args := range cases {
		var out, errb bytes.Buffer
		err := run(context.Background(), append([]string{"--state", t.TempDir()}, args...), noEnv, strings.NewReader(""), &out, &errb)
		if err != nil {
			t.Errorf("doorapp %s: %v", strings.Join(args, " "), err)
			continue
		}
		if out.Len()+errb.Len() == 0 {
			t.Errorf("doorapp %s printed nothing", strings.Join(args, " "))
		}
		if len(args) > 1 && commandUsage(args[0]) != usage && !strings.Contains(out.String(), "  "+args[0]) {
			t.Errorf("doorapp %s: usage of another command:\n%s", strings.Join(args, " "), out.String())
		}
	}
	if !strings.Contains(commandUsage("guests"), "--kind app|day_code|quarter_hour_code") {
		t.Errorf("guests usage lost its continuation line:\n%s", commandUsage("guests"))
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"--no-such-flag"}, noEnv, strings.NewReader(""), &out, &errb); err == nil {
		t.Error("doorapp --no-such-flag succeeded")
	}
}
