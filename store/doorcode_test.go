package store_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

func isCode(code string, length int) bool {
	return len(code) == length && strings.Trim(code, "0123456789") == ""
}

func TestDoorcodes(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		appOnly, err := st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Gym only", Doors: []domain.KeyDoor{{DoorID: e.f.Gym.ID}}})
		if err != nil {
			t.Fatal(err)
		}

		t.Run("DoorcodePersonGetsCode", func(t *testing.T) {
			p := e.invite("Dee", "Code", "dee@example.com", access(domain.AccessDoorcode))
			if !isCode(p.Doorcode, 7) || e.doorcode(p.ID) != p.Doorcode {
				t.Fatalf("doorcode %q, want 7 digits as stored", p.Doorcode)
			}
		})
		t.Run("AppPersonOnDoorcodeDoorGetsCode", func(t *testing.T) {
			p := e.invite("Al", "App", "al@example.com", withKeys(key(e.f.Home.ID, false)))
			if !isCode(p.Doorcode, 7) {
				t.Fatalf("app person on a doorcode door has code %q", p.Doorcode)
			}
		})
		t.Run("AppPersonWithoutDoorcodeDoorHasNone", func(t *testing.T) {
			p := e.invite("Nia", "None", "nia@example.com", withKeys(key(appOnly.ID, false)))
			if p.Doorcode != "" || e.doorcode(p.ID) != "" {
				t.Fatalf("app person without doorcode doors got %q", p.Doorcode)
			}
		})
		t.Run("ShownOnlyWithFullKeyManagement", func(t *testing.T) {
			p := e.invite("Vi", "Visible", "vi@example.com")
			limited := storetest.Manager(t, st, e.f.PM, "limited@example.com", &domain.Assignment{PropertyID: e.prop(), KeyManagement: domain.KeyManagementLimited})
			v, err := st.Person(ctx, limited, e.prop(), p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Doorcode != "" {
				t.Fatal("a limited Key Management manager sees the doorcode")
			}
			list, _, err := st.ListPeople(ctx, e.f.PM, e.prop(), domain.PeopleFilter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range list {
				if v.Doorcode != "" {
					t.Fatal("doorcodes must never be shown in lists")
				}
			}
		})
		t.Run("UniqueInProperty", func(t *testing.T) {
			for i := 0; i < 40; i++ {
				e.invite("U", fmt.Sprint(i), fmt.Sprintf("u%d@example.com", i))
			}
			if n, d := e.count(`SELECT COUNT(*) FROM doorcodes WHERE property_id = ?`, e.prop()),
				e.count(`SELECT COUNT(DISTINCT code) FROM doorcodes WHERE property_id = ?`, e.prop()); n != d || n < 40 {
				t.Fatalf("%d codes, %d distinct", n, d)
			}
		})
		t.Run("RemovedWithLastDoorcodeKeyByTakeKey", func(t *testing.T) {
			p := e.invite("Tk", "Take", "tk@example.com", withKeys(key(e.f.Building.ID, false), key(e.f.Home.ID, false)))
			code := p.Doorcode
			v, err := st.TakeKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Building.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Doorcode != code {
				t.Fatalf("code changed to %q while a doorcode key (Home) remains", v.Doorcode)
			}
			v, err = st.TakeKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Home.ID)
			if err != nil {
				t.Fatal(err)
			}
			if v.Doorcode != "" || e.doorcode(p.ID) != "" {
				t.Fatal("code kept after the last doorcode key was taken")
			}
			_, err = st.TakeKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Home.ID)
			wantCode(t, err, domain.ENotFound)
			v, err = st.GiveKey(ctx, e.f.PM, e.prop(), p.ID, e.f.Home.ID, domain.GrantChange{})
			if err != nil || !isCode(v.Doorcode, 7) {
				t.Fatalf("giving a doorcode key back: %v code %q", err, v.Doorcode)
			}
		})
		t.Run("RemovedWhenKeyStopsProvidingDoorcodes", func(t *testing.T) {
			k, err := st.CreateKey(ctx, e.f.PM, e.prop(), domain.KeyInput{Name: "Side", Doors: []domain.KeyDoor{{DoorID: e.f.Lobby.ID, Doorcodes: true}}})
			if err != nil {
				t.Fatal(err)
			}
			p := e.invite("Uk", "Update", "uk@example.com", withKeys(key(k.ID, false)))
			if p.Doorcode == "" {
				t.Fatal("no code")
			}
			if _, err := st.UpdateKey(ctx, e.f.PM, e.prop(), k.ID, domain.KeyInput{Name: "Side", Doors: []domain.KeyDoor{{DoorID: e.f.Lobby.ID}}}); err != nil {
				t.Fatal(err)
			}
			if e.doorcode(p.ID) != "" {
				t.Fatal("code kept after the key's doorcodes were switched off")
			}
			if n := e.count(`SELECT COUNT(*) FROM door_revocations WHERE person_id = ? AND door_id = ?`, p.ID, e.f.Lobby.ID); n != 1 {
				t.Fatal("switching doorcodes off is not a revocation for the holder")
			}
			if _, err := st.UpdateKey(ctx, e.f.PM, e.prop(), k.ID, domain.KeyInput{Name: "Side", Doors: []domain.KeyDoor{{DoorID: e.f.Lobby.ID, Doorcodes: true}}}); err != nil {
				t.Fatal(err)
			}
			if !isCode(e.doorcode(p.ID), 7) {
				t.Fatal("no code after doorcodes were switched back on")
			}
			if err := st.DeleteKey(ctx, e.f.PM, e.prop(), k.ID); err != nil {
				t.Fatal(err)
			}
			if e.doorcode(p.ID) != "" || len(e.person(p.ID).Keys) != 0 {
				t.Fatal("code or grant kept after the key was deleted")
			}
		})
		t.Run("RegeneratedOnLengthChange", func(t *testing.T) {
			before := map[string]string{}
			rows, err := st.DB().QueryContext(ctx, e.sql(`SELECT person_id, code FROM doorcodes WHERE property_id = ?`), e.prop())
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var p, c string
				rows.Scan(&p, &c)
				before[p] = c
			}
			rows.Close()
			if _, err := st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{DoorcodeLength: 5}); err != nil {
				t.Fatal(err)
			}
			for p := range before {
				code := e.doorcode(p)
				if !isCode(code, 5) {
					t.Fatalf("after length change %s has %q, want 5 digits", p, code)
				}
			}
			if n, d := e.count(`SELECT COUNT(*) FROM doorcodes WHERE property_id = ?`, e.prop()),
				e.count(`SELECT COUNT(DISTINCT code) FROM doorcodes WHERE property_id = ?`, e.prop()); n != len(before) || d != n {
				t.Fatalf("%d codes (%d distinct) after regeneration, want %d", n, d, len(before))
			}
			// New invites use the new length; doorcode doors got a revocation.
			if p := e.invite("Five", "Digits", "five@example.com"); !isCode(p.Doorcode, 5) {
				t.Fatalf("new code %q", p.Doorcode)
			}
			if n := e.count(`SELECT COUNT(*) FROM door_changes WHERE door_id = ? AND revocation AND reason = ?`, e.f.Unit101.ID, "property settings changed"); n != 1 {
				t.Fatal("old codes stop working: the length change must be a revocation at doorcode doors")
			}
			_, err = st.UpdateProperty(ctx, e.f.PM, e.prop(), domain.PropertyInput{DoorcodeLength: 10})
			wantCode(t, err, domain.EInvalid)
		})
	})
}
