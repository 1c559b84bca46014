package domain_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestWelcomeDue(t *testing.T) {
	keys := map[string]domain.Key{
		"codes":   {ID: "codes", Doors: []domain.KeyDoor{{DoorID: "lobby", Doorcodes: true}}},
		"nocodes": {ID: "nocodes", Doors: []domain.KeyDoor{{DoorID: "gym"}}},
	}
	grant := func(ids ...string) []domain.Grant {
		var out []domain.Grant
		for _, id := range ids {
			out = append(out, domain.Grant{KeyID: id})
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		access   domain.AccessMode
		grants   []domain.Grant
		welcomed bool
		want     bool
	}{
		{"AppWithKey", domain.AccessApp, grant("nocodes"), false, true},
		{"AppWithoutKeys", domain.AccessApp, nil, false, false},
		{"AppAlreadyWelcomed", domain.AccessApp, grant("nocodes", "codes"), true, false},
		{"DoorcodeWithCodeKey", domain.AccessDoorcode, grant("codes"), false, true},
		{"DoorcodeWithoutKeys", domain.AccessDoorcode, nil, false, false},
		{"DoorcodeWithoutCodeKey", domain.AccessDoorcode, grant("nocodes"), false, false},
		{"DoorcodeAlreadyWelcomed", domain.AccessDoorcode, grant("codes"), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.WelcomeDue(tc.access, keys, tc.grants, tc.welcomed); got != tc.want {
				t.Errorf("WelcomeDue = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMailStillDue(t *testing.T) {
	for _, tc := range []struct {
		name string
		mail domain.QueuedMail
		s    domain.Status
		want bool
	}{
		{"WelcomeToActive", domain.MailWelcome, domain.StatusActive, true},
		{"WelcomeToPending", domain.MailWelcome, domain.StatusPending, true},
		{"WelcomeToExpired", domain.MailWelcome, domain.StatusExpired, true},
		{"NoWelcomeToRevoked", domain.MailWelcome, domain.StatusRevoked, false},
		{"NoWelcomeToDeleted", domain.MailWelcome, domain.StatusDeleted, false},
		{"GuestCodeToActive", domain.MailGuestCode, domain.StatusActive, true},
		{"GuestCodeToPending", domain.MailGuestCode, domain.StatusPending, true},
		{"NoGuestCodeToExpired", domain.MailGuestCode, domain.StatusExpired, false},
		{"NoGuestCodeToRevoked", domain.MailGuestCode, domain.StatusRevoked, false},
		{"NoGuestCodeToDeleted", domain.MailGuestCode, domain.StatusDeleted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.MailStillDue(tc.mail, tc.s); got != tc.want {
				t.Fatalf("MailStillDue = %v, want %v", got, tc.want)
			}
		})
	}
}
