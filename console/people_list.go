package console

import (
	"net/http"
	"net/url"

	"github.com/dooros/dooros/domain"
)

type peopleListData struct {
	Query       string
	ShowExpired bool
	Cursor      string
	Next        string
	Sort        string
	Desc        bool
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
	d := peopleListData{Query: q.Get("q"), ShowExpired: q.Get("expired") == "1", Cursor: q.Get("cursor"),
		Sort: q.Get("sort"), Desc: q.Get("desc") == "1"}
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
		Query: d.Query, IncludeExpired: d.ShowExpired, Cursor: d.Cursor, Sort: d.Sort, Desc: d.Desc})
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

// Link is the query string of this list with the search kept and the given
// changes ("sort", col; "cursor", c); "" values drop a parameter.
func (d peopleListData) Link(kv ...string) string {
	q := url.Values{}
	set := func(k, v string) {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	set("q", d.Query)
	if d.ShowExpired {
		set("expired", "1")
	}
	set("sort", d.Sort)
	if d.Desc {
		set("desc", "1")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		set(kv[i], kv[i+1])
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// SortLink is a column header's link: sorted by col, reversed when the list
// is already sorted by col in that direction; first page.
func (d peopleListData) SortLink(col string) string {
	cur := d.Sort
	if cur == "" {
		cur = "name"
	}
	desc := ""
	if cur == col && !d.Desc {
		desc = "1"
	}
	return d.Link("sort", col, "desc", desc)
}

// SortMark is the arrow beside the column the list is sorted by.
func (d peopleListData) SortMark(col string) string {
	cur := d.Sort
	if cur == "" {
		cur = "name"
	}
	switch {
	case cur != col:
		return ""
	case d.Desc:
		return " ▼"
	}
	return " ▲"
}

// AriaSort is the column header's aria-sort.
func (d peopleListData) AriaSort(col string) string {
	switch d.SortMark(col) {
	case " ▲":
		return "ascending"
	case " ▼":
		return "descending"
	}
	return "none"
}
