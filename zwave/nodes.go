package zwave

import (
	"context"
	"encoding/json"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
)

// NodeInfo is a gateway's node as it is offered for binding a door: what
// the gateway reports (number, name, status, the command classes DOOR OS
// uses, slots) and the door it is already the lock of.
type NodeInfo struct {
	NodeID       int    `json:"node_id"`
	Label        string `json:"label"`
	Manufacturer string `json:"manufacturer"`
	Status       string `json:"status"`
	Ready        bool   `json:"ready"`
	IsLock       bool   `json:"is_lock"` // User Code and Door Lock supported
	// LockCCs names the command classes DOOR OS uses that the node has.
	LockCCs []string `json:"lock_command_classes"`
	Slots   int      `json:"slots"` // User Code slots, when the gateway reports them (0: read at the first sync)
	Battery *int     `json:"battery"`
	DoorID  string   `json:"door_id,omitempty"` // the door it is already bound to
}

// Bindable reports whether a door may be bound to the node: a lock that is
// no other door's lock.
func (n NodeInfo) Bindable(doorID string) bool {
	return n.IsLock && (n.DoorID == "" || n.DoorID == doorID)
}

// GatewayNodes asks a property's gateway for its nodes now (the controller
// left out), for choosing a door's lock: the API's node list and the
// console's binding form. A gateway that does not answer is EConflict.
func GatewayNodes(ctx context.Context, st *store.Store, sealer store.Sealer, a domain.Actor, propertyID, gatewayID string) ([]NodeInfo, error) {
	url, token, err := st.ZWaveGatewayConn(ctx, &a, sealer, propertyID, gatewayID)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nodes, err := ListNodes(lctx, url, token)
	if err != nil {
		return nil, domain.Errorf(domain.EConflict, "the Z-Wave gateway did not answer: %v", err)
	}
	locks, err := st.ListZWaveLocks(ctx, a, propertyID)
	if err != nil {
		return nil, err
	}
	bound := map[int]string{}
	for _, l := range locks {
		if l.GatewayID == gatewayID {
			bound[l.NodeID] = l.DoorID
		}
	}
	out := []NodeInfo{}
	for _, n := range nodes {
		if n.ID == 1 {
			continue // the controller itself
		}
		ni := NodeInfo{NodeID: n.ID, Label: n.Label, Manufacturer: n.Manufacturer, Status: NodeStatus(n.Status), Ready: n.Ready,
			IsLock: n.Supports(CCUserCode) && n.Supports(CCDoorLock), LockCCs: []string{}, Slots: n.userSlots(), DoorID: bound[n.ID]}
		for _, cc := range []struct {
			id   int
			name string
		}{{CCUserCode, "User Code"}, {CCDoorLock, "Door Lock"}, {CCNotification, "Notification"}, {CCBattery, "Battery"}} {
			if n.Supports(cc.id) {
				ni.LockCCs = append(ni.LockCCs, cc.name)
			}
		}
		if lvl, ok := n.Battery(); ok {
			ni.Battery = &lvl
		}
		out = append(out, ni)
	}
	return out, nil
}

// userSlots is the node's User Code slot count as the gateway cached it
// (0: not reported).
func (n Node) userSlots() int {
	for _, v := range n.Values {
		if v.CommandClass == CCUserCode && v.Property == "supportedUsers" {
			var k int
			if json.Unmarshal(v.Value, &k) == nil {
				return k
			}
		}
	}
	return 0
}

// NodeStatus names a node status as Z-Wave JS reports it.
func NodeStatus(st int) string {
	switch st {
	case StatusAsleep:
		return "asleep"
	case StatusAwake:
		return "awake"
	case StatusDead:
		return "dead"
	case StatusAlive:
		return "alive"
	}
	return "unknown"
}
