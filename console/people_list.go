package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

type peopleListData struct {
	Query       string
	ShowExpired bool
	Cursor      string
	Next        string
	People      []domain.PersonView
	// Units names the property's units by id, for the Unit column.
	Units map[string]string
	// NoAccess is set for a manager without Key Management: the People tab
	// then explains why and whom to ask instead of listing anyone.
	NoAccess    string
	AskManagers []domain.Manager
}

// peopleList is the People tab: search, status badges, Show Expired Users
// and cursor paging (the store pages by an index, so page 2,000 costs what
// page 1 does).
func (c *Console) peopleList(w http.ResponseWriter, r *http.Request, rq *request) error {
	q := r.URL.Query()
	d := peopleListData{Query: q.Get("q"), ShowExpired: q.Get("expired") == "1", Cursor: q.Get("cursor")}
	if err := rq.Actor.Can(rq.Property.ID, domain.PermPeople); err != nil {
		d.NoAccess = err.Error()
		pms, perr := c.store.PortfolioManagers(r.Context(), rq.Actor)
		if perr != nil {
			return perr
		}
		d.AskManagers = pms
		c.render(w, r, rq, http.StatusOK, "people_list", "People", "people", d)
		return nil
	}
	people, next, err := c.store.ListPeople(r.Context(), rq.Actor, rq.Property.ID, domain.PeopleFilter{
		Query: d.Query, IncludeExpired: d.ShowExpired, Cursor: d.Cursor})
	if err != nil {
		return err
	}
	d.People, d.Next = people, next
	units, err := c.store.ListUnits(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d.Units = make(map[string]string, len(units))
	for _, u := range units {
		d.Units[u.ID] = u.Name
	}
	c.render(w, r, rq, http.StatusOK, "people_list", "People", "people", d)
	return nil
}
