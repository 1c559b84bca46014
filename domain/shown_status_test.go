package domain_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestShownStatus(t *testing.T) {
	key := []domain.GrantView{{KeyID: "key_a", Name: "Lobby"}}
	for _, tc := range []struct {
		name string
		v    domain.PersonView
		want string
	}{
		{"ActiveWithKey", domain.PersonView{Status: domain.StatusActive, Keys: key}, "active"},
		{"ActiveNoKey", domain.PersonView{Status: domain.StatusActive}, domain.NoKeys},
		{"PendingNoKey", domain.PersonView{Status: domain.StatusPending}, domain.NoKeys},
		{"PendingWithKey", domain.PersonView{Status: domain.StatusPending, Keys: key}, "pending"},
		{"ExpiredNoKey", domain.PersonView{Status: domain.StatusExpired}, "expired"},
		{"RevokedNoKey", domain.PersonView{Status: domain.StatusRevoked}, "revoked"},
		{"CodeGuest", domain.PersonView{Person: domain.Person{InvitedBy: "per_host", Access: domain.AccessDoorcode}, Status: domain.StatusActive}, "active"},
		{"AppGuestNoKey", domain.PersonView{Person: domain.Person{InvitedBy: "per_host", Access: domain.AccessApp}, Status: domain.StatusActive}, domain.NoKeys},
	} {
		if got := tc.v.ShownStatus(); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
