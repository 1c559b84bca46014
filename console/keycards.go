package console

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/dooros/dooros/store"
)

// keycardRoutes registers the Keycards page: for a manager with Card
// Activation, who may not have Key Management and so cannot open person
// pages, it finds people by email or name and activates or deactivates
// their card, and lists the property's cards. Everything goes through the
// store's keycard use cases, which need only Card Activation.
func (c *Console) keycardRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/keycards", c.inProperty(c.keycardsPage))
	mux.Handle("POST /p/{p}/keycards/{id}/activate", c.inProperty(c.keycardsActivate))
	mux.Handle("POST /p/{p}/keycards/{id}/deactivate", c.inProperty(c.keycardsDeactivate))
}

type keycardsData struct {
	Query   string
	Holders []store.CardHolder
	// Active and StillHeld list the property's cards: active ones, and
	// deactivated ones some lock still holds (they open it until it syncs).
	Active, StillHeld []store.KeycardRecord
	// ErrorFor is the person whose activation failed; Error says why.
	ErrorFor string
	Error    *formError
	Serial   string
}

func (c *Console) keycardsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderKeycards(w, r, rq, http.StatusOK, &keycardsData{Query: r.URL.Query().Get("q")})
}

func (c *Console) renderKeycards(w http.ResponseWriter, r *http.Request, rq *request, status int, d *keycardsData) error {
	ctx := r.Context()
	var err error
	if d.Holders, err = c.store.FindCardHolders(ctx, rq.Actor, rq.Property.ID, d.Query); err != nil {
		if fe, ok := toFormError(err); ok {
			d.Error, d.Query = fe, ""
			d.Holders = nil
		} else {
			return err
		}
	}
	cards, err := c.store.ListKeycards(ctx, rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	for _, k := range cards {
		switch {
		case k.Active:
			d.Active = append(d.Active, k)
		case len(k.PendingDoors) > 0:
			d.StillHeld = append(d.StillHeld, k)
		}
	}
	c.render(w, r, rq, status, "keycards", "Keycards", "keycards", d)
	return nil
}

// back is the Keycards page searched for the person just changed.
func keycardsBack(propertyID, q string) string {
	u := propertyURL(propertyID, "keycards")
	if q = strings.TrimSpace(q); q != "" {
		u += "?q=" + url.QueryEscape(q)
	}
	return u
}

func (c *Console) keycardsActivate(w http.ResponseWriter, r *http.Request, rq *request) error {
	id, q := r.PathValue("id"), r.PostFormValue("q")
	k, err := c.activateCard(r, rq, id)
	if err != nil {
		if fe, ok := toFormError(err); ok {
			return c.renderKeycards(w, r, rq, http.StatusBadRequest, &keycardsData{Query: q, ErrorFor: id, Error: fe, Serial: r.PostFormValue("serial")})
		}
		return err
	}
	c.wakeDoorSync()
	return c.redirect(w, r, keycardsBack(rq.Property.ID, q),
		activatedMessage(k))
}

func (c *Console) keycardsDeactivate(w http.ResponseWriter, r *http.Request, rq *request) error {
	k, err := c.store.DeactivateKeycard(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	c.wakeDoorSync()
	return c.redirect(w, r, keycardsBack(rq.Property.ID, r.PostFormValue("q")), deactivatedMessage(k))
}
