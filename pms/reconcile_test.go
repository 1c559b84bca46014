package pms_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/dooros/dooros/pms"
)

var ny = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic(err)
	}
	return loc
}()

func day(y int, m time.Month, d int) *time.Time {
	t := time.Date(y, m, d, 0, 0, 0, 0, ny)
	return &t
}

var (
	now       = time.Date(2026, 6, 1, 12, 0, 0, 0, ny)
	grantFrom = now.Add(15 * time.Minute)
	leaseEnd  = day(2026, 12, 31)
	accessEnd = day(2027, 1, 1) // end of the lease end date
	keys      = []string{"k-entrance", "k-gym"}
	units     = map[string]string{"101": "u-101", "A 202": "u-202"}
	auto      = pms.Policy{Access: pms.Automatic, KeyIDs: keys}
	approval  = pms.Policy{KeyIDs: keys} // zero Access is approval_required
)

func jane(mod ...func(*pms.Resident)) pms.Resident {
	r := pms.Resident{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com",
		Phone: "555-0101", Unit: "101", LeaseStart: day(2026, 1, 1), LeaseEnd: leaseEnd, Status: pms.StatusCurrent}
	for _, m := range mod {
		m(&r)
	}
	return r
}

func janeContact(mod ...func(*pms.Contact)) pms.Contact {
	c := pms.Contact{PersonID: "p1", ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com",
		Phone: "555-0101", UnitID: "u-101", Status: pms.ContactActive, HasAccess: true}
	for _, m := range mod {
		m(&c)
	}
	return c
}

func unlinked(c *pms.Contact) { c.ExternalID = "" }
func noAccess(c *pms.Contact) { c.HasAccess = false; c.Status = pms.ContactExpired }

func status(s pms.Status) func(*pms.Resident) { return func(r *pms.Resident) { r.Status = s } }

func janeGrant(personID string) pms.Grant {
	return pms.Grant{PersonID: personID, ExternalID: "r1", Email: "jane@example.com", KeyIDs: keys, StartsAt: grantFrom, ExpiresAt: accessEnd}
}

func ptr[T any](v T) *T { return &v }

func TestReconcile(t *testing.T) {
	for _, tt := range []struct {
		name     string
		roster   []pms.Resident
		existing []pms.Contact
		policy   pms.Policy
		want     pms.Plan
	}{
		{
			name:     "LinkOnNameAndEmail",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.FirstName, r.LastName, r.Email = " jane ", "DOE", " Jane@Example.COM " })},
			existing: []pms.Contact{janeContact(unlinked)},
			policy:   auto,
			want:     pms.Plan{Links: []pms.Link{{PersonID: "p1", ExternalID: "r1", Email: "Jane@Example.COM"}}},
		},
		{
			name:     "LinkThenGrantWhenNoAccess",
			roster:   []pms.Resident{jane()},
			existing: []pms.Contact{janeContact(unlinked, noAccess)},
			policy:   auto,
			want: pms.Plan{Links: []pms.Link{{PersonID: "p1", ExternalID: "r1", Email: "jane@example.com"}},
				Grants: []pms.Grant{janeGrant("p1")}},
		},
		{
			name:     "AlreadyLinkedNoChange",
			roster:   []pms.Resident{jane()},
			existing: []pms.Contact{janeContact()},
			policy:   auto,
			want:     pms.Plan{},
		},
		{
			name:     "NameMismatchIsReviewedNeverMerged",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.FirstName = "John" })},
			existing: []pms.Contact{janeContact(unlinked, noAccess)},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewNameMismatch, PersonID: "p1", ExternalID: "r1",
				Email: "jane@example.com", Detail: "PMS has John Doe, DOOR OS has Jane Doe"}}},
		},
		{
			name:     "NameMismatchPastDoesNotRevoke",
			roster:   []pms.Resident{jane(status(pms.StatusPast), func(r *pms.Resident) { r.LastName = "Smith" })},
			existing: []pms.Contact{janeContact(unlinked)},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewNameMismatch, PersonID: "p1", ExternalID: "r1",
				Email: "jane@example.com", Detail: "PMS has Jane Smith, DOOR OS has Jane Doe"}}},
		},
		{
			name: "DuplicateEmailsAreAlertsNotImports",
			roster: []pms.Resident{
				jane(), jane(func(r *pms.Resident) { r.ExternalID, r.FirstName, r.Email = "r2", "John", "JANE@example.com" }),
				{ExternalID: "r3", FirstName: "Ann", LastName: "Lee", Email: "ann@example.com", Status: pms.StatusFuture},
			},
			policy: auto,
			want: pms.Plan{
				Creates: []pms.Create{{ExternalID: "r3", FirstName: "Ann", LastName: "Lee", Email: "ann@example.com", Status: pms.StatusFuture}},
				Alerts: []pms.Alert{{Kind: pms.AlertDuplicateEmail, Email: "jane@example.com", ExternalIDs: []string{"r1", "r2"},
					Detail: "2 roster residents share this email; none imported until the PMS is corrected"}},
			},
		},
		{
			name:   "DuplicateExternalIDs",
			roster: []pms.Resident{jane(), jane(func(r *pms.Resident) { r.Email = "other@example.com" })},
			policy: auto,
			want: pms.Plan{Alerts: []pms.Alert{{Kind: pms.AlertDuplicateExternalID, Email: "jane@example.com", ExternalIDs: []string{"r1"},
				Detail: "2 roster residents share this external id; none imported"}}},
		},
		{
			name: "UnusableResidentsAreAlerts",
			roster: []pms.Resident{
				jane(func(r *pms.Resident) { r.Email = " " }),
				jane(func(r *pms.Resident) { r.ExternalID, r.Email = "r2", "Jane Doe <j@example.com>" }),
				jane(func(r *pms.Resident) { r.ExternalID, r.Email, r.FirstName, r.LastName = "r3", "x@example.com", "", " " }),
			},
			policy: auto,
			want: pms.Plan{Alerts: []pms.Alert{
				{Kind: pms.AlertInvalidEmail, Email: "Jane Doe <j@example.com>", ExternalIDs: []string{"r2"}, Detail: `"Jane Doe <j@example.com>" is not an email address`},
				{Kind: pms.AlertMissingEmail, ExternalIDs: []string{"r1"}, Detail: "no email: email identifies a person in DOOR OS"},
				{Kind: pms.AlertMissingName, Email: "x@example.com", ExternalIDs: []string{"r3"}, Detail: "no name"},
			}},
		},
		{
			name:   "NewCurrentResidentApprovalRequired",
			roster: []pms.Resident{jane()},
			policy: approval,
			want: pms.Plan{
				Creates: []pms.Create{{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Phone: "555-0101", UnitID: "u-101", Status: pms.StatusCurrent}},
				Reviews: []pms.Review{{Reason: pms.ReviewApproval, ExternalID: "r1", Email: "jane@example.com",
					Detail: "grant k-entrance, k-gym", Grant: ptr(janeGrant(""))}},
			},
		},
		{
			name:   "NewCurrentResidentAutomatic",
			roster: []pms.Resident{jane()},
			policy: pms.Policy{Access: pms.Automatic, KeyIDs: keys, MayShare: true},
			want: pms.Plan{
				Creates: []pms.Create{{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Phone: "555-0101", UnitID: "u-101", Status: pms.StatusCurrent}},
				Grants:  []pms.Grant{func() pms.Grant { g := janeGrant(""); g.MayShare = true; return g }()},
			},
		},
		{
			name:     "NoticeGrantsUntilLeaseEnd",
			roster:   []pms.Resident{jane(status(pms.StatusNotice), func(r *pms.Resident) { r.LeaseEnd = day(2026, 6, 30) })},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   auto,
			want:     pms.Plan{Grants: []pms.Grant{func() pms.Grant { g := janeGrant("p1"); g.ExpiresAt = day(2026, 7, 1); return g }()}},
		},
		{
			name:   "NewFutureResidentGetsContactNoAccess",
			roster: []pms.Resident{jane(status(pms.StatusFuture))},
			policy: auto,
			want: pms.Plan{Creates: []pms.Create{{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com",
				Phone: "555-0101", UnitID: "u-101", Status: pms.StatusFuture}}},
		},
		{
			name:   "NewPastResidentIsIgnored",
			roster: []pms.Resident{jane(status(pms.StatusPast))},
			policy: auto,
			want:   pms.Plan{},
		},
		{
			name:     "PastRevokesAutomatic",
			roster:   []pms.Resident{jane(status(pms.StatusPast))},
			existing: []pms.Contact{janeContact()},
			policy:   auto,
			want:     pms.Plan{Revokes: []pms.Revoke{{PersonID: "p1", ExternalID: "r1", Email: "jane@example.com", Reason: "lease is past"}}},
		},
		{
			name:     "PastRevokeNeedsApproval",
			roster:   []pms.Resident{jane(status(pms.StatusPast))},
			existing: []pms.Contact{janeContact()},
			policy:   approval,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewApproval, PersonID: "p1", ExternalID: "r1", Email: "jane@example.com",
				Detail: "revoke all keys: lease is past", Revoke: &pms.Revoke{PersonID: "p1", ExternalID: "r1", Email: "jane@example.com", Reason: "lease is past"}}}},
		},
		{
			name:     "PastWithoutAccessNothingToDo",
			roster:   []pms.Resident{jane(status(pms.StatusPast))},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   auto,
			want:     pms.Plan{},
		},
		{
			name:     "MissingFromRosterIsNeverTouched",
			roster:   nil,
			existing: []pms.Contact{janeContact(), janeContact(unlinked, func(c *pms.Contact) { c.PersonID, c.Email = "p2", "x@example.com" })},
			policy:   auto,
			want:     pms.Plan{},
		},
		{
			name:   "UnknownUnitWarns",
			roster: []pms.Resident{jane(status(pms.StatusFuture), func(r *pms.Resident) { r.Unit = "999" })},
			policy: auto,
			want: pms.Plan{
				Creates: []pms.Create{{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com", Phone: "555-0101", Status: pms.StatusFuture}},
				Warnings: []pms.Alert{{Kind: pms.WarningUnknownUnit, Email: "jane@example.com", ExternalIDs: []string{"r1"}, Unit: "999",
					Detail: `PMS unit "999" is not mapped to a DOOR OS unit`}},
			},
		},
		{
			name:   "UnitMappedIgnoringCaseAndSpaces",
			roster: []pms.Resident{jane(status(pms.StatusFuture), func(r *pms.Resident) { r.Unit = " a  202 " })},
			policy: auto,
			want: pms.Plan{Creates: []pms.Create{{ExternalID: "r1", FirstName: "Jane", LastName: "Doe", Email: "jane@example.com",
				Phone: "555-0101", UnitID: "u-202", Status: pms.StatusFuture}}},
		},
		{
			name:     "LinkedContactFieldUpdates",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LastName, r.Phone, r.Unit = "Doe-Smith", "555-0199", "A 202" })},
			existing: []pms.Contact{janeContact()},
			policy:   approval, // contact fields are not access changes
			want: pms.Plan{Updates: []pms.Update{
				{PersonID: "p1", ExternalID: "r1", Field: pms.FieldLastName, From: "Doe", To: "Doe-Smith"},
				{PersonID: "p1", ExternalID: "r1", Field: pms.FieldPhone, From: "555-0101", To: "555-0199"},
				{PersonID: "p1", ExternalID: "r1", Field: pms.FieldUnitID, From: "u-101", To: "u-202"},
			}},
		},
		{
			name:     "EmptyRosterPhoneKeepsContactPhone",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.Phone = "" })},
			existing: []pms.Contact{janeContact()},
			policy:   auto,
			want:     pms.Plan{},
		},
		{
			name:     "LinkedEmailChangeIsReviewed",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.Email = "jane.doe@example.org" })},
			existing: []pms.Contact{janeContact()},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewEmailChanged, PersonID: "p1", ExternalID: "r1", Email: "jane.doe@example.org",
				Detail: "email changed in the PMS from jane@example.com to jane.doe@example.org",
				Update: &pms.Update{PersonID: "p1", ExternalID: "r1", Field: pms.FieldEmail, From: "jane@example.com", To: "jane.doe@example.org"}}}},
		},
		{
			name:     "EmailOfContactLinkedToAnotherResident",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.ExternalID = "r9" })},
			existing: []pms.Contact{janeContact()},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewLinkedElsewhere, PersonID: "p1", ExternalID: "r9", Email: "jane@example.com",
				Detail: "Jane Doe is linked to PMS resident r1"}}},
		},
		{
			name:     "SeveralContactsWithTheEmail",
			roster:   []pms.Resident{jane()},
			existing: []pms.Contact{janeContact(unlinked), janeContact(unlinked, func(c *pms.Contact) { c.PersonID = "p2" })},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewAmbiguous, ExternalID: "r1", Email: "jane@example.com",
				Detail: "2 people have this email"}}},
		},
		{
			name:     "RevokedByManagerIsNotRegrantedAutomatically",
			roster:   []pms.Resident{jane()},
			existing: []pms.Contact{janeContact(func(c *pms.Contact) { c.Status, c.HasAccess = pms.ContactRevoked, false })},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewRevokedContact, PersonID: "p1", ExternalID: "r1", Email: "jane@example.com",
				Detail: "lease is current but a manager revoked this person's access", Grant: ptr(janeGrant("p1"))}}},
		},
		{
			name:     "CurrentWithPassedLeaseEndIsReviewed",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LeaseEnd = day(2026, 5, 31) })},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   auto,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewLeaseEnded, PersonID: "p1", ExternalID: "r1", Email: "jane@example.com",
				Detail: "lease is current but ended on 2026-05-31"}}},
		},
		{
			name:     "NoLeaseEndGrantsWithoutEnd",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LeaseEnd = nil })},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   auto,
			want:     pms.Plan{Grants: []pms.Grant{func() pms.Grant { g := janeGrant("p1"); g.ExpiresAt = nil; return g }()}},
		},
		{
			name:     "CurrentWithLaterLeaseStartWaitsForIt",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LeaseStart = day(2026, 6, 15) })},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   auto,
			want:     pms.Plan{Grants: []pms.Grant{func() pms.Grant { g := janeGrant("p1"); g.StartsAt = *day(2026, 6, 15); return g }()}},
		},
		{
			name:     "NoKeysConfiguredIsAnAlert",
			roster:   []pms.Resident{jane()},
			existing: []pms.Contact{janeContact(noAccess)},
			policy:   pms.Policy{Access: pms.Automatic},
			want: pms.Plan{Alerts: []pms.Alert{{Kind: pms.AlertNoKeys,
				Detail: "1 current residents would receive access but no keys are configured for PMS sync"}}},
		},
		{
			name:     "LeaseRenewalMovesAccessEnd",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LeaseEnd = day(2027, 12, 31) })},
			existing: []pms.Contact{janeContact(func(c *pms.Contact) { c.AccessExpiresAt = accessEnd })},
			policy:   auto,
			want: pms.Plan{Updates: []pms.Update{{PersonID: "p1", ExternalID: "r1", Field: pms.FieldExpiresAt,
				From: "2027-01-01T00:00:00-05:00", To: "2028-01-01T00:00:00-05:00"}}},
		},
		{
			name:     "LeaseRenewalNeedsApproval",
			roster:   []pms.Resident{jane(func(r *pms.Resident) { r.LeaseEnd = day(2027, 12, 31) })},
			existing: []pms.Contact{janeContact(func(c *pms.Contact) { c.AccessExpiresAt = accessEnd })},
			policy:   approval,
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewApproval, PersonID: "p1", ExternalID: "r1", Email: "jane@example.com",
				Detail: "change access end from 2027-01-01T00:00:00-05:00 to 2028-01-01T00:00:00-05:00",
				Update: &pms.Update{PersonID: "p1", ExternalID: "r1", Field: pms.FieldExpiresAt, From: "2027-01-01T00:00:00-05:00", To: "2028-01-01T00:00:00-05:00"}}}},
		},
		{
			name:     "UnknownAccessModeMeansApproval",
			roster:   []pms.Resident{jane(status(pms.StatusPast))},
			existing: []pms.Contact{janeContact()},
			policy:   pms.Policy{Access: "automatik", KeyIDs: keys},
			want: pms.Plan{Reviews: []pms.Review{{Reason: pms.ReviewApproval, PersonID: "p1", ExternalID: "r1", Email: "jane@example.com",
				Detail: "revoke all keys: lease is past", Revoke: &pms.Revoke{PersonID: "p1", ExternalID: "r1", Email: "jane@example.com", Reason: "lease is past"}}}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := pms.Reconcile(pms.Roster{Provider: "test", Residents: tt.roster}, tt.existing, units, tt.policy, now)
			tt.want.Provider = "test"
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("plan\ngot  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// The plan does not depend on the order of the roster or of People.
func TestReconcile_Deterministic(t *testing.T) {
	roster, existing := syntheticRoster(300, 300, 40)
	want := pms.Reconcile(roster, existing, syntheticUnits(), auto, now)
	if want.Empty() {
		t.Fatal("synthetic roster gives an empty plan")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 5 {
		r2 := pms.Roster{Provider: roster.Provider, Residents: slices.Clone(roster.Residents)}
		e2 := slices.Clone(existing)
		rng.Shuffle(len(r2.Residents), func(i, j int) { r2.Residents[i], r2.Residents[j] = r2.Residents[j], r2.Residents[i] })
		rng.Shuffle(len(e2), func(i, j int) { e2[i], e2[j] = e2[j], e2[i] })
		if got := pms.Reconcile(r2, e2, syntheticUnits(), auto, now); !reflect.DeepEqual(got, want) {
			t.Fatal("plan changed with input order")
		}
	}
}

// Applying a plan and planning again changes nothing twice.
func TestReconcile_SecondRunChangesNothing(t *testing.T) {
	roster, existing := syntheticRoster(300, 300, 40)
	plan := pms.Reconcile(roster, existing, syntheticUnits(), auto, now)
	if len(plan.Creates) == 0 || len(plan.Grants) == 0 || len(plan.Revokes) == 0 || len(plan.Links) == 0 || len(plan.Updates) == 0 {
		t.Fatalf("synthetic roster does not exercise every action: %d creates %d grants %d revokes %d links %d updates",
			len(plan.Creates), len(plan.Grants), len(plan.Revokes), len(plan.Links), len(plan.Updates))
	}
	after := apply(existing, plan)
	again := pms.Reconcile(roster, after, syntheticUnits(), auto, now.Add(time.Hour))
	if n := len(again.Links) + len(again.Creates) + len(again.Updates) + len(again.Grants) + len(again.Revokes); n != 0 {
		t.Fatalf("second run plans %d changes: %+v", n, again)
	}
	if !reflect.DeepEqual(again.Reviews, plan.Reviews) {
		t.Fatalf("reviews changed:\n%+v\n%+v", again.Reviews, plan.Reviews)
	}
}

// apply plays a plan onto contacts the way the store would.
func apply(existing []pms.Contact, plan pms.Plan) []pms.Contact {
	out := slices.Clone(existing)
	idx := make(map[string]int)
	for i, c := range out {
		idx[c.PersonID] = i
	}
	for _, l := range plan.Links {
		out[idx[l.PersonID]].ExternalID = l.ExternalID
	}
	for i, c := range plan.Creates {
		id := "new-" + string(rune('a'+i%26)) + c.Email
		idx[id] = len(out)
		idx[c.Email] = len(out)
		out = append(out, pms.Contact{PersonID: id, ExternalID: c.ExternalID, FirstName: c.FirstName, LastName: c.LastName,
			Email: c.Email, Phone: c.Phone, UnitID: c.UnitID, Status: pms.ContactPending})
	}
	for _, u := range plan.Updates {
		c := &out[idx[u.PersonID]]
		switch u.Field {
		case pms.FieldFirstName:
			c.FirstName = u.To
		case pms.FieldLastName:
			c.LastName = u.To
		case pms.FieldPhone:
			c.Phone = u.To
		case pms.FieldUnitID:
			c.UnitID = u.To
		case pms.FieldExpiresAt:
			t, _ := time.Parse(time.RFC3339, u.To)
			c.AccessExpiresAt = &t
		}
	}
	for _, g := range plan.Grants {
		key := g.PersonID
		if key == "" {
			key = g.Email
		}
		c := &out[idx[key]]
		c.HasAccess, c.Status, c.AccessExpiresAt = true, pms.ContactPending, g.ExpiresAt
	}
	for _, r := range plan.Revokes {
		c := &out[idx[r.PersonID]]
		c.HasAccess, c.Status = false, pms.ContactRevoked
	}
	return out
}
