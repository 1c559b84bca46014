package store_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// The answer to giving or taking a key carries the person's updated_at as
// a later read shows it, and that moves with the change; giving the same
// key the same way again changes nothing.
func TestGiveTakeKeyAnswerIsFresh(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		now := time.Now().UTC().Truncate(time.Second)
		st.Now = func() time.Time { return now }
		p, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Uma", LastName: "Update", Email: "uma@example.com",
			Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: f.Building.ID}}})
		if err != nil {
			t.Fatal(err)
		}
		check := func(step string, got domain.PersonView, want time.Time) {
			t.Helper()
			read, err := st.Person(ctx, f.PM, f.Property.ID, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !got.UpdatedAt.Equal(read.UpdatedAt) {
				t.Errorf("%s: answer says updated_at %s, a read says %s", step, got.UpdatedAt, read.UpdatedAt)
			}
			if !read.UpdatedAt.Equal(want) {
				t.Errorf("%s: updated_at %s, want %s", step, read.UpdatedAt, want)
			}
		}
		exp := now.Add(30 * 24 * time.Hour)
		now = now.Add(time.Minute)
		got, err := st.GiveKey(ctx, f.PM, f.Property.ID, p.ID, f.Home.ID, domain.GrantChange{ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		check("give a new key", got, now)
		changed := now
		now = now.Add(time.Minute)
		if got, err = st.GiveKey(ctx, f.PM, f.Property.ID, p.ID, f.Home.ID, domain.GrantChange{ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
		check("give the same key the same way", got, changed)
		now = now.Add(time.Minute)
		if got, err = st.GiveKey(ctx, f.PM, f.Property.ID, p.ID, f.Home.ID, domain.GrantChange{MayShare: true, ExpiresAt: &exp}); err != nil {
			t.Fatal(err)
		}
		check("let the key be shared", got, now)
		now = now.Add(time.Minute)
		if got, err = st.TakeKey(ctx, f.PM, f.Property.ID, p.ID, f.Home.ID); err != nil {
			t.Fatal(err)
		}
		check("take the key", got, now)
		now = now.Add(time.Minute)
		if _, err := st.Revoke(ctx, f.PM, f.Property.ID, p.ID); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
		if got, err = st.GiveKey(ctx, f.PM, f.Property.ID, p.ID, f.Building.ID, domain.GrantChange{}); err != nil {
			t.Fatal(err)
		}
		check("give a key after Revoke All Keys", got, now)
		if got.Status != domain.StatusActive {
			t.Errorf("status after giving a key again: %s", got.Status)
		}
	})
}

// A guest who loses a key because the host lost it, or may no longer share
// it, gets an Activity entry that is a whole sentence saying so.
func TestGuestKeyTakenActivityReads(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		host, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Ana", LastName: "Alvarez", Email: "ana@example.com", Resident: true,
			Access: domain.AccessApp, Keys: []domain.GrantInput{{KeyID: f.Building.ID, MayShare: true}, {KeyID: f.Home.ID, MayShare: true}}})
		if err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(24 * time.Hour)
		guest, err := st.Invite(ctx, f.PM, f.Property.ID, domain.InviteInput{FirstName: "Gus", LastName: "Guest", Email: "gus@example.com",
			Access: domain.AccessApp, InvitedBy: host.ID, Keys: []domain.GrantInput{{KeyID: f.Building.ID}, {KeyID: f.Home.ID}}, ExpiresAt: &exp})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.TakeKey(ctx, f.PM, f.Property.ID, host.ID, f.Building.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.GiveKey(ctx, f.PM, f.Property.ID, host.ID, f.Home.ID, domain.GrantChange{MayShare: false}); err != nil {
			t.Fatal(err)
		}
		evs, _, err := st.ListActivity(ctx, f.PM, f.Property.ID, store.ActivityFilter{PersonID: guest.ID, Kind: domain.EventKeyTaken, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		var details []string
		for _, e := range evs {
			details = append(details, e.Detail)
		}
		want := []string{
			"key " + f.Home.Name + " taken because host Ana Alvarez may no longer share it",
			"key " + f.Building.Name + " taken because host Ana Alvarez no longer holds it",
		}
		if strings.Join(details, "\n") != strings.Join(want, "\n") {
			t.Errorf("guest's key.taken entries:\n%s\nwant:\n%s", strings.Join(details, "\n"), strings.Join(want, "\n"))
		}
	})
}

// Invite answers what a read of the new person then shows: the keys with
// their windows, no guests, and the doorcode it issued (the
// answer is built from what the invite wrote, not read back).
func TestInviteAnswerIsARead(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
		for _, in := range []domain.InviteInput{
			{FirstName: "Kim", LastName: "Keys", Email: "kim@example.com", Access: domain.AccessApp, ExpiresAt: &exp,
				Keys: []domain.GrantInput{{KeyID: f.Home.ID, MayShare: true}, {KeyID: f.Building.ID}}},
			{FirstName: "Dee", LastName: "Doorcode", Email: "dee@example.com", Access: domain.AccessDoorcode},
			{FirstName: "Nia", LastName: "None", Email: "nia@example.com", Access: domain.AccessApp},
		} {
			got, err := st.Invite(ctx, f.PM, f.Property.ID, in)
			if err != nil {
				t.Fatal(err)
			}
			read, err := st.Person(ctx, f.PM, f.Property.ID, got.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, read) {
				t.Errorf("%s: invite answered\n%+v\na read shows\n%+v", in.Email, got, read)
			}
		}
	})
}

// Inviting an email a person of the property already has is refused as
// a conflict on the email field, and writes nothing; another property may
// use it.
func TestInviteEmailTaken(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		f := storetest.Seed(t, st)
		in := domain.InviteInput{FirstName: "Tess", LastName: "Taken", Email: "tess@example.com", Access: domain.AccessApp,
			Keys: []domain.GrantInput{{KeyID: f.Building.ID}}}
		first, err := st.Invite(ctx, f.PM, f.Property.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		in.FirstName = "Other"
		_, err = st.Invite(ctx, f.PM, f.Property.ID, in)
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.EConflict || de.Field != "email" || !strings.Contains(de.Message, "tess@example.com is already a person") {
			t.Fatalf("second invite of the same email: %v", err)
		}
		list, _, err := st.ListPeople(ctx, f.PM, f.Property.ID, domain.PeopleFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 1 || list[0].ID != first.ID {
			t.Fatalf("people after the refused invite: %+v", list)
		}
	})
}
