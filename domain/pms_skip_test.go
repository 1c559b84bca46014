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
