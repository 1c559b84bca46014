package pms

import (
	"io"
	"time"
)

// AppFolio reads an AppFolio Tenant Directory or Rent Roll report exported
// as CSV. Tenant names come as one "Tenant" column; "Emails" and "Phone
// Numbers" may list several values, of which the first is used.
type AppFolio struct{}

func (AppFolio) Name() string { return "appfolio" }

var appfolioFields = fieldMap{
	fID:      {"tenantid", "occupancyid", "tenantuuid", "contactid"},
	fFirst:   {"firstname", "tenantfirstname"},
	fLast:    {"lastname", "tenantlastname"},
	fName:    {"tenant", "tenantname", "name"},
	fEmail:   {"emails", "email", "emailaddress", "tenantemail"},
	fPhone:   {"phonenumbers", "phone", "mobile", "phonenumber"},
	fUnit:    {"unit", "unitname", "unitnumber"},
	fStart:   {"leasefrom", "leasestart", "leasestartdate"},
	fEnd:     {"leaseto", "leaseend", "leaseenddate", "leaseexpires"},
	fMoveOut: {"moveout", "moveoutdate"},
	fStatus:  {"status", "tenantstatus"},
}

var appfolioStatuses = commonStatuses.with(statusMap{
	"noticerented": StatusNotice, "noticeunrented": StatusNotice,
})

func (AppFolio) Parse(r io.Reader, loc *time.Location) (Roster, []ParseWarning, error) {
	return readCSV(r, "appfolio", appfolioFields, []string{fEmail, fStatus}, appfolioStatuses, loc)
}
