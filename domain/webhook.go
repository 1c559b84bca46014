package domain

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Webhook is an endpoint that receives the Activity of an organisation (no
// PropertyID) or of one property, signed with its own secret.
type Webhook struct {
	ID          string   `json:"id"`
	OrgID       string   `json:"-"`
	PropertyID  string   `json:"property_id"` // "" = every property of the organisation
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Kinds       []string `json:"kinds"`
	Status      string   `json:"status"` // WebhookEnabled, WebhookPaused, WebhookDisabled
	// DisabledReason says why the platform disabled the endpoint.
	DisabledReason string    `json:"disabled_reason"`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
	SecretRolledAt time.Time `json:"secret_rolled_at"`
	// PreviousSecretExpiresAt is set while a rolled secret is still
	// accepted: until then every request carries both signatures.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
}

// Webhook statuses. Paused is the manager's choice; disabled is the
// platform's after deliveries kept failing (DisabledReason says why).
// Either way no event is queued for the endpoint until it is enabled.
const (
	WebhookEnabled  = "enabled"
	WebhookPaused   = "paused"
	WebhookDisabled = "disabled"
)

// WebhookInput creates an endpoint.
type WebhookInput struct {
	PropertyID  string   `json:"property_id"`
	URL         string   `json:"url"`
	Description string   `json:"description"`
	Kinds       []string `json:"kinds"`
	// Enabled defaults to true.
	Enabled *bool `json:"enabled"`
}

// WebhookPatch changes an endpoint; nil fields stay. Enabled true on a
// disabled endpoint enables it again.
type WebhookPatch struct {
	URL         *string   `json:"url"`
	Description *string   `json:"description"`
	Kinds       *[]string `json:"kinds"`
	Enabled     *bool     `json:"enabled"`
}

// WebhookPolicy is what the operator allows (dooros serve
// --webhooks-allow-private): plain http and receivers on private,
// loopback and link-local addresses, for local integrations and tests.
type WebhookPolicy struct {
	AllowPrivate bool
}

// Limits of webhook input.
const (
	MaxWebhookURL         = 2000
	MaxWebhookDescription = 200
	// DefaultWebhookGrace is how long a rolled secret still signs requests.
	DefaultWebhookGrace = 24 * time.Hour
	MaxWebhookGrace     = 7 * 24 * time.Hour
)

// WebhookKinds are the Activity kinds an endpoint may choose, besides "*"
// (everything) and "family.*" (every kind of a family, including kinds
// added later).
var WebhookKinds = []string{
	EventPropertyCreated, EventPropertyUpdated, "property.time_corrected",
	EventDoorCreated, EventUnitCreated,
	EventKeyCreated, EventKeyUpdated, EventKeyDeleted,
	EventPersonInvited, EventGuestInvited, "guest.revoked", EventPersonUpdated,
	EventKeyGiven, EventKeyTaken, EventPersonRevoked, EventPersonDeleted, EventDoorcodeChanged,
	"person.keycard_activated", "person.keycard_deactivated",
	EventManagerAdded, EventManagerAssigned,
	EventDoorUnlocked, EventDoorDenied, EventDoorSynced,
	"door.bundle_applied", "door.bundle_refused", "door.keypad_alert", "door.keypad_locked",
	"door.lock_event", "door.lock_keys_rotated", "door.lock_provisioned", "door.log_fork", "door.log_gap",
	"device.enrolled", "device.removed", "credential.issued", "credential.refused", "resident.login_refused",
	"email.failed",
	"pms.synced", "pms.review_approved", "pms.review_rejected", "pms.settings_changed",
}

// webhookFamilies are the prefixes "family.*" may name.
func webhookFamilies() map[string]bool {
	f := map[string]bool{"import": true, "lock": true, "sync": true}
	for _, k := range WebhookKinds {
		fam, _, _ := strings.Cut(k, ".")
		f[fam] = true
	}
	return f
}

// CanManageWebhooks checks that the actor may manage the endpoints of a
// property (propertyID) or of the whole organisation (""): Portfolio
// Managers, and Property Managers with full Key Management on the
// property. The same rule decides, at delivery, whether an endpoint's
// creator still sees the property an event belongs to.
func (a Actor) CanManageWebhooks(propertyID string) error {
	if propertyID == "" {
		if a.Role != RolePortfolioManager {
			return Errorf(EForbidden, "webhooks for the whole organisation need the Portfolio Manager role; a Property Manager with full Key Management may add one for a property")
		}
		return nil
	}
	if err := a.Can(propertyID, PermView); err != nil {
		return err
	}
	if err := a.Can(propertyID, PermManageKeys); err != nil {
		return Errorf(EForbidden, "webhooks need full Key Management on this property; ask a Portfolio Manager of your organisation to grant it")
	}
	return nil
}

// Validate checks a new endpoint and normalises it (kinds sorted, unique).
func (in *WebhookInput) Validate(pol WebhookPolicy) error {
	u, err := ValidateWebhookURL(in.URL, pol)
	if err != nil {
		return err
	}
	in.URL = u
	if in.Description, err = validateWebhookDescription(in.Description); err != nil {
		return err
	}
	in.Kinds, err = NormalizeWebhookKinds(in.Kinds)
	return err
}

// Validate checks a patch like WebhookInput.Validate.
func (p *WebhookPatch) Validate(pol WebhookPolicy) error {
	if p.URL == nil && p.Description == nil && p.Kinds == nil && p.Enabled == nil {
		return Errorf(EInvalid, "nothing to change: send url, description, kinds or enabled")
	}
	if p.URL != nil {
		u, err := ValidateWebhookURL(*p.URL, pol)
		if err != nil {
			return err
		}
		p.URL = &u
	}
	if p.Description != nil {
		d, err := validateWebhookDescription(*p.Description)
		if err != nil {
			return err
		}
		p.Description = &d
	}
	if p.Kinds != nil {
		k, err := NormalizeWebhookKinds(*p.Kinds)
		if err != nil {
			return err
		}
		p.Kinds = &k
	}
	return nil
}

func validateWebhookDescription(d string) (string, error) {
	d = strings.TrimSpace(d)
	if len(d) > MaxWebhookDescription {
		return "", FieldError("description", "description is longer than %d bytes", MaxWebhookDescription)
	}
	if strings.IndexFunc(d, unicode.IsControl) >= 0 {
		return "", FieldError("description", "description has control characters")
	}
	return d, nil
}

// ValidateWebhookURL checks an endpoint URL: absolute https (plain http
// only when the operator allows private receivers), a host, no user
// name or password, no fragment, and no literal private, loopback or
// link-local address or local host name unless allowed. Names are checked
// again at connect time against the address they resolve to
// (WebhookAddressAllowed), so DNS cannot bypass this.
func ValidateWebhookURL(raw string, pol WebhookPolicy) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", FieldError("url", "url is required")
	}
	if len(raw) > MaxWebhookURL {
		return "", FieldError("url", "url is longer than %d bytes", MaxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", FieldError("url", "url is not a URL: %v", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !pol.AllowPrivate {
			return "", FieldError("url", "url must start with https:// (plain http is allowed only for local receivers, when the operator starts the server with --webhooks-allow-private)")
		}
	default:
		return "", FieldError("url", "url must be an absolute https:// URL")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return "", FieldError("url", "url has no host")
	}
	if u.User != nil {
		return "", FieldError("url", "url must not carry a user name or password; the signature authenticates the request")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return "", FieldError("url", "url must not have a #fragment")
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return "", FieldError("url", "url has spaces or control characters")
	}
	if !pol.AllowPrivate {
		host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
		if ip, err := netip.ParseAddr(host); err == nil {
			if !WebhookAddressAllowed(ip, pol) {
				return "", FieldError("url", "url points to a private, loopback or link-local address (%s); webhooks are delivered only to public addresses", ip)
			}
		} else if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") || strings.HasSuffix(host, ".internal") || !strings.Contains(host, ".") {
			return "", FieldError("url", "url names a local host (%s); webhooks are delivered only to public addresses", host)
		}
	}
	return u.String(), nil
}

// nonPublic are address ranges a webhook never reaches unless the
// operator allows private receivers: besides what netip classifies
// (loopback, private, link-local, multicast, unspecified), shared address
// space (RFC 6598), benchmarking, documentation, IPv4-reserved and
// NAT64/6to4 prefixes that embed such addresses.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("100::/64"),
}

// WebhookAddressAllowed reports whether a delivery may connect to ip: a
// public unicast address, or anything when the operator allows private
// receivers. The delivery worker asks it for every address it dials.
func WebhookAddressAllowed(ip netip.Addr, pol WebhookPolicy) bool {
	if pol.AllowPrivate {
		return true
	}
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsGlobalUnicast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// NormalizeWebhookKinds checks the kinds an endpoint subscribes to and
// returns them sorted without duplicates: "*", "family.*", or a kind of
// WebhookKinds.
func NormalizeWebhookKinds(kinds []string) ([]string, error) {
	if len(kinds) == 0 {
		return nil, FieldError("kinds", `kinds is required: list Activity kinds ("person.invited"), families ("door.*") or "*" for every event`)
	}
	if len(kinds) > 100 {
		return nil, FieldError("kinds", "at most 100 kinds")
	}
	fams := webhookFamilies()
	out := make([]string, 0, len(kinds))
	for _, k := range kinds {
		k = strings.TrimSpace(k)
		switch {
		case k == "*":
		case strings.HasSuffix(k, ".*") && fams[strings.TrimSuffix(k, ".*")]:
		case slices.Contains(WebhookKinds, k):
		default:
			return nil, FieldError("kinds", "unknown event kind %q; kinds are %s, a family such as \"person.*\", or \"*\"", truncRunes(k, 60), strings.Join(WebhookKinds, ", "))
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// WebhookWants reports whether an endpoint with these kinds receives an
// event of kind.
func WebhookWants(kinds []string, kind string) bool {
	for _, k := range kinds {
		if k == "*" || k == kind {
			return true
		}
		if fam, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(kind, fam) {
			return true
		}
	}
	return false
}

// WebhookGrace checks how long a rolled secret stays valid (nil: the
// default).
func WebhookGrace(hours *float64) (time.Duration, error) {
	if hours == nil {
		return DefaultWebhookGrace, nil
	}
	if !(*hours >= 0 && *hours <= MaxWebhookGrace.Hours()) { // also NaN
		return 0, FieldError("grace_hours", "grace_hours must be between 0 and %d", int(MaxWebhookGrace/time.Hour))
	}
	return time.Duration(*hours * float64(time.Hour)), nil
}

// NewWebhookSecret returns a fresh signing secret ("whsec_" and 32 random
// bytes in base64url).
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b)
}

// WebhookPayload is the JSON body of a delivery: the event's identity and
// its Activity entry. It carries only the Activity fields — never
// doorcodes, keys, tokens or credentials — and is the same bytes on every
// attempt and resend.
type WebhookPayload struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	PropertyID string    `json:"property_id"`
	Data       Event     `json:"data"`
}

// WebhookBody encodes the delivery body of an event.
func WebhookBody(e Event) []byte {
	b, _ := json.Marshal(WebhookPayload{ID: e.ID, Type: e.Kind, CreatedAt: e.At.UTC(), PropertyID: e.PropertyID, Data: e})
	return b
}

func truncRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
