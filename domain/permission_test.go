package domain_test

import (
	"slices"
	"strings"
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

	perms := []domain.Permission{domain.PermView, domain.PermPeople, domain.PermManageKeys, domain.PermManageProperty, domain.PermDevices, domain.PermCards, domain.PermActivity, domain.PermReports}
	const ok, forb = "", domain.EForbidden
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		want  [8]domain.Code // per perms
	}{
		{"PortfolioManager", pm, [8]domain.Code{ok, ok, ok, ok, ok, ok, ok, ok}},
		{"KeyManagementNone", none, [8]domain.Code{ok, forb, forb, forb, forb, forb, forb, forb}},
		{"KeyManagementEmpty", empty, [8]domain.Code{ok, forb, forb, forb, forb, forb, forb, forb}},
		{"KeyManagementLimited", limited, [8]domain.Code{ok, ok, forb, forb, forb, forb, ok, ok}},
		{"KeyManagementSpecific", specific, [8]domain.Code{ok, ok, forb, forb, forb, forb, ok, ok}},
		{"KeyManagementFull", full, [8]domain.Code{ok, ok, ok, forb, forb, forb, ok, ok}},
		{"DeviceManagement", devices, [8]domain.Code{ok, forb, forb, forb, ok, forb, ok, forb}},
		{"CardActivation", cards, [8]domain.Code{ok, forb, forb, forb, forb, ok, forb, forb}},
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

// TestActorPersonRules: changing a person's record and Revoke All Keys
// need every key the person holds; Delete Person needs full Key
// Management.
func TestActorPersonRules(t *testing.T) {
	const prop = "prp_a"
	actor := func(km domain.KeyManagement, keys ...string) domain.Actor {
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{
			prop: {PropertyID: prop, KeyManagement: km, Keys: keys, DeviceManagement: true, CardActivation: true}}}
	}
	pm := domain.Actor{Role: domain.RolePortfolioManager}
	const ok, forb, nf = domain.Code(""), domain.EForbidden, domain.ENotFound
	for _, tc := range []struct {
		name               string
		actor              domain.Actor
		prop               string
		held               []string
		edit, revoke, del_ domain.Code
	}{
		{"PortfolioAnyKeys", pm, prop, []string{"k1", "k9"}, ok, ok, ok},
		{"FullAnyKeys", actor(domain.KeyManagementFull), prop, []string{"k1", "k9"}, ok, ok, ok},
		{"LimitedAnyKeysButNoDelete", actor(domain.KeyManagementLimited), prop, []string{"k1", "k9"}, ok, ok, forb},
		{"LimitedNoKeysNoDelete", actor(domain.KeyManagementLimited), prop, nil, ok, ok, forb},
		{"SpecificAllListed", actor(domain.KeyManagementSpecific, "k1", "k2"), prop, []string{"k2", "k1"}, ok, ok, forb},
		{"SpecificNoKeysHeld", actor(domain.KeyManagementSpecific, "k1"), prop, nil, ok, ok, forb},
		{"SpecificOneUnlisted", actor(domain.KeyManagementSpecific, "k1"), prop, []string{"k1", "k9"}, forb, forb, forb},
		{"SpecificOnlyUnlisted", actor(domain.KeyManagementSpecific, "k1"), prop, []string{"k9"}, forb, forb, forb},
		{"NoneNothingEvenWithoutKeys", actor(domain.KeyManagementNone), prop, nil, forb, forb, forb},
		{"UnassignedPropertyNotFound", actor(domain.KeyManagementFull), "prp_other", nil, nf, nf, nf},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.actor.CanEditPerson(tc.prop, tc.held), tc.edit, "")
			wantErr(t, tc.actor.CanRevokePerson(tc.prop, tc.held), tc.revoke, "")
			wantErr(t, tc.actor.CanDeletePerson(tc.prop), tc.del_, "")
		})
	}
	t.Run("RefusalNamesTheKey", func(t *testing.T) {
		err := actor(domain.KeyManagementSpecific, "k1").CanEditPerson(prop, []string{"k1", "k9"})
		if err == nil || !strings.Contains(err.Error(), "k9") {
			t.Fatalf("refusal %v does not name key k9", err)
		}
	})
}

// TestActorScope: "specific" sees the doors of his keys, unless Device
// Management shows him every door (not in reports); everyone else with
// the permission sees everything.
func TestActorScope(t *testing.T) {
	const prop = "prp_a"
	actor := func(km domain.KeyManagement, dev bool, keys ...string) domain.Actor {
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{
			prop: {PropertyID: prop, KeyManagement: km, Keys: keys, DeviceManagement: dev}}}
	}
	all := domain.Scope{All: true}
	mine := domain.Scope{Keys: []string{"k1"}}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		perm  domain.Permission
		want  domain.Scope
		code  domain.Code
	}{
		{"PortfolioActivity", domain.Actor{Role: domain.RolePortfolioManager}, domain.PermActivity, all, ""},
		{"PortfolioReports", domain.Actor{Role: domain.RolePortfolioManager}, domain.PermReports, all, ""},
		{"FullReports", actor(domain.KeyManagementFull, false), domain.PermReports, all, ""},
		{"LimitedReports", actor(domain.KeyManagementLimited, false), domain.PermReports, all, ""},
		{"LimitedActivity", actor(domain.KeyManagementLimited, false), domain.PermActivity, all, ""},
		{"SpecificActivity", actor(domain.KeyManagementSpecific, false, "k1"), domain.PermActivity, mine, ""},
		{"SpecificReports", actor(domain.KeyManagementSpecific, false, "k1"), domain.PermReports, mine, ""},
		{"SpecificWithDevicesActivity", actor(domain.KeyManagementSpecific, true, "k1"), domain.PermActivity, all, ""},
		{"SpecificWithDevicesReports", actor(domain.KeyManagementSpecific, true, "k1"), domain.PermReports, mine, ""},
		{"DevicesOnlyActivity", actor(domain.KeyManagementNone, true), domain.PermActivity, all, ""},
		{"DevicesOnlyReportsForbidden", actor(domain.KeyManagementNone, true), domain.PermReports, domain.Scope{}, domain.EForbidden},
		{"NoneActivityForbidden", actor(domain.KeyManagementNone, false), domain.PermActivity, domain.Scope{}, domain.EForbidden},
		{"UnassignedNotFound", actor(domain.KeyManagementFull, false), domain.PermActivity, domain.Scope{}, domain.ENotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := prop
			if tc.code == domain.ENotFound {
				p = "prp_other"
			}
			got, err := tc.actor.Scope(p, tc.perm)
			wantErr(t, err, tc.code, "")
			if got.All != tc.want.All || !slices.Equal(got.Keys, tc.want.Keys) {
				t.Fatalf("scope %+v, want %+v", got, tc.want)
			}
		})
	}
	t.Run("Doors", func(t *testing.T) {
		keys := []domain.Key{
			{ID: "k1", Doors: []domain.KeyDoor{{DoorID: "d1"}, {DoorID: "d2"}}},
			{ID: "k2", Doors: []domain.KeyDoor{{DoorID: "d2"}, {DoorID: "d3"}}},
		}
		if d := all.Doors(keys); d != nil {
			t.Fatalf("everything is no door set, got %v", d)
		}
		d := mine.Doors(keys)
		if len(d) != 2 || !d["d1"] || !d["d2"] || d["d3"] {
			t.Fatalf("doors of k1 = %v, want d1 d2", d)
		}
		if !mine.HasKey("k1") || mine.HasKey("k2") || !all.HasKey("k2") {
			t.Fatal("HasKey wrong")
		}
		if d := (domain.Scope{}).Doors(keys); len(d) != 0 || d == nil {
			t.Fatalf("no keys: empty set, got %v", d)
		}
	})
}

// TestActorCanCorrectTime: a time correction can move every lock's clock
// back, so only Portfolio Managers may start one — not a Property Manager
// with full Key Management and Device Management.
func TestActorCanCorrectTime(t *testing.T) {
	full := domain.Assignment{PropertyID: "p1", KeyManagement: domain.KeyManagementFull, DeviceManagement: true, CardActivation: true}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		ok    bool
	}{
		{"PortfolioManager", domain.Actor{Role: domain.RolePortfolioManager}, true},
		{"ErrPropertyManagerWithEverything", domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{"p1": full}}, false},
		{"ErrPropertyManagerWithNothing", domain.Actor{Role: domain.RolePropertyManager}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.actor.CanCorrectTime()
			if got := err == nil; got != tc.ok {
				t.Fatalf("CanCorrectTime() = %v, want allowed %v", err, tc.ok)
			}
			if err != nil && domain.ErrorCode(err) != domain.EForbidden {
				t.Fatalf("code = %v, want forbidden", domain.ErrorCode(err))
			}
		})
	}
}

// TestActorCanRotatePropertyKey: rotating a property's signing key moves
// every lock and credential of the property, so only Portfolio Managers
// may — not a Property Manager with everything else.
func TestActorCanRotatePropertyKey(t *testing.T) {
	full := domain.Assignment{PropertyID: "p1", KeyManagement: domain.KeyManagementFull, DeviceManagement: true, CardActivation: true}
	for _, tc := range []struct {
		name  string
		actor domain.Actor
		ok    bool
	}{
		{"PortfolioManager", domain.Actor{Role: domain.RolePortfolioManager}, true},
		{"ErrPropertyManagerWithEverything", domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{"p1": full}}, false},
		{"ErrPropertyManagerWithNothing", domain.Actor{Role: domain.RolePropertyManager}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.actor.CanRotatePropertyKey()
			if got := err == nil; got != tc.ok {
				t.Fatalf("CanRotatePropertyKey() = %v, want allowed %v", err, tc.ok)
			}
			if err != nil && domain.ErrorCode(err) != domain.EForbidden {
				t.Fatalf("code = %v, want forbidden", domain.ErrorCode(err))
			}
		})
	}
}
