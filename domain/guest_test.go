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

func TestCheckInviter(t *testing.T) {
	for _, tc := range []struct {
		name   string
		access domain.AccessMode
		code   domain.Code
	}{
		{"app user may invite", domain.AccessApp, ""},
		{"doorcode holder is forbidden", domain.AccessDoorcode, domain.EForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.CheckInviter(domain.Person{FirstName: "Ana", Access: tc.access})
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.code, err)
			}
		})
	}
}

func TestCheckGuestWindow(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	at := func(d int) *time.Time { v := now.Add(time.Duration(d) * day); return &v }
	bounded := domain.Person{FirstName: "Ana", StartsAt: now, ExpiresAt: at(30)}
	open := domain.Person{FirstName: "Ana", StartsAt: now}
	for _, tc := range []struct {
		name  string
		host  domain.Person
		guest domain.Window
		code  domain.Code
	}{
		{"inside is allowed", bounded, domain.Window{Start: *at(1), End: at(2)}, ""},
		{"same window is allowed", bounded, domain.Window{Start: now, End: at(30)}, ""},
		{"open guest under open host is allowed", open, domain.Window{Start: *at(1)}, ""},
		{"start before host is refused", bounded, domain.Window{Start: *at(-1), End: at(2)}, domain.EInvalid},
		{"end after host is refused", bounded, domain.Window{Start: *at(1), End: at(31)}, domain.EInvalid},
		{"open guest under bounded host is refused", bounded, domain.Window{Start: *at(1)}, domain.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := domain.CheckGuestWindow(tc.host, tc.guest)
			if got := codeOf(err); got != tc.code {
				t.Fatalf("code = %q, want %q (err %v)", got, tc.code, err)
			}
			if e, ok := err.(*domain.Error); ok && e.Field != "expires_at" {
				t.Fatalf("field = %q, want expires_at", e.Field)
			}
		})
	}
}

// codeOf is err's code, "" for no error.
func codeOf(err error) domain.Code {
	if err == nil {
		return ""
	}
	return domain.ErrorCode(err)
}
