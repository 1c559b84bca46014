// Package demo seeds a demo property through the store's use cases, so a
// newcomer can try every console flow in a minute: doors online and
// offline, keys with doorcodes and schedules, residents in every status, a
// guest, a vendor, a keycard, activity and pending Door Sync tasks.
// StartLocks then runs a simulated lock for every demo door.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// Names of what the demo creates; a second run finds the property by name
// and reuses it.
const (
	PropertyName = "Maple Court (demo)"
	PMEmail      = "demo@dooros.localhost"
	// LimitedEmail is a Property Manager without Key Management, to see the
	// People tab explain why there is no Invite button.
	LimitedEmail = "morgan@dooros.localhost"
	// Keycard is Ben Okafor's card serial.
	Keycard = "04:A2:19:7C:3B:11"
)

// OrgName is the organisation the demo creates in an empty database; Seed
// reuses only an organisation of that name whose first manager is the demo's.
const OrgName = "Demo Residential"

// ErrNotDemo: Seed refuses a database whose organisation the demo did not
// create.
var ErrNotDemo = errors.New("demo: not a demo database")

// demoOwned reports whether org is the one a previous Seed created.
func demoOwned(ctx context.Context, st *store.Store, sys domain.Actor, org domain.Organisation) (bool, error) {
	if org.Name != OrgName {
		return false, nil
	}
	ms, err := st.ListManagers(ctx, sys)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if m.Email == PMEmail && m.Role == domain.RolePortfolioManager {
			return true, nil
		}
	}
	return false, nil
}

// Options tune Seed.
type Options struct {
	// PasswordFile keeps the generated demo password (mode 0600) so a
	// second run can print it again; empty means a new random password
	// that only works if the demo managers do not exist yet.
	PasswordFile string
	// Password fixes the demo password (tests); empty generates one.
	Password string
}

// Result is what Seed created or found.
type Result struct {
	Email        string
	LimitedEmail string
	Password     string
	Property     domain.Property
	// Doors are the demo doors; StartLocks runs a simulated lock for each.
	Doors   []domain.Door
	Created bool
}

// Seed creates the demo (or finds the one a previous run created).
func Seed(ctx context.Context, st *store.Store, opts Options) (Result, error) {
	res := Result{Email: PMEmail, LimitedEmail: LimitedEmail}
	pw, err := password(opts)
	if err != nil {
		return res, err
	}
	res.Password = pw
	org, err := st.Organisation(ctx)
	if domain.ErrorCode(err) == domain.ENotFound {
		if _, err := st.Init(ctx, OrgName, domain.ManagerInput{Email: PMEmail, Password: pw, FirstName: "Dana", LastName: "Demo"}); err != nil {
			return res, fmt.Errorf("demo: init: %w", err)
		}
		org, err = st.Organisation(ctx)
	}
	if err != nil {
		return res, err
	}
	sys := domain.System(org.ID, "DOOR OS demo")
	// A real organisation never gets demo data, nor a demo Portfolio
	// Manager whose password is printed on the console.
	if owned, err := demoOwned(ctx, st, sys, org); err != nil {
		return res, err
	} else if !owned {
		return res, fmt.Errorf("%w: this database holds the organisation %q, which the demo did not create; use a fresh --data directory for the demo (and no --db)", ErrNotDemo, org.Name)
	}
	props, err := st.ListProperties(ctx, sys)
	if err != nil {
		return res, err
	}
	for _, p := range props {
		if p.Name == PropertyName {
			res.Property = p
			res.Doors, err = st.ListDoors(ctx, sys, p.ID)
			return res, err
		}
	}
	res.Created = true
	return res, seed(ctx, st, sys, &res)
}

// password returns the fixed, stored or a new random password.
func password(opts Options) (string, error) {
	if opts.Password != "" {
		return opts.Password, nil
	}
	if opts.PasswordFile != "" {
		if b, err := os.ReadFile(opts.PasswordFile); err == nil && len(strings.TrimSpace(string(b))) >= domain.MinPasswordLen {
			return strings.TrimSpace(string(b)), nil
		}
	}
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pw := "demo-" + base64.RawURLEncoding.EncodeToString(b)
	if opts.PasswordFile != "" {
		if err := os.MkdirAll(filepath.Dir(opts.PasswordFile), 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(opts.PasswordFile, []byte(pw+"\n"), 0o600); err != nil {
			return "", err
		}
	}
	return pw, nil
}

func seed(ctx context.Context, st *store.Store, sys domain.Actor, res *Result) error {
	var firstErr error
	must := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	p, err := st.CreateProperty(ctx, sys, domain.PropertyInput{Name: PropertyName, TimeZone: "America/New_York"})
	if err != nil {
		return fmt.Errorf("demo: property: %w", err)
	}
	res.Property = p
	door := func(name string, t domain.DoorType, c domain.Connectivity) domain.Door {
		d, err := st.CreateDoor(ctx, sys, p.ID, domain.DoorInput{Name: name, Type: t, Connectivity: c})
		must(err)
		res.Doors = append(res.Doors, d)
		return d
	}
	entrance := door("Main Entrance", domain.DoorEntrance, domain.Online)
	garage := door("Garage Gate", domain.DoorService, domain.Online)
	mailRoom := door("Mail Room", domain.DoorCommunal, domain.Offline)
	gym := door("Gym", domain.DoorCommunal, domain.Offline)
	roof := door("Roof Terrace", domain.DoorCommunal, domain.Offline)
	u101 := door("Unit 101", domain.DoorResidence, domain.Offline)
	u102 := door("Unit 102", domain.DoorResidence, domain.Offline)
	u201 := door("Unit 201", domain.DoorResidence, domain.Offline)
	if firstErr != nil {
		return fmt.Errorf("demo: doors: %w", firstErr)
	}
	unit := func(name string) domain.Unit {
		u, err := st.CreateUnit(ctx, sys, p.ID, domain.UnitInput{Name: name})
		must(err)
		return u
	}
	n101, n102, n201 := unit("101"), unit("102"), unit("201")
	weekdays := domain.Schedule{{Days: []string{"mon", "tue", "wed", "thu", "fri"}, Start: "07:00", End: "19:00"}}
	key := func(name string, doors ...domain.KeyDoor) domain.Key {
		k, err := st.CreateKey(ctx, sys, p.ID, domain.KeyInput{Name: name, Doors: doors})
		must(err)
		return k
	}
	building := key("Building", domain.KeyDoor{DoorID: entrance.ID, Doorcodes: true}, domain.KeyDoor{DoorID: garage.ID}, domain.KeyDoor{DoorID: mailRoom.ID})
	amenities := key("Amenities", domain.KeyDoor{DoorID: gym.ID, Schedule: domain.Schedule{{Days: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}, Start: "06:00", End: "22:00"}}},
		domain.KeyDoor{DoorID: roof.ID, Schedule: domain.Schedule{{Days: []string{"sat", "sun"}, Start: "10:00", End: "20:00"}}})
	home101 := key("Home 101", domain.KeyDoor{DoorID: u101.ID, Doorcodes: true})
	home102 := key("Home 102", domain.KeyDoor{DoorID: u102.ID, Doorcodes: true})
	home201 := key("Home 201", domain.KeyDoor{DoorID: u201.ID, Doorcodes: true})
	vendor := key("Vendor weekdays", domain.KeyDoor{DoorID: entrance.ID, Schedule: weekdays}, domain.KeyDoor{DoorID: mailRoom.ID, Schedule: weekdays})
	if firstErr != nil {
		return fmt.Errorf("demo: keys: %w", firstErr)
	}

	now := st.Now()
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	year := 365 * 24 * time.Hour
	invite := func(in domain.InviteInput) domain.PersonView {
		v, err := st.Invite(ctx, sys, p.ID, in)
		must(err)
		return v
	}
	ana := invite(domain.InviteInput{FirstName: "Ana", LastName: "Garcia", Email: "ana.garcia@example.com", Phone: "+1 212 555 0101",
		Access: domain.AccessApp, Resident: true, UnitID: n101.ID, StartsAt: at(-90 * 24 * time.Hour), ExpiresAt: at(year),
		Keys: []domain.GrantInput{{KeyID: building.ID, MayShare: true}, {KeyID: amenities.ID, MayShare: true}, {KeyID: home101.ID, MayShare: true}}})
	ben := invite(domain.InviteInput{FirstName: "Ben", LastName: "Okafor", Email: "ben.okafor@example.com", Access: domain.AccessDoorcode, Resident: true,
		UnitID: n102.ID, StartsAt: at(-30 * 24 * time.Hour), ExpiresAt: at(year), Keys: []domain.GrantInput{{KeyID: building.ID}, {KeyID: home102.ID}}})
	invite(domain.InviteInput{FirstName: "Chloe", LastName: "Nguyen", Email: "chloe.nguyen@example.com", Access: domain.AccessApp, Resident: true,
		UnitID: n201.ID, StartsAt: at(7 * 24 * time.Hour), ExpiresAt: at(year), Keys: []domain.GrantInput{{KeyID: building.ID, MayShare: true}, {KeyID: amenities.ID}, {KeyID: home201.ID, MayShare: true}}})
	invite(domain.InviteInput{FirstName: "Dan", LastName: "Fischer", Email: "dan@cleanco.example", Phone: "+1 212 555 0199", Access: domain.AccessApp,
		StartsAt: at(-14 * 24 * time.Hour), ExpiresAt: at(90 * 24 * time.Hour), Keys: []domain.GrantInput{{KeyID: vendor.ID}}})
	invite(domain.InviteInput{FirstName: "Eve", LastName: "Martin", Email: "eve.martin@example.com", Access: domain.AccessApp, Resident: true,
		StartsAt: at(-400 * 24 * time.Hour), ExpiresAt: at(-20 * 24 * time.Hour), Keys: []domain.GrantInput{{KeyID: building.ID}}})
	frank := invite(domain.InviteInput{FirstName: "Frank", LastName: "Liu", Email: "frank.liu@example.com", Access: domain.AccessApp, Resident: true,
		StartsAt: at(-200 * 24 * time.Hour), ExpiresAt: at(year), Keys: []domain.GrantInput{{KeyID: building.ID}, {KeyID: amenities.ID}}})
	guest := invite(domain.InviteInput{FirstName: "Gina", LastName: "Rossi", Email: "gina.rossi@example.com", Access: domain.AccessApp,
		StartsAt: at(-24 * time.Hour), ExpiresAt: at(14 * 24 * time.Hour), InvitedBy: ana.ID,
		Keys: []domain.GrantInput{{KeyID: building.ID}, {KeyID: amenities.ID}}})
	if firstErr != nil {
		return fmt.Errorf("demo: people: %w", firstErr)
	}
	if _, err := st.Revoke(ctx, sys, p.ID, frank.ID); err != nil {
		return fmt.Errorf("demo: revoke: %w", err)
	}
	if _, err := st.ActivateKeycard(ctx, sys, p.ID, ben.ID, Keycard); err != nil {
		return fmt.Errorf("demo: keycard: %w", err)
	}

	// Unlocks and a denial, as locks would report them.
	events := []domain.Event{
		{Kind: domain.EventDoorUnlocked, PersonID: ana.ID, PersonName: ana.Name(), DoorID: entrance.ID, Detail: "unlocked with the DOOR App", At: now.Add(-3 * time.Hour)},
		{Kind: domain.EventDoorUnlocked, PersonID: ana.ID, PersonName: ana.Name(), DoorID: gym.ID, Detail: "unlocked with the DOOR App (offline door)", At: now.Add(-150 * time.Minute)},
		{Kind: domain.EventDoorUnlocked, PersonID: guest.ID, PersonName: guest.Name(), DoorID: entrance.ID, Detail: "unlocked with the DOOR App (guest of Ana Garcia)", At: now.Add(-time.Hour)},
		{Kind: domain.EventDoorDenied, PersonID: frank.ID, PersonName: frank.Name(), DoorID: entrance.ID, Detail: "denied: credential revoked", At: now.Add(-20 * time.Minute)},
	}
	for _, e := range events {
		e.PropertyID = p.ID
		must(st.AddEvent(ctx, e))
	}
	// The mail room was synced since: it shows a last sync and no task.
	tasks, err := st.ListSyncTasks(ctx, sys, p.ID)
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if t.DoorID == mailRoom.ID {
			must(st.AckDoor(ctx, t.DoorID, t.Version))
			must(st.AddEvent(ctx, domain.Event{PropertyID: p.ID, Kind: domain.EventDoorSynced, DoorID: mailRoom.ID, Detail: fmt.Sprintf("synced to version %d by a phone", t.Version)}))
		}
	}

	// A Property Manager without Key Management.
	m, err := st.CreateManager(ctx, sys, domain.ManagerInput{Email: LimitedEmail, Password: res.Password, FirstName: "Morgan", LastName: "Lee", Role: domain.RolePropertyManager})
	if err != nil && domain.ErrorCode(err) != domain.EConflict {
		return fmt.Errorf("demo: manager: %w", err)
	}
	if err == nil {
		if _, err := st.SetAssignment(ctx, sys, m.ID, domain.Assignment{PropertyID: p.ID, KeyManagement: domain.KeyManagementNone, DeviceManagement: true}); err != nil {
			return fmt.Errorf("demo: assignment: %w", err)
		}
	}
	return firstErr
}
