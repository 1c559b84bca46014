package pms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Generic reads DOOR OS's own JSON roster, for systems without an adapter
// and for scripts:
//
//	{"provider": "acme-pms",
//	 "residents": [{"external_id": "r-1", "first_name": "Jane", "last_name": "Doe",
//	   "email": "jane@example.com", "phone": "+1 555 0100", "unit": "101",
//	   "lease_start": "2026-01-01", "lease_end": "2026-12-31", "status": "current"}]}
//
// A bare array of residents is accepted too. Unknown fields are an error so
// a misspelt "lease_ends" does not quietly grant access without an end.
// Status is one of current, notice, future, past.
type Generic struct{}

func (Generic) Name() string { return "generic" }

// GenericResident is one resident of a generic JSON roster.
type GenericResident struct {
	ExternalID string `json:"external_id"`
	FirstName  string `json:"first_name"`
	LastName   string `json:"last_name"`
	Email      string `json:"email"`
	Phone      string `json:"phone,omitempty"`
	Unit       string `json:"unit,omitempty"`
	LeaseStart string `json:"lease_start,omitempty"` // YYYY-MM-DD (or RFC 3339; the date is used)
	LeaseEnd   string `json:"lease_end,omitempty"`
	Status     string `json:"status"`
}

// GenericRoster is the document Generic reads.
type GenericRoster struct {
	Provider  string            `json:"provider,omitempty"`
	Residents []GenericResident `json:"residents"`
}

var genericFields = fieldMap{
	fID: {"externalid"}, fFirst: {"firstname"}, fLast: {"lastname"}, fEmail: {"email"},
	fPhone: {"phone"}, fUnit: {"unit"}, fStart: {"leasestart"}, fEnd: {"leaseend"}, fStatus: {"status"},
}

var genericStatuses = statusMap{
	"current": StatusCurrent, "notice": StatusNotice, "future": StatusFuture, "past": StatusPast,
}

func (Generic) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	if loc == nil {
		loc = time.UTC
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return Roster{}, nil, err
	}
	var doc GenericRoster
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] == '[' {
		err = decodeStrict(raw, &doc.Residents)
	} else {
		err = decodeStrict(raw, &doc)
	}
	if err != nil {
		return Roster{}, nil, fmt.Errorf("generic roster: %w", err)
	}
	if doc.Residents == nil {
		return Roster{}, nil, fmt.Errorf("generic roster: no \"residents\" list")
	}
	roster := Roster{Provider: doc.Provider}
	if roster.Provider == "" {
		roster.Provider = "generic"
	}
	b := &builder{fields: genericFields, statuses: genericStatuses, loc: loc}
	for i, g := range doc.Residents {
		vals := map[string]string{
			"externalid": g.ExternalID, "firstname": g.FirstName, "lastname": g.LastName,
			"email": g.Email, "phone": g.Phone, "unit": g.Unit,
			"leasestart": g.LeaseStart, "leaseend": g.LeaseEnd, "status": g.Status,
		}
		res, ok := b.build(i+1, func(name string) (string, bool) {
			v, ok := vals[name]
			return v, ok
		})
		if ok {
			roster.Residents = append(roster.Residents, res)
		}
	}
	return roster, b.warns, nil
}

func decodeStrict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("data after the roster")
	}
	return nil
}
