package console

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

type staffForm struct {
	Email     string
	FirstName string
	LastName  string
	Role      string
}

type staffData struct {
	Managers   []domain.Manager
	Properties map[string]string
	Form       staffForm
	Error      *formError
}

// staffList lists the organisation's managers (Portfolio Managers only).
func (c *Console) staffList(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.showStaff(w, r, rq, http.StatusOK, staffForm{Role: string(domain.RolePropertyManager)}, nil)
}

func (c *Console) showStaff(w http.ResponseWriter, r *http.Request, rq *request, status int, f staffForm, ferr *formError) error {
	ms, err := c.store.ListManagers(r.Context(), rq.Actor)
	if err != nil {
		return err
	}
	props, err := c.store.ListProperties(r.Context(), rq.Actor)
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, p := range props {
		names[p.ID] = p.Name
	}
	c.render(w, r, rq, status, "staff", "Staff", "staff", staffData{Managers: ms, Properties: names, Form: f, Error: ferr})
	return nil
}

// staffAdd adds a manager; without a password an invitation email goes out.
func (c *Console) staffAdd(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := staffForm{Email: r.PostFormValue("email"), FirstName: r.PostFormValue("first_name"), LastName: r.PostFormValue("last_name"), Role: r.PostFormValue("role")}
	m, err := c.store.CreateManager(r.Context(), rq.Actor, domain.ManagerInput{Email: f.Email, FirstName: f.FirstName, LastName: f.LastName,
		Role: domain.Role(f.Role), Password: r.PostFormValue("password")})
	if err == nil {
		msg := "Added " + m.FirstName + " " + m.LastName + "."
		if !m.HasPassword {
			msg += " An invitation email to set a password goes out now."
		}
		if m.Role == domain.RolePropertyManager {
			msg += " Now assign them properties and permissions."
		}
		return c.redirect(w, r, "/staff/"+m.ID, msg)
	}
	if fe, ok := toFormError(err); ok {
		return c.showStaff(w, r, rq, http.StatusBadRequest, f, fe)
	}
	return err
}
