package pms

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// MRI reads an MRI Residential Management resident export in XML, the
// form MRI's resident web services and scheduled exports return: a list of
// flat elements (for example <entry>) with one child element per field.
// Any element whose children are all leaves and include a status or email
// field is read as one resident, so the wrapper names do not matter.
type MRI struct{}

func (MRI) Name() string { return "mri" }

var mriFields = fieldMap{
	fID:      {"residentid", "nameid", "resid", "tenantid", "leaseid"},
	fFirst:   {"firstname", "residentfirstname"},
	fLast:    {"lastname", "residentlastname"},
	fName:    {"name", "residentname"},
	fEmail:   {"email", "emailaddress", "residentemail"},
	fPhone:   {"cellphone", "mobilephone", "phone", "phonenumber", "homephone"},
	fUnit:    {"unitid", "unit", "unitnumber"},
	fStart:   {"leasestart", "leasestartdate", "leasefrom", "moveindate"},
	fEnd:     {"leaseend", "leaseenddate", "leaseexpirationdate", "leaseto"},
	fMoveOut: {"moveoutdate", "moveout"},
	fStatus:  {"status", "residentstatus", "leasestatus"},
}

// mriStatuses adds the one-letter codes of MRI's resident status field.
var mriStatuses = commonStatuses.with(statusMap{
	"c": StatusCurrent, "n": StatusNotice, "f": StatusFuture, "p": StatusPast,
	"a": "", "x": "",
})

func (MRI) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	if loc == nil {
		loc = time.UTC
	}
	type frame struct {
		fields   map[string]string
		text     strings.Builder
		children int
	}
	roster := Roster{Provider: "mri"}
	b := &builder{fields: mriFields, statuses: mriStatuses, loc: loc}
	dec := xml.NewDecoder(r)
	dec.Strict = true
	var stack []*frame
	n, root := 0, false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Roster{}, nil, fmt.Errorf("mri roster: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			root = true
			if len(stack) > 0 {
				stack[len(stack)-1].children++
			}
			f := &frame{fields: make(map[string]string)}
			for _, a := range t.Attr {
				f.fields[norm(a.Name.Local)] = a.Value
			}
			stack = append(stack, f)
			if len(stack) > 64 {
				return Roster{}, nil, errors.New("mri roster: elements nested too deeply")
			}
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1].text.Len() < 4096 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.children == 0 && len(f.fields) == 0 {
				if len(stack) > 0 {
					stack[len(stack)-1].fields[norm(t.Name.Local)] = strings.TrimSpace(f.text.String())
				}
				continue
			}
			if !hasField(f.fields, mriFields[fStatus]) && !hasField(f.fields, mriFields[fEmail]) {
				continue
			}
			n++
			res, ok := b.build(n, func(name string) (string, bool) {
				v, ok := f.fields[name]
				return v, ok
			})
			if ok {
				roster.Residents = append(roster.Residents, res)
			}
		}
	}
	if !root {
		return Roster{}, nil, errors.New("mri roster: no XML document")
	}
	return roster, b.warns, nil
}

func hasField(fields map[string]string, names []string) bool {
	for _, n := range names {
		if _, ok := fields[n]; ok {
			return true
		}
	}
	return false
}
