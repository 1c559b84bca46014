package console

import (
	"net/http"
	"strings"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// webhookRoutes registers the Webhooks page of a property: its endpoints
// (and, for Portfolio Managers, the organisation's), add one, pause or
// enable, roll the secret, delete, and each endpoint's delivery log with
// "resend". Who may: domain.Actor.CanManageWebhooks, asked by the store.
func (c *Console) webhookRoutes(mux *http.ServeMux) {
	mux.Handle("GET /p/{p}/webhooks", c.inProperty(c.webhooksPage))
	mux.Handle("POST /p/{p}/webhooks", c.inProperty(c.webhookCreate))
	mux.Handle("GET /p/{p}/webhooks/{w}", c.inProperty(c.webhookShow))
	mux.Handle("POST /p/{p}/webhooks/{w}/enabled", c.inProperty(c.webhookEnable))
	mux.Handle("POST /p/{p}/webhooks/{w}/roll", c.inProperty(c.webhookRoll))
	mux.Handle("POST /p/{p}/webhooks/{w}/delete", c.inProperty(c.webhookDelete))
	mux.Handle("POST /p/{p}/webhooks/{w}/deliveries/{d}/resend", c.inProperty(c.webhookResend))
}

type webhooksData struct {
	Hooks []domain.Webhook
	// Form is the add form as sent (after an error); Error says why.
	Form  webhookForm
	Error *formError
	// Secret is shown once, right after an endpoint is added or its
	// secret rolled; SecretFor is that endpoint.
	Secret, SecretFor string
	Kinds             []string
	CanOrg            bool
	// Hook and Deliveries: one endpoint's page.
	Hook       *domain.Webhook
	Deliveries []store.WebhookDelivery
	Next       string
}

type webhookForm struct {
	URL, Description, Kinds string
	Org                     bool
}

func (c *Console) webhooksPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return c.renderWebhooks(w, r, rq, http.StatusOK, &webhooksData{Form: webhookForm{Kinds: "*"}})
}

func (c *Console) renderWebhooks(w http.ResponseWriter, r *http.Request, rq *request, status int, d *webhooksData) error {
	if err := rq.Actor.CanManageWebhooks(rq.Property.ID); err != nil {
		return err
	}
	all, err := c.store.ListWebhooks(r.Context(), rq.Actor, "")
	if err != nil {
		return err
	}
	for _, h := range all {
		if h.PropertyID == "" || h.PropertyID == rq.Property.ID {
			d.Hooks = append(d.Hooks, h)
		}
	}
	d.Kinds, d.CanOrg = domain.WebhookKinds, rq.Actor.CanManageWebhooks("") == nil
	c.render(w, r, rq, status, "webhooks", "Webhooks", "webhooks", d)
	return nil
}

// splitKinds reads the kinds field: separated by commas, spaces or lines.
func splitKinds(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (c *Console) webhookCreate(w http.ResponseWriter, r *http.Request, rq *request) error {
	f := webhookForm{URL: r.PostFormValue("url"), Description: r.PostFormValue("description"), Kinds: r.PostFormValue("kinds"), Org: r.PostFormValue("org") == "1"}
	in := domain.WebhookInput{PropertyID: rq.Property.ID, URL: f.URL, Description: f.Description, Kinds: splitKinds(f.Kinds)}
	if f.Org {
		in.PropertyID = ""
	}
	if c.opts.Keys == nil {
		return domain.Errorf(domain.EInternal, "console: no keyring to seal webhook secrets")
	}
	h, secret, err := c.store.CreateWebhook(r.Context(), rq.Actor, c.opts.Keys, c.opts.Webhooks, in)
	if err != nil {
		if fe, ok := toFormError(err); ok {
			return c.renderWebhooks(w, r, rq, http.StatusBadRequest, &webhooksData{Form: f, Error: fe})
		}
		return err
	}
	return c.renderWebhooks(w, r, rq, http.StatusCreated, &webhooksData{Form: webhookForm{Kinds: "*"}, Secret: secret, SecretFor: h.ID})
}

func (c *Console) webhookShow(w http.ResponseWriter, r *http.Request, rq *request) error {
	h, err := c.store.Webhook(r.Context(), rq.Actor, r.PathValue("w"))
	if err != nil {
		return err
	}
	ds, next, err := c.store.WebhookDeliveries(r.Context(), rq.Actor, h.ID, r.URL.Query().Get("cursor"), 50)
	if err != nil {
		return err
	}
	c.render(w, r, rq, http.StatusOK, "webhook_show", "Webhook", "webhooks", &webhooksData{Hook: &h, Deliveries: ds, Next: next})
	return nil
}

func (c *Console) webhookEnable(w http.ResponseWriter, r *http.Request, rq *request) error {
	on := r.PostFormValue("enabled") == "1"
	h, err := c.store.UpdateWebhook(r.Context(), rq.Actor, c.opts.Webhooks, r.PathValue("w"), domain.WebhookPatch{Enabled: &on})
	if err != nil {
		return err
	}
	msg := "Paused " + h.URL + ": no events are queued for it until it is enabled."
	if on {
		msg = "Enabled " + h.URL + "."
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "webhooks"), msg)
}

func (c *Console) webhookRoll(w http.ResponseWriter, r *http.Request, rq *request) error {
	if c.opts.Keys == nil {
		return domain.Errorf(domain.EInternal, "console: no keyring to seal webhook secrets")
	}
	h, secret, err := c.store.RollWebhookSecret(r.Context(), rq.Actor, c.opts.Keys, r.PathValue("w"), domain.DefaultWebhookGrace)
	if err != nil {
		return err
	}
	return c.renderWebhooks(w, r, rq, http.StatusOK, &webhooksData{Form: webhookForm{Kinds: "*"}, Secret: secret, SecretFor: h.ID})
}

func (c *Console) webhookDelete(w http.ResponseWriter, r *http.Request, rq *request) error {
	h, err := c.store.Webhook(r.Context(), rq.Actor, r.PathValue("w"))
	if err != nil {
		return err
	}
	if err := c.store.DeleteWebhook(r.Context(), rq.Actor, h.ID); err != nil {
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "webhooks"), "Deleted the webhook to "+h.URL+" and its delivery log.")
}

func (c *Console) webhookResend(w http.ResponseWriter, r *http.Request, rq *request) error {
	id := r.PathValue("w")
	d, err := c.store.ResendWebhookDelivery(r.Context(), rq.Actor, id, r.PathValue("d"))
	if err != nil {
		if fe, ok := toFormError(err); ok {
			return c.redirect(w, r, propertyURL(rq.Property.ID, "webhooks", id), fe.Message)
		}
		return err
	}
	return c.redirect(w, r, propertyURL(rq.Property.ID, "webhooks", id), "Queued "+d.Kind+" ("+d.EventID+") again.")
}
