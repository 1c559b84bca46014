package pms

import (
	"io"
	"time"
)

// Yardi reads a Yardi Voyager resident (tenant) export saved as CSV: a
// report export such as the Resident Directory, or a query over the tenant
// table. See docs/pms.md for the columns.
type Yardi struct{}

func (Yardi) Name() string { return "yardi" }

var yardiFields = fieldMap{
	fID:    {"tcode", "tenantcode", "scode", "residentcode", "residentid", "tenantid"},
	fFirst: {"firstname", "sfirstname", "tenantfirstname"},
	fLast:  {"lastname", "slastname", "tenantlastname"},
	// "Resident" and "Tenant" columns of Voyager reports hold the tenant
	// code, not a name, so they are not read as names.
	fName:    {"name", "residentname", "tenantname"},
	fEmail:   {"email", "semail", "emailaddress"},
	fPhone:   {"cellphone", "sphonenum4", "mobilephone", "phone", "sphonenum1", "phonenumber", "homephone", "sphonenum2"},
	fUnit:    {"unit", "unitcode", "sunitcode", "scodeunit"},
	fStart:   {"leasefrom", "dtleasefrom", "leasestart", "leasestartdate"},
	fEnd:     {"leaseto", "dtleaseto", "leaseend", "leaseenddate"},
	fMoveOut: {"moveout", "dtmoveout", "moveoutdate"},
	fStatus:  {"status", "tenantstatus", "residentstatus", "istatus"},
}

// yardiStatuses adds the numeric tenant status codes of the Voyager tenant
// table (istatus) to the words its reports print.
var yardiStatuses = commonStatuses.with(statusMap{
	"0": StatusCurrent, "1": StatusPast, "2": StatusFuture, "3": StatusNotice, // 3 = eviction
	"4": StatusNotice, "5": "", "6": "", "7": "", "8": "", "9": "",
})

func (Yardi) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	return readCSV(r, "yardi", yardiFields, []string{fEmail, fStatus}, yardiStatuses, loc)
}
