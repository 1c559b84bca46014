package domain_test

import (
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestNormalizeSkipStatuses(t *testing.T) {
	past := func(w string) bool { return strings.EqualFold(strings.TrimSpace(w), "moved out") }
	got, err := domain.NormalizeSkipStatuses([]string{"  Model   Unit ", "Employee"}, past)
	if err != nil || len(got) != 2 || got[0] != "Model Unit" || got[1] != "Employee" {
		t.Fatalf("got %q, %v", got, err)
	}
	if got, err := domain.NormalizeSkipStatuses(nil, past); err != nil || got == nil || len(got) != 0 {
		t.Errorf("nil list: %#v, %v", got, err)
	}
	bad := map[string][]string{
		"empty":         {" "},
		"punctuation":   {"--"},
		"too long":      {strings.Repeat("x", 41)},
		"duplicate":     {"Month to Month", "month-to-month"},
		"past":          {"Moved Out"},
		"invalid UTF-8": {"a\xff"},
		"too many":      make([]string, domain.MaxSkipStatuses+1),
	}
	for name, in := range bad {
		_, err := domain.NormalizeSkipStatuses(in, past)
		if domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%s: %v, want invalid", name, err)
			continue
		}
		var de *domain.Error
		if e, ok := err.(*domain.Error); ok {
			de = e
		}
		if de == nil || de.Field != "skip_statuses" {
			t.Errorf("%s: error %v names no skip_statuses field", name, err)
		}
	}
}

// FuzzNormalizeSkipStatuses: any list a client sends is either refused
// with an error naming the field, or comes back trimmed, non-empty,
// within bounds and without two words that compare equal.
func FuzzNormalizeSkipStatuses(f *testing.F) {
	f.Add("Model", "Employee")
	f.Add(" Month to Month ", "month-to-month")
	f.Add("\xff", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		out, err := domain.NormalizeSkipStatuses([]string{a, b}, func(w string) bool { return strings.EqualFold(w, "past") })
		if err != nil {
			if domain.ErrorCode(err) != domain.EInvalid {
				t.Fatalf("error %v is not invalid input", err)
			}
			return
		}
		if len(out) != 2 {
			t.Fatalf("%q → %q", []string{a, b}, out)
		}
		for _, w := range out {
			if w == "" || w != strings.Join(strings.Fields(w), " ") || len([]rune(w)) > 40 {
				t.Fatalf("%q kept as %q", []string{a, b}, w)
			}
		}
		if strings.EqualFold(out[0], out[1]) {
			t.Fatalf("duplicates kept: %q", out)
		}
	})
}
