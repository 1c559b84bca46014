package domain

import (
	"slices"
	"strings"
	"time"
)

// Organisation owns properties and managers.
type Organisation struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Property is one building or site with its own doors, keys, people and
// signing key.
type Property struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	TimeZone       string `json:"time_zone"`
	DoorcodeLength int    `json:"doorcode_length"`
	// CredentialLifetimeHours is how long a phone credential stays valid
	// offline; it bounds how long a revoked phone can still open a door that
	// never syncs.
	CredentialLifetimeHours int       `json:"credential_lifetime_hours"`
	CreatedAt               time.Time `json:"created_at"`
}

// Location returns the property's time zone (UTC if it cannot be loaded,
// which validation prevents).
func (p Property) Location() *time.Location {
	loc, err := time.LoadLocation(p.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

type DoorType string

const (
	DoorEntrance  DoorType = "entrance"
	DoorResidence DoorType = "residence"
	DoorService   DoorType = "service"
	DoorCommunal  DoorType = "communal"
)

type Connectivity string

const (
	Online  Connectivity = "online"
	Offline Connectivity = "offline"
)

type Door struct {
	ID           string       `json:"id"`
	PropertyID   string       `json:"property_id"`
	Name         string       `json:"name"`
	Type         DoorType     `json:"type"`
	Connectivity Connectivity `json:"connectivity"`
	UnitID       string       `json:"unit_id,omitempty"`
	LockID       string       `json:"lock_id,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
}

type Unit struct {
	ID         string    `json:"id"`
	PropertyID string    `json:"property_id"`
	Name       string    `json:"name"`
	CreatedAt  time.Time `json:"created_at"`
}

// Key is a named set of doors. Changing a key changes it for every holder.
type Key struct {
	ID         string    `json:"id"`
	PropertyID string    `json:"property_id"`
	Name       string    `json:"name"`
	Doors      []KeyDoor `json:"doors"`
	CreatedAt  time.Time `json:"created_at"`
}

// KeyDoor is one door inside a key.
type KeyDoor struct {
	DoorID    string   `json:"door_id"`
	Doorcodes bool     `json:"doorcodes"`
	Schedule  Schedule `json:"schedule"`
}

// DoorIDs lists the key's doors.
func (k Key) DoorIDs() []string {
	ids := make([]string, len(k.Doors))
	for i, d := range k.Doors {
		ids[i] = d.DoorID
	}
	return ids
}

// ProvidesDoorcodes reports whether any door of the key provides doorcodes.
func (k Key) ProvidesDoorcodes() bool {
	for _, d := range k.Doors {
		if d.Doorcodes {
			return true
		}
	}
	return false
}

type AccessMode string

const (
	AccessApp      AccessMode = "app"
	AccessDoorcode AccessMode = "doorcode"
)

type Status string

const (
	StatusPending Status = "pending"
	StatusActive  Status = "active"
	StatusExpired Status = "expired"
	StatusRevoked Status = "revoked"
	StatusDeleted Status = "deleted"
)

// HoldsAccess reports whether a person with this status holds access now
// or will without a manager acting again: active or pending.
func (s Status) HoldsAccess() bool { return s == StatusActive || s == StatusPending }

// Person is anyone who holds (or held) access at a property: resident,
// non-resident or guest.
type Person struct {
	ID         string     `json:"id"`
	PropertyID string     `json:"property_id"`
	FirstName  string     `json:"first_name"`
	LastName   string     `json:"last_name"`
	Email      string     `json:"email"`
	Phone      string     `json:"phone"`
	Access     AccessMode `json:"access"`
	Resident   bool       `json:"resident"`
	UnitID     string     `json:"unit_id,omitempty"`
	StartsAt   time.Time  `json:"starts_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	InvitedBy  string     `json:"invited_by"` // empty unless a guest
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	DeletedAt  *time.Time `json:"-"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// Name is the display name kept as a snapshot on activity.
func (p Person) Name() string {
	switch {
	case p.FirstName == "":
		return p.LastName
	case p.LastName == "":
		return p.FirstName
	}
	return p.FirstName + " " + p.LastName
}

// Status derives the lifecycle state; it is never stored.
func (p Person) Status(now time.Time) Status {
	switch {
	case p.DeletedAt != nil:
		return StatusDeleted
	case p.RevokedAt != nil:
		return StatusRevoked
	case p.ExpiresAt != nil && !now.Before(*p.ExpiresAt):
		return StatusExpired
	case now.Before(p.StartsAt):
		return StatusPending
	}
	return StatusActive
}

// Grant is person × key. StartsAt/ExpiresAt are the grant's own bounds; the
// effective window is their intersection with the person's window.
type Grant struct {
	PersonID  string     `json:"-"`
	KeyID     string     `json:"key_id"`
	MayShare  bool       `json:"may_share"`
	StartsAt  *time.Time `json:"-"`
	ExpiresAt *time.Time `json:"-"`
	GrantedAt time.Time  `json:"-"`
}

// Window is a half-open time interval [Start, End); End nil means open-ended.
type Window struct {
	Start time.Time
	End   *time.Time
}

// Within reports whether w lies entirely inside outer.
func (w Window) Within(outer Window) bool {
	if w.Start.Before(outer.Start) {
		return false
	}
	if outer.End == nil {
		return true
	}
	return w.End != nil && !w.End.After(*outer.End)
}

// Intersect narrows w by other.
func (w Window) Intersect(other Window) Window {
	out := w
	if other.Start.After(out.Start) {
		out.Start = other.Start
	}
	if other.End != nil && (out.End == nil || other.End.Before(*out.End)) {
		e := *other.End
		out.End = &e
	}
	return out
}

// Window returns the person's own access window.
func (p Person) Window() Window { return Window{Start: p.StartsAt, End: p.ExpiresAt} }

// EffectiveWindow is the window in which the grant opens doors.
func (g Grant) EffectiveWindow(p Person) Window {
	w := p.Window()
	own := Window{Start: w.Start, End: g.ExpiresAt}
	if g.StartsAt != nil {
		own.Start = *g.StartsAt
	}
	return w.Intersect(own)
}

// Doorcode is a person's numeric code at a property.
type Doorcode struct {
	PersonID string
	Code     string
}

// Event is one append-only Activity entry.
type Event struct {
	ID         string    `json:"id"`
	PropertyID string    `json:"-"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	Actor      string    `json:"actor"`
	ActorID    string    `json:"-"`
	PersonID   string    `json:"person_id,omitempty"`
	PersonName string    `json:"person_name,omitempty"`
	DoorID     string    `json:"door_id,omitempty"`
	Detail     string    `json:"detail"`
	// Doors lists the doors an admin change affected (for door filters).
	Doors []string `json:"-"`
}

// Event kinds.
const (
	EventPropertyCreated = "property.created"
	EventPropertyUpdated = "property.updated"
	EventDoorCreated     = "door.created"
	EventUnitCreated     = "unit.created"
	EventKeyCreated      = "key.created"
	EventKeyUpdated      = "key.updated"
	EventKeyDeleted      = "key.deleted"
	EventPersonInvited   = "person.invited"
	EventGuestInvited    = "guest.invited"
	EventPersonUpdated   = "person.updated"
	EventKeyGiven        = "person.key_given"
	EventKeyTaken        = "person.key_taken"
	EventPersonRevoked   = "person.revoked"
	EventPersonDeleted   = "person.deleted"
	EventDoorcodeChanged = "person.doorcode_changed"
	EventManagerAdded    = "manager.added"
	EventManagerAssigned = "manager.assigned"
	EventDoorUnlocked    = "door.unlocked"
	EventDoorDenied      = "door.denied"
	EventDoorSynced      = "door.synced"
)

// DoorChange is one bump of a door's desired-state version.
type DoorChange struct {
	DoorID     string
	Reason     string
	Revocation bool
	// PersonIDs whose access at the door the change narrows; the lock must
	// refuse their credentials issued before the change.
	PersonIDs []string
	// DayKeys are keys whose guest codes the change ended at the door (the
	// key's day secret rotated), Cards the keycard serials it took away,
	// Doorcodes the people whose doorcode it replaced: narrowings that take
	// no person's whole access (revocation notices carry them).
	DayKeys   []string
	Cards     []string
	Doorcodes []string
}

// Narrows reports whether the change names anything a revocation notice
// refuses (people, day keys, cards, doorcodes).
func (c DoorChange) Narrows() bool {
	return len(c.PersonIDs) > 0 || len(c.DayKeys) > 0 || len(c.Cards) > 0 || len(c.Doorcodes) > 0
}

// MergeDoorChanges folds changes to the same door into one, so a single
// request bumps each door's version once. Reasons are joined with "; ",
// each distinct reason once, in first-seen order; it runs in linear time,
// since an import batch merges thousands of changes per door.
func MergeDoorChanges(changes []DoorChange) []DoorChange {
	type merge struct {
		reasons map[string]bool
		parts   []string
		people  map[string]bool
	}
	idx := make(map[string]int, len(changes))
	out := make([]DoorChange, 0, len(changes))
	// ms[i] is made when door out[i] changes a second time: most doors of
	// a large request (a revoke at 1,000 doors) change once, and need no
	// sets.
	var ms []*merge
	for _, c := range changes {
		i, ok := idx[c.DoorID]
		if !ok {
			idx[c.DoorID] = len(out)
			c.PersonIDs, c.DayKeys, c.Cards, c.Doorcodes = slices.Clone(c.PersonIDs), slices.Clone(c.DayKeys), slices.Clone(c.Cards), slices.Clone(c.Doorcodes)
			out = append(out, c)
			ms = append(ms, nil)
			continue
		}
		o, m := &out[i], ms[i]
		if m == nil {
			m = &merge{reasons: map[string]bool{o.Reason: true}, parts: []string{o.Reason}, people: map[string]bool{}}
			for _, p := range o.PersonIDs {
				m.people[p] = true
			}
			ms[i] = m
		}
		o.Revocation = o.Revocation || c.Revocation
		for _, p := range c.PersonIDs {
			if !m.people[p] {
				m.people[p] = true
				o.PersonIDs = append(o.PersonIDs, p)
			}
		}
		// Day keys, cards and doorcodes are few (a guest's code, a card):
		// no sets.
		o.DayKeys, o.Cards, o.Doorcodes = appendNew(o.DayKeys, c.DayKeys), appendNew(o.Cards, c.Cards), appendNew(o.Doorcodes, c.Doorcodes)
		if c.Reason != "" && !m.reasons[c.Reason] {
			m.reasons[c.Reason] = true
			m.parts = append(m.parts, c.Reason)
		}
	}
	for i := range out {
		if ms[i] != nil && len(ms[i].parts) > 1 {
			out[i].Reason = strings.Join(ms[i].parts, "; ")
		}
	}
	return out
}

// appendNew appends the elements of add that list lacks.
func appendNew(list, add []string) []string {
	for _, a := range add {
		if !slices.Contains(list, a) {
			list = append(list, a)
		}
	}
	return list
}

// SyncTask is an offline door whose lock has not acknowledged the latest
// version of its desired state.
type SyncTask struct {
	DoorID             string     `json:"door_id"`
	DoorName           string     `json:"door_name"`
	Version            int64      `json:"version"`
	AckedVersion       int64      `json:"acked_version"`
	PendingChanges     int        `json:"pending_changes"`
	OldestChangeAt     time.Time  `json:"oldest_change_at"`
	IncludesRevocation bool       `json:"includes_revocation"`
	LastSyncedAt       *time.Time `json:"last_synced_at"`
	// Connection is how the door's lock is reached: "bluetooth" (offline
	// door, synced through phones), or for an online door "online",
	// "disconnected" (gone or silent too long) or "never" (store/door_locks.go).
	Connection string     `json:"connection"`
	LastSeenAt *time.Time `json:"last_seen_at"`
}

// PersonView is a person as the API and console show them.
type PersonView struct {
	Person
	Status   Status         `json:"status"`
	Keys     []GrantView    `json:"keys"`
	Guests   []GuestSummary `json:"guests"`
	Doorcode string         `json:"doorcode,omitempty"`
}

// NoKeys is the status People shows for a person whose access window is
// open (or yet to open) but who holds no key, so opens no door: invited
// with no keys, a PMS contact with none, or every key taken. It is a
// display status only: Status, the record's lifecycle, stays what the API
// reports and what every access check reads.
const NoKeys = "no keys"

// ShownStatus is the status People and the person page show: the
// lifecycle status, or NoKeys for a person who would be active or pending
// but holds no key. A guest who opens doors with a code holds no key of
// their own (the code carries the host's), so keeps the lifecycle status.
func (v PersonView) ShownStatus() string {
	if v.Status.HoldsAccess() && len(v.Keys) == 0 && !(v.InvitedBy != "" && v.Access == AccessDoorcode) {
		return NoKeys
	}
	return string(v.Status)
}

// GrantView is one key a person holds, with its effective window.
type GrantView struct {
	KeyID     string     `json:"key_id"`
	Name      string     `json:"name"`
	MayShare  bool       `json:"may_share"`
	StartsAt  time.Time  `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// GuestSummary is a guest as listed on the host's page.
type GuestSummary struct {
	ID        string     `json:"id"`
	FirstName string     `json:"first_name"`
	LastName  string     `json:"last_name"`
	Email     string     `json:"email"`
	Access    AccessMode `json:"access"`
	Status    Status     `json:"status"`
	StartsAt  time.Time  `json:"starts_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

// PeopleFilter selects the People tab.
type PeopleFilter struct {
	Query          string
	IncludeExpired bool
	Cursor         string
	Limit          int
	// Sort is "" or "name" (last then first name), "unit", "status" or
	// "expires"; Desc reverses it. Ties are in name order.
	Sort string
	Desc bool
}

// PeopleSorts are the People columns a list can be sorted by.
var PeopleSorts = []string{"name", "unit", "status", "expires"}
