package domain_test

import (
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

func TestCanManageWebhooks(t *testing.T) {
	const prop, other = "prp_a", "prp_b"
	pm := domain.Actor{Role: domain.RolePortfolioManager}
	with := func(as domain.Assignment) domain.Actor {
		as.PropertyID = prop
		return domain.Actor{Role: domain.RolePropertyManager, Assignments: map[string]domain.Assignment{prop: as}}
	}
	for _, c := range []struct {
		name     string
		a        domain.Actor
		property string
		want     domain.Code
	}{
		{"portfolio, organisation", pm, "", ""},
		{"portfolio, property", pm, prop, ""},
		{"full, property", with(domain.Assignment{KeyManagement: domain.KeyManagementFull}), prop, ""},
		{"full, organisation", with(domain.Assignment{KeyManagement: domain.KeyManagementFull}), "", domain.EForbidden},
		{"full, other property", with(domain.Assignment{KeyManagement: domain.KeyManagementFull}), other, domain.ENotFound},
		{"limited", with(domain.Assignment{KeyManagement: domain.KeyManagementLimited, DeviceManagement: true, CardActivation: true}), prop, domain.EForbidden},
		{"specific", with(domain.Assignment{KeyManagement: domain.KeyManagementSpecific, Keys: []string{"k"}}), prop, domain.EForbidden},
		{"devices only", with(domain.Assignment{KeyManagement: domain.KeyManagementNone, DeviceManagement: true}), prop, domain.EForbidden},
		{"no assignment", domain.Actor{Role: domain.RolePropertyManager}, prop, domain.ENotFound},
	} {
		err := c.a.CanManageWebhooks(c.property)
		got := domain.Code("")
		if err != nil {
			got = domain.ErrorCode(err)
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestWebhookAddressAllowed(t *testing.T) {
	for _, s := range []string{"127.0.0.1", "127.8.9.1", "::1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "fe80::1", "fc00::1", "fd12::1",
		"0.0.0.0", "::", "100.64.0.1", "224.0.0.1", "255.255.255.255", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::", "192.0.2.1", "198.18.0.1"} {
		if domain.WebhookAddressAllowed(netip.MustParseAddr(s), domain.WebhookPolicy{}) {
			t.Errorf("%s allowed", s)
		}
		if !domain.WebhookAddressAllowed(netip.MustParseAddr(s), domain.WebhookPolicy{AllowPrivate: true}) {
			t.Errorf("%s refused although the operator allows private receivers", s)
		}
	}
	for _, s := range []string{"93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8"} {
		if !domain.WebhookAddressAllowed(netip.MustParseAddr(s), domain.WebhookPolicy{}) {
			t.Errorf("public %s refused", s)
		}
	}
}

func TestValidateWebhookURL(t *testing.T) {
	strict, local := domain.WebhookPolicy{}, domain.WebhookPolicy{AllowPrivate: true}
	for _, u := range []string{"https://hooks.example.com/x", "https://hooks.example.com:8443/a?b=c", "https://93.184.216.34/x", "https://[2606:4700::1111]/x"} {
		if _, err := domain.ValidateWebhookURL(u, strict); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"", "hooks.example.com", "http://hooks.example.com", "ftp://hooks.example.com", "https://", "https:///x", "https://u:p@hooks.example.com",
		"https://hooks.example.com/#x", "https://127.0.0.1/", "https://10.1.1.1/", "https://169.254.169.254/", "https://[::1]/", "https://localhost/", "https://a.localhost/",
		"https://printer.local/", "https://intranet/", "https://hooks.example.com/a b", "https://hooks.example.com/\x01", "mailto:a@example.com",
		"https://hooks.example.com/" + strings.Repeat("a", domain.MaxWebhookURL)} {
		_, err := domain.ValidateWebhookURL(u, strict)
		var de *domain.Error
		if err == nil || !asDomain(err, &de) || de.Field != "url" {
			t.Errorf("%q accepted or not a url error: %v", u, err)
		}
	}
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/x", "https://10.0.0.5/x"} {
		if _, err := domain.ValidateWebhookURL(u, local); err != nil {
			t.Errorf("%s refused with private receivers allowed: %v", u, err)
		}
	}
	for _, u := range []string{"ftp://127.0.0.1/", "http://u:p@127.0.0.1/"} {
		if _, err := domain.ValidateWebhookURL(u, local); err == nil {
			t.Errorf("%s accepted with private receivers allowed", u)
		}
	}
}

func asDomain(err error, de **domain.Error) bool {
	e, ok := err.(*domain.Error)
	*de = e
	return ok
}

func TestWebhookKinds(t *testing.T) {
	got, err := domain.NormalizeWebhookKinds([]string{"person.invited", " door.* ", "person.invited", "*"})
	if err != nil || strings.Join(got, ",") != "*,door.*,person.invited" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]string{nil, {}, {""}, {"person"}, {"person.teleported"}, {"nope.*"}, {"*.*"}, {"person.*x"}} {
		if _, err := domain.NormalizeWebhookKinds(bad); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%q accepted", bad)
		}
	}
	for _, c := range []struct {
		kinds []string
		kind  string
		want  bool
	}{
		{[]string{"*"}, "door.unlocked", true},
		{[]string{"person.*"}, "person.invited", true},
		{[]string{"person.*"}, "personal.x", false},
		{[]string{"person.*"}, "door.unlocked", false},
		{[]string{"door.unlocked"}, "door.unlocked", true},
		{[]string{"door.unlocked"}, "door.denied", false},
		{[]string{"import.*"}, "import.finished", true}, // a kind added later
	} {
		if got := domain.WebhookWants(c.kinds, c.kind); got != c.want {
			t.Errorf("%v wants %s = %v", c.kinds, c.kind, got)
		}
	}
}

func TestWebhookGrace(t *testing.T) {
	h := func(f float64) *float64 { return &f }
	if d, err := domain.WebhookGrace(nil); err != nil || d != 24*time.Hour {
		t.Fatalf("default %v %v", d, err)
	}
	if d, err := domain.WebhookGrace(h(0.5)); err != nil || d != 30*time.Minute {
		t.Fatalf("half an hour %v %v", d, err)
	}
	for _, bad := range []float64{-1, 168.5, 1e300} {
		if _, err := domain.WebhookGrace(h(bad)); domain.ErrorCode(err) != domain.EInvalid {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestWebhookBodyCarriesActivityOnly: the body is the Activity entry's
// fields and nothing else.
func TestWebhookBodyCarriesActivityOnly(t *testing.T) {
	e := domain.Event{ID: "evt_1", PropertyID: "prp_1", At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: "person.invited", Actor: "Pat", ActorID: "mgr_secret_id",
		PersonID: "per_1", PersonName: "Ana", Detail: "invited", Doors: []string{"dor_1"}}
	var m map[string]any
	if err := json.Unmarshal(domain.WebhookBody(e), &m); err != nil {
		t.Fatal(err)
	}
	data := m["data"].(map[string]any)
	if m["id"] != "evt_1" || m["type"] != "person.invited" || m["property_id"] != "prp_1" || m["created_at"] != "2026-01-02T03:04:05Z" {
		t.Fatalf("envelope %v", m)
	}
	for k := range data {
		switch k {
		case "id", "at", "kind", "actor", "person_id", "person_name", "door_id", "detail":
		default:
			t.Errorf("body carries %s", k)
		}
	}
	again := e
	again.Doors = nil
	if first, second := string(domain.WebhookBody(e)), string(domain.WebhookBody(again)); first != second {
		t.Fatalf("body depends on more than the Activity entry: %s vs %s", first, second)
	}
}
