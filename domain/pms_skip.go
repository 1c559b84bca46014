package domain

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of a property's list of PMS lease statuses to skip.
const (
	MaxSkipStatuses   = 50
	maxSkipStatusChar = 40
)

// NormalizeSkipStatuses checks a property's list of PMS lease status words
// whose records its sync skips, and returns it with spaces trimmed and
// collapsed (never nil). Words are compared the way the roster adapters
// compare status words — case, spaces and punctuation ignored — so two
// words that compare equal are a duplicate. meansPast reports words that
// read as a past lease; they are refused, because a past lease is what
// revokes a moved-out resident's access.
func NormalizeSkipStatuses(words []string, meansPast func(string) bool) ([]string, error) {
	out := make([]string, 0, len(words))
	if len(words) > MaxSkipStatuses {
		return out, FieldError("skip_statuses", "at most %d statuses", MaxSkipStatuses)
	}
	seen := map[string]string{}
	for _, w := range words {
		w = strings.Join(strings.Fields(w), " ")
		key := foldStatus(w)
		switch {
		case !utf8.ValidString(w):
			return out, FieldError("skip_statuses", "a status is not valid text")
		case key == "":
			return out, FieldError("skip_statuses", "%q is not a status: it needs a letter or digit", w)
		case utf8.RuneCountInString(w) > maxSkipStatusChar:
			return out, FieldError("skip_statuses", "%q is longer than %d characters", w, maxSkipStatusChar)
		case seen[key] != "":
			return out, FieldError("skip_statuses", "%q and %q are the same status", seen[key], w)
		case meansPast != nil && meansPast(w):
			return out, FieldError("skip_statuses", "%q means a past lease; skipping it would keep moved-out residents' access", w)
		}
		seen[key] = w
		out = append(out, w)
	}
	return out, nil
}

// foldStatus is a status word as the adapters compare it.
func foldStatus(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}
