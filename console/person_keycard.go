package console

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// keycardActivate activates a keycard for the person (Card Activation). A
// person has one active card: a new serial replaces the old one.
func (c *Console) keycardActivate(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	id := r.PathValue("id")
	k, err := c.activateCard(r, rq, id)
	if err == nil {
		c.wakeDoorSync()
		return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id)+"#keycard", activatedMessage(k))
	}
	if fe, ok := toFormError(err); ok {
		p, perr := c.store.Person(ctx, rq.Actor, rq.Property.ID, id)
		if perr != nil {
			return perr
		}
		return c.showPerson(w, r, rq, http.StatusBadRequest, p, formOf(p, rq.Property), personErrors{Card: fe, Serial: r.PostFormValue("serial")})
	}
	return err
}

// keycardDeactivate deactivates the person's active card. The card keeps
// opening every door whose lock has not synced since; the message names them.
func (c *Console) keycardDeactivate(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("id")
	k, err := c.store.DeactivateKeycard(r.Context(), rq.Actor, rq.Property.ID, id)
	if err != nil {
		return err
	}
	c.wakeDoorSync()
	return c.redirect(w, r, propertyURL(rq.Property.ID, "people", id)+"#keycard", deactivatedMessage(k))
}

// activateCard activates the form's card for person id: a secure card when
// the "secure" box is ticked (its key comes from the property's card master
// key, which needs the keyring of Door Sync), otherwise serial-only.
func (c *Console) activateCard(r *http.Request, rq *request, id string) (store.Keycard, error) {
	serial := r.PostFormValue("serial")
	if r.PostFormValue("secure") == "" {
		return c.store.ActivateKeycard(r.Context(), rq.Actor, rq.Property.ID, id, serial)
	}
	if c.opts.DoorSync == nil || c.opts.DoorSync.Keys == nil {
		return store.Keycard{}, domain.FieldError("secure", "secure cards need the keyring, which this console was started without")
	}
	return c.store.ActivateSecureKeycard(r.Context(), rq.Actor, c.opts.DoorSync.Keys, rq.Property.ID, id, serial)
}

// activatedMessage says what was activated; for a secure card it gives the
// key to write to the card, once.
func activatedMessage(k store.Keycard) string {
	const sync = " Doors that are not internet-connected accept it after their next Door Sync."
	if k.Secure {
		return "Activated secure keycard " + k.Serial + ". Write this key to the card (shown once): " + base64.StdEncoding.EncodeToString(k.CardKey) + "." + sync
	}
	return "Activated keycard " + k.Serial + " (serial only: cloneable by anyone who reads the serial)." + sync
}

func deactivatedMessage(k store.Keycard) string {
	if len(k.PendingDoors) == 0 {
		return "Deactivated keycard " + k.Serial + ". Doors that are not internet-connected refuse it only after their next Door Sync."
	}
	names := make([]string, len(k.PendingDoors))
	for i, d := range k.PendingDoors {
		names[i] = d.DoorName
	}
	return fmt.Sprintf("Deactivated keycard %s. It still works at %s until %s synced.", k.Serial, strings.Join(names, ", "),
		map[bool]string{true: "that door is", false: "those doors are"}[len(names) == 1])
}

func (c *Console) wakeDoorSync() {
	if c.opts.DoorSync != nil {
		c.opts.DoorSync.Wake()
	}
}
