package console

import (
	"net/http"
	"net/url"

	"github.com/dooros/dooros/domain"
)

type assignmentRow struct {
	Property   domain.Property
	Keys       []domain.Key
	Assignment domain.Assignment
	Assigned   bool
}

type staffShowData struct {
	Manager domain.Manager
	Rows    []assignmentRow
	Error   *formError
	ErrorOn string
}

// staffShow shows one manager with a permission form per property.
func (c *Console) staffShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.showStaffMember(w, r, rq, http.StatusOK, nil, "")
}

func (c *Console) showStaffMember(w http.ResponseWriter, r *http.Request, rq *request, status int, ferr *formError, on string) error {
	m, err := c.store.GetManager(r.Context(), rq.Actor, r.PathValue("m"))
	if err != nil {
		return err
	}
	props, err := c.store.ListProperties(r.Context(), rq.Actor)
	if err != nil {
		return err
	}
	has := map[string]domain.Assignment{}
	for _, as := range m.Properties {
		has[as.PropertyID] = as
	}
	d := staffShowData{Manager: m, Error: ferr, ErrorOn: on}
	for _, p := range props {
		keys, err := c.store.ListKeys(r.Context(), rq.Actor, p.ID)
		if err != nil {
			return err
		}
		as, ok := has[p.ID]
		if !ok {
			as = domain.Assignment{PropertyID: p.ID, KeyManagement: domain.KeyManagementNone}
		}
		d.Rows = append(d.Rows, assignmentRow{Property: p, Keys: keys, Assignment: as, Assigned: ok})
	}
	c.render(w, r, rq, status, "staff_show", m.FirstName+" "+m.LastName, "staff", d)
	return nil
}

// staffAssign assigns a property to a manager and sets its permissions.
func (c *Console) staffAssign(w http.ResponseWriter, r *http.Request, rq *request) error {
	r.ParseForm()
	as := domain.Assignment{PropertyID: r.PostFormValue("property_id"), KeyManagement: domain.KeyManagement(r.PostFormValue("key_management")),
		DeviceManagement: r.PostFormValue("device_management") == "on", CardActivation: r.PostFormValue("card_activation") == "on"}
	if as.KeyManagement == domain.KeyManagementSpecific {
		as.Keys = r.PostForm["keys"]
	}
	m, err := c.store.SetAssignment(r.Context(), rq.Actor, r.PathValue("m"), as)
	if err == nil {
		return c.redirect(w, r, "/staff/"+url.PathEscape(m.ID), "Saved the permissions of "+m.FirstName+" "+m.LastName+".")
	}
	if fe, ok := toFormError(err); ok {
		return c.showStaffMember(w, r, rq, http.StatusBadRequest, fe, as.PropertyID)
	}
	return err
}
