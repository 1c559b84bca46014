// Package pms reads resident rosters exported by property management
// systems and plans how People should follow them.
//
// Adapters only parse files a PMS exports (delivered to a watched folder or
// posted to the API); nothing here talks to a vendor. Reconcile turns a
// roster and the current contacts into a Plan without touching a store.
package pms

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Status is a resident's lease status, mapped from each vendor's own words.
type Status string

const (
	StatusCurrent Status = "current" // living there under a lease
	StatusNotice  Status = "notice"  // living there, has given or been given notice
	StatusFuture  Status = "future"  // lease signed, not moved in yet
	StatusPast    Status = "past"    // moved out
)

// Resident is one person on a roster.
type Resident struct {
	ExternalID string // the PMS's own id for the person (or lease member)
	FirstName  string
	LastName   string
	Email      string
	Phone      string
	Unit       string // the PMS's unit code, mapped to a DOOR OS unit by Reconcile
	// Lease dates are calendar dates, returned as midnight at the start of
	// that day in the property's time zone. LeaseEnd is the last day of the
	// lease (inclusive); for residents on notice it is the move-out date
	// when that comes first.
	LeaseStart *time.Time
	LeaseEnd   *time.Time
	Status     Status
	// VendorStatus is the vendor's status word as read, folded (lower
	// case, letters and digits only), for a property's skip list.
	VendorStatus string
}

// Roster is everything one export says about one property.
type Roster struct {
	Provider  string
	Residents []Resident
}

// ParseWarning is a record an adapter skipped or read only in part. The
// roster is still usable.
type ParseWarning struct {
	Record     int    `json:"record"`      // 1-based: the line a CSV record starts on, or the n-th JSON/XML record
	ExternalID string `json:"external_id"` // when known
	Field      string `json:"field"`       // the vendor's field name, when one field is at fault
	Reason     string `json:"reason"`
}

func (w ParseWarning) String() string {
	s := fmt.Sprintf("record %d", w.Record)
	if w.ExternalID != "" {
		s += " (" + w.ExternalID + ")"
	}
	if w.Field != "" {
		s += " " + w.Field
	}
	return s + ": " + w.Reason
}

// Connector reads one vendor's roster export. Parse returns an error only
// when the file as a whole cannot be read (not the vendor's format, no
// header); single bad records become warnings.
type Connector interface {
	Name() string
	Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error)
}

// Connectors returns every adapter, ordered by name.
func Connectors() []Connector {
	return []Connector{AppFolio{}, Entrata{}, Generic{}, MRI{}, RealPage{}, Yardi{}}
}

// ConnectorFor returns the adapter with the given name ("yardi", "realpage",
// "entrata", "appfolio", "mri", "generic"), case-insensitively.
func ConnectorFor(name string) (Connector, bool) {
	i := slices.IndexFunc(Connectors(), func(c Connector) bool { return strings.EqualFold(c.Name(), strings.TrimSpace(name)) })
	if i < 0 {
		return nil, false
	}
	return Connectors()[i], true
}
