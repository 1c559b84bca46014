package console

import (
	"errors"
	"net/http"

	"github.com/dooros/dooros/domain"
)

// bulkItem is one person of a bulk selection and what became of them.
type bulkItem struct {
	ID, Name string
	// Refused is why this person was left as they were ("" when done).
	Refused string
}

type peopleBulkData struct {
	Action  string // "revoke" | "extend"
	Done    []bulkItem
	Refused []bulkItem
	Expires string // the new expiration, in the property's zone
}

// maxBulk bounds one selection (a People page holds at most 200).
const maxBulk = 200

// peopleBulk is People's bulk move-out (Revoke All Keys of each selected
// person) and bulk extend lease (a new expiration for each). Each person
// goes through the same store use case, in its own transaction, as the
// person page does, so the same permissions apply: a person the manager
// may not change is left as they were and named in the result, and the
// others are still done.
func (c *Console) peopleBulk(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return domain.FieldError("id", "the form could not be read")
	}
	ids := r.PostForm["id"]
	action := r.PostFormValue("action")
	d := peopleBulkData{Action: action}
	var patch domain.PersonPatch
	switch action {
	case "revoke":
	case "extend":
		t, err := parseFormTime("expires_at", r.PostFormValue("expires_at"), rq.Property.Location())
		if err != nil {
			return err
		}
		if t == nil {
			return domain.FieldError("expires_at", "is required to extend a lease")
		}
		patch.ExpiresAtSet, patch.ExpiresAt = true, t
		d.Expires = t.In(rq.Property.Location()).Format("2006-01-02 15:04 MST")
	default:
		return domain.FieldError("action", "must be revoke or extend")
	}
	if len(ids) == 0 {
		return domain.FieldError("id", "select at least one person")
	}
	if len(ids) > maxBulk {
		return domain.FieldError("id", "select at most %d people at once", maxBulk)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		it := bulkItem{ID: id, Name: id}
		if cur, err := c.store.Person(ctx, rq.Actor, rq.Property.ID, id); err == nil {
			it.Name = cur.Name()
		}
		var err error
		if action == "revoke" {
			_, err = c.store.Revoke(ctx, rq.Actor, rq.Property.ID, id)
		} else {
			_, err = c.store.UpdatePerson(ctx, rq.Actor, rq.Property.ID, id, patch)
		}
		var de *domain.Error
		switch {
		case err == nil:
			d.Done = append(d.Done, it)
		case errors.As(err, &de):
			it.Refused = inWords(de)
			d.Refused = append(d.Refused, it)
		default:
			return err
		}
	}
	status := http.StatusOK
	if len(d.Done) == 0 {
		status = http.StatusUnprocessableEntity
	}
	c.render(w, r, rq, status, "people_bulk", "People", "people", d)
	return nil
}
