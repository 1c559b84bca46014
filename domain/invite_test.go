package domain_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestCheckInvite(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	pm := domain.Actor{ManagerID: "mgr_pm", Name: "Pat Portfolio", Role: domain.RolePortfolioManager}
	specific := domain.Actor{ManagerID: "mgr_s", Name: "Sam Specific", Role: domain.RolePropertyManager,
		Assignments: map[string]domain.Assignment{"p1": {PropertyID: "p1", KeyManagement: domain.KeyManagementSpecific, Keys: []string{"k1"}}}}
	none := domain.Actor{ManagerID: "mgr_n", Name: "Nora None", Role: domain.RolePropertyManager,
		Assignments: map[string]domain.Assignment{"p1": {PropertyID: "p1", KeyManagement: domain.KeyManagementNone}}}
	valid := func() domain.InviteInput {
		return domain.InviteInput{FirstName: " Ann ", LastName: "Archer", Email: " Ann@Example.com ", Access: domain.AccessApp,
			Keys: []domain.GrantInput{{KeyID: "k1"}}}
	}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		edit  func(*domain.InviteInput)
		code  domain.Code
		field string
	}{
		{"OK", pm, nil, "", ""},
		{"OKSpecificKey", specific, nil, "", ""},
		{"ErrNoKeyManagement", none, nil, domain.EForbidden, ""},
		// Permission to manage people comes before the input.
		{"ErrNoKeyManagementBeforeInput", none, func(in *domain.InviteInput) { in.FirstName = "" }, domain.EForbidden, ""},
		{"ErrFirstNameRequired", pm, func(in *domain.InviteInput) { in.FirstName = " " }, domain.EInvalid, "first_name"},
		{"ErrEmail", pm, func(in *domain.InviteInput) { in.Email = "ann" }, domain.EInvalid, "email"},
		{"ErrKeyNotAllowed", specific, func(in *domain.InviteInput) { in.Keys = append(in.Keys, domain.GrantInput{KeyID: "k2"}) }, domain.EForbidden, ""},
		// The input comes before the keys.
		{"ErrInputBeforeKeys", specific, func(in *domain.InviteInput) { in.Keys, in.Access = []domain.GrantInput{{KeyID: "k2"}}, "" }, domain.EInvalid, "access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := valid()
			if tc.edit != nil {
				tc.edit(&in)
			}
			err := domain.CheckInvite(tc.actor, "p1", &in, now)
			var de *domain.Error
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("CheckInvite: %v", err)
			case tc.code == "":
				if in.FirstName != "Ann" || in.Email != "ann@example.com" || in.StartsAt == nil || !in.StartsAt.Equal(now) {
					t.Errorf("not normalized: %q %q %v", in.FirstName, in.Email, in.StartsAt)
				}
			case !errors.As(err, &de) || de.Code != tc.code || de.Field != tc.field:
				t.Errorf("CheckInvite = %v, want %s on %q", err, tc.code, tc.field)
			}
		})
	}
}

func TestPlanInvite(t *testing.T) {
	now := time.Date(2025, 6, 2, 12, 0, 0, 0, time.UTC)
	later := now.Add(48 * time.Hour)
	end := now.Add(365 * 24 * time.Hour)
	pm := domain.Actor{ManagerID: "mgr_pm", Name: "Pat Portfolio", Role: domain.RolePortfolioManager}
	keys := map[string]domain.Key{
		"building": {ID: "building", Name: "Building", Doors: []domain.KeyDoor{{DoorID: "lobby", Doorcodes: true}, {DoorID: "gym"}}},
		"gym":      {ID: "gym", Name: "Gym", Doors: []domain.KeyDoor{{DoorID: "gym"}}},
	}
	host := &domain.Host{Person: domain.Person{ID: "per_host", FirstName: "Hal", LastName: "Host", StartsAt: now.Add(-time.Hour)},
		Grants: []domain.Grant{{KeyID: "gym", MayShare: true}}}
	input := func(access domain.AccessMode, keyIDs ...string) domain.InviteInput {
		in := domain.InviteInput{FirstName: "Ann", LastName: "Archer", Email: "ann@example.com", Access: access, Resident: true, StartsAt: &now}
		for _, k := range keyIDs {
			in.Keys = append(in.Keys, domain.GrantInput{KeyID: k, MayShare: true})
		}
		return in
	}
	for _, tc := range []struct {
		name     string
		in       domain.InviteInput
		host     *domain.Host
		doors    []string
		doorcode bool
		welcome  bool
		kind     string
		detail   string
		field    string // refused on this field
	}{
		{"AppWithKey", input(domain.AccessApp, "building"), nil, []string{"gym", "lobby"}, true, true,
			domain.EventPersonInvited, "invited ann@example.com (app, 1 keys)", ""},
		{"AppWithoutCodeKey", input(domain.AccessApp, "gym"), nil, []string{"gym"}, false, true,
			domain.EventPersonInvited, "invited ann@example.com (app, 1 keys)", ""},
		{"ContactWithoutKeysNotWelcomedYet", input(domain.AccessApp), nil, nil, false, false,
			domain.EventPersonInvited, "invited ann@example.com (app, 0 keys)", ""},
		{"DoorcodeWithCodeKey", input(domain.AccessDoorcode, "building"), nil, []string{"gym", "lobby"}, true, true,
			domain.EventPersonInvited, "invited ann@example.com (doorcode, 1 keys)", ""},
		{"ErrDoorcodeWithoutCodeKey", input(domain.AccessDoorcode, "gym"), nil, nil, false, false, "", "", "keys"},
		{"StartingLater", func() domain.InviteInput {
			in := input(domain.AccessApp, "gym")
			in.StartsAt, in.ExpiresAt = &later, &end
			return in
		}(),
			nil, []string{"gym"}, false, true, domain.EventPersonInvited, "invited ann@example.com (app, 1 keys), starting " + later.Format(time.RFC3339), ""},
		{"Guest", func() domain.InviteInput { in := input(domain.AccessApp, "gym"); in.InvitedBy = "per_host"; return in }(),
			host, []string{"gym"}, false, true, domain.EventGuestInvited, "invited ann@example.com as a guest of Hal Host (app, 1 keys)", ""},
		{"ErrGuestKeyNotShared", func() domain.InviteInput {
			in := input(domain.AccessApp, "building")
			in.InvitedBy = "per_host"
			return in
		}(),
			host, nil, false, false, "", "", "keys"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			keysBefore := append([]domain.GrantInput(nil), in.Keys...)
			pl, err := domain.PlanInvite(pm, "p1", "per_ann", in, keys, tc.host, now)
			if !reflect.DeepEqual(in.Keys, keysBefore) {
				t.Errorf("PlanInvite changed the caller's keys: %+v", in.Keys)
			}
			if tc.field != "" {
				var de *domain.Error
				if !errors.As(err, &de) || de.Field != tc.field {
					t.Fatalf("PlanInvite = %v, want an error on %q", err, tc.field)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p := pl.Person
			if p.ID != "per_ann" || p.PropertyID != "p1" || p.Email != "ann@example.com" || !p.CreatedAt.Equal(now) || !p.StartsAt.Equal(*in.StartsAt) {
				t.Errorf("person %+v", p)
			}
			if got, want := p.Resident, tc.host == nil; got != want {
				t.Errorf("resident %v, want %v (a guest is never a resident)", got, want)
			}
			if len(pl.Grants) != len(in.Keys) {
				t.Fatalf("%d grants for %d keys", len(pl.Grants), len(in.Keys))
			}
			for _, g := range pl.Grants {
				if g.PersonID != "per_ann" || g.MayShare != (tc.host == nil) {
					t.Errorf("grant %+v (guests never re-share)", g)
				}
			}
			if !reflect.DeepEqual(pl.Doors, tc.doors) || pl.Doorcode != tc.doorcode || pl.Welcome != tc.welcome {
				t.Errorf("doors %v doorcode %v welcome %v, want %v %v %v", pl.Doors, pl.Doorcode, pl.Welcome, tc.doors, tc.doorcode, tc.welcome)
			}
			e := pl.Event
			if e.Kind != tc.kind || e.Detail != tc.detail || e.PersonID != "per_ann" || e.PersonName != "Ann Archer" || e.Actor != pm.Name ||
				e.ActorID != pm.ManagerID || e.PropertyID != "p1" || !reflect.DeepEqual(e.Doors, tc.doors) {
				t.Errorf("event %+v", e)
			}
			changes := pl.DoorChanges()
			if len(changes) != len(tc.doors) {
				t.Fatalf("%d door changes for %d doors", len(changes), len(tc.doors))
			}
			for _, c := range changes {
				if c.Reason != "access given to Ann Archer" || c.Revocation {
					t.Errorf("door change %+v", c)
				}
			}
		})
	}
}

func TestMergeDoorChangesKeepsReasonsThatArePartOfOthers(t *testing.T) {
	got := domain.MergeDoorChanges([]domain.DoorChange{
		{DoorID: "d1", Reason: "access given to Ann Leeds"},
		{DoorID: "d1", Reason: "access given to Ann Lee"},
		{DoorID: "d1", Reason: "access given to Ann Leeds"},
	})
	if len(got) != 1 || got[0].Reason != "access given to Ann Leeds; access given to Ann Lee" {
		t.Fatalf("got %+v", got)
	}
	if strings.Count(got[0].Reason, "Leeds") != 1 {
		t.Errorf("a repeated reason is listed twice: %q", got[0].Reason)
	}
}
