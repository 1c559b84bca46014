package pms

import (
	"cmp"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"
)

// ContactStatus is a DOOR OS person's derived status.
type ContactStatus string

const (
	ContactActive  ContactStatus = "active"
	ContactPending ContactStatus = "pending"
	ContactExpired ContactStatus = "expired"
	ContactRevoked ContactStatus = "revoked"
)

// Contact is what the planner needs to know about a person already in
// People on the property.
type Contact struct {
	PersonID   string
	ExternalID string // PMS id this person is linked to; "" when not linked
	FirstName  string
	LastName   string
	Email      string
	Phone      string // optional: compared only when the roster has a phone
	UnitID     string // optional: DOOR OS unit id
	Status     ContactStatus
	HasAccess  bool // holds at least one active or pending grant
	// AccessExpiresAt is when the person's access ends, if known. When set,
	// a lease whose end date moved (renewal, early move-out) gives an
	// "expires_at" access change.
	AccessExpiresAt *time.Time
}

// AccessMode is a property's PMS access automation setting.
type AccessMode string

const (
	// ApprovalRequired (the default, also for "" and unknown values) puts
	// every access change in the review queue.
	ApprovalRequired AccessMode = "approval_required"
	// Automatic applies access changes without review.
	Automatic AccessMode = "automatic"
)

// GrantDelay is how long after detection an automatic grant starts, which
// leaves a manager time to stop a wrong roster before doors open.
const GrantDelay = 15 * time.Minute

// Policy is the property's PMS sync configuration.
type Policy struct {
	Access   AccessMode
	KeyIDs   []string // keys a current resident receives
	MayShare bool     // whether those grants let the resident invite guests
}

// Link attaches an existing person to a PMS resident.
type Link struct {
	PersonID   string `json:"person_id"`
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
}

// Create adds a new resident contact (no access by itself).
type Create struct {
	ExternalID string `json:"external_id"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Email      string `json:"email"`
	Phone      string `json:"phone"`
	UnitID     string `json:"unit_id"` // "" when the PMS unit is unknown or unmapped
	Status     Status `json:"status"`
}

// Update fields.
const (
	FieldFirstName = "first_name"
	FieldLastName  = "last_name"
	FieldEmail     = "email"
	FieldPhone     = "phone"
	FieldUnitID    = "unit_id"
	FieldExpiresAt = "expires_at" // an access change: value in RFC 3339, "" for none
)

// Update changes one field of an existing person.
type Update struct {
	PersonID   string `json:"person_id"`
	ExternalID string `json:"external_id"`
	Field      string `json:"field"`
	From       string `json:"from"`
	To         string `json:"to"`
}

// Grant gives Policy.KeyIDs to a person. PersonID is "" for a person this
// plan creates; Email then identifies the Create.
type Grant struct {
	PersonID   string     `json:"person_id"`
	ExternalID string     `json:"external_id"`
	Email      string     `json:"email"`
	KeyIDs     []string   `json:"key_ids"`
	MayShare   bool       `json:"may_share"`
	StartsAt   time.Time  `json:"starts_at"`
	ExpiresAt  *time.Time `json:"expires_at"` // nil when the lease has no end date
}

// Revoke is Revoke All Keys for a person whose lease is past.
type Revoke struct {
	PersonID   string `json:"person_id"`
	ExternalID string `json:"external_id"`
	Email      string `json:"email"`
	Reason     string `json:"reason"`
}

// ReviewReason says why a manager must decide.
type ReviewReason string

const (
	// ReviewApproval: an access change under approval_required; approving
	// applies the attached Grant, Revoke or Update.
	ReviewApproval ReviewReason = "approval_required"
	// ReviewNameMismatch: the email belongs to a person with another name.
	// Never merged automatically.
	ReviewNameMismatch ReviewReason = "name_mismatch"
	// ReviewEmailChanged: a linked resident's email changed in the PMS.
	// Email is the login identity, so it is not changed automatically.
	ReviewEmailChanged ReviewReason = "email_changed"
	// ReviewLinkedElsewhere: the email belongs to a person linked to another
	// PMS resident.
	ReviewLinkedElsewhere ReviewReason = "linked_to_other_resident"
	// ReviewAmbiguous: several people (or several linked records) match.
	ReviewAmbiguous ReviewReason = "ambiguous_match"
	// ReviewRevokedContact: the lease is current but a manager revoked this
	// person's access; the sync does not overrule that on its own.
	ReviewRevokedContact ReviewReason = "revoked_by_manager"
	// ReviewLeaseEnded: the status is current or notice but the lease end
	// date has passed (month-to-month?), so there is no window to grant.
	ReviewLeaseEnded ReviewReason = "lease_end_passed"
)

// Review is an item for the review queue. At most one of Grant, Revoke and
// Update is set: the change that approving would make.
type Review struct {
	Reason     ReviewReason `json:"reason"`
	PersonID   string       `json:"person_id"`
	ExternalID string       `json:"external_id"`
	Email      string       `json:"email"`
	Detail     string       `json:"detail"`
	Grant      *Grant       `json:"grant,omitempty"`
	Revoke     *Revoke      `json:"revoke,omitempty"`
	Update     *Update      `json:"update,omitempty"`
}

// AlertKind classifies alerts and warnings.
type AlertKind string

const (
	AlertDuplicateEmail      AlertKind = "duplicate_email"       // roster residents not imported
	AlertDuplicateExternalID AlertKind = "duplicate_external_id" // roster residents not imported
	AlertMissingEmail        AlertKind = "missing_email"
	AlertInvalidEmail        AlertKind = "invalid_email"
	AlertMissingName         AlertKind = "missing_name"
	AlertNoKeys              AlertKind = "no_keys_configured" // grants were due but Policy.KeyIDs is empty
	WarningUnknownUnit       AlertKind = "unknown_unit"       // resident imported without a unit
)

// Alert reports roster data that was not acted on (in Plan.Alerts) or was
// acted on with a caveat (in Plan.Warnings).
type Alert struct {
	Kind        AlertKind `json:"kind"`
	Email       string    `json:"email"`
	ExternalIDs []string  `json:"external_ids"`
	Unit        string    `json:"unit"`
	Detail      string    `json:"detail"`
}

// Plan is the diff a sync would apply. Every list is ordered by the
// resident's lower-cased email, then external id; Alerts by kind first.
// Running the same roster against the state after applying a plan gives no
// Links, Creates, Updates, Grants or Revokes; Reviews, Alerts and Warnings
// repeat until the data or a manager's decision changes.
type Plan struct {
	Provider string   `json:"provider"`
	Links    []Link   `json:"links"`
	Creates  []Create `json:"creates"`
	Updates  []Update `json:"updates"`
	Grants   []Grant  `json:"grants"`
	Revokes  []Revoke `json:"revokes"`
	Reviews  []Review `json:"reviews"`
	Alerts   []Alert  `json:"alerts"`
	Warnings []Alert  `json:"warnings"`
}

// Empty reports whether the plan changes nothing and asks nothing.
func (p Plan) Empty() bool {
	return len(p.Links)+len(p.Creates)+len(p.Updates)+len(p.Grants)+len(p.Revokes)+
		len(p.Reviews)+len(p.Alerts)+len(p.Warnings) == 0
}

// Reconcile plans how People follow roster, one way (PMS → DOOR OS):
//
//   - a resident already linked (same ExternalID) is updated;
//   - otherwise an email match with the same name (case-insensitive,
//     trimmed) is linked; with another name it goes to review, never merged;
//   - a new resident becomes a contact, except a past one;
//   - residents sharing an email, or an external id, are alerts, not imports;
//   - units map through units (PMS unit → DOOR OS unit id); an unknown unit
//     is a warning;
//   - access: current and notice grant Policy.KeyIDs from now+GrantDelay
//     until the end of the lease end date; past revokes; future waits.
//     Under approval_required each of these is a review instead;
//   - a contact missing from the roster is left alone: a PMS deletion never
//     deletes or revokes here.
//
// Reconcile is a pure function of its arguments. (It is not called Plan
// because Go does not allow a function and a type of one name.)
func Reconcile(roster Roster, existing []Contact, units map[string]string, policy Policy, now time.Time) Plan {
	p := &planner{
		plan:   Plan{Provider: roster.Provider},
		policy: policy,
		now:    now,
		units:  make(map[string]string, len(units)),
		byExt:  make(map[string][]int),
		byMail: make(map[string][]int),
		exist:  existing,
	}
	for k, v := range units {
		p.units[unitKey(k)] = v
	}
	for i, c := range existing {
		if c.ExternalID != "" {
			p.byExt[c.ExternalID] = append(p.byExt[c.ExternalID], i)
		}
		if k := emailKey(c.Email); k != "" {
			p.byMail[k] = append(p.byMail[k], i)
		}
	}
	for _, r := range p.screen(roster.Residents) {
		p.resident(r)
	}
	if p.keysMissing > 0 {
		p.plan.Alerts = append(p.plan.Alerts, Alert{Kind: AlertNoKeys,
			Detail: fmt.Sprintf("%d current residents would receive access but no keys are configured for PMS sync", p.keysMissing)})
	}
	sortAlerts(p.plan.Alerts)
	sortAlerts(p.plan.Warnings)
	return p.plan
}

type planner struct {
	plan        Plan
	policy      Policy
	now         time.Time
	units       map[string]string
	exist       []Contact
	byExt       map[string][]int
	byMail      map[string][]int
	keysMissing int
}

// screen drops residents that cannot be imported, with an alert each, and
// returns the rest in plan order.
func (p *planner) screen(in []Resident) []Resident {
	alert := func(kind AlertKind, r Resident, detail string) {
		a := Alert{Kind: kind, Email: strings.TrimSpace(r.Email), Detail: detail}
		if r.ExternalID != "" {
			a.ExternalIDs = []string{r.ExternalID}
		}
		p.plan.Alerts = append(p.plan.Alerts, a)
	}
	var ok []Resident
	for _, r := range in {
		r.FirstName, r.LastName = strings.TrimSpace(r.FirstName), strings.TrimSpace(r.LastName)
		r.Email = strings.TrimSpace(r.Email)
		switch {
		case r.Email == "":
			alert(AlertMissingEmail, r, "no email: email identifies a person in DOOR OS")
		case !validEmail(r.Email):
			alert(AlertInvalidEmail, r, fmt.Sprintf("%q is not an email address", r.Email))
		case r.FirstName == "" && r.LastName == "":
			alert(AlertMissingName, r, "no name")
		default:
			ok = append(ok, r)
		}
	}
	// Residents sharing an email (a couple using one address, a typo)
	// would merge two people into one login: none of them is imported.
	ok = dropDuplicates(ok, func(r Resident) string { return emailKey(r.Email) }, func(k string, rs []Resident) {
		p.plan.Alerts = append(p.plan.Alerts, Alert{Kind: AlertDuplicateEmail, Email: rs[0].Email, ExternalIDs: externalIDs(rs),
			Detail: fmt.Sprintf("%d roster residents share this email; none imported until the PMS is corrected", len(rs))})
	})
	ok = dropDuplicates(ok, func(r Resident) string { return r.ExternalID }, func(k string, rs []Resident) {
		p.plan.Alerts = append(p.plan.Alerts, Alert{Kind: AlertDuplicateExternalID, Email: rs[0].Email, ExternalIDs: []string{k},
			Detail: fmt.Sprintf("%d roster residents share this external id; none imported", len(rs))})
	})
	slices.SortFunc(ok, func(a, b Resident) int {
		return cmp.Or(cmp.Compare(emailKey(a.Email), emailKey(b.Email)), cmp.Compare(a.ExternalID, b.ExternalID))
	})
	return ok
}

// dropDuplicates removes every resident whose key ("" never counts) is
// shared with another, calling report once per shared key in key order.
func dropDuplicates(rs []Resident, key func(Resident) string, report func(string, []Resident)) []Resident {
	groups := make(map[string][]Resident)
	for _, r := range rs {
		if k := key(r); k != "" {
			groups[k] = append(groups[k], r)
		}
	}
	var dups []string
	for k, g := range groups {
		if len(g) > 1 {
			dups = append(dups, k)
		}
	}
	if len(dups) == 0 {
		return rs
	}
	slices.Sort(dups)
	for _, k := range dups {
		report(k, groups[k])
	}
	return slices.DeleteFunc(rs, func(r Resident) bool { k := key(r); return k != "" && len(groups[k]) > 1 })
}

func (p *planner) resident(r Resident) {
	unitID, unitKnown := p.unit(r)
	review := func(reason ReviewReason, c *Contact, detail string) {
		rv := Review{Reason: reason, ExternalID: r.ExternalID, Email: r.Email, Detail: detail}
		if c != nil {
			rv.PersonID = c.PersonID
		}
		p.plan.Reviews = append(p.plan.Reviews, rv)
	}

	if r.ExternalID != "" {
		switch linked := p.byExt[r.ExternalID]; len(linked) {
		case 0:
		case 1:
			p.follow(r, &p.exist[linked[0]], unitID, unitKnown)
			return
		default:
			review(ReviewAmbiguous, nil, fmt.Sprintf("%d people are linked to this PMS resident", len(linked)))
			return
		}
	}
	matches := p.byMail[emailKey(r.Email)]
	switch len(matches) {
	case 0:
		if r.Status == StatusPast {
			return // a former resident who never had a contact here: nothing to do
		}
		p.plan.Creates = append(p.plan.Creates, Create{ExternalID: r.ExternalID, FirstName: r.FirstName, LastName: r.LastName,
			Email: r.Email, Phone: r.Phone, UnitID: unitID, Status: r.Status})
		if r.Status == StatusCurrent || r.Status == StatusNotice {
			p.grant(r, &Contact{Email: r.Email})
		}
	case 1:
		c := &p.exist[matches[0]]
		switch {
		case c.ExternalID != "" && c.ExternalID != r.ExternalID:
			review(ReviewLinkedElsewhere, c, fmt.Sprintf("%s %s is linked to PMS resident %s", c.FirstName, c.LastName, c.ExternalID))
		case !sameName(c.FirstName, r.FirstName) || !sameName(c.LastName, r.LastName):
			review(ReviewNameMismatch, c, fmt.Sprintf("PMS has %s %s, DOOR OS has %s %s", r.FirstName, r.LastName, c.FirstName, c.LastName))
		default:
			if r.ExternalID != "" {
				p.plan.Links = append(p.plan.Links, Link{PersonID: c.PersonID, ExternalID: r.ExternalID, Email: r.Email})
			}
			p.follow(r, c, unitID, unitKnown)
		}
	default:
		review(ReviewAmbiguous, nil, fmt.Sprintf("%d people have this email", len(matches)))
	}
}

// unit maps the resident's PMS unit, warning when it is not mapped.
func (p *planner) unit(r Resident) (string, bool) {
	if strings.TrimSpace(r.Unit) == "" {
		return "", false
	}
	id, ok := p.units[unitKey(r.Unit)]
	if !ok {
		a := Alert{Kind: WarningUnknownUnit, Email: r.Email, Unit: r.Unit,
			Detail: fmt.Sprintf("PMS unit %q is not mapped to a DOOR OS unit", r.Unit)}
		if r.ExternalID != "" {
			a.ExternalIDs = []string{r.ExternalID}
		}
		p.plan.Warnings = append(p.plan.Warnings, a)
	}
	return id, ok
}

// follow brings a linked contact in line with its roster entry.
func (p *planner) follow(r Resident, c *Contact, unitID string, unitKnown bool) {
	update := func(field, from, to string) {
		p.plan.Updates = append(p.plan.Updates, Update{PersonID: c.PersonID, ExternalID: r.ExternalID, Field: field, From: from, To: to})
	}
	if emailKey(c.Email) != emailKey(r.Email) {
		p.plan.Reviews = append(p.plan.Reviews, Review{Reason: ReviewEmailChanged, PersonID: c.PersonID, ExternalID: r.ExternalID,
			Email: r.Email, Detail: fmt.Sprintf("email changed in the PMS from %s to %s", c.Email, r.Email),
			Update: &Update{PersonID: c.PersonID, ExternalID: r.ExternalID, Field: FieldEmail, From: c.Email, To: r.Email}})
	}
	if r.FirstName != "" && !sameName(c.FirstName, r.FirstName) {
		update(FieldFirstName, c.FirstName, r.FirstName)
	}
	if r.LastName != "" && !sameName(c.LastName, r.LastName) {
		update(FieldLastName, c.LastName, r.LastName)
	}
	if r.Phone != "" && r.Phone != c.Phone {
		update(FieldPhone, c.Phone, r.Phone)
	}
	if unitKnown && unitID != c.UnitID {
		update(FieldUnitID, c.UnitID, unitID)
	}

	switch r.Status {
	case StatusCurrent, StatusNotice:
		switch {
		case c.Status == ContactRevoked:
			p.plan.Reviews = append(p.plan.Reviews, Review{Reason: ReviewRevokedContact, PersonID: c.PersonID,
				ExternalID: r.ExternalID, Email: r.Email, Detail: "lease is " + string(r.Status) + " but a manager revoked this person's access",
				Grant: p.proposedGrant(r, c)})
		case !c.HasAccess:
			p.grant(r, c)
		case c.AccessExpiresAt != nil:
			end := leaseAccessEnd(r)
			if end != nil && !end.Equal(*c.AccessExpiresAt) && end.After(p.now) {
				p.access(r, c, nil, nil, &Update{PersonID: c.PersonID, ExternalID: r.ExternalID, Field: FieldExpiresAt,
					From: c.AccessExpiresAt.Format(time.RFC3339), To: end.Format(time.RFC3339)})
			}
		}
	case StatusPast:
		if c.HasAccess {
			p.access(r, c, nil, &Revoke{PersonID: c.PersonID, ExternalID: r.ExternalID, Email: r.Email, Reason: "lease is past"}, nil)
		}
	}
}

// grant proposes access for a current or notice resident without it.
func (p *planner) grant(r Resident, c *Contact) {
	g := p.proposedGrant(r, c)
	if g.ExpiresAt != nil && !g.ExpiresAt.After(g.StartsAt) {
		p.plan.Reviews = append(p.plan.Reviews, Review{Reason: ReviewLeaseEnded, PersonID: c.PersonID, ExternalID: r.ExternalID,
			Email: r.Email, Detail: fmt.Sprintf("lease is %s but ended on %s", r.Status, r.LeaseEnd.Format(time.DateOnly))})
		return
	}
	if len(p.policy.KeyIDs) == 0 {
		p.keysMissing++
		return
	}
	p.access(r, c, g, nil, nil)
}

func (p *planner) proposedGrant(r Resident, c *Contact) *Grant {
	start := p.now.Add(GrantDelay)
	if r.LeaseStart != nil && r.LeaseStart.After(start) {
		start = *r.LeaseStart
	}
	return &Grant{PersonID: c.PersonID, ExternalID: r.ExternalID, Email: r.Email,
		KeyIDs: slices.Clone(p.policy.KeyIDs), MayShare: p.policy.MayShare, StartsAt: start, ExpiresAt: leaseAccessEnd(r)}
}

// access applies or queues one access change according to the policy.
func (p *planner) access(r Resident, c *Contact, g *Grant, rv *Revoke, u *Update) {
	if p.policy.Access == Automatic {
		switch {
		case g != nil:
			p.plan.Grants = append(p.plan.Grants, *g)
		case rv != nil:
			p.plan.Revokes = append(p.plan.Revokes, *rv)
		case u != nil:
			p.plan.Updates = append(p.plan.Updates, *u)
		}
		return
	}
	detail := "grant " + strings.Join(p.policy.KeyIDs, ", ")
	switch {
	case rv != nil:
		detail = "revoke all keys: lease is past"
	case u != nil:
		detail = fmt.Sprintf("change access end from %s to %s", u.From, u.To)
	}
	p.plan.Reviews = append(p.plan.Reviews, Review{Reason: ReviewApproval, PersonID: c.PersonID, ExternalID: r.ExternalID,
		Email: r.Email, Detail: detail, Grant: g, Revoke: rv, Update: u})
}

// leaseAccessEnd is when access from a lease ends: midnight at the end of
// the lease end date, in the date's own time zone (the property's).
func leaseAccessEnd(r Resident) *time.Time {
	if r.LeaseEnd == nil {
		return nil
	}
	e := *r.LeaseEnd
	if h, m, s := e.Clock(); h == 0 && m == 0 && s == 0 && e.Nanosecond() == 0 {
		e = e.AddDate(0, 0, 1)
	}
	return &e
}

func emailKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func unitKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// sameName compares names ignoring case and surrounding or repeated spaces.
func sameName(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

func externalIDs(rs []Resident) []string {
	var ids []string
	for _, r := range rs {
		if r.ExternalID != "" {
			ids = append(ids, r.ExternalID)
		}
	}
	slices.Sort(ids)
	return ids
}

func sortAlerts(as []Alert) {
	slices.SortStableFunc(as, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(emailKey(a.Email), emailKey(b.Email)),
			slices.Compare(a.ExternalIDs, b.ExternalIDs))
	})
}
