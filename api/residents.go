package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/throttle"
)

// ResidentKeys seals server-side secrets and signs phone credentials;
// *keyring.Keyring implements it. Server.Keys must be set for the resident
// API.
type ResidentKeys interface {
	store.Sealer
	store.PropertySigner
}

type residentKey int

const residentCtxKey residentKey = 0

// ResidentFrom returns the authenticated resident of a request.
func ResidentFrom(ctx context.Context) (store.Resident, bool) {
	r, ok := ctx.Value(residentCtxKey).(store.Resident)
	return r, ok
}

// residentRoutes registers the resident (DOOR App) API and the managers'
// views of devices and emails.
func (s *Server) residentRoutes(mux *http.ServeMux) {
	// Per client address: code requests and wrong codes together. The
	// per-email limits live in the store, so they hold across instances.
	addr := throttle.NewLimiter(30, 10*time.Minute)
	mux.Handle("POST /api/v1/app/login/start", s.public(func(w http.ResponseWriter, r *http.Request) error { return s.appLoginStart(w, r, addr) }))
	mux.Handle("POST /api/v1/app/login/verify", s.public(func(w http.ResponseWriter, r *http.Request) error { return s.appLoginVerify(w, r, addr) }))
	mux.Handle("POST /api/v1/app/logout", s.resident(s.appLogout))

	mux.Handle("GET /api/v1/me/keys", s.resident(s.myKeys))
	mux.Handle("GET /api/v1/me/doorcode", s.resident(s.myDoorcode))
	mux.Handle("POST /api/v1/me/credentials", s.resident(s.refreshCredentials))
	mux.Handle("GET /api/v1/me/devices", s.resident(s.myDevices))
	mux.Handle("DELETE /api/v1/me/devices/{dev}", s.resident(s.removeMyDevice))
	mux.Handle("GET /api/v1/me/guests", s.resident(s.myGuests))
	mux.Handle("POST /api/v1/me/guests", s.resident(s.inviteGuest))
	mux.Handle("DELETE /api/v1/me/guests/{id}", s.resident(s.revokeGuest))

	mux.Handle("GET /api/v1/properties/{p}/people/{id}/devices", s.authed(s.personDevices))
	mux.Handle("DELETE /api/v1/properties/{p}/people/{id}/devices/{dev}", s.authed(s.removePersonDevice))
	mux.Handle("GET /api/v1/properties/{p}/people/{id}/emails", s.authed(s.personEmails))
}

// resident wraps a handler that needs a resident (app) token. Manager
// tokens are unknown here, as resident tokens are to s.authed.
func (s *Server) resident(h func(w http.ResponseWriter, r *http.Request, res store.Resident) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			s.fail(w, r, domain.Errorf(domain.EUnauthenticated, "send Authorization: Bearer TOKEN (POST /api/v1/app/login/verify gives one)"))
			return
		}
		res, err := s.Store.AuthenticateResident(r.Context(), token)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := h(w, r.WithContext(context.WithValue(r.Context(), residentCtxKey, res)), res); err != nil {
			s.fail(w, r, err)
		}
	})
}

func (s *Server) keys() (ResidentKeys, error) {
	if s.Keys == nil {
		return nil, domain.Errorf(domain.EInternal, "api: no keyring configured")
	}
	return s.Keys, nil
}

func (s *Server) appLoginStart(w http.ResponseWriter, r *http.Request, lim *throttle.Limiter) error {
	var in struct {
		Email string `json:"email"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	addr := "app-addr:" + clientIP(r)
	if lim.Blocked(addr) {
		return domain.Errorf(domain.ERateLimited, "too many login attempts from this address; wait a few minutes")
	}
	lim.Fail(addr)
	k, err := s.keys()
	if err != nil {
		return err
	}
	if err := s.Store.StartResidentLogin(r.Context(), k, in.Email); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message": "If this email has DOOR App access, a 6-digit code is on its way. It works once, for 10 minutes."})
	return nil
}

func (s *Server) appLoginVerify(w http.ResponseWriter, r *http.Request, lim *throttle.Limiter) error {
	var in store.ResidentLoginInput
	if err := decode(r, &in); err != nil {
		return err
	}
	addr := "app-addr:" + clientIP(r)
	if lim.Blocked(addr) {
		return domain.Errorf(domain.ERateLimited, "too many login attempts from this address; wait a few minutes")
	}
	sess, err := s.Store.VerifyResidentLogin(r.Context(), in)
	if err != nil {
		if c := domain.ErrorCode(err); c == domain.EUnauthenticated || c == domain.ERateLimited {
			lim.Fail(addr)
		}
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) appLogout(w http.ResponseWriter, r *http.Request, _ store.Resident) error {
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := s.Store.ResidentLogout(r.Context(), token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) myKeys(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	acc, err := s.Store.MyAccess(r.Context(), res)
	if err != nil {
		return err
	}
	return writeList(w, acc, "")
}

func (s *Server) myDoorcode(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	codes, err := s.Store.MyDoorcodes(r.Context(), res)
	if err != nil {
		return err
	}
	return writeList(w, codes, "")
}

func (s *Server) refreshCredentials(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	k, err := s.keys()
	if err != nil {
		return err
	}
	creds, err := s.Store.RefreshCredentials(r.Context(), k, res)
	if err != nil {
		return err
	}
	return writeList(w, creds, "")
}

func (s *Server) myDevices(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	ds, err := s.Store.MyDevices(r.Context(), res)
	if err != nil {
		return err
	}
	return writeList(w, ds, "")
}

func (s *Server) removeMyDevice(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	if err := s.Store.RemoveMyDevice(r.Context(), res, r.PathValue("dev")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) myGuests(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	k, err := s.keys()
	if err != nil {
		return err
	}
	gs, err := s.Store.MyGuests(r.Context(), k, res)
	if err != nil {
		return err
	}
	return writeList(w, gs, "")
}

func (s *Server) inviteGuest(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	var in store.GuestInput
	if err := decode(r, &in); err != nil {
		return err
	}
	k, err := s.keys()
	if err != nil {
		return err
	}
	g, err := s.Store.InviteGuest(r.Context(), k, res, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, g)
	return nil
}

func (s *Server) revokeGuest(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	if err := s.Store.RevokeMyGuest(r.Context(), res, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) personDevices(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ds, err := s.Store.PersonDevices(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeList(w, ds, "")
}

func (s *Server) removePersonDevice(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	if err := s.Store.RemoveDevice(r.Context(), a, r.PathValue("p"), r.PathValue("id"), r.PathValue("dev")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) personEmails(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	es, err := s.Store.PersonEmails(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeList(w, es, "")
}
