package domain

import "slices"

type Role string

const (
	RolePortfolioManager Role = "portfolio_manager"
	RolePropertyManager  Role = "property_manager"
)

type KeyManagement string

const (
	KeyManagementNone     KeyManagement = "none"
	KeyManagementLimited  KeyManagement = "limited"
	KeyManagementSpecific KeyManagement = "specific"
	KeyManagementFull     KeyManagement = "full"
)

// Assignment is what a manager may do at one property.
type Assignment struct {
	PropertyID       string        `json:"property_id"`
	KeyManagement    KeyManagement `json:"key_management"`
	Keys             []string      `json:"keys"`
	DeviceManagement bool          `json:"device_management"`
	CardActivation   bool          `json:"card_activation"`
}

func (a *Assignment) Validate() error {
	switch a.KeyManagement {
	case KeyManagementNone, KeyManagementLimited, KeyManagementFull:
		if len(a.Keys) > 0 {
			return FieldError("keys", "only key_management \"specific\" takes a list of keys")
		}
	case KeyManagementSpecific:
		if len(a.Keys) == 0 {
			return FieldError("keys", "key_management \"specific\" needs at least one key")
		}
	case "":
		return FieldError("key_management", "is required (none, limited, specific or full)")
	default:
		return FieldError("key_management", "%q is not one of none, limited, specific, full", a.KeyManagement)
	}
	if a.Keys == nil {
		a.Keys = []string{}
	}
	return nil
}

// Manager is a console/API user of the organisation.
type Manager struct {
	ID          string       `json:"id"`
	Email       string       `json:"email"`
	FirstName   string       `json:"first_name"`
	LastName    string       `json:"last_name"`
	Role        Role         `json:"role"`
	Properties  []Assignment `json:"properties"`
	HasPassword bool         `json:"has_password"`
}

// ManagerInput adds a manager.
type ManagerInput struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	Role      Role   `json:"role"`
	Password  string `json:"password"`
}

const MinPasswordLen = 10

func (in *ManagerInput) Normalize() error {
	email, err := NormalizeEmail("email", in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	if err := checkName("first_name", in.FirstName, true); err != nil {
		return err
	}
	if err := checkName("last_name", in.LastName, true); err != nil {
		return err
	}
	switch in.Role {
	case RolePortfolioManager, RolePropertyManager:
	case "":
		return FieldError("role", "is required (portfolio_manager or property_manager)")
	default:
		return FieldError("role", "%q is not one of portfolio_manager, property_manager", in.Role)
	}
	return CheckPassword(in.Password, true)
}

// CheckPassword enforces a minimal length; an empty password is allowed where
// the manager will set one through an invitation.
func CheckPassword(pw string, allowEmpty bool) error {
	if pw == "" && allowEmpty {
		return nil
	}
	if len(pw) < MinPasswordLen {
		return FieldError("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(pw) > 1024 {
		return FieldError("password", "must be at most 1024 characters")
	}
	return nil
}

// Actor is the authenticated manager making a request, with every
// assignment loaded so permission checks need no I/O.
type Actor struct {
	ManagerID   string
	OrgID       string
	Name        string
	Role        Role
	Assignments map[string]Assignment
}

// System is the actor for work the platform does by itself (PMS sync,
// scheduled jobs); it is recorded by that name in Activity.
func System(orgID, name string) Actor {
	return Actor{OrgID: orgID, Name: name, Role: RolePortfolioManager}
}

// Assignment returns what the actor may do at a property; Portfolio Managers
// may do everything everywhere.
func (a Actor) Assignment(propertyID string) (Assignment, bool) {
	if a.Role == RolePortfolioManager {
		return Assignment{PropertyID: propertyID, KeyManagement: KeyManagementFull, DeviceManagement: true, CardActivation: true}, true
	}
	as, ok := a.Assignments[propertyID]
	return as, ok
}

// Permission names something a manager may be allowed to do at a property.
type Permission int

const (
	PermView           Permission = iota // see doors, keys, units
	PermPeople                           // see and invite people, give/revoke keys (any key management)
	PermManageKeys                       // create/edit/delete keys, reports: full key management
	PermManageProperty                   // edit the property, add doors and units: portfolio managers
	PermDevices                          // devices, syncs, locks: device management
	PermCards                            // keycard activation
	// PermActivity: Activity names people and shows their emails, so it
	// needs Key Management (any level) or Device Management.
	PermActivity
	// PermReports: the CSV reports, which name people and their keys: any
	// Key Management; "specific" gets them cut to his keys (Actor.Scope).
	PermReports
)

func (p Permission) String() string {
	return [...]string{"access to this property", "Key Management", "full Key Management", "Portfolio Manager role", "Device Management", "Card Activation", "Key Management or Device Management", "Key Management"}[p]
}

// Can checks a permission at a property. A property the actor is not
// assigned to is reported as not found, so its existence does not leak.
func (a Actor) Can(propertyID string, p Permission) error {
	as, ok := a.Assignment(propertyID)
	if !ok {
		return Errorf(ENotFound, "property %s not found", propertyID)
	}
	allowed := false
	switch p {
	case PermView:
		allowed = true
	case PermPeople:
		allowed = as.KeyManagement != KeyManagementNone && as.KeyManagement != ""
	case PermManageKeys:
		allowed = as.KeyManagement == KeyManagementFull
	case PermManageProperty:
		allowed = a.Role == RolePortfolioManager
	case PermDevices:
		allowed = as.DeviceManagement
	case PermCards:
		allowed = as.CardActivation
	case PermActivity:
		allowed = (as.KeyManagement != KeyManagementNone && as.KeyManagement != "") || as.DeviceManagement
	case PermReports:
		allowed = as.KeyManagement != KeyManagementNone && as.KeyManagement != ""
	}
	if !allowed {
		return Errorf(EForbidden, "this needs %s on this property; ask a Portfolio Manager of your organisation to grant it", p)
	}
	return nil
}

// CanPeopleOrDevices checks that the actor has Key Management or Device
// Management on the property: what door sync state and exposure need
// (device management's, but managers who change access must see which
// doors still need a sync). Without either it answers People's error.
func (a Actor) CanPeopleOrDevices(propertyID string) error {
	err := a.Can(propertyID, PermPeople)
	if err != nil && a.Can(propertyID, PermDevices) == nil {
		return nil
	}
	return err
}

// CanHandleKeys checks that the actor may give or take each of the keys.
// With "specific" key management only the listed keys may be handled.
func (a Actor) CanHandleKeys(propertyID string, keyIDs ...string) error {
	if err := a.Can(propertyID, PermPeople); err != nil {
		return err
	}
	as, _ := a.Assignment(propertyID)
	if as.KeyManagement != KeyManagementSpecific {
		return nil
	}
	for _, k := range keyIDs {
		if !slices.Contains(as.Keys, k) {
			return Errorf(EForbidden, "your Key Management on this property covers specific keys only, and not key %s", k)
		}
	}
	return nil
}

// CanEditPerson checks that the actor may change a person's record (name,
// email, phone, unit, resident flag, access window): only a manager who
// could give every key behind that person's access may. The email is the
// app login, so whoever sets it receives the person's access; a manager
// who may not give one of those keys must not be able to hand it to
// himself that way. held are the keys the person holds, with, for a code
// guest, the key of their code (PersonKeys gathers them).
func (a Actor) CanEditPerson(propertyID string, held []string) error {
	if err := a.Can(propertyID, PermPeople); err != nil {
		return err
	}
	if k, ok := a.outsideKeys(propertyID, held); !ok {
		return Errorf(EForbidden, "this person holds key %s, which your Key Management (specific keys) does not cover; only a manager who may give every key they hold may change their record", k)
	}
	return nil
}

// CanRevokePerson checks Revoke All Keys: it takes every key the person
// holds (and their guests', a subset of them), so a "specific" manager is
// refused when the person holds any key outside his list; "limited" may
// give and take any key, so may revoke anyone.
func (a Actor) CanRevokePerson(propertyID string, held []string) error {
	if err := a.Can(propertyID, PermPeople); err != nil {
		return err
	}
	if k, ok := a.outsideKeys(propertyID, held); !ok {
		return Errorf(EForbidden, "this person holds key %s, which your Key Management (specific keys) does not cover; ask a manager who may take every key they hold", k)
	}
	return nil
}

// CanDeletePerson checks Delete Person. Deleting removes the record itself
// (it leaves People; coming back needs a new invitation), which is more
// than giving and taking keys: it needs full Key Management.
func (a Actor) CanDeletePerson(propertyID string) error {
	if err := a.Can(propertyID, PermPeople); err != nil {
		return err
	}
	if err := a.Can(propertyID, PermManageKeys); err != nil {
		return Errorf(EForbidden, "Delete Person needs full Key Management on this property; Revoke All Keys takes their access and keeps the record")
	}
	return nil
}

// outsideKeys finds a key of keys outside a "specific" actor's list; ok
// when there is none (or the actor is not "specific").
func (a Actor) outsideKeys(propertyID string, keys []string) (string, bool) {
	as, _ := a.Assignment(propertyID)
	if as.KeyManagement != KeyManagementSpecific {
		return "", true
	}
	for _, k := range keys {
		if !slices.Contains(as.Keys, k) {
			return k, false
		}
	}
	return "", true
}

// Scope is the part of a property a manager sees in Activity, the
// exposure view and the reports: everything, or only the doors of Keys.
type Scope struct {
	All  bool
	Keys []string
}

// Scope answers what the actor sees of a property in a view that needs p
// (PermActivity for Activity and exposure, PermReports for reports). A
// "specific" manager sees exactly the doors of his keys: the Activity
// entries at those doors (and his own actions), exposure rows at those
// doors, and reports cut to those keys, their doors and the people who
// hold them. Device Management shows every door's sync state and the
// Activity and exposure that go with it, so with it he sees all of those
// (reports are Key Management's alone).
func (a Actor) Scope(propertyID string, p Permission) (Scope, error) {
	if err := a.Can(propertyID, p); err != nil {
		return Scope{}, err
	}
	as, _ := a.Assignment(propertyID)
	if as.KeyManagement != KeyManagementSpecific || (p != PermReports && as.DeviceManagement) {
		return Scope{All: true}, nil
	}
	return Scope{Keys: slices.Clone(as.Keys)}, nil
}

// HasKey reports whether key k is inside the scope.
func (s Scope) HasKey(k string) bool { return s.All || slices.Contains(s.Keys, k) }

// Doors is the set of doors of the scope's keys among keys (nil when the
// scope is everything).
func (s Scope) Doors(keys []Key) map[string]bool {
	if s.All {
		return nil
	}
	out := map[string]bool{}
	for _, k := range keys {
		if slices.Contains(s.Keys, k.ID) {
			for _, d := range k.Doors {
				out[d.DoorID] = true
			}
		}
	}
	return out
}

// CanManageManagers checks that the actor may add managers and set their
// permissions: only Portfolio Managers may.
// CanCorrectTime says whether the actor may start a new time epoch at a
// property. It can move every lock's clock back, and so revive access that
// had run out: only Portfolio Managers, who answer for the whole
// organisation, may.
func (a Actor) CanCorrectTime() error {
	if a.Role != RolePortfolioManager {
		return Errorf(EForbidden, "only Portfolio Managers correct the locks' time")
	}
	return nil
}

// CanRotatePropertyKey says whether the actor may rotate a property's
// signing key. Every lock and phone credential of the property moves to
// the new key, so, like a time correction, only Portfolio Managers may.
func (a Actor) CanRotatePropertyKey() error {
	if a.Role != RolePortfolioManager {
		return Errorf(EForbidden, "only Portfolio Managers rotate a property's signing key")
	}
	return nil
}

func (a Actor) CanManageManagers() error {
	if a.Role != RolePortfolioManager {
		return Errorf(EForbidden, "only Portfolio Managers manage managers")
	}
	return nil
}
