package api

import (
	"encoding/base64"
	"net/http"
	"strconv"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/doorsync"
	"github.com/dooros/dooros/store"
)

func (s *Server) doorSync() (*doorsync.Service, error) {
	if s.DoorSync != nil {
		return s.DoorSync, nil
	}
	keys, err := s.keys()
	if err != nil {
		return nil, err
	}
	return doorsync.New(s.Store, keys, s.Log), nil
}

func (s *Server) provisionLock(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.Provision(r.Context(), a, r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) rotateLock(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.RotateLock(r.Context(), a, r.PathValue("p"), r.PathValue("d"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// correctTime starts a new time epoch at the property: the locks take the
// cloud's time now even where that moves their clock back.
func (s *Server) correctTime(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.CorrectTime(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// rotatePropertyKey starts a rotation of the property's signing key.
func (s *Server) rotatePropertyKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.RotatePropertyKey(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, out)
	return nil
}

// propertyKey shows the property's signing key and the rotation under way.
func (s *Server) propertyKey(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.PropertyKeyStatus(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getKeycard(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	k, err := s.Store.PersonKeycard(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) activateKeycard(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		Serial string `json:"serial"`
		Secure bool   `json:"secure"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	var k store.Keycard
	var err error
	if in.Secure {
		keys, kerr := s.keys()
		if kerr != nil {
			return kerr
		}
		k, err = s.Store.ActivateSecureKeycard(r.Context(), a, keys, r.PathValue("p"), r.PathValue("id"), in.Serial)
	} else {
		k, err = s.Store.ActivateKeycard(r.Context(), a, r.PathValue("p"), r.PathValue("id"), in.Serial)
	}
	if err != nil {
		return err
	}
	s.wakeDoorSync()
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) deactivateKeycard(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	k, err := s.Store.DeactivateKeycard(r.Context(), a, r.PathValue("p"), r.PathValue("id"))
	if err != nil {
		return err
	}
	s.wakeDoorSync()
	writeJSON(w, http.StatusOK, k)
	return nil
}

func (s *Server) wakeDoorSync() {
	if s.DoorSync != nil {
		s.DoorSync.Wake()
	}
}

func (s *Server) listExposure(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.ListExposure(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	return writeList(w, out, "")
}

// mailboxItem is a sealed bundle a phone carries to a lock; it can route
// it by lock id but read nothing inside.
type mailboxItem struct {
	DoorID   string `json:"door_id"`
	LockID   string `json:"lock_id"`
	Base     int64  `json:"base"`
	Version  int64  `json:"version"`
	Snapshot bool   `json:"snapshot"`
	Bundle   string `json:"bundle"`
	// Manifest: the bundle goes to the lock in chunks under this signed
	// manifest (lockproto.SignBundleManifest); absent for a small bundle.
	Manifest string `json:"manifest,omitempty"`
	// LogNext: fetch the lock's log from here and upload it.
	LogNext int64 `json:"log_next"`
}

func encodeManifest(m []byte) string {
	if len(m) == 0 {
		return ""
	}
	return base64.StdEncoding.EncodeToString(m)
}

func (s *Server) myMailbox(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	doors, err := s.Store.MailboxDoors(r.Context(), res)
	if err != nil {
		return err
	}
	items := []mailboxItem{}
	for _, d := range doors {
		b, err := ds.Bundle(r.Context(), d.DoorID)
		if err != nil {
			if domain.ErrorCode(err) == domain.ENotFound || err == store.ErrInSync {
				continue
			}
			return err
		}
		items = append(items, mailboxItem{DoorID: b.DoorID, LockID: b.LockID, Base: b.Base, Version: b.Version, Snapshot: b.Snapshot,
			Bundle: base64.StdEncoding.EncodeToString(b.Sealed), Manifest: encodeManifest(b.Manifest), LogNext: b.LogNext})
	}
	logFrom, err := s.Store.LogFrom(r.Context(), res)
	if err != nil {
		return err
	}
	// log_from covers every door the phone can open, pending bundle or not.
	writeJSON(w, http.StatusOK, struct {
		list[mailboxItem]
		LogFrom map[string]int64 `json:"log_from"`
	}{list[mailboxItem]{Items: items}, logFrom})
	return nil
}

// syncReport takes what a phone brought back from a lock: its signed ack
// and event-log batches. Each is verified with the lock's key; the first
// forged or garbled part is refused (400). Parts recorded before it stay:
// they were authentic.
func (s *Server) syncReport(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	var in doorsync.PhoneReport
	if err := decode(r, &in); err != nil {
		return err
	}
	if err := in.Check(); err != nil {
		return err
	}
	ok, err := s.Store.PersonCanReach(r.Context(), res, in.DoorID)
	if err != nil {
		return err
	}
	if !ok {
		return domain.Errorf(domain.ENotFound, "door %s not found among your doors", in.DoorID)
	}
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.HandlePhoneReport(r.Context(), in, "phone of "+res.Email)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// myActivity lists the resident's private entries (their own residence
// door), which managers never see.
func (s *Server) myActivity(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return &domain.Error{Code: domain.EInvalid, Field: "limit", Message: "limit must be 1–200"}
		}
		limit = n
	}
	items, next, err := s.Store.MyActivity(r.Context(), res, r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	return writeList(w, items, next)
}
