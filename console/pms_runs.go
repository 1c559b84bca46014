package console

import (
	"net/http"
	"strings"

	"github.com/dooros/dooros/store"
)

// pmsRunShow is one sync run: what it changed, queued for review, or
// could not do.
func (c *Console) pmsRunShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	run, err := c.store.PMSRun(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	keys, err := c.store.ListKeys(r.Context(), rq.Actor, rq.Property.ID)
	if err != nil {
		return err
	}
	d := pmsRunData{PMSRun: run, keyNames: map[string]string{}}
	if len(d.Items) > maxRunItemsShown {
		// A 100,000-resident sync has 200,000 items: the page shows the
		// first ones, the API all of them.
		d.Hidden = len(d.Items) - maxRunItemsShown
		d.Items = d.Items[:maxRunItemsShown]
	}
	for _, k := range keys {
		d.keyNames[k.ID] = k.Name
	}
	c.render(w, r, rq, http.StatusOK, "pms_run", "PMS sync run", "pms", d)
	return nil
}

// maxRunItemsShown bounds the items a run's page lists.
const maxRunItemsShown = 1000

type pmsRunData struct {
	store.PMSRun
	// Hidden is how many items the page leaves out.
	Hidden   int
	keyNames map[string]string
}

// Detail is an item's detail with key ids written as key names.
func (d pmsRunData) Detail(it store.PMSRunItem) string {
	s := it.Detail
	for id, name := range d.keyNames {
		s = strings.ReplaceAll(s, id, name)
	}
	return s
}

// pmsReviewDecide approves (applying the proposed change with this
// manager's permissions) or rejects a review.
func (c *Console) pmsReviewDecide(approve bool) handler {
	return func(w http.ResponseWriter, r *http.Request, rq *request) error {
		rev, err := c.store.DecidePMSReview(r.Context(), rq.Actor, rq.Property.ID, r.PathValue("id"), approve)
		if err != nil {
			return err
		}
		if rev.Status == store.ReviewApproved {
			c.wakeDoorSync()
		}
		return c.redirect(w, r, propertyURL(rq.Property.ID, "pms")+"#reviews", "Review "+rev.Status+": "+rev.Email+" ("+pmsWords(rev.Reason)+").")
	}
}
