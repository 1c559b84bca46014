package api

import (
	"crypto/ed25519"
	"net/http"
	"strings"

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
	NewPropertyKey(propertyID string) (ed25519.PublicKey, string, error)
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
		if err := h(w, r, res); err != nil {
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
	addr := "app-addr:" + s.clientIP(r)
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
	addr := "app-addr:" + s.clientIP(r)
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

// myRemoteUnlock asks an online door's lock to open (doorsync.RemoteUnlock).
func (s *Server) myRemoteUnlock(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.RemoteUnlock(r.Context(), res, r.PathValue("d"), s.RemoteUnlockWait)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// resetMyDoorcode is the app's Reset Doorcode (store.ResetMyDoorcode).
func (s *Server) resetMyDoorcode(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	var in struct {
		PropertyID string `json:"property_id"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	out, err := s.Store.ResetMyDoorcode(r.Context(), res, in.PropertyID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
