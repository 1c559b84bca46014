package doorsync_test

import (
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// TestDoorSync_MyActivity: a resident's unlock at their own residence door
// reaches GET /api/v1/me/activity and never the managers' Activity; other
// residents do not see it; the endpoint needs an app token.
func TestDoorSync_MyActivity(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st, "")
		unit, err := st.CreateUnit(e.ctx, e.F.PM, e.prop(), domain.UnitInput{Name: "4B"})
		if err != nil {
			t.Fatal(err)
		}
		apt, err := st.CreateDoor(e.ctx, e.F.PM, e.prop(), domain.DoorInput{Name: "Apt 4B", Type: domain.DoorResidence, Connectivity: domain.Offline, UnitID: unit.ID})
		if err != nil {
			t.Fatal(err)
		}
		e.doors["apt"] = apt
		aptKey, err := st.CreateKey(e.ctx, e.F.PM, e.prop(), domain.KeyInput{Name: "Apt 4B", Doors: []domain.KeyDoor{{DoorID: apt.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, map[string]any{"first_name": "Ana", "last_name": "Resident",
			"email": "ana@example.com", "access": "app", "resident": true, "unit_id": unit.ID,
			"keys": []map[string]any{{"key_id": e.key.ID}, {"key_id": aptKey.ID}}})
		if r.Status != 201 {
			t.Fatalf("invite = %d: %s", r.Status, r.Body)
		}
		e.invite("ben@example.com")
		lock, _ := e.provision("apt")
		serveBLE(e.ctx, t, lock)
		ana, ben := e.login("ana@example.com"), e.login("ben@example.com")
		if !ana.unlockBLE(lock) {
			t.Fatal("Ana cannot open her own door")
		}

		type list struct {
			Items []store.PrivateEvent `json:"items"`
		}
		var mine list
		if r := e.Do("GET", "/api/v1/me/activity", ana.token, nil); r.Status != 200 {
			t.Fatalf("me/activity = %d: %s", r.Status, r.Body)
		} else {
			r.Decode(t, &mine)
		}
		found := false
		for _, ev := range mine.Items {
			if ev.Kind == domain.EventDoorUnlocked && ev.DoorID == apt.ID && ev.DoorName == "Apt 4B" && !ev.At.IsZero() && !ev.ReceivedAt.IsZero() {
				found = true
			}
		}
		if !found {
			t.Fatalf("Ana's activity has no unlock at Apt 4B: %+v", mine.Items)
		}

		var theirs list
		e.Do("GET", "/api/v1/me/activity", ben.token, nil).Decode(t, &theirs)
		if len(theirs.Items) != 0 {
			t.Errorf("Ben sees %d private entries of someone else", len(theirs.Items))
		}
		var managers struct {
			Items []domain.Event `json:"items"`
		}
		e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?door_id="+apt.ID, e.PMToken, nil).Decode(t, &managers)
		for _, ev := range managers.Items {
			if ev.Kind == domain.EventDoorUnlocked {
				t.Errorf("the manager sees the resident's private unlock: %+v", ev)
			}
		}
		if r := e.Do("GET", "/api/v1/me/activity", "", nil); r.Status != 401 {
			t.Errorf("me/activity without a token = %d, want 401", r.Status)
		}
		if r := e.Do("GET", "/api/v1/me/activity", e.PMToken, nil); r.Status != 401 {
			t.Errorf("me/activity with a manager token = %d, want 401", r.Status)
		}
		if r := e.Do("GET", "/api/v1/me/activity?cursor=nonsense!", ana.token, nil); r.Status != 400 {
			t.Errorf("me/activity with a bad cursor = %d, want 400", r.Status)
		}
	})
}
