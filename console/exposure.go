package console

import (
	"fmt"
	"net/http"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

type exposureData struct {
	Items []store.Exposure
	// Person filters to one person (?person_id=); PersonName names them.
	Person, PersonName string
	// Linkable people have a person page this manager may open (revoked,
	// not deleted, and the manager has Key Management).
	Linkable map[string]bool
	Now      time.Time
	// Doors and People count the distinct doors and people of Items (one
	// item is one person at one door).
	Doors, People int
	// Summary is the worst case of Items (the property's, unless
	// filtered to one person): the figure at the top of the page.
	Summary store.ExposureSummary
}

// WorstFor says how long the worst case keeps a door open to that person
// from the revocation, in days, hours and minutes.
func (d exposureData) WorstFor() string {
	return spell(time.Duration(d.Summary.WorstSeconds) * time.Second)
}

func spell(t time.Duration) string {
	days, hours, mins := int(t/(24*time.Hour)), int(t%(24*time.Hour)/time.Hour), int(t%time.Hour/time.Minute)
	switch {
	case days > 0:
		return fmt.Sprintf("%d d %d h", days, hours)
	case hours > 0:
		return fmt.Sprintf("%d h %d min", hours, mins)
	}
	return fmt.Sprintf("%d min", mins)
}

// exposureList is the revocation exposure: for every person whose access
// was narrowed or taken away, each door that could still admit them, how,
// and until when.
func (c *Console) exposureList(w http.ResponseWriter, r *http.Request, rq *request) error {
	items, err := c.store.ListExposure(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := exposureData{Person: r.URL.Query().Get("person_id"), Linkable: map[string]bool{}, Now: c.store.Now()}
	if d.Person != "" {
		var mine []store.Exposure
		for _, e := range items {
			if e.PersonID == d.Person {
				mine = append(mine, e)
				d.PersonName = e.PersonName
			}
		}
		items = mine
		if d.PersonName == "" {
			if p, err := c.store.Person(r.Context(), rq.Actor, rq.Property.ID, d.Person); err == nil {
				d.PersonName = p.Name()
			}
		}
	}
	d.Items = items
	d.Summary = store.SummarizeExposure(items, d.Now)
	doors, people := map[string]bool{}, map[string]bool{}
	for _, e := range items {
		doors[e.DoorID], people[e.PersonID] = true, true
	}
	d.Doors, d.People = len(doors), len(people)
	canPeople := rq.Actor.Can(rq.Property.ID, domain.PermPeople) == nil
	for _, e := range items {
		if canPeople && e.Status != domain.StatusDeleted {
			d.Linkable[e.PersonID] = true
		}
	}
	c.render(w, r, rq, http.StatusOK, "exposure", "Revocation exposure", "sync", d)
	return nil
}

// wayLabel says in words how a revoked person could still get in; n is
// how many credentials, codes or cards the way stands for.
func wayLabel(kind string, n int) string {
	switch kind {
	case "pending_sync":
		return "the lock's state is unknown (no sync since it was provisioned)"
	case "credential":
		if n > 1 {
			return fmt.Sprintf("%d phone credentials issued before the revocation", n)
		}
		return "phone credential issued before the revocation"
	case "doorcode":
		if n > 1 {
			return fmt.Sprintf("%d doorcodes still on the lock", n)
		}
		return "doorcode still on the lock"
	case "keycard":
		if n > 1 {
			return fmt.Sprintf("%d deactivated keycards still on the lock", n)
		}
		return "deactivated keycard still on the lock"
	case "guest_code":
		if n > 1 {
			return fmt.Sprintf("%d guest codes the lock still computes (until their day ends)", n)
		}
		return "guest code the lock still computes (until its day ends)"
	}
	return kind
}
