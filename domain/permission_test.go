package domain_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestActorCan(t *testing.T) {
	const prop, other = "prp_a", "prp_b"
	pm := domain.Actor{Role: domain.RolePortfolioManager}
	prop4 := func(as domain.Assignment) domain.Actor {
		as.PropertyID = prop
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{prop: as}}
	}
	none := prop4(domain.Assignment{KeyManagement: domain.KeyManagementNone})
	limited := prop4(domain.Assignment{KeyManagement: domain.KeyManagementLimited})
	specific := prop4(domain.Assignment{KeyManagement: domain.KeyManagementSpecific, Keys: []string{"k1"}})
	full := prop4(domain.Assignment{KeyManagement: domain.KeyManagementFull})
	devices := prop4(domain.Assignment{KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
	cards := prop4(domain.Assignment{KeyManagement: domain.KeyManagementNone, CardActivation: true})
	empty := prop4(domain.Assignment{})

	perms := []domain.Permission{domain.PermView, domain.PermPeople, domain.PermManageKeys, domain.PermManageProperty, domain.PermDevices, domain.PermCards, domain.PermActivity}
	const ok, forb = "", domain.EForbidden
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		want  [7]domain.Code // per perms
	}{
		{"PortfolioManager", pm, [7]domain.Code{ok, ok, ok, ok, ok, ok, ok}},
		{"KeyManagementNone", none, [7]domain.Code{ok, forb, forb, forb, forb, forb, forb}},
		{"KeyManagementEmpty", empty, [7]domain.Code{ok, forb, forb, forb, forb, forb, forb}},
		{"KeyManagementLimited", limited, [7]domain.Code{ok, ok, forb, forb, forb, forb, ok}},
		{"KeyManagementSpecific", specific, [7]domain.Code{ok, ok, forb, forb, forb, forb, ok}},
		{"KeyManagementFull", full, [7]domain.Code{ok, ok, ok, forb, forb, forb, ok}},
		{"DeviceManagement", devices, [7]domain.Code{ok, forb, forb, forb, ok, forb, ok}},
		{"CardActivation", cards, [7]domain.Code{ok, forb, forb, forb, forb, ok, forb}},
	} {
		for i, p := range perms {
			t.Run(tc.name+"/"+p.String(), func(t *testing.T) {
				wantErr(t, tc.actor.Can(prop, p), tc.want[i], "")
			})
		}
		if tc.actor.Role == domain.RolePropertyManager {
			t.Run(tc.name+"/UnassignedPropertyIsNotFound", func(t *testing.T) {
				for _, p := range perms {
					wantErr(t, tc.actor.Can(other, p), domain.ENotFound, "")
				}
			})
		}
	}
	t.Run("PortfolioManagerEveryProperty", func(t *testing.T) {
		wantErr(t, pm.Can(other, domain.PermManageKeys), "", "")
	})
	t.Run("ManageManagers", func(t *testing.T) {
		wantErr(t, pm.CanManageManagers(), "", "")
		wantErr(t, full.CanManageManagers(), domain.EForbidden, "")
	})
	t.Run("SystemActorIsPortfolioManager", func(t *testing.T) {
		s := domain.System("org", "PMS sync")
		if s.Name != "PMS sync" || s.OrgID != "org" {
			t.Fatalf("system actor %+v", s)
		}
		wantErr(t, s.Can(prop, domain.PermManageKeys), "", "")
	})
}

func TestActorCanHandleKeys(t *testing.T) {
	const prop = "prp_a"
	actor := func(km domain.KeyManagement, keys ...string) domain.Actor {
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{
			prop: {PropertyID: prop, KeyManagement: km, Keys: keys}}}
	}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		prop  string
		keys  []string
		code  domain.Code
	}{
		{"OKPortfolioAnyKey", domain.Actor{Role: domain.RolePortfolioManager}, prop, []string{"k1", "k9"}, ""},
		{"OKFullAnyKey", actor(domain.KeyManagementFull), prop, []string{"k1", "k9"}, ""},
		{"OKLimitedAnyKey", actor(domain.KeyManagementLimited), prop, []string{"k1", "k9"}, ""},
		{"OKSpecificListedKeys", actor(domain.KeyManagementSpecific, "k1", "k2"), prop, []string{"k2", "k1"}, ""},
		{"OKSpecificNoKeys", actor(domain.KeyManagementSpecific, "k1"), prop, nil, ""},
		{"ErrSpecificUnlistedKey", actor(domain.KeyManagementSpecific, "k1"), prop, []string{"k1", "k2"}, domain.EForbidden},
		{"ErrNone", actor(domain.KeyManagementNone), prop, []string{"k1"}, domain.EForbidden},
		{"ErrNoneEvenWithoutKeys", actor(domain.KeyManagementNone), prop, nil, domain.EForbidden},
		{"ErrUnassignedProperty", actor(domain.KeyManagementFull), "prp_other", []string{"k1"}, domain.ENotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.actor.CanHandleKeys(tc.prop, tc.keys...), tc.code, "")
		})
	}
}

func TestActorCanPeopleOrDevices(t *testing.T) {
	const prop, other = "prp_a", "prp_b"
	prop4 := func(as domain.Assignment) domain.Actor {
		as.PropertyID = prop
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{prop: as}}
	}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		prop  string
		code  domain.Code
	}{
		{"PortfolioManagerAllowed", domain.Actor{Role: domain.RolePortfolioManager}, prop, ""},
		{"KeyManagementAllowed", prop4(domain.Assignment{KeyManagement: domain.KeyManagementLimited}), prop, ""},
		{"DeviceManagementAllowed", prop4(domain.Assignment{KeyManagement: domain.KeyManagementNone, DeviceManagement: true}), prop, ""},
		{"CardActivationOnlyForbidden", prop4(domain.Assignment{KeyManagement: domain.KeyManagementNone, CardActivation: true}), prop, domain.EForbidden},
		{"NothingForbidden", prop4(domain.Assignment{}), prop, domain.EForbidden},
		{"UnassignedPropertyNotFound", prop4(domain.Assignment{DeviceManagement: true}), other, domain.ENotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.actor.CanPeopleOrDevices(tc.prop), tc.code, "")
		})
	}
}
