package pms

import (
	"io"
	"time"
)

// RealPage reads a RealPage OneSite resident list (Resident Directory or
// Rent Roll with contact details) exported as CSV.
type RealPage struct{}

func (RealPage) Name() string { return "realpage" }

var realpageFields = fieldMap{
	fID:      {"residentid", "reshid", "resid", "residentmemberid", "householdid", "residentcode"},
	fFirst:   {"firstname", "residentfirstname"},
	fLast:    {"lastname", "residentlastname"},
	fName:    {"residentname", "name", "resident"},
	fEmail:   {"email", "emailaddress", "residentemail"},
	fPhone:   {"cellphone", "mobilephone", "phone", "homephone", "phonenumber", "workphone"},
	fUnit:    {"unit", "bldgunit", "unitnumber", "unitid"},
	fStart:   {"leasestart", "leasebegin", "leasestartdate", "leasebegindate"},
	fEnd:     {"leaseend", "leaseexpiration", "leaseenddate", "leaseexpirationdate"},
	fMoveOut: {"moveout", "moveoutdate", "noticemoveoutdate"},
	fStatus:  {"residentstatus", "status", "leasestatus"},
}

var realpageStatuses = commonStatuses.with(statusMap{
	"noticetovacatentv": StatusNotice, "ntv": StatusNotice,
	"pendingrenewal": StatusCurrent, "renewed": StatusCurrent, "monthtomonth": StatusCurrent, "mtm": StatusCurrent,
	"preleased": StatusFuture, "futuremovein": StatusFuture,
	"formerresidentmovedout": StatusPast, "evicted": StatusPast,
	"applicantpending": "", "guestcard": "",
})

func (RealPage) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	return readCSV(r, "realpage", realpageFields, []string{fEmail, fStatus}, realpageStatuses, loc)
}
