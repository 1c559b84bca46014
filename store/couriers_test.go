package store_test

import (
	"crypto/ed25519"
	"encoding/base64"
	"slices"
	"sort"
	"testing"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/lockproto"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// Which doors' pending bundles a phone receives (issue 11): its keys'
// doors, shared doors (entrance, communal), its unit's doors, and any door
// with a pending revocation while its record holds access; nothing else.
// A revoked record without stale credentials receives nothing, and no
// courier credential.
func TestMailboxDoorsEveryPhoneACourier(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newEnv(t, st)
		keys := storetest.Keyring(t, st)
		u102, err := st.CreateUnit(ctx, e.f.PM, e.prop(), domain.UnitInput{Name: "102"})
		if err != nil {
			t.Fatal(err)
		}
		mkDoor := func(name string, ty domain.DoorType, unit string) domain.Door {
			d, err := st.CreateDoor(ctx, e.f.PM, e.prop(), domain.DoorInput{Name: name, Type: ty, Connectivity: domain.Offline, UnitID: unit})
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
		unit102 := mkDoor("Unit 102", domain.DoorResidence, u102.ID)
		service := mkDoor("Boiler room", domain.DoorService, "")
		mkDoor("Side gate", domain.DoorEntrance, "") // shared, but no lock: in no mailbox
		pub, _ := storetest.ProvisionLocks(t, st, keys, e.f.PM, e.prop(), e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID, unit102.ID, service.ID)
		ana := e.invite("Ana", "Alone", "ana@example.com", withKeys(key(e.f.Home.ID, false)))
		bob := e.invite("Bob", "Building", "bob@example.com")
		cleo := e.invite("Cleo", "Unit", "cleo@example.com", func(in *domain.InviteInput) { in.UnitID = u102.ID })
		// login is the person's phone as AuthenticateResident loads it: the
		// record as it is now.
		login := func(p domain.PersonView) store.Resident {
			t.Helper()
			v, err := st.Person(ctx, e.f.PM, e.prop(), p.ID)
			if err != nil {
				t.Fatal(err)
			}
			return store.Resident{Email: p.Email, DeviceKey: make(ed25519.PublicKey, ed25519.PublicKeySize), People: []store.ResidentPerson{{Person: v.Person}}}
		}
		mailbox := func(r store.Resident) []string {
			t.Helper()
			ds, err := st.MailboxDoors(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range ds {
				ids = append(ids, d.DoorID)
			}
			sort.Strings(ids)
			return ids
		}
		want := func(name string, got []string, doors ...string) {
			t.Helper()
			sort.Strings(doors)
			if !slices.Equal(got, doors) {
				t.Errorf("%s: mailbox doors %v, want %v", name, got, doors)
			}
		}
		want("Bob (building key)", mailbox(login(bob)), e.f.Lobby.ID, e.f.Gym.ID)
		want("Ana (home key)", mailbox(login(ana)), e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID)
		want("Cleo (building key, unit 102)", mailbox(login(cleo)), e.f.Lobby.ID, e.f.Gym.ID, unit102.ID)

		if _, err := st.Revoke(ctx, e.f.PM, e.prop(), ana.ID); err != nil {
			t.Fatal(err)
		}
		// Unit 101 now carries a revocation nobody with a key can deliver.
		want("Bob after Ana's revocation", mailbox(login(bob)), e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID)
		want("Cleo after Ana's revocation", mailbox(login(cleo)), e.f.Lobby.ID, e.f.Gym.ID, e.f.Unit101.ID, unit102.ID)
		want("revoked Ana without phone credentials", mailbox(login(ana)))

		c, err := st.IssueCourier(ctx, keys, login(bob))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Credentials) != 1 || !slices.Equal(c.Credentials[0].Doors, mailbox(login(bob))) || len(c.ApplyFirst) != 0 {
			t.Fatalf("Bob's courier: %+v", c)
		}
		cred, err := lockproto.VerifyCredential(pub, b64(t, c.Credentials[0].Credential))
		if err != nil {
			t.Fatal(err)
		}
		if !cred.SyncOnly || cred.PersonID != bob.ID || cred.Lifetime() > lockproto.DefaultCredentialLifetime {
			t.Fatalf("courier credential %+v", cred)
		}
		if _, ok := c.Credentials[0].LockCertificates[e.f.Unit101.ID]; !ok {
			t.Fatal("no lock certificate for Unit 101")
		}
		if c, err := st.IssueCourier(ctx, keys, login(ana)); err != nil || len(c.Credentials) != 0 {
			t.Fatalf("revoked Ana's courier: %+v %v", c, err)
		}
	})
}

func b64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
