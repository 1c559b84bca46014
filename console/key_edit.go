package console

import (
	"errors"
	"net/http"

	"github.com/dooros/dooros/domain"
)

// keyDoorForm is one door row of the key form.
type keyDoorForm struct {
	Door      domain.Door
	In        bool
	Doorcodes bool
	Schedule  string
}

type keyFormData struct {
	KeyID string
	Name  string
	Doors []keyDoorForm
	Error *formError
}

// keyForm shows the create (/keys/new) or edit (/keys/{k}) form.
func (c *Console) keyForm(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermManageKeys); err != nil {
		return err
	}
	doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := keyFormData{}
	in := map[string]domain.KeyDoor{}
	if id := r.PathValue("k"); id != "" {
		k, err := c.store.Key(r.Context(), rq.Actor, rq.Property.ID, id)
		if err != nil {
			return err
		}
		d.KeyID, d.Name = k.ID, k.Name
		for _, kd := range k.Doors {
			in[kd.DoorID] = kd
		}
	}
	for _, door := range doors {
		kd, ok := in[door.ID]
		d.Doors = append(d.Doors, keyDoorForm{Door: door, In: ok, Doorcodes: kd.Doorcodes, Schedule: formatSchedule(kd.Schedule)})
	}
	return c.showKeyForm(w, r, rq, http.StatusOK, d)
}

func (c *Console) showKeyForm(w http.ResponseWriter, r *http.Request, rq *request, status int, d keyFormData) error {
	title := "New key"
	if d.KeyID != "" {
		title = "Key " + d.Name
	}
	c.render(w, r, rq, status, "key_form", title, "keys", d)
	return nil
}

// keySave creates or replaces a key. Changing a key changes it for every
// holder; narrowing it is a revocation the store records per door.
func (c *Console) keySave(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := rq.Actor.Can(rq.Property.ID, domain.PermManageKeys); err != nil {
		return err
	}
	doors, err := c.store.ListDoors(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	r.ParseForm()
	d := keyFormData{KeyID: r.PathValue("k"), Name: r.PostFormValue("name")}
	in := domain.KeyInput{Name: d.Name}
	chosen, codes := r.PostForm["door"], r.PostForm["doorcodes"]
	for _, door := range doors {
		row := keyDoorForm{Door: door, In: contains(chosen, door.ID), Doorcodes: contains(codes, door.ID), Schedule: r.PostFormValue("schedule_" + door.ID)}
		d.Doors = append(d.Doors, row)
		if !row.In {
			continue
		}
		sched, perr := parseSchedule("schedule_"+door.ID, row.Schedule)
		if perr == nil {
			// The domain's rule, asked per door so the error names it.
			perr = sched.Validate("schedule_" + door.ID)
		}
		if perr != nil && err == nil {
			var de *domain.Error
			if errors.As(perr, &de) {
				perr = domain.FieldError("schedule_"+door.ID, "for %s: %s", door.Name, de.Message)
			}
			err = perr
		}
		in.Doors = append(in.Doors, domain.KeyDoor{DoorID: door.ID, Doorcodes: row.Doorcodes, Schedule: sched})
	}
	if err == nil {
		var k domain.Key
		if d.KeyID == "" {
			k, err = c.store.CreateKey(r.Context(), rq.Actor, rq.Property.ID, in)
		} else {
			k, err = c.store.UpdateKey(r.Context(), rq.Actor, rq.Property.ID, d.KeyID, in)
		}
		if err == nil {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "keys"), "Saved key "+k.Name+". The change reaches everyone holding it; offline doors need a Door Sync.")
		}
	}
	if fe, ok := toFormError(err); ok {
		d.Error = fe
		return c.showKeyForm(w, r, rq, http.StatusBadRequest, d)
	}
	return err
}
