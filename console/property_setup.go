package console

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/dooros/dooros/domain"
)

// Setting a property up in the browser: create and edit a property, add
// its doors and units. Every page calls the store use case the API calls
// (CreateProperty, UpdateProperty, CreateDoor, CreateUnit) with the
// manager's actor, so the permissions and rules are the API's.

var propertyLabels = map[string]string{
	"name": "Name", "time_zone": "Time zone", "doorcode_length": "Doorcode length",
	"credential_lifetime_hours": "Credential lifetime",
}

type propertyFormData struct {
	ID, Name, TimeZone, DoorcodeLength, CredentialLifetime string
	Zones                                                  []string
	Error                                                  *fieldErr
	MinCode, MaxCode, MaxLifetime                          int
	// Setup is the property's checklist (edit page only).
	Setup *setupChecklist
}

// setupChecklist is how far a property's setup is, with the next step.
type setupChecklist struct {
	Doors, Units, Keys, Locks, People int
}

// commonZones fill the time zone field's suggestions; any IANA zone is
// accepted.
var commonZones = []string{"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
	"America/Mexico_City", "America/Sao_Paulo", "Europe/London", "Europe/Dublin", "Europe/Lisbon", "Europe/Madrid", "Europe/Paris",
	"Europe/Berlin", "Europe/Amsterdam", "Europe/Rome", "Europe/Stockholm", "Europe/Warsaw", "Europe/Athens", "Africa/Johannesburg",
	"Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland", "UTC"}

func (c *Console) propertyRoutes(mux *http.ServeMux) {
	mux.Handle("GET /properties/new", c.authed(c.propertyNewForm))
	mux.Handle("POST /properties/new", c.authed(c.propertyCreate))
	mux.Handle("GET /p/{p}/settings", c.inProperty(c.propertySettings))
	mux.Handle("POST /p/{p}/settings", c.inProperty(c.propertyUpdate))
	mux.Handle("GET /p/{p}/doors/new", c.inProperty(c.doorNewForm))
	mux.Handle("POST /p/{p}/doors/new", c.inProperty(c.doorCreate))
	mux.Handle("GET /p/{p}/units", c.inProperty(c.unitsList))
	mux.Handle("POST /p/{p}/units", c.inProperty(c.unitCreate))
	mux.Handle("POST /p/{p}/people/{id}/welcome", c.inProperty(c.personWelcome))
}

func newPropertyForm() propertyFormData {
	return propertyFormData{Zones: commonZones, MinCode: domain.MinDoorcodeLength, MaxCode: domain.MaxDoorcodeLength,
		MaxLifetime: domain.MaxCredentialLifetimeHours}
}

func (c *Console) propertyNewForm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if rq.Actor.Role != domain.RolePortfolioManager {
		return domain.Errorf(domain.EForbidden, "only Portfolio Managers create properties")
	}
	d := newPropertyForm()
	d.DoorcodeLength, d.CredentialLifetime = strconv.Itoa(domain.DefaultDoorcodeLength), strconv.Itoa(domain.DefaultCredentialLifetimeHours)
	c.render(w, r, rq, http.StatusOK, "property_form", "New property", "", d)
	return nil
}

// propertyInput reads the property form; a number that is not one is
// refused beside its field before anything else.
func propertyInput(r *http.Request, d *propertyFormData) (domain.PropertyInput, error) {
	d.Name, d.TimeZone = strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("time_zone"))
	d.DoorcodeLength, d.CredentialLifetime = strings.TrimSpace(r.PostFormValue("doorcode_length")), strings.TrimSpace(r.PostFormValue("credential_lifetime_hours"))
	in := domain.PropertyInput{Name: d.Name, TimeZone: d.TimeZone}
	var err error
	if in.DoorcodeLength, err = formInt("doorcode_length", d.DoorcodeLength); err != nil {
		return in, err
	}
	if in.CredentialLifetimeHours, err = formInt("credential_lifetime_hours", d.CredentialLifetime); err != nil {
		return in, err
	}
	if d.ID != "" {
		// Editing: the store keeps a setting left empty, but an emptied
		// form field is a mistake to point at, not a "no change".
		if in.Name == "" {
			return in, domain.FieldError("name", "is required")
		}
		if in.TimeZone == "" {
			return in, domain.FieldError("time_zone", "is required (an IANA zone such as America/New_York)")
		}
		if in.DoorcodeLength == 0 {
			return in, domain.FieldError("doorcode_length", "is required")
		}
		if in.CredentialLifetimeHours == 0 {
			return in, domain.FieldError("credential_lifetime_hours", "is required")
		}
	}
	return in, nil
}

func formInt(field, v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, domain.FieldError(field, "%q is not a whole number", v)
	}
	return n, nil
}

func (c *Console) propertyCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := newPropertyForm()
	in, err := propertyInput(r, &d)
	var p domain.Property
	if err == nil {
		p, err = c.store.CreateProperty(r.Context(), rq.Actor, in)
	}
	if err != nil {
		if d.Error, err = labelled(err, propertyLabels); err != nil {
			return err
		}
		c.render(w, r, rq, http.StatusBadRequest, "property_form", "New property", "", d)
		return nil
	}
	return c.redirect(w, r, propertyURL(p.ID, "settings"), fmt.Sprintf("Property %s created. Next: add its doors.", p.Name))
}

func (c *Console) propertySettings(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermManageProperty); err != nil {
		return err
	}
	p := rq.Property
	d := newPropertyForm()
	d.ID, d.Name, d.TimeZone = p.ID, p.Name, p.TimeZone
	d.DoorcodeLength, d.CredentialLifetime = strconv.Itoa(p.DoorcodeLength), strconv.Itoa(p.CredentialLifetimeHours)
	return c.showSettings(w, r, rq, http.StatusOK, d)
}

func (c *Console) showSettings(w http.ResponseWriter, r *http.Request, rq *request, status int, d propertyFormData) error {
	ck, err := c.checklist(r, rq)
	if err != nil {
		return err
	}
	d.Setup = ck
	c.render(w, r, rq, status, "property_form", "Settings", "settings", d)
	return nil
}

// checklist counts what a property has, for its setup steps. Each count
// comes from the list the matching page shows.
func (c *Console) checklist(r *http.Request, rq *request) (*setupChecklist, error) {
	ctx, pid := r.Context(), rq.Property.ID
	var out setupChecklist
	doors, err := c.store.ListDoors(ctx, rq.Actor, pid)
	if err != nil {
		return nil, err
	}
	units, err := c.store.ListUnits(ctx, rq.Actor, pid)
	if err != nil {
		return nil, err
	}
	keys, err := c.store.ListKeys(ctx, rq.Actor, pid)
	if err != nil {
		return nil, err
	}
	devices, err := c.store.ListDoorDevices(ctx, rq.Actor, pid)
	if err != nil {
		return nil, err
	}
	for _, dv := range devices {
		if dv.Provisioned {
			out.Locks++
		}
	}
	people, _, err := c.store.ListPeople(ctx, rq.Actor, pid, domain.PeopleFilter{Limit: 1})
	if err != nil {
		return nil, err
	}
	out.Doors, out.Units, out.Keys, out.People = len(doors), len(units), len(keys), len(people)
	return &out, nil
}

func (c *Console) propertyUpdate(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := newPropertyForm()
	d.ID = rq.Property.ID
	in, err := propertyInput(r, &d)
	var p domain.Property
	if err == nil {
		p, err = c.store.UpdateProperty(r.Context(), rq.Actor, rq.Property.ID, in)
	}
	if err != nil {
		if d.Error, err = labelled(err, propertyLabels); err != nil {
			return err
		}
		return c.showSettings(w, r, rq, http.StatusBadRequest, d)
	}
	msg := "Settings saved."
	if p.DoorcodeLength != rq.Property.DoorcodeLength {
		msg += fmt.Sprintf(" Every doorcode now has %d digits: the old codes stop working once each door syncs.", p.DoorcodeLength)
	}
	return c.redirect(w, r, propertyURL(p.ID, "settings"), msg)
}

// --- doors ---

var doorLabels = map[string]string{"name": "Name", "type": "Type", "connectivity": "Connectivity", "unit_id": "Unit"}

type doorFormData struct {
	Name, Type, Connectivity, UnitID string
	Units                            []domain.Unit
	Error                            *fieldErr
}

func (c *Console) doorNewForm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermManageProperty); err != nil {
		return err
	}
	return c.showDoorForm(w, r, rq, http.StatusOK, doorFormData{Type: string(domain.DoorEntrance), Connectivity: string(domain.Offline)})
}

func (c *Console) showDoorForm(w http.ResponseWriter, r *http.Request, rq *request, status int, d doorFormData) error {
	units, err := c.store.ListUnits(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d.Units = units
	c.render(w, r, rq, status, "door_form", "New door", "doors", d)
	return nil
}

func (c *Console) doorCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := doorFormData{Name: strings.TrimSpace(r.PostFormValue("name")), Type: r.PostFormValue("type"),
		Connectivity: r.PostFormValue("connectivity"), UnitID: r.PostFormValue("unit_id")}
	door, err := c.store.CreateDoor(r.Context(), rq.Actor, rq.Property.ID, domain.DoorInput{Name: d.Name,
		Type: domain.DoorType(d.Type), Connectivity: domain.Connectivity(d.Connectivity), UnitID: d.UnitID})
	if err != nil {
		if d.Error, err = labelled(err, doorLabels); err != nil {
			return err
		}
		return c.showDoorForm(w, r, rq, http.StatusBadRequest, d)
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "doors"), fmt.Sprintf("Door %s added. Provision its lock below, then add it to a key.", door.Name))
}

// --- units ---

type unitsData struct {
	Units   []domain.Unit
	Name    string
	Error   *fieldErr
	CanEdit bool
}

func (c *Console) unitsList(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.showUnits(w, r, rq, http.StatusOK, unitsData{})
}

func (c *Console) showUnits(w http.ResponseWriter, r *http.Request, rq *request, status int, d unitsData) error {
	units, err := c.store.ListUnits(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d.Units = units
	pid := rq.Property.ID
	d.CanEdit = rq.Actor.Can(pid, domain.PermManageProperty) == nil || rq.Actor.Can(pid, domain.PermManageKeys) == nil
	c.render(w, r, rq, status, "units", "Units", "settings", d)
	return nil
}

func (c *Console) unitCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	d := unitsData{Name: strings.TrimSpace(r.PostFormValue("name"))}
	u, err := c.store.CreateUnit(r.Context(), rq.Actor, rq.Property.ID, domain.UnitInput{Name: d.Name})
	if err != nil {
		if d.Error, err = labelled(err, map[string]string{"name": "Unit name"}); err != nil {
			return err
		}
		return c.showUnits(w, r, rq, http.StatusBadRequest, d)
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "units"), fmt.Sprintf("Unit %s added.", u.Name))
}
