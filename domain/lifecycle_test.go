package domain_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestRevokeIsNoop(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		p    domain.Person
		want bool
	}{
		{"ActiveIsRevoked", domain.Person{StartsAt: at}, false},
		{"ExpiredIsRevoked", domain.Person{StartsAt: at, ExpiresAt: &at}, false},
		{"RevokedAgainIsNoop", domain.Person{StartsAt: at, RevokedAt: &at}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.RevokeIsNoop(tc.p); got != tc.want {
				t.Fatalf("RevokeIsNoop = %v, want %v", got, tc.want)
			}
		})
	}
}
