package console

import (
	"errors"
	"net/http"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
)

// The local mailbox exists only in the embedded mail default (no SMTP
// relay). Its messages hold login links and doorcodes of everyone, so it
// is for Portfolio Managers only.
func (c *Console) mailboxAllowed(rq *request) error {
	if c.mailbox == nil {
		return domain.Errorf(domain.ENotFound, "this server sends email through an SMTP relay; there is no local mailbox")
	}
	if rq.Actor.CanManageManagers() != nil {
		return domain.Errorf(domain.EForbidden, "the local mailbox is for Portfolio Managers only")
	}
	return nil
}

func (c *Console) mailboxList(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.mailboxAllowed(rq); err != nil {
		return err
	}
	msgs, err := c.mailbox.List(200)
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "mailbox", "Mailbox", "mailbox", msgs)
	return nil
}

func (c *Console) mailboxShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	if err := c.mailboxAllowed(rq); err != nil {
		return err
	}
	m, err := c.mailbox.Get(r.PathValue("id"))
	if errors.Is(err, mail.ErrNotFound) {
		return domain.Errorf(domain.ENotFound, "no such email")
	}
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "mailbox_show", m.Subject, "mailbox", m)
	return nil
}
