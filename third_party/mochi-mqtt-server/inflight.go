// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2023 mochi-mqtt, mochi-co
// SPDX-FileContributor: mochi-co

package mqtt

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/mochi-mqtt/server/v2/packets"
)

// Inflight is a map of InflightMessage keyed on packet id.
type Inflight struct {
	sync.RWMutex
	internal            map[uint16]packets.Packet // internal contains the inflight packets
	receiveQuota        int32                     // remaining inbound qos quota for flow control
	sendQuota           int32                     // remaining outbound qos quota for flow control
	maximumReceiveQuota int32                     // maximum allowed receive quota
	maximumSendQuota    int32                     // maximum allowed send quota
	// DOOR OS: the order in which packet ids were first set (GetAll
	// returns the packets in it), made when a packet is set and dropped
	// when the last one goes.
	order map[uint16]uint64
	seq   uint64
	held  int // DOOR OS: packets held for quota (Expiry < 0)
}

// NewInflights returns a new instance of an Inflight packets map.
func NewInflights() *Inflight {
	return &Inflight{
		internal: map[uint16]packets.Packet{},
	}
}

// Set adds or updates an inflight packet by packet id.
func (i *Inflight) Set(m packets.Packet) bool {
	i.Lock()
	defer i.Unlock()
	return i.setLocked(m)
}

func (i *Inflight) setLocked(m packets.Packet) bool {
	old, ok := i.internal[m.PacketID]
	i.internal[m.PacketID] = m
	i.countHeld(old, ok, -1)
	i.countHeld(m, true, 1)
	if !ok {
		if i.order == nil {
			i.order = map[uint16]uint64{}
		}
		i.seq++
		i.order[m.PacketID] = i.seq
	}
	return !ok
}

// Get returns an inflight packet by packet id.
func (i *Inflight) Get(id uint16) (packets.Packet, bool) {
	i.RLock()
	defer i.RUnlock()

	if m, ok := i.internal[id]; ok {
		return m, true
	}

	return packets.Packet{}, false
}

// Len returns the size of the inflight messages map.
func (i *Inflight) Len() int {
	i.RLock()
	defer i.RUnlock()
	return len(i.internal)
}

// Clone returns a new instance of Inflight with the same message data.
// This is used when transferring inflights from a taken-over session.
func (i *Inflight) Clone() *Inflight {
	c := NewInflights()
	i.RLock()
	defer i.RUnlock()
	for k, v := range i.internal {
		c.internal[k] = v
	}
	if i.order != nil {
		c.order = make(map[uint16]uint64, len(i.order))
		for k, v := range i.order {
			c.order[k] = v
		}
	}
	c.seq, c.held = i.seq, i.held
	return c
}

// GetAll returns all the inflight messages.
func (i *Inflight) GetAll(immediate bool) []packets.Packet {
	i.RLock()
	defer i.RUnlock()

	m := []packets.Packet{}
	for _, v := range i.internal {
		if !immediate || (immediate && v.Expiry < 0) {
			m = append(m, v)
		}
	}

	// DOOR OS: in the order the packets were set, which is the order they
	// were published in. Upstream sorted by uint16(Created), a unix time
	// in seconds cut to 16 bits, with sort.Slice: the packets of one
	// second came out in any order, so a client at its Receive Maximum
	// got the messages held for it out of order.
	sort.Slice(m, func(a, b int) bool {
		return i.order[m[a].PacketID] < i.order[m[b].PacketID]
	})

	return m
}

// NextImmediate returns the next inflight packet which is indicated to be sent immediately.
// This typically occurs when the quota has been exhausted, and we need to wait until new quota
// is free to continue sending.
func (i *Inflight) NextImmediate() (packets.Packet, bool) {
	i.RLock()
	defer i.RUnlock()

	m := i.GetAll(true)
	if len(m) > 0 {
		return m[0], true
	}

	return packets.Packet{}, false
}

// Delete removes an in-flight message from the map. Returns true if the message existed.
func (i *Inflight) Delete(id uint16) bool {
	i.Lock()
	defer i.Unlock()

	old, ok := i.internal[id]
	delete(i.internal, id)
	delete(i.order, id)
	if len(i.internal) == 0 {
		i.order = nil // an idle client keeps no map
	}
	i.countHeld(old, ok, -1)

	return ok
}

// countHeld adds d to the count of held packets if m (present) is one.
func (i *Inflight) countHeld(m packets.Packet, present bool, d int) {
	if present && m.Expiry < 0 {
		i.held += d
	}
}

// DOOR OS: Hold and Release keep a client's QoS packets in order under its
// Receive Maximum (server.go publishToClient and processPacket).

// Hold adds an outbound QoS packet: while the client's send quota is used
// up, or packets are already held for it, the packet is held (Expiry -1,
// returns true) behind them; otherwise it takes a unit of quota and the
// caller sends it. Upstream decided from a quota read before the packet
// was added, and a packet published as a PUBACK freed a unit went out
// ahead of those held before it.
func (i *Inflight) Hold(m packets.Packet) (held, added bool) {
	i.Lock()
	defer i.Unlock()
	held = atomic.LoadInt32(&i.maximumSendQuota) > 0 && (atomic.LoadInt32(&i.sendQuota) <= 0 || i.held > 0)
	if held {
		m.Expiry = -1
	}
	_, exists := i.internal[m.PacketID]
	i.setLocked(m)
	if !held {
		i.DecreaseSendQuota()
	}
	return held, !exists
}

// Release returns the first held packet, now in flight (Expiry 0, a unit
// of quota taken), when there is quota for it.
func (i *Inflight) Release() (packets.Packet, bool) {
	i.Lock()
	defer i.Unlock()
	if i.held == 0 || atomic.LoadInt32(&i.sendQuota) <= 0 {
		return packets.Packet{}, false
	}
	var first packets.Packet
	found := false
	for _, v := range i.internal {
		if v.Expiry < 0 && (!found || i.order[v.PacketID] < i.order[first.PacketID]) {
			first, found = v, true
		}
	}
	if !found {
		return packets.Packet{}, false
	}
	first.Expiry = 0
	i.setLocked(first)
	i.DecreaseSendQuota()
	return first, true
}

// TakeRecieveQuota reduces the receive quota by 1.
func (i *Inflight) DecreaseReceiveQuota() {
	if atomic.LoadInt32(&i.receiveQuota) > 0 {
		atomic.AddInt32(&i.receiveQuota, -1)
	}
}

// TakeRecieveQuota increases the receive quota by 1.
func (i *Inflight) IncreaseReceiveQuota() {
	if atomic.LoadInt32(&i.receiveQuota) < atomic.LoadInt32(&i.maximumReceiveQuota) {
		atomic.AddInt32(&i.receiveQuota, 1)
	}
}

// ResetReceiveQuota resets the receive quota to the maximum allowed value.
func (i *Inflight) ResetReceiveQuota(n int32) {
	atomic.StoreInt32(&i.receiveQuota, n)
	atomic.StoreInt32(&i.maximumReceiveQuota, n)
}

// DecreaseSendQuota reduces the send quota by 1.
func (i *Inflight) DecreaseSendQuota() {
	if atomic.LoadInt32(&i.sendQuota) > 0 {
		atomic.AddInt32(&i.sendQuota, -1)
	}
}

// IncreaseSendQuota increases the send quota by 1.
func (i *Inflight) IncreaseSendQuota() {
	if atomic.LoadInt32(&i.sendQuota) < atomic.LoadInt32(&i.maximumSendQuota) {
		atomic.AddInt32(&i.sendQuota, 1)
	}
}

// ResetSendQuota resets the send quota to the maximum allowed value.
func (i *Inflight) ResetSendQuota(n int32) {
	atomic.StoreInt32(&i.sendQuota, n)
	atomic.StoreInt32(&i.maximumSendQuota, n)
}
