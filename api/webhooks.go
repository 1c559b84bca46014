package api

import (
	"net/http"

	"github.com/dooros/dooros/domain"
)

// Webhook endpoints (issue 17): managed by Portfolio Managers and by
// Property Managers with full Key Management (domain.Actor.CanManageWebhooks);
// the secret is in the answer of create and roll-secret only.

// webhookWithSecret is an endpoint and its new secret, shown this once.
type webhookWithSecret struct {
	domain.Webhook
	Secret string `json:"secret"`
}

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ws, err := s.Store.ListWebhooks(r.Context(), a, r.URL.Query().Get("property_id"))
	if err != nil {
		return err
	}
	return writeList(w, ws, "")
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in domain.WebhookInput
	if err := decode(r, &in); err != nil {
		return err
	}
	keys, err := s.keys()
	if err != nil {
		return err
	}
	wh, secret, err := s.Store.CreateWebhook(r.Context(), a, keys, s.Webhooks, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, webhookWithSecret{wh, secret})
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	wh, err := s.Store.Webhook(r.Context(), a, r.PathValue("w"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wh)
	return nil
}

func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var p domain.WebhookPatch
	if err := decode(r, &p); err != nil {
		return err
	}
	wh, err := s.Store.UpdateWebhook(r.Context(), a, s.Webhooks, r.PathValue("w"), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, wh)
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	if err := s.Store.DeleteWebhook(r.Context(), a, r.PathValue("w")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) rollWebhookSecret(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		GraceHours *float64 `json:"grace_hours"`
	}
	if r.ContentLength != 0 {
		if err := decode(r, &in); err != nil {
			return err
		}
	}
	grace, err := domain.WebhookGrace(in.GraceHours)
	if err != nil {
		return err
	}
	keys, err := s.keys()
	if err != nil {
		return err
	}
	wh, secret, err := s.Store.RollWebhookSecret(r.Context(), a, keys, r.PathValue("w"), grace)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, webhookWithSecret{wh, secret})
	return nil
}

func (s *Server) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	limit, err := intParam(r, "limit")
	if err != nil {
		return err
	}
	ds, next, err := s.Store.WebhookDeliveries(r.Context(), a, r.PathValue("w"), r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, ds, next)
}

func (s *Server) resendWebhookDelivery(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	d, err := s.Store.ResendWebhookDelivery(r.Context(), a, r.PathValue("w"), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, d)
	return nil
}
