package pms

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Entrata reads the JSON body of an Entrata API getLeases response (leases
// with their customers) saved to a file, or a getCustomers response whose
// customers carry their own lease fields. Entrata's JSON is converted from
// XML, so a one-element list may arrive as a bare object and ids as
// numbers; both are accepted.
type Entrata struct{}

func (Entrata) Name() string { return "entrata" }

var entrataFields = fieldMap{
	fID:      {"customerid", "id"},
	fFirst:   {"firstname", "namefirst"},
	fLast:    {"lastname", "namelast"},
	fName:    {"name", "customername"},
	fEmail:   {"emailaddress", "email"},
	fPhone:   {"mobilenumber", "cellphone", "phonenumber", "phone", "primaryphonenumber"},
	fUnit:    {"unitnumbercache", "unitnumber", "unitspace", "unit"},
	fStart:   {"leasestartdate", "startdate", "leaseintervalstartdate"},
	fEnd:     {"leaseenddate", "enddate", "leaseintervalenddate"},
	fMoveOut: {"moveoutdate"},
	fStatus:  {"leaseintervalstatus", "leasestatustype", "leasestatus", "status"},
}

var entrataStatuses = commonStatuses

func (Entrata) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	if loc == nil {
		loc = time.UTC
	}
	var doc map[string]any
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return Roster{}, nil, fmt.Errorf("entrata roster: %w", err)
	}
	doc = normKeys(doc)
	if resp, ok := doc["response"].(map[string]any); ok {
		doc = resp
	}
	if e, ok := doc["error"].(map[string]any); ok {
		return Roster{}, nil, fmt.Errorf("entrata roster: the file is an error response: %s", scalar(e["message"]))
	}
	if res, ok := doc["result"].(map[string]any); ok {
		doc = res
	}

	// Each person becomes one record: the lease's own fields, overlaid by
	// the customer's.
	var records []map[string]any
	if leases, ok := doc["leases"].(map[string]any); ok {
		for _, lease := range list(leases["lease"]) {
			customers, _ := lease["customers"].(map[string]any)
			for _, c := range list(customers["customer"]) {
				rec := make(map[string]any, len(lease)+len(c))
				for k, v := range lease {
					if k != "id" {
						rec[k] = v
					}
				}
				if id, ok := lease["id"]; ok {
					rec["leaseid"] = id
				}
				for k, v := range c {
					rec[k] = v
				}
				records = append(records, rec)
			}
		}
	} else if customers, ok := doc["customers"].(map[string]any); ok {
		records = list(customers["customer"])
	} else {
		return Roster{}, nil, fmt.Errorf("entrata roster: no response.result.leases.lease or response.result.customers.customer")
	}

	roster := Roster{Provider: "entrata"}
	b := &builder{fields: entrataFields, statuses: entrataStatuses, loc: loc}
	for i, rec := range records {
		if attrs, ok := rec["attributes"].(map[string]any); ok { // "@attributes": {"Id": …}
			for k, v := range attrs {
				if _, taken := rec[k]; !taken {
					rec[k] = v
				}
			}
		}
		if t := norm(scalar(rec["customertype"]) + scalar(rec["relationshipname"])); strings.Contains(t, "guarantor") {
			continue // guarantors sign, they do not live there
		}
		res, ok := b.build(i+1, func(name string) (string, bool) {
			v, ok := rec[name]
			return scalar(v), ok
		})
		if ok {
			roster.Residents = append(roster.Residents, res)
		}
	}
	return roster, b.warns, nil
}

// normKeys returns v with every object key passed through norm, recursively.
func normKeys(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[norm(k)] = normValue(x)
	}
	return out
}

func normValue(x any) any {
	switch t := x.(type) {
	case map[string]any:
		return normKeys(t)
	case []any:
		for i := range t {
			t[i] = normValue(t[i])
		}
	}
	return x
}

// list reads a value that is one object or an array of objects.
func list(v any) []map[string]any {
	switch t := v.(type) {
	case map[string]any:
		return []map[string]any{t}
	case []any:
		var out []map[string]any
		for _, x := range t {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	return nil
}

// scalar renders a JSON string, number or boolean; objects, arrays and
// null read as empty.
func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return ""
}
