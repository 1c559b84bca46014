package console

import (
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// fieldErr is a form error shown beside its field, in words: the field's
// label ("Time zone") and the rule's message, never the API's field name.
type fieldErr struct {
	Field string // the form field it belongs to ("" shows above the form)
	Label string
	Text  string
}

// Message is the error as a sentence: "Time zone … is not an IANA time
// zone".
func (e *fieldErr) Message() string {
	if e.Label == "" {
		return e.Text
	}
	return e.Label + " " + e.Text
}

// On reports whether the error belongs to field (for templates).
func (e *fieldErr) On(field string) bool { return e != nil && e.Field == field }

// labelled turns an invalid-input or conflict error into a fieldErr with
// the label of its field on this form; any other error is returned as is.
// An error about a field the form does not show goes above the form,
// labelled still.
func labelled(err error, labels map[string]string) (*fieldErr, error) {
	var de *domain.Error
	if !errors.As(err, &de) || (de.Code != domain.EInvalid && de.Code != domain.EConflict) {
		return nil, err
	}
	if de.Field == "" {
		return &fieldErr{Text: de.Message}, nil
	}
	if l, ok := labels[de.Field]; ok {
		return &fieldErr{Field: de.Field, Label: l, Text: de.Message}, nil
	}
	return &fieldErr{Text: de.Message}, nil
}

// fieldLabels name the API's fields as the console's forms label them.
var fieldLabels = map[string]string{
	"first_name": "First name", "last_name": "Last name", "email": "Email", "phone": "Phone", "unit_id": "Unit",
	"keys": "Keys", "starts_at": "Start", "expires_at": "Expiration", "name": "Name", "doors": "Doors",
	"serial": "Keycard serial", "access": "Access", "time_zone": "Time zone", "doorcode_length": "Doorcode length",
	"credential_lifetime_hours": "Credential lifetime", "role": "Role", "password": "Password", "org": "Organisation",
	"file": "File", "roster": "Roster file", "provider": "PMS", "interval_minutes": "Sync interval", "type": "Type",
	"connectivity": "Connectivity", "from": "From", "to": "To", "key_id": "Key", "may_share": "May share",
}

// fieldInText finds API field names inside a message ("must be after
// starts_at").
var fieldInText = regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`)

// inWords is a domain error as a form shows it: the field's label instead
// of its API name, also inside the message ("Expiration must be after
// the start", not "expires_at: must be after starts_at"). A field the
// console has no label for keeps its name.
func inWords(de *domain.Error) string {
	msg := fieldInText.ReplaceAllStringFunc(de.Message, func(f string) string {
		if l, ok := fieldLabels[f]; ok {
			return "the " + strings.ToLower(l)
		}
		return f
	})
	if de.Field == "" {
		return msg
	}
	if l, ok := fieldLabels[de.Field]; ok {
		return l + " " + msg
	}
	if strings.HasPrefix(de.Field, "schedule_") {
		// The key form's per-door schedule: the message names the door.
		return "Schedule " + msg
	}
	return de.Field + ": " + msg
}

var rfc3339InText = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`)

// localTimes rewrites every RFC 3339 time in msg in p's zone, with the
// zone's abbreviation: people read and type times in the property's zone.
func localTimes(msg string, p *domain.Property) string {
	if p == nil {
		return msg
	}
	loc := p.Location()
	return rfc3339InText.ReplaceAllStringFunc(msg, func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return t.In(loc).Format("2006-01-02 15:04 MST")
	})
}
