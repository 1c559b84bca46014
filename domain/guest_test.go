package domain_test

import (
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestCheckGuest(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	ptr := func(t time.Time) *time.Time { return &t }
	hostEnd := now.Add(180 * day)
	host := func() domain.Host {
		return domain.Host{
			Person: domain.Person{ID: "host", FirstName: "Ana", LastName: "Lopez", StartsAt: now.Add(-30 * day), ExpiresAt: &hostEnd},
			Grants: []domain.Grant{
				{KeyID: "building", MayShare: true},
				{KeyID: "home", MayShare: false},
				{KeyID: "gym", MayShare: true, ExpiresAt: ptr(now.Add(10 * day))},
				{KeyID: "pool", MayShare: true, StartsAt: ptr(now.Add(20 * day))},
			},
		}
	}
	invite := func(keys ...string) domain.InviteInput {
		in := domain.InviteInput{StartsAt: ptr(now), ExpiresAt: ptr(now.Add(day))}
		for _, k := range keys {
			in.Keys = append(in.Keys, domain.GrantInput{KeyID: k, MayShare: true})
		}
		return in
	}
	for _, tc := range []struct {
		name  string
		host  func(*domain.Host)
		in    func(*domain.InviteInput)
		keys  []string
		code  domain.Code
		field string
	}{
		{"OK", nil, nil, []string{"building"}, "", ""},
		{"OKTwoKeys", nil, nil, []string{"building", "gym"}, "", ""},
		{"OKPendingHost", func(h *domain.Host) { h.Person.StartsAt = now.Add(day) },
			func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = ptr(now.Add(day)), ptr(now.Add(2*day)) }, []string{"building"}, "", ""},
		{"OKUpToHostExpiry", nil, func(in *domain.InviteInput) { in.ExpiresAt = ptr(hostEnd) }, []string{"building"}, "", ""},
		{"OKStartAYearAheadOpenHost", func(h *domain.Host) { h.Person.ExpiresAt = nil },
			func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = ptr(now.Add(365*day)), nil }, []string{"building"}, "", ""},
		{"ErrNotShareable", nil, nil, []string{"home"}, domain.EForbidden, ""},
		{"ErrKeyNotHeld", nil, nil, []string{"garage"}, domain.EInvalid, "keys"},
		{"ErrNoKeys", nil, nil, nil, domain.EInvalid, "keys"},
		{"ErrGuestOfGuest", func(h *domain.Host) { h.Person.InvitedBy = "someone" }, nil, []string{"building"}, domain.EInvalid, "invited_by"},
		{"ErrRevokedHost", func(h *domain.Host) { h.Person.RevokedAt = ptr(now.Add(-time.Hour)) }, nil, []string{"building"}, domain.EInvalid, "invited_by"},
		{"ErrExpiredHost", func(h *domain.Host) { h.Person.ExpiresAt = ptr(now.Add(-time.Hour)) }, nil, []string{"building"}, domain.EInvalid, "invited_by"},
		{"ErrDeletedHost", func(h *domain.Host) { h.Person.DeletedAt = ptr(now.Add(-time.Hour)) }, nil, []string{"building"}, domain.EInvalid, "invited_by"},
		{"ErrAfterHostExpiry", nil, func(in *domain.InviteInput) { in.ExpiresAt = ptr(hostEnd.Add(time.Second)) }, []string{"building"}, domain.EInvalid, "expires_at"},
		{"ErrOpenEndedWhileHostExpires", nil, func(in *domain.InviteInput) { in.ExpiresAt = nil }, []string{"building"}, domain.EInvalid, "expires_at"},
		{"ErrAfterHostGrantExpiry", nil, func(in *domain.InviteInput) { in.ExpiresAt = ptr(now.Add(11 * day)) }, []string{"gym"}, domain.EInvalid, "expires_at"},
		{"ErrBeforeHostStart", func(h *domain.Host) { h.Person.StartsAt = now.Add(time.Hour) }, nil, []string{"building"}, domain.EInvalid, "starts_at"},
		{"ErrBeforeHostGrantStart", nil, nil, []string{"pool"}, domain.EInvalid, "starts_at"},
		{"ErrMoreThanAYearAhead", func(h *domain.Host) { h.Person.ExpiresAt = nil },
			func(in *domain.InviteInput) { in.StartsAt, in.ExpiresAt = ptr(now.Add(367*day)), nil }, []string{"building"}, domain.EInvalid, "starts_at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := host()
			if tc.host != nil {
				tc.host(&h)
			}
			in := invite(tc.keys...)
			if tc.in != nil {
				tc.in(&in)
			}
			err := domain.CheckGuest(h, &in, now)
			wantErr(t, err, tc.code, tc.field)
			if tc.code == "" {
				for _, k := range in.Keys {
					if k.MayShare {
						t.Fatalf("guest keeps may_share on %s: guests never re-share", k.KeyID)
					}
				}
			}
		})
	}
}
