package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/dooros/dooros/doorsync"

	"github.com/dooros/dooros/domain"

	"github.com/dooros/dooros/store"
)

// issueCourier gives the phone its sync-only credentials and the doors it
// must sync before unlocking (store.IssueCourier).
func (s *Server) issueCourier(w http.ResponseWriter, r *http.Request, res store.Resident) error {
	k, err := s.keys()
	if err != nil {
		return err
	}
	out, err := s.Store.IssueCourier(r.Context(), k, res)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// exposureSummary is the property's worst-case exposure figure.
func (s *Server) exposureSummary(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.ExposureSummary(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// staffCourier gives a manager's DOOR App the doors with pending changes
// and a sync-only credential for them (Device Management).
func (s *Server) staffCourier(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		DevicePublicKey string `json:"device_public_key"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	key, err := base64.StdEncoding.DecodeString(in.DevicePublicKey)
	if err != nil {
		return domain.FieldError("device_public_key", "must be base64")
	}
	k, err := s.keys()
	if err != nil {
		return err
	}
	out, err := s.Store.IssueStaffCourier(r.Context(), a, k, r.PathValue("p"), key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// staffDoorMailbox is the door's pending bundle for a manager's DOOR App,
// in the shape of the resident mailbox (one item at most).
func (s *Server) staffDoorMailbox(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	doorID := r.PathValue("d")
	from, err := s.Store.StaffDoorLogFrom(r.Context(), a, r.PathValue("p"), doorID)
	if err != nil {
		return err
	}
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	items := []mailboxItem{}
	b, err := ds.Bundle(r.Context(), doorID)
	switch {
	case err == nil:
		items = append(items, mailboxItem{DoorID: b.DoorID, LockID: b.LockID, Base: b.Base, Version: b.Version, Snapshot: b.Snapshot,
			Bundle: base64.StdEncoding.EncodeToString(b.Sealed), Manifest: encodeManifest(b.Manifest), LogNext: b.LogNext})
	case domain.ErrorCode(err) == domain.ENotFound || errors.Is(err, store.ErrInSync):
	default:
		return err
	}
	writeJSON(w, http.StatusOK, struct {
		list[mailboxItem]
		LogFrom map[string]int64 `json:"log_from"`
	}{list[mailboxItem]{Items: items}, map[string]int64{doorID: from}})
	return nil
}

// staffSyncReport takes what a manager's DOOR App brought back from a
// lock (lock-signed ack and sealed log, as from any phone) and writes the
// sync to Activity under the manager's name.
func (s *Server) staffSyncReport(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in doorsync.PhoneReport
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.DoorID == "" {
		in.DoorID = r.PathValue("d")
	}
	if in.DoorID != r.PathValue("d") {
		return domain.FieldError("door_id", "must be the door of the path")
	}
	if err := in.Check(); err != nil {
		return err
	}
	if _, err := s.Store.StaffDoorLogFrom(r.Context(), a, r.PathValue("p"), in.DoorID); err != nil {
		return err
	}
	ds, err := s.doorSync()
	if err != nil {
		return err
	}
	out, err := ds.HandlePhoneReport(r.Context(), in, "DOOR App of "+a.Name)
	if err != nil {
		return err
	}
	events := 0
	for _, e := range out.Events {
		events += e.Added
	}
	detail := fmt.Sprintf("manual Door Sync in the DOOR App: %d lock events uploaded", events)
	if out.Ack != nil {
		detail = fmt.Sprintf("manual Door Sync in the DOOR App: lock at version %d, %d lock events uploaded", out.Ack.AckedVersion, events)
	}
	if err := s.Store.RecordStaffSync(r.Context(), a, r.PathValue("p"), in.DoorID, detail); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
