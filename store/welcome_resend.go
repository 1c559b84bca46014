package store

import (
	"context"

	"github.com/dooros/dooros/domain"
)

// ResendWelcome queues a person's welcome email again (it went to spam,
// the resident lost it), for a manager who may change the person's record.
// Only while a welcome would be due — the person holds a key (for a
// doorcode-only person, one that gives a doorcode) and their access is
// neither taken away nor over — otherwise a conflict says why and nothing
// is queued. It answers the person's email address.
func (s *Store) ResendWelcome(ctx context.Context, a domain.Actor, propertyID, id string) (string, error) {
	var email string
	err := s.inTx(ctx, "resend_welcome", func(t *Tx) error {
		p, err := t.personToEdit(ctx, a, propertyID, id)
		if err != nil {
			return err
		}
		if st := p.Status(s.Now()); !st.HoldsAccess() {
			return domain.Errorf(domain.EConflict, "%s's access is %s: there is nothing to welcome them to", p.Name(), st)
		}
		gs, keys, err := t.personKeys(ctx, propertyID, id)
		if err != nil {
			return err
		}
		if !domain.WelcomeDue(p.Access, keys, gs, false) {
			return domain.Errorf(domain.EConflict, "%s holds no key that opens anything for them yet: the welcome email goes out with their first key", p.Name())
		}
		if _, err := t.exec(ctx, `UPDATE people SET welcomed_at = ? WHERE id = ?`, micros(s.Now()), p.ID); err != nil {
			return err
		}
		email = p.Email
		return t.enqueueWelcome(ctx, a, p)
	})
	return email, err
}
