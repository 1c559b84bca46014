package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/zwave"
)

// Z-Wave locks through a Z-Wave JS server (docs/zwave.md); documented in
// api/openapi/70-zwave.json.
func (s *Server) zwaveRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/v1/properties/{p}/zwave/gateways", s.authed(s.listZWaveGateways))
	mux.Handle("POST /api/v1/properties/{p}/zwave/gateways", s.authed(s.addZWaveGateway))
	mux.Handle("GET /api/v1/properties/{p}/zwave/gateways/{g}/nodes", s.authed(s.listZWaveNodes))
	mux.Handle("GET /api/v1/properties/{p}/zwave/locks", s.authed(s.listZWaveLocks))
	mux.Handle("PUT /api/v1/properties/{p}/doors/{d}/zwave", s.authed(s.bindZWaveLock))
	mux.Handle("POST /api/v1/properties/{p}/doors/{d}/zwave/lock-now", s.authed(s.zwaveLockNow))
}

func (s *Server) listZWaveGateways(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	out, err := s.Store.ListZWaveGateways(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateways": out})
	return nil
}

func (s *Server) addZWaveGateway(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	keys, err := s.keys()
	if err != nil {
		return err
	}
	var in store.ZWaveGatewayInput
	if err := decode(r, &in); err != nil {
		return err
	}
	g, err := s.Store.AddZWaveGateway(r.Context(), a, keys, r.PathValue("p"), in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, g)
	return nil
}

// zwaveNode is a node as the API lists it for choosing a door's lock.
type zwaveNode struct {
	NodeID       int    `json:"node_id"`
	Label        string `json:"label"`
	Manufacturer string `json:"manufacturer"`
	Status       string `json:"status"`
	Ready        bool   `json:"ready"`
	IsLock       bool   `json:"is_lock"` // User Code and Door Lock supported
	Battery      *int   `json:"battery"`
	DoorID       string `json:"door_id,omitempty"` // the door it is already bound to
}

func (s *Server) listZWaveNodes(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	keys, err := s.keys()
	if err != nil {
		return err
	}
	prop := r.PathValue("p")
	url, token, err := s.Store.ZWaveGatewayConn(r.Context(), &a, keys, prop, r.PathValue("g"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 15*time.Second)
	defer cancel()
	nodes, err := zwave.ListNodes(ctx, url, token)
	if err != nil {
		return domain.Errorf(domain.EConflict, "the Z-Wave gateway did not answer: %v", err)
	}
	bound := map[int]string{}
	locks, err := s.Store.ListZWaveLocks(r.Context(), a, prop)
	if err != nil {
		return err
	}
	for _, l := range locks {
		if l.GatewayID == r.PathValue("g") {
			bound[l.NodeID] = l.DoorID
		}
	}
	out := []zwaveNode{}
	for _, n := range nodes {
		zn := zwaveNode{NodeID: n.ID, Label: n.Label, Manufacturer: n.Manufacturer, Status: nodeStatus(n.Status), Ready: n.Ready,
			IsLock: n.Supports(zwave.CCUserCode) && n.Supports(zwave.CCDoorLock), DoorID: bound[n.ID]}
		if lvl, ok := n.Battery(); ok {
			zn.Battery = &lvl
		}
		if n.ID == 1 {
			continue // the controller itself
		}
		out = append(out, zn)
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": out})
	return nil
}

func nodeStatus(st int) string {
	switch st {
	case zwave.StatusAsleep:
		return "asleep"
	case zwave.StatusAwake:
		return "awake"
	case zwave.StatusDead:
		return "dead"
	case zwave.StatusAlive:
		return "alive"
	}
	return "unknown"
}

func (s *Server) listZWaveLocks(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	locks, err := s.Store.ListZWaveLocks(r.Context(), a, r.PathValue("p"))
	if err != nil {
		return err
	}
	type lockOut struct {
		store.ZWaveLock
		BatteryLow bool `json:"battery_low"`
	}
	out := make([]lockOut, len(locks))
	for i, l := range locks {
		out[i] = lockOut{l, l.BatteryLow()}
	}
	writeJSON(w, http.StatusOK, map[string]any{"locks": out})
	return nil
}

func (s *Server) bindZWaveLock(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		GatewayID string `json:"gateway_id"`
		NodeID    int    `json:"node_id"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.GatewayID == "" {
		// Permission first: a manager without it hears 403 whatever they sent.
		if _, err := s.Store.ListZWaveGateways(r.Context(), a, r.PathValue("p")); err != nil {
			return err
		}
		return domain.FieldError("gateway_id", "is required")
	}
	l, err := s.Store.BindZWaveLock(r.Context(), a, r.PathValue("p"), r.PathValue("d"), in.GatewayID, in.NodeID)
	if err != nil {
		return err
	}
	if s.ZWave != nil {
		s.ZWave.Kick()
	}
	writeJSON(w, http.StatusOK, l)
	return nil
}

func (s *Server) zwaveLockNow(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	var in struct {
		Locked *bool `json:"locked"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	if in.Locked == nil {
		if _, err := s.Store.ListZWaveGateways(r.Context(), a, r.PathValue("p")); err != nil {
			return err
		}
		return domain.FieldError("locked", "is required (true: lock, false: unlock)")
	}
	err := s.Store.LogZWaveLockNow(r.Context(), a, r.PathValue("p"), r.PathValue("d"), *in.Locked, func(l store.ZWaveLock) error {
		if s.ZWave == nil {
			return zwave.ErrGatewayDown
		}
		return s.ZWave.SetLocked(r.Context(), l, *in.Locked)
	})
	var de *domain.Error
	if err != nil && !errors.As(err, &de) {
		return domain.Errorf(domain.EConflict, "the lock did not confirm: %v", err)
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"door_id": r.PathValue("d"), "locked": *in.Locked})
	return nil
}
