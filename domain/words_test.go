package domain_test

import (
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
)

// TestWordsCoverLockCodes: every refusal reason and credential kind the
// lock writes reads as words, not as a code.
func TestWordsCoverLockCodes(t *testing.T) {
	for _, r := range []string{"outside_schedule", "unknown_code", "unknown_card", "expired", "not_yet_valid", "revoked", "keypad_locked",
		"bad_credential", "other_lock", "bad_device_signature", "unknown_challenge", "malformed", "card_auth_failed", "no_trusted_time",
		"lifetime_over_ceiling", "need_credential"} {
		if w := domain.RefusalText(r); strings.Contains(w, "_") || w == strings.ReplaceAll(r, "_", " ") {
			t.Errorf("RefusalText(%q) = %q: no words for it", r, w)
		}
	}
	if got := domain.RefusalText("some_new_reason"); got != "some new reason" {
		t.Errorf("unknown reason: %q", got)
	}
	for _, c := range []string{"app", "doorcode", "daycode", "quartercode", "keycard"} {
		if w := domain.CredentialText(c); w == c || w == "" {
			t.Errorf("CredentialText(%q) = %q", c, w)
		}
	}
}
