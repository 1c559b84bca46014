package domain_test

import (
	"reflect"
	"testing"

	"github.com/dooros/dooros/domain"
)

func TestKeyChanges(t *testing.T) {
	office := domain.Schedule{{Days: []string{"mon"}, Start: "06:00", End: "22:00"}}
	shorter := domain.Schedule{{Days: []string{"mon"}, Start: "07:00", End: "22:00"}}
	old := domain.Key{ID: "key-building", Name: "Building", Doors: []domain.KeyDoor{
		{DoorID: "lobby", Doorcodes: true},
		{DoorID: "gym", Schedule: office},
		{DoorID: "roof"},
	}}
	holders := []string{"p1", "p2"}
	type change struct {
		door string
		rev  bool
	}
	for _, tc := range []struct {
		name    string
		next    []domain.KeyDoor
		holders []string
		want    []change
	}{
		{"Unchanged", old.Doors, holders, nil},
		{"DoorRemovedIsRevocation", []domain.KeyDoor{old.Doors[0], old.Doors[1]}, holders, []change{{"roof", true}}},
		{"DoorcodesOffIsRevocation", []domain.KeyDoor{{DoorID: "lobby"}, old.Doors[1], old.Doors[2]}, holders, []change{{"lobby", true}}},
		{"DoorcodesOnWidens", []domain.KeyDoor{old.Doors[0], old.Doors[1], {DoorID: "roof", Doorcodes: true}}, holders, []change{{"roof", false}}},
		{"ScheduleNarrowedIsRevocation", []domain.KeyDoor{old.Doors[0], {DoorID: "gym", Schedule: shorter}, old.Doors[2]}, holders, []change{{"gym", true}}},
		{"ScheduleAddedIsRevocation", []domain.KeyDoor{old.Doors[0], old.Doors[1], {DoorID: "roof", Schedule: office}}, holders, []change{{"roof", true}}},
		{"ScheduleRemovedWidens", []domain.KeyDoor{old.Doors[0], {DoorID: "gym"}, old.Doors[2]}, holders, []change{{"gym", false}}},
		{"DoorAddedWidens", append(append([]domain.KeyDoor{}, old.Doors...), domain.KeyDoor{DoorID: "b"}, domain.KeyDoor{DoorID: "a"}), holders, []change{{"a", false}, {"b", false}}},
		{"DeletedKeyRevokesEveryDoor", nil, holders, []change{{"lobby", true}, {"gym", true}, {"roof", true}}},
		{"NoHoldersNoRevocation", nil, nil, []change{{"lobby", false}, {"gym", false}, {"roof", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := domain.KeyChanges(old, domain.Key{Name: "Building", Doors: tc.next}, tc.holders)
			var g []change
			for _, c := range got {
				g = append(g, change{c.DoorID, c.Revocation})
				if c.Revocation && !reflect.DeepEqual(c.PersonIDs, tc.holders) {
					t.Errorf("revocation at %s names %v, want every holder %v", c.DoorID, c.PersonIDs, tc.holders)
				}
				if !c.Revocation && len(c.PersonIDs) > 0 {
					t.Errorf("widening at %s names people %v", c.DoorID, c.PersonIDs)
				}
				// The key's guest codes: named at a narrowed door where it
				// gave doorcodes (only the lobby), for its revocation notice.
				wantKeys := []string(nil)
				if c.Revocation && c.DoorID == "lobby" {
					wantKeys = []string{old.ID}
				}
				if !reflect.DeepEqual(c.DayKeys, wantKeys) {
					t.Errorf("change at %s names day keys %v, want %v", c.DoorID, c.DayKeys, wantKeys)
				}
				if c.Reason == "" {
					t.Errorf("change at %s has no reason", c.DoorID)
				}
			}
			if !reflect.DeepEqual(g, tc.want) {
				t.Fatalf("changes %v, want %v", g, tc.want)
			}
		})
	}
}

func TestGrantDoorsAndDoorcodes(t *testing.T) {
	keys := map[string]domain.Key{
		"building": {ID: "building", Doors: []domain.KeyDoor{{DoorID: "lobby", Doorcodes: true}, {DoorID: "gym"}}},
		"home":     {ID: "home", Doors: []domain.KeyDoor{{DoorID: "unit"}, {DoorID: "lobby"}}},
		"gym":      {ID: "gym", Doors: []domain.KeyDoor{{DoorID: "gym"}}},
	}
	g := func(ids ...string) []domain.Grant {
		var out []domain.Grant
		for _, id := range ids {
			out = append(out, domain.Grant{KeyID: id})
		}
		return out
	}
	if got, want := domain.GrantDoors(keys, g("home", "building")), []string{"gym", "lobby", "unit"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("GrantDoors = %v, want %v (sorted, unique)", got, want)
	}
	if got := domain.GrantDoors(keys, nil); len(got) != 0 {
		t.Fatalf("GrantDoors(nil) = %v", got)
	}
	for _, tc := range []struct {
		name   string
		grants []domain.Grant
		want   []string
	}{
		{"OnlyDoorsTakingDoorcodes", g("building"), []string{"lobby"}},
		{"UniqueAcrossKeys", g("building", "home", "building"), []string{"lobby"}},
		{"NoneWithoutDoorcodeDoors", g("home", "gym"), nil},
		{"NoneWithoutGrants", nil, nil},
	} {
		t.Run("DoorcodeDoors"+tc.name, func(t *testing.T) {
			if got := domain.DoorcodeDoors(keys, tc.grants); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("DoorcodeDoors = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name   string
		mode   domain.AccessMode
		grants []domain.Grant
		needs  bool
		code   domain.Code
	}{
		{"AppWithDoorcodeKeyNeedsCode", domain.AccessApp, g("building"), true, ""},
		{"AppWithoutDoorcodeKeyNoCode", domain.AccessApp, g("home", "gym"), false, ""},
		{"DoorcodePersonWithDoorcodeKey", domain.AccessDoorcode, g("gym", "building"), true, ""},
		{"DoorcodePersonWithoutKeysYet", domain.AccessDoorcode, nil, false, ""},
		{"ErrDoorcodePersonOnlyAppKeys", domain.AccessDoorcode, g("home"), false, domain.EInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := domain.NeedsDoorcode(keys, tc.grants); got != tc.needs {
				t.Fatalf("NeedsDoorcode = %v, want %v", got, tc.needs)
			}
			err := domain.CheckAccessMode(tc.mode, keys, tc.grants)
			if tc.code == "" {
				wantErr(t, err, "", "")
			} else {
				wantErr(t, err, tc.code, "keys")
			}
		})
	}
}

func TestChanges(t *testing.T) {
	got := domain.Changes([]string{"d1", "d2"}, "given")
	for _, c := range got {
		if c.Revocation || len(c.PersonIDs) > 0 || c.Reason != "given" {
			t.Fatalf("widening change %+v", c)
		}
	}
	got = domain.Changes([]string{"d1"}, "revoked", "p1", "p2")
	if !got[0].Revocation || !reflect.DeepEqual(got[0].PersonIDs, []string{"p1", "p2"}) {
		t.Fatalf("revocation change %+v", got[0])
	}
}
