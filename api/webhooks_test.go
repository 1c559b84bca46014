package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/dooros/dooros/api"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

type apiWebhook struct {
	ID             string   `json:"id"`
	PropertyID     string   `json:"property_id"`
	URL            string   `json:"url"`
	Kinds          []string `json:"kinds"`
	Status         string   `json:"status"`
	DisabledReason string   `json:"disabled_reason"`
	Secret         string   `json:"secret"`
}

type apiDelivery struct {
	ID      string `json:"id"`
	EventID string `json:"event_id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	Request string `json:"request"`
}

func webhookEnv(t *testing.T, st *store.Store) *env {
	e := newEnv(t, st)
	e.API.Keys = storetest.Keyring(t, st)
	return e
}

func TestWebhooksAPI(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := webhookEnv(t, st)
		var w apiWebhook
		e.ok("POST", "/api/v1/webhooks", map[string]any{"property_id": e.F.Property.ID, "url": "https://hooks.example.com/door", "kinds": []string{"person.*", "door.unlocked", "person.*"}, "description": "PMS"}, 201).Decode(t, &w)
		if !strings.HasPrefix(w.Secret, "whsec_") || w.Status != "enabled" || strings.Join(w.Kinds, ",") != "door.unlocked,person.*" {
			t.Fatalf("created %+v", w)
		}
		var got apiWebhook
		e.ok("GET", "/api/v1/webhooks/"+w.ID, nil, 200).Decode(t, &got)
		if got.Secret != "" || got.URL != w.URL {
			t.Fatalf("GET shows %+v (the secret is shown once)", got)
		}
		var ls list[apiWebhook]
		e.ok("GET", "/api/v1/webhooks?property_id="+e.F.Property.ID, nil, 200).Decode(t, &ls)
		if len(ls.Items) != 1 || ls.Items[0].ID != w.ID {
			t.Fatalf("list %+v", ls)
		}
		// An invite queues a delivery in its own transaction.
		e.invite(map[string]any{"first_name": "Ana", "last_name": "A", "email": "ana@example.com", "access": "app", "keys": []map[string]any{{"key_id": e.F.Building.ID}}})
		var ds list[apiDelivery]
		e.ok("GET", "/api/v1/webhooks/"+w.ID+"/deliveries", nil, 200).Decode(t, &ds)
		if len(ds.Items) != 1 || ds.Items[0].Kind != "person.invited" || ds.Items[0].State != "pending" || !strings.Contains(ds.Items[0].Request, ds.Items[0].EventID) {
			t.Fatalf("deliveries %+v", ds)
		}
		if res := e.Do("POST", "/api/v1/webhooks/"+w.ID+"/deliveries/"+ds.Items[0].ID+"/resend", e.PMToken, nil); res.Status != 409 {
			t.Fatalf("resend of a pending delivery: %d %s", res.Status, res.Body)
		}
		off := false
		e.ok("PATCH", "/api/v1/webhooks/"+w.ID, map[string]any{"enabled": off, "url": "https://other.example.com/x"}, 200).Decode(t, &got)
		if got.Status != "paused" || got.URL != "https://other.example.com/x" {
			t.Fatalf("patched %+v", got)
		}
		e.invite(map[string]any{"first_name": "Bob", "last_name": "B", "email": "bob@example.com", "access": "app"})
		e.ok("GET", "/api/v1/webhooks/"+w.ID+"/deliveries", nil, 200).Decode(t, &ds)
		if len(ds.Items) != 1 {
			t.Fatalf("a paused endpoint got %d deliveries queued", len(ds.Items)-1)
		}
		var rolled apiWebhook
		e.ok("POST", "/api/v1/webhooks/"+w.ID+"/roll-secret", map[string]any{"grace_hours": 2}, 200).Decode(t, &rolled)
		if rolled.Secret == "" || rolled.Secret == w.Secret {
			t.Fatalf("rolled %+v", rolled)
		}
		e.ok("POST", "/api/v1/webhooks/"+w.ID+"/roll-secret", nil, 200)
		e.ok("DELETE", "/api/v1/webhooks/"+w.ID, nil, 204)
		e.want(e.Do("GET", "/api/v1/webhooks/"+w.ID, e.PMToken, nil), 404)
		if n := e.countWhere("webhook_deliveries", "endpoint_id = ?", w.ID); n != 0 {
			t.Fatalf("%d deliveries left after delete", n)
		}
	})
}

// TestWebhooksPermissions: Portfolio Managers manage every endpoint;
// Property Managers with full Key Management those of their properties;
// nobody else any.
func TestWebhooksPermissions(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := webhookEnv(t, st)
		ctx := context.Background()
		other, err := st.CreateProperty(ctx, e.F.PM, domain.PropertyInput{Name: "Oak House", TimeZone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		p := e.F.Property.ID
		full := e.managerToken("full@example.com", &domain.Assignment{PropertyID: p, KeyManagement: domain.KeyManagementFull})
		limited := e.managerToken("limited@example.com", &domain.Assignment{PropertyID: p, KeyManagement: domain.KeyManagementLimited, DeviceManagement: true, CardActivation: true})
		devices := e.managerToken("devices@example.com", &domain.Assignment{PropertyID: p, KeyManagement: domain.KeyManagementNone, DeviceManagement: true})
		none := e.managerToken("none@example.com", nil)
		body := func(prop string) map[string]any {
			b := map[string]any{"url": "https://hooks.example.com/x", "kinds": []string{"*"}}
			if prop != "" {
				b["property_id"] = prop
			}
			return b
		}
		var orgHook, propHook apiWebhook
		e.want(e.Do("POST", "/api/v1/webhooks", e.PMToken, body("")), 201).Decode(t, &orgHook)
		e.want(e.Do("POST", "/api/v1/webhooks", full, body(p)), 201).Decode(t, &propHook)
		for _, c := range []struct {
			name, token, prop string
			status            int
		}{
			{"full manager, whole organisation", full, "", 403},
			{"full manager, property not assigned", full, other.ID, 404},
			{"limited key management", limited, p, 403},
			{"device management only", devices, p, 403},
			{"no assignment", none, p, 404},
			{"no assignment, whole organisation", none, "", 403},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := e.countWhere("webhook_endpoints", "org_id = ?", e.F.PM.OrgID)
				res := e.Do("POST", "/api/v1/webhooks", c.token, body(c.prop))
				if res.Status != c.status {
					t.Fatalf("create: %d %s, want %d", res.Status, res.Body, c.status)
				}
				if after := e.countWhere("webhook_endpoints", "org_id = ?", e.F.PM.OrgID); after != before {
					t.Fatal("a refused create wrote an endpoint")
				}
				for _, h := range []string{orgHook.ID, propHook.ID} {
					if c.token == full && h == propHook.ID {
						continue
					}
					for _, req := range []struct{ method, path string }{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/roll-secret"}, {"GET", "/deliveries"}} {
						var b any
						if req.method == "PATCH" {
							b = map[string]any{"enabled": false}
						}
						if res := e.Do(req.method, "/api/v1/webhooks/"+h+req.path, c.token, b); res.Status != 403 && res.Status != 404 {
							t.Errorf("%s %s: %d %s", req.method, req.path, res.Status, res.Body)
						}
					}
				}
				var ls list[apiWebhook]
				e.want(e.Do("GET", "/api/v1/webhooks", c.token, nil), 200).Decode(t, &ls)
				for _, w := range ls.Items {
					if c.token != full || w.ID != propHook.ID {
						t.Errorf("lists %s", w.ID)
					}
				}
			})
		}
		t.Run("full manager manages his property's endpoint only", func(t *testing.T) {
			var ls list[apiWebhook]
			e.want(e.Do("GET", "/api/v1/webhooks", full, nil), 200).Decode(t, &ls)
			if len(ls.Items) != 1 || ls.Items[0].ID != propHook.ID {
				t.Fatalf("list %+v", ls.Items)
			}
			e.want(e.Do("PATCH", "/api/v1/webhooks/"+propHook.ID, full, map[string]any{"description": "mine"}), 200)
			e.want(e.Do("GET", "/api/v1/webhooks/"+orgHook.ID, full, nil), 403)
		})
		e.want(e.Do("GET", "/api/v1/webhooks", "", nil), 401)
	})
}

// TestWebhooksBadInput: every field refused with a clear error naming it,
// and nothing written.
func TestWebhooksBadInput(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := webhookEnv(t, st)
		var w apiWebhook
		e.ok("POST", "/api/v1/webhooks", map[string]any{"url": "https://hooks.example.com/x", "kinds": []string{"*"}}, 201).Decode(t, &w)
		valid := func(over map[string]any) map[string]any {
			b := map[string]any{"property_id": e.F.Property.ID, "url": "https://hooks.example.com/x", "kinds": []string{"person.invited"}}
			for k, v := range over {
				if v == nil {
					delete(b, k)
				} else {
					b[k] = v
				}
			}
			return b
		}
		errField := func(res []byte) (string, string) {
			var eb struct {
				Error struct{ Code, Field, Message string }
			}
			json.Unmarshal(res, &eb)
			return eb.Error.Field, eb.Error.Message
		}
		for _, c := range []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"no url", valid(map[string]any{"url": nil}), 400, "url"},
			{"plain http", valid(map[string]any{"url": "http://hooks.example.com/x"}), 400, "url"},
			{"ftp", valid(map[string]any{"url": "ftp://hooks.example.com/x"}), 400, "url"},
			{"relative", valid(map[string]any{"url": "/hooks"}), 400, "url"},
			{"loopback", valid(map[string]any{"url": "https://127.0.0.1/x"}), 400, "url"},
			{"private", valid(map[string]any{"url": "https://10.0.0.8/x"}), 400, "url"},
			{"metadata", valid(map[string]any{"url": "https://169.254.169.254/latest/meta-data"}), 400, "url"},
			{"ipv6 loopback", valid(map[string]any{"url": "https://[::1]/x"}), 400, "url"},
			{"localhost", valid(map[string]any{"url": "https://localhost/x"}), 400, "url"},
			{"single label", valid(map[string]any{"url": "https://intranet/x"}), 400, "url"},
			{"credentials", valid(map[string]any{"url": "https://u:p@hooks.example.com/x"}), 400, "url"},
			{"fragment", valid(map[string]any{"url": "https://hooks.example.com/x#a"}), 400, "url"},
			{"space", valid(map[string]any{"url": "https://hooks.example.com/a b"}), 400, "url"},
			{"too long", valid(map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("a", 2000)}), 400, "url"},
			{"url not a string", valid(map[string]any{"url": 5}), 400, "url"},
			{"no kinds", valid(map[string]any{"kinds": nil}), 400, "kinds"},
			{"empty kinds", valid(map[string]any{"kinds": []string{}}), 400, "kinds"},
			{"unknown kind", valid(map[string]any{"kinds": []string{"person.teleported"}}), 400, "kinds"},
			{"unknown family", valid(map[string]any{"kinds": []string{"bogus.*"}}), 400, "kinds"},
			{"kinds not strings", valid(map[string]any{"kinds": []int{1}}), 400, "kinds"},
			{"description too long", valid(map[string]any{"description": strings.Repeat("d", 201)}), 400, "description"},
			{"description control", valid(map[string]any{"description": "a\x00b"}), 400, "description"},
			{"enabled not bool", valid(map[string]any{"enabled": "yes"}), 400, "enabled"},
			{"unknown field", valid(map[string]any{"secret": "mine"}), 400, ""},
			{"unknown property", valid(map[string]any{"property_id": "prp_nope"}), 404, ""},
			{"not JSON", "{", 400, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				before := e.countWhere("webhook_endpoints", "org_id = ?", e.F.PM.OrgID)
				res := e.Do("POST", "/api/v1/webhooks", e.PMToken, c.body)
				if res.Status != c.status {
					t.Fatalf("status %d %s, want %d", res.Status, res.Body, c.status)
				}
				if f, msg := errField(res.Body); (c.field != "" && f != c.field) || msg == "" {
					t.Fatalf("field %q (%s), want %q", f, msg, c.field)
				}
				if after := e.countWhere("webhook_endpoints", "org_id = ?", e.F.PM.OrgID); after != before {
					t.Fatal("written")
				}
			})
		}
		for _, c := range []struct {
			name, method, path string
			body               any
			status             int
			field              string
		}{
			{"patch nothing", "PATCH", "", map[string]any{}, 400, ""},
			{"patch bad url", "PATCH", "", map[string]any{"url": "https://127.0.0.1/"}, 400, "url"},
			{"patch bad kinds", "PATCH", "", map[string]any{"kinds": []string{"nope"}}, 400, "kinds"},
			{"patch unknown field", "PATCH", "", map[string]any{"status": "enabled"}, 400, ""},
			{"grace negative", "POST", "/roll-secret", map[string]any{"grace_hours": -1}, 400, "grace_hours"},
			{"grace too long", "POST", "/roll-secret", map[string]any{"grace_hours": 169}, 400, "grace_hours"},
			{"grace not a number", "POST", "/roll-secret", map[string]any{"grace_hours": "1"}, 400, "grace_hours"},
			{"bad limit", "GET", "/deliveries?limit=x", nil, 400, ""},
			{"bad cursor", "GET", "/deliveries?cursor=zzz", nil, 400, "cursor"},
			{"resend unknown", "POST", "/deliveries/whd_nope/resend", nil, 404, ""},
		} {
			t.Run(c.name, func(t *testing.T) {
				res := e.Do(c.method, "/api/v1/webhooks/"+w.ID+c.path, e.PMToken, c.body)
				if res.Status != c.status {
					t.Fatalf("status %d %s, want %d", res.Status, res.Body, c.status)
				}
				if f, msg := errField(res.Body); (c.field != "" && f != c.field) || msg == "" {
					t.Fatalf("field %q (%s), want %q", f, msg, c.field)
				}
				var got apiWebhook
				e.ok("GET", "/api/v1/webhooks/"+w.ID, nil, 200).Decode(t, &got)
				if got.URL != "https://hooks.example.com/x" || got.Status != "enabled" || strings.Join(got.Kinds, ",") != "*" {
					t.Fatalf("changed: %+v", got)
				}
			})
		}
		e.want(e.Do("GET", "/api/v1/webhooks/whk_nope", e.PMToken, nil), 404)
	})
}

// TestOpenAPIWebhooks: the merged document keeps the OpenAPI 3.1
// top-level webhooks, describing the payload every delivery carries.
func TestOpenAPIWebhooks(t *testing.T) {
	b, err := api.OpenAPI()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Webhooks map[string]struct {
			Post struct {
				Parameters []struct{ Name string } `json:"parameters"`
				Body       struct {
					Content map[string]struct {
						Schema struct {
							Ref string `json:"$ref"`
						} `json:"schema"`
					} `json:"content"`
				} `json:"requestBody"`
			} `json:"post"`
		} `json:"webhooks"`
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	hook, ok := doc.Webhooks["activityEvent"]
	if !ok {
		t.Fatalf("no webhooks.activityEvent in the merged document")
	}
	if ref := hook.Post.Body.Content["application/json"].Schema.Ref; ref != "#/components/schemas/WebhookEventPayload" || doc.Components.Schemas["WebhookEventPayload"] == nil {
		t.Fatalf("payload schema %q", ref)
	}
	var names []string
	for _, p := range hook.Post.Parameters {
		names = append(names, p.Name)
	}
	for _, h := range []string{"DoorOS-Signature", "DoorOS-Event-Id", "Idempotency-Key"} {
		if !strings.Contains(strings.Join(names, ","), h) {
			t.Errorf("header %s not described (%v)", h, names)
		}
	}
	// Every kind a manager may choose is listed for receivers.
	for _, k := range domain.WebhookKinds {
		if !strings.Contains(string(doc.Components.Schemas["WebhookEventPayload"]), `"`+k+`"`) {
			t.Errorf("kind %s missing from WebhookEventPayload.type", k)
		}
	}
}
