package console

import (
	"html/template"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/dooros/dooros/domain"
)

// mustParsePages parses each page template together with the layout.
func mustParsePages() map[string]*template.Template {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		out[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", n))
	}
	return out
}

var funcs = template.FuncMap{
	// when formats a time in the property's time zone (UTC without one).
	"when": func(v any, p *domain.Property) string {
		t, ok := asTime(v)
		if !ok {
			return "—"
		}
		loc := time.UTC
		if p != nil {
			loc = p.Location()
		}
		return t.In(loc).Format("2006-01-02 15:04")
	},
	"zone": func(p *domain.Property) string {
		if p == nil {
			return "UTC"
		}
		return p.TimeZone
	},
	"purl": func(p *domain.Property, rest ...string) string {
		if p == nil {
			return "/"
		}
		return propertyURL(p.ID, rest...)
	},
	"pathp": propertyURL,
	"query": func(kv ...string) string {
		q := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				q.Set(kv[i], kv[i+1])
			}
		}
		if len(q) == 0 {
			return ""
		}
		return "?" + q.Encode()
	},
	"contains": contains,
	"keyDoors": keyDoorNames,
	"schedule": func(s domain.Schedule) string {
		if len(s) == 0 {
			return "any time"
		}
		return formatSchedule(s)
	},
	"join":     strings.Join,
	"pmsWords": pmsWords,
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
	"eq2": func(a, b any) bool { return a == b },
	"way": wayLabel,
	// local writes the UTC times (RFC 3339) a domain message carries in
	// the property's zone, labelled: "2026-12-13 01:39 EST".
	"local": localTimes,
	// sys is the system=1 query value of a ticked "Show Door Sync events".
	"sys": func(on bool) string {
		if on {
			return "1"
		}
		return ""
	},
	// inputTime is a time as a datetime-local input's value in the
	// property's zone ("" for none).
	"inputTime": func(v any, p *domain.Property) string {
		t, ok := asTime(v)
		if !ok || p == nil {
			return ""
		}
		return formTime(&t, p.Location())
	},
	// whenFull is a time with seconds and its zone's name, for detail views.
	"whenFull": func(v any, p *domain.Property) string {
		t, ok := asTime(v)
		if !ok {
			return "—"
		}
		loc := time.UTC
		if p != nil {
			loc = p.Location()
		}
		return t.In(loc).Format("2006-01-02 15:04:05 MST")
	},
}

func asTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, !t.IsZero()
	case *time.Time:
		if t == nil {
			return time.Time{}, false
		}
		return *t, true
	}
	return time.Time{}, false
}

// Form times are local to the property: datetime-local inputs and dates.
const (
	formDateTime = "2006-01-02T15:04"
	formDate     = "2006-01-02"
)

// parseFormTime reads a datetime-local (or date) value in loc; empty is nil.
func parseFormTime(field, v string, loc *time.Location) (*time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	for _, layout := range []string{formDateTime, formDateTime + ":05", formDate} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			t = t.UTC()
			return &t, nil
		}
	}
	return nil, domain.FieldError(field, "%q is not a date and time (use YYYY-MM-DD HH:MM)", v)
}

func formTime(t *time.Time, loc *time.Location) string {
	if t == nil {
		return ""
	}
	return t.In(loc).Format(formDateTime)
}
