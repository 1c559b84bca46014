package notify

import (
	htmltemplate "html/template"
	"strings"
	"text/template"
	"time"

	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/store"
)

// An email is a subject, a plain-text body and an HTML alternative, each a
// template over the same data.
type email struct {
	subject *template.Template
	text    *template.Template
	html    *htmltemplate.Template
}

func newEmail(name, subject, text, html string) email {
	return email{
		subject: template.Must(template.New(name + ".subject").Parse(subject)),
		text:    template.Must(template.New(name + ".text").Parse(text)),
		html:    htmltemplate.Must(htmltemplate.New(name + ".html").Parse(htmlHead + html + htmlFoot)),
	}
}

const htmlHead = `<!doctype html><html><body style="font-family:sans-serif;line-height:1.5;color:#222">`
const htmlFoot = `<p style="color:#777;font-size:12px">Sent by DOOR OS. You get this email because a property manager or resident gave you access.</p></body></html>`

func fill(m *mail.Message, e email, data any) error {
	var b strings.Builder
	if err := e.subject.Execute(&b, data); err != nil {
		return permanent("render subject: %v", err)
	}
	m.Subject = b.String()
	b.Reset()
	if err := e.text.Execute(&b, data); err != nil {
		return permanent("render text: %v", err)
	}
	m.Text = b.String()
	b.Reset()
	if err := e.html.Execute(&b, data); err != nil {
		return permanent("render html: %v", err)
	}
	m.HTML = b.String()
	return nil
}

// personData is what the person emails show; times are in the property's
// time zone.
type personData struct {
	FirstName, Name, Email string
	Property               string
	App                    bool
	HostName               string
	Keys                   []keyData
	Doorcode               string
	DoorcodeDoors          string
	StartsLater            bool
	Starts, Expires        string
	ServerURL              string
	AppLink                string
	// Code guests.
	Code, CodeKind, Day, KeyName, CodeDoors string
	QuarterHour, Changed                    bool
}

type keyData struct {
	Name, Doors, Window string
}

func when(t time.Time, loc *time.Location) string {
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

func newPersonData(d store.MailData, baseURL string) personData {
	loc := d.Property.Location()
	if baseURL == "" {
		baseURL = "http://127.0.0.1:8080"
	}
	pd := personData{FirstName: d.Person.FirstName, Name: d.Person.Name(), Email: d.Person.Email, Property: d.Property.Name,
		App: d.Person.Access == "app", Doorcode: d.Doorcode, DoorcodeDoors: strings.Join(d.DoorcodeDoors, ", "),
		StartsLater: d.Person.StartsAt.After(time.Now()), Starts: when(d.Person.StartsAt, loc), ServerURL: baseURL,
		AppLink: baseURL + "/app?email=" + d.Person.Email}
	if d.Person.ExpiresAt != nil {
		pd.Expires = when(*d.Person.ExpiresAt, loc)
	}
	if d.Host != nil {
		pd.HostName = d.Host.Name()
	}
	for _, k := range d.Keys {
		w := "from " + when(k.StartsAt, loc)
		if k.ExpiresAt != nil {
			w += " until " + when(*k.ExpiresAt, loc)
		}
		pd.Keys = append(pd.Keys, keyData{Name: k.Name, Doors: strings.Join(k.Doors, ", "), Window: w})
	}
	if g := d.GuestCode; g != nil {
		pd.Code, pd.KeyName, pd.CodeDoors = g.Code, g.KeyName, strings.Join(g.Doors, ", ")
		pd.Day = g.ValidFrom.In(loc).Format("Monday 2 January 2006")
		pd.QuarterHour = g.Kind == store.GuestQuarterHourCode
		pd.CodeKind = "single-day"
		if pd.QuarterHour {
			pd.CodeKind = "15-minute"
		}
	}
	return pd
}

var welcome = newEmail("welcome",
	`{{if .HostName}}{{.HostName}} invited you to {{.Property}}{{else}}Welcome to {{.Property}}{{end}}`,
	`Hello {{.FirstName}},
{{if .HostName}}
{{.HostName}} invited you as a guest at {{.Property}}.
{{else}}
You now have access at {{.Property}}.
{{end}}{{if .StartsLater}}
Your access starts {{.Starts}}. You can set everything up today.
{{end}}{{if .Expires}}
Your access ends {{.Expires}}.
{{end}}
Your keys:
{{range .Keys}}- {{.Name}}: {{.Doors}} ({{.Window}})
{{end}}{{if .App}}
Get the DOOR App and log in with this email address ({{.Email}}).
We email you a 6-digit code each time you log in; no password needed.
App link: {{.AppLink}}

With the command-line app:
  doorapp --server {{.ServerURL}} --state ~/.doorapp login --email {{.Email}}
{{if .Doorcode}}
You also have a doorcode: open the app to see it.
{{end}}{{else}}
Your doorcode: {{.Doorcode}}
It opens: {{.DoorcodeDoors}}{{if .StartsLater}}
It works from {{.Starts}}.{{end}}
Keep it to yourself; never write it on the door.
{{end}}`,
	`<p>Hello {{.FirstName}},</p>
{{if .HostName}}<p>{{.HostName}} invited you as a guest at <b>{{.Property}}</b>.</p>{{else}}<p>You now have access at <b>{{.Property}}</b>.</p>{{end}}
{{if .StartsLater}}<p>Your access starts <b>{{.Starts}}</b>. You can set everything up today.</p>{{end}}
{{if .Expires}}<p>Your access ends {{.Expires}}.</p>{{end}}
<p>Your keys:</p><ul>{{range .Keys}}<li><b>{{.Name}}</b>: {{.Doors}} ({{.Window}})</li>{{end}}</ul>
{{if .App}}<p>Get the DOOR App and log in with this email address ({{.Email}}). We email you a 6-digit code each time you log in; no password needed.</p>
<p><a href="{{.AppLink}}">Open the DOOR App</a></p>
<p>With the command-line app: <code>doorapp --server {{.ServerURL}} --state ~/.doorapp login --email {{.Email}}</code></p>
{{if .Doorcode}}<p>You also have a doorcode: open the app to see it.</p>{{end}}
{{else}}<p>Your doorcode: <b style="font-size:20px;letter-spacing:2px">{{.Doorcode}}</b></p><p>It opens: {{.DoorcodeDoors}}{{if .StartsLater}}, from {{.Starts}}{{end}}.</p>
<p>Keep it to yourself; never write it on the door.</p>{{end}}`)

var loginCode = newEmail("login_code",
	`Your DOOR App login code: {{.Code}}`,
	`Hello{{if .Name}} {{.Name}}{{end}},

Your DOOR App login code is {{.Code}}

It works once, for {{.Minutes}} minutes. If you did not try to log in, ignore this email: nobody can log in without this code.
`,
	`<p>Hello{{if .Name}} {{.Name}}{{end}},</p><p>Your DOOR App login code is</p><p style="font-size:28px;letter-spacing:4px"><b>{{.Code}}</b></p>
<p>It works once, for {{.Minutes}} minutes. If you did not try to log in, ignore this email: nobody can log in without this code.</p>`)

var guestCode = newEmail("guest_code",
	`{{if .Changed}}Your new doorcode for {{.Property}}{{else}}{{.HostName}} sent you a doorcode for {{.Property}}{{end}}`,
	`Hello {{.FirstName}},
{{if .Changed}}
Your doorcode for {{.Property}} has changed. Use this one instead of the earlier code.
{{else}}
{{.HostName}} invited you to {{.Property}} with a {{.CodeKind}} doorcode.
{{end}}
Doorcode: {{.Code}}
Day: {{.Day}}
Doors: {{.CodeDoors}}
{{if .QuarterHour}}
The code works for 15 minutes from the first time you enter it, on that day only.
{{else}}
The code works from midnight to midnight that day ({{.Property}} local time).
{{end}}`,
	`<p>Hello {{.FirstName}},</p>
{{if .Changed}}<p>Your doorcode for <b>{{.Property}}</b> has changed. Use this one instead of the earlier code.</p>{{else}}<p>{{.HostName}} invited you to <b>{{.Property}}</b> with a {{.CodeKind}} doorcode.</p>{{end}}
<p>Doorcode: <b style="font-size:20px;letter-spacing:2px">{{.Code}}</b><br>Day: {{.Day}}<br>Doors: {{.CodeDoors}}</p>
{{if .QuarterHour}}<p>The code works for 15 minutes from the first time you enter it, on that day only.</p>{{else}}<p>The code works from midnight to midnight that day ({{.Property}} local time).</p>{{end}}`)

var managerInvitation = newEmail("manager_invitation",
	`{{.InvitedBy}} invited you to DOOR OS`,
	`Hello {{.Manager.FirstName}},

{{.InvitedBy}} added you as a manager in DOOR OS. Choose your password to start:

{{.Link}}

(Or send POST {{.BaseURL}}/api/v1/auth/accept-invitation with {"token": "{{.Token}}", "password": "…"}.)
The link works for 7 days.
`,
	`<p>Hello {{.Manager.FirstName}},</p><p>{{.InvitedBy}} added you as a manager in DOOR OS.</p>
<p><a href="{{.Link}}">Choose your password</a></p><p>The link works for 7 days.</p>`)
