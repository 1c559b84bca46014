package pms_test

import (
	"fmt"
	"time"

	"github.com/dooros/dooros/pms"
)

func syntheticUnits() map[string]string {
	m := make(map[string]string)
	for u := 100; u < 500; u++ {
		m[fmt.Sprint(u)] = fmt.Sprintf("unit-%d", u)
	}
	return m
}

// syntheticRoster returns a roster of n residents and n matching, linked
// contacts with access, then makes `changes` of them differ, cycling
// through: lease past (revoke), a new resident (create + grant), an
// unlinked contact (link), a new phone (update), a contact without access
// (grant), and a name mismatch (review).
func syntheticRoster(n, _ int, changes int) (pms.Roster, []pms.Contact) {
	roster := pms.Roster{Provider: "synthetic", Residents: make([]pms.Resident, n)}
	existing := make([]pms.Contact, n)
	for i := range n {
		start := time.Date(2026, time.Month(1+i%12), 1, 0, 0, 0, 0, ny).AddDate(-1, 0, 0)
		end := start.AddDate(1, 0, -1).AddDate(0, 6, 0)
		if !end.After(now) {
			end = end.AddDate(1, 0, 0)
		}
		r := pms.Resident{ExternalID: fmt.Sprintf("t%06d", i), FirstName: fmt.Sprintf("First%d", i), LastName: fmt.Sprintf("Last%d", i),
			Email: fmt.Sprintf("person%d@example.com", i), Phone: fmt.Sprintf("555-%04d", i%10000), Unit: fmt.Sprint(100 + i%400),
			LeaseStart: &start, LeaseEnd: &end, Status: pms.StatusCurrent}
		roster.Residents[i] = r
		accessEnd := end.AddDate(0, 0, 1)
		existing[i] = pms.Contact{PersonID: fmt.Sprintf("p%06d", i), ExternalID: r.ExternalID, FirstName: r.FirstName, LastName: r.LastName,
			Email: r.Email, Phone: r.Phone, UnitID: fmt.Sprintf("unit-%d", 100+i%400), Status: pms.ContactActive, HasAccess: true,
			AccessExpiresAt: &accessEnd}
	}
	for k := range changes {
		i := k * (n / changes)
		r, c := &roster.Residents[i], &existing[i]
		switch k % 6 {
		case 0:
			r.Status = pms.StatusPast
		case 1:
			r.ExternalID, r.Email = fmt.Sprintf("n%06d", i), fmt.Sprintf("newcomer%d@example.com", i)
		case 2:
			c.ExternalID = ""
		case 3:
			r.Phone = "555-9999"
		case 4:
			c.HasAccess, c.Status, c.AccessExpiresAt = false, pms.ContactExpired, nil
		case 5:
			c.ExternalID, c.FirstName = "", "Someone"
		}
	}
	return roster, existing
}
