package api

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
)

// FuzzDecodeInvite feeds arbitrary bytes through the API's JSON decoder and
// the invite validation: nothing may panic, and every refusal must be an
// application error (a 400 with a message), never an internal one.
func FuzzDecodeInvite(f *testing.F) {
	f.Add([]byte(`{"first_name":"Ann","last_name":"Lee","email":"ann@example.com","access":"app","keys":[{"key_id":"key_a","may_share":true}],"starts_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"first_name":"","email":"x","access":"doorcode","expires_at":"2020-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"keys":[{"key_id":"a"},{"key_id":"a"}]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Add([]byte(`{"first_name":1}`))
	f.Add([]byte(`{"starts_at":"yesterday"}`))
	f.Add([]byte("{\"first_name\":\"\x00\"}"))
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		var in domain.InviteInput
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := decode(r, &in)
		if err == nil {
			err = in.Normalize(now)
		}
		if err == nil {
			return
		}
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Message == "" {
			t.Fatalf("refusal is not a clear 400: %#v", err)
		}
	})
}

// FuzzDecodeKey does the same for key bodies with doors and schedules.
func FuzzDecodeKey(f *testing.F) {
	f.Add([]byte(`{"name":"Building","doors":[{"door_id":"d1","doorcodes":true,"schedule":[{"days":["mon"],"start":"08:00","end":"18:00"}]}]}`))
	f.Add([]byte(`{"name":"x","doors":[{"door_id":"d1","schedule":[{"days":["xyz"],"start":"8","end":"-1:00"}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var in domain.KeyInput
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		err := decode(r, &in)
		if err == nil {
			err = in.Normalize()
		}
		if err == nil {
			// A valid schedule must be usable without panicking.
			for _, d := range in.Doors {
				d.Schedule.Allows(time.Now(), time.UTC)
				d.Schedule.Narrows(nil)
			}
			return
		}
		var de *domain.Error
		if !errors.As(err, &de) || de.Code != domain.EInvalid || de.Message == "" {
			t.Fatalf("refusal is not a clear 400: %#v", err)
		}
	})
}
