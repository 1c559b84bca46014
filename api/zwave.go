package api

import (
	"errors"
	"net/http"

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

func (s *Server) listZWaveNodes(w http.ResponseWriter, r *http.Request, a domain.Actor) error {
	keys, err := s.keys()
	if err != nil {
		return err
	}
	nodes, err := zwave.GatewayNodes(r.Context(), s.Store, keys, a, r.PathValue("p"), r.PathValue("g"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"nodes": nodes})
	return nil
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
