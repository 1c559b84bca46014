package domain

import "time"

// SharedDoorTypes are the door types every resident passes (entrances,
// communal rooms): any phone of the property may carry their pending
// bundles, key or not (issue 11).
func SharedDoorTypes() []DoorType { return []DoorType{DoorEntrance, DoorCommunal} }

// CourierLifetime is how long a courier (sync-only) credential lasts: an
// hour, or the property's credential lifetime when shorter, so a lock that
// was told that lifetime as its ceiling accepts it.
func CourierLifetime(propertyLifetime time.Duration) time.Duration {
	if propertyLifetime > 0 && propertyLifetime < time.Hour {
		return propertyLifetime
	}
	return time.Hour
}

// CouriersFor says which of a login's person records may carry a door's
// pending bundle and how: a record that holds access (active or pending)
// couriers with a sync-only credential the cloud issues; a revoked,
// deleted or expired one only with the stale phone credentials it still
// has, to bring its own revocation to the lock before it tries to unlock.
// A sync-only credential is never issued to such a record: the lock would
// refuse it once it holds the revocation anyway, and the record's holder
// is the one person the revocation is about.
func CouriersFor(s Status) (syncOnly, staleOnly bool) {
	if s.HoldsAccess() {
		return true, false
	}
	return false, true
}
