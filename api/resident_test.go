package api_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dooros/dooros/api/apitest"
	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/mail"
	"github.com/dooros/dooros/notify"
	"github.com/dooros/dooros/store"
	"github.com/dooros/dooros/store/storetest"
)

// resEnv is the API with a keyring, a movable clock and the email worker
// writing to a local Mailbox, so tests read the login codes that went out.
type resEnv struct {
	*apitest.Env
	t      *testing.T
	box    *mail.Mailbox
	worker *notify.Worker
	mu     sync.Mutex
	now    time.Time
}

func newResEnv(t *testing.T, st *store.Store) *resEnv {
	t.Helper()
	e := &resEnv{Env: apitest.New(t, st), t: t, now: time.Now().UTC().Truncate(time.Second)}
	st.Now = e.clock
	kr := storetest.Keyring(t, st)
	e.API.Keys = kr
	var err error
	if e.box, err = mail.OpenMailbox(t.TempDir(), ""); err != nil {
		t.Fatal(err)
	}
	e.worker = &notify.Worker{Store: st, Sender: e.box, Keys: kr}
	return e
}

func (e *resEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *resEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *resEnv) prop() string { return e.F.Property.ID }

func (e *resEnv) invite(email string, keys []map[string]any, extra map[string]any) domain.PersonView {
	e.t.Helper()
	in := map[string]any{"first_name": "Res", "last_name": "Ident", "email": email, "access": "app", "resident": true, "keys": keys}
	for k, v := range extra {
		in[k] = v
	}
	r := e.Do("POST", "/api/v1/properties/"+e.prop()+"/people", e.PMToken, in)
	if r.Status != 201 {
		e.t.Fatalf("invite %s = %d: %s", email, r.Status, r.Body)
	}
	var v domain.PersonView
	r.Decode(e.t, &v)
	return v
}

var resCodeRE = regexp.MustCompile(`login code for the DOOR app:\s+(\d{6})`)

// requestCode asks for a login code and returns the one emailed (the
// newest login email to that address).
func (e *resEnv) requestCode(email string) string {
	e.t.Helper()
	if r := e.Do("POST", "/api/v1/app/login/start", "", map[string]string{"email": email}); r.Status != 202 {
		e.t.Fatalf("login start = %d: %s", r.Status, r.Body)
	}
	if _, err := e.worker.RunOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	msgs, err := e.box.List(0)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range msgs { // newest first
		if c := resCodeRE.FindStringSubmatch(m.Text); c != nil && m.To.Email == email {
			return c[1]
		}
	}
	return ""
}

func resDeviceKey() string {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	return base64.StdEncoding.EncodeToString(pub)
}

func (e *resEnv) verify(email, code string) *apitest.Response {
	e.t.Helper()
	return e.Do("POST", "/api/v1/app/login/verify", "", map[string]string{"email": email, "code": code, "device_public_key": resDeviceKey(), "device_name": "t"})
}

func (e *resEnv) login(email string) string {
	e.t.Helper()
	r := e.verify(email, e.requestCode(email))
	if r.Status != 200 {
		e.t.Fatalf("login %s = %d: %s", email, r.Status, r.Body)
	}
	var s store.ResidentSession
	r.Decode(e.t, &s)
	return s.Token
}

func (e *resEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.Store.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *resEnv) kinds(personID string) map[string]int {
	e.t.Helper()
	r := e.Do("GET", "/api/v1/properties/"+e.prop()+"/activity?person_id="+personID, e.PMToken, nil)
	var l struct{ Items []domain.Event }
	r.Decode(e.t, &l)
	out := map[string]int{}
	for _, ev := range l.Items {
		out[ev.Kind]++
	}
	return out
}

func wantStatus(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.ErrorCode() != code {
		t.Fatalf("got %d %s, want %d %s: %s", r.Status, r.ErrorCode(), status, code, r.Body)
	}
}

func TestResidentLogin(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		home := []map[string]any{{"key_id": e.F.Home.ID}}
		e.invite("rita@example.com", home, nil)
		e.invite("otto@example.com", home, nil)

		t.Run("UnknownEmailAnsweredTheSame", func(t *testing.T) {
			before := e.count("outbox")
			if r := e.Do("POST", "/api/v1/app/login/start", "", map[string]string{"email": "nobody@example.com"}); r.Status != 202 {
				t.Fatalf("start for unknown email = %d, want 202", r.Status)
			}
			if got := e.count("outbox"); got != before {
				t.Errorf("an email was queued for an unknown address")
			}
		})
		t.Run("InvalidEmail", func(t *testing.T) {
			wantStatus(t, e.Do("POST", "/api/v1/app/login/start", "", map[string]string{"email": "not an email"}), 400, "invalid")
		})
		t.Run("CodeForAnotherEmail", func(t *testing.T) {
			code := e.requestCode("rita@example.com")
			e.requestCode("otto@example.com")
			wantStatus(t, e.verify("otto@example.com", code), 401, "unauthenticated")
		})
		t.Run("ExpiredCode", func(t *testing.T) {
			code := e.requestCode("rita@example.com")
			e.advance(store.LoginCodeTTL + time.Second)
			wantStatus(t, e.verify("rita@example.com", code), 401, "unauthenticated")
		})
		t.Run("NewCodeInvalidatesOld", func(t *testing.T) {
			old := e.requestCode("rita@example.com")
			next := e.requestCode("rita@example.com")
			if old == next {
				t.Skip("the two random codes happen to be equal")
			}
			wantStatus(t, e.verify("rita@example.com", old), 401, "unauthenticated")
		})
		t.Run("ReusedCode", func(t *testing.T) {
			code := e.requestCode("rita@example.com")
			if r := e.verify("rita@example.com", code); r.Status != 200 {
				t.Fatalf("first use = %d: %s", r.Status, r.Body)
			}
			wantStatus(t, e.verify("rita@example.com", code), 401, "unauthenticated")
		})
		t.Run("GuessingIsRateLimited", func(t *testing.T) {
			e.advance(store.LoginCodeWindow) // fresh per-email code budget
			code := e.requestCode("otto@example.com")
			wrong := fmt.Sprintf("%06d", (mustAtoi(code)+1)%1_000_000)
			for i := 1; i < store.MaxLoginAttempts; i++ {
				wantStatus(t, e.verify("otto@example.com", wrong), 401, "unauthenticated")
			}
			wantStatus(t, e.verify("otto@example.com", wrong), 429, "rate_limited")
			// The code is burnt: even the right one no longer works.
			wantStatus(t, e.verify("otto@example.com", code), 429, "rate_limited")
		})
		t.Run("TooManyCodesForOneEmail", func(t *testing.T) {
			e.advance(store.LoginCodeWindow)
			for range store.MaxLoginCodes {
				e.requestCode("otto@example.com")
			}
			wantStatus(t, e.Do("POST", "/api/v1/app/login/start", "", map[string]string{"email": "otto@example.com"}), 429, "rate_limited")
		})
		t.Run("BadDeviceKey", func(t *testing.T) {
			e.advance(store.LoginCodeWindow)
			code := e.requestCode("rita@example.com")
			r := e.Do("POST", "/api/v1/app/login/verify", "", map[string]string{"email": "rita@example.com", "code": code, "device_public_key": "c2hvcnQ="})
			wantStatus(t, r, 400, "invalid")
		})
		t.Run("RevokedPersonRefusedAndLogged", func(t *testing.T) {
			e.advance(store.LoginCodeWindow)
			v := e.invite("rex@example.com", home, nil)
			e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+v.ID+"/revoke", e.PMToken, nil)
			wantStatus(t, e.verify("rex@example.com", e.requestCode("rex@example.com")), 403, "forbidden")
			if e.kinds(v.ID)[store.EventLoginRefused] != 1 {
				t.Errorf("no %s entry in Activity", store.EventLoginRefused)
			}
		})
		t.Run("DoorcodePersonGetsNoCode", func(t *testing.T) {
			e.invite("dora@example.com", home, map[string]any{"access": "doorcode"})
			if code := e.requestCode("dora@example.com"); code != "" {
				t.Errorf("a doorcode-only person was emailed a login code")
			}
		})
	})
}

// TestResidentLoginFailuresLookAlike: a login code that does not log in —
// never requested, used (also a wrong code after the last one was used),
// expired or wrong — gets one answer, which tells a stranger nothing about
// the email.
func TestResidentLoginFailuresLookAlike(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		home := []map[string]any{{"key_id": e.F.Home.ID}}
		e.invite("rita@example.com", home, nil)
		e.invite("otto@example.com", home, nil)
		used := e.requestCode("rita@example.com")
		if r := e.verify("rita@example.com", used); r.Status != 200 {
			t.Fatalf("first use = %d: %s", r.Status, r.Body)
		}
		wrong := fmt.Sprintf("%06d", (mustAtoi(used)+1)%1_000_000)
		expired := e.requestCode("otto@example.com")
		e.advance(store.LoginCodeTTL + time.Second)
		var bodies []string
		for _, r := range []*apitest.Response{
			e.verify("never-asked@example.com", wrong),
			e.verify("rita@example.com", wrong), // after the last code was used
			e.verify("rita@example.com", used),  // the used code again
			e.verify("otto@example.com", expired),
		} {
			wantStatus(t, r, 401, "unauthenticated")
			var body struct{ Error struct{ Message string } }
			r.Decode(t, &body)
			bodies = append(bodies, body.Error.Message)
		}
		for _, m := range bodies {
			if m != bodies[0] || !strings.Contains(m, "wrong or expired code") {
				t.Fatalf("messages %q, want one generic \"wrong or expired code\"", bodies)
			}
		}
	})
}

func mustAtoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestResidentGuests(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		gymOnly := e.Do("POST", "/api/v1/properties/"+e.prop()+"/keys", e.PMToken, map[string]any{"name": "Gym only",
			"doors": []map[string]any{{"door_id": e.F.Gym.ID, "doorcodes": false, "schedule": []any{}}}})
		var gym domain.Key
		gymOnly.Decode(t, &gym)
		hostEnd := e.now.Add(10 * 24 * time.Hour)
		host := e.invite("host@example.com", []map[string]any{
			{"key_id": e.F.Building.ID, "may_share": true}, {"key_id": e.F.Home.ID, "may_share": false}, {"key_id": gym.ID, "may_share": true}},
			map[string]any{"expires_at": hostEnd})
		token := e.login("host@example.com")
		people := e.count("people")
		guest := func(in map[string]any) *apitest.Response {
			base := map[string]any{"kind": "app", "first_name": "G", "last_name": "Uest", "email": "g@example.com"}
			for k, v := range in {
				base[k] = v
			}
			return e.Do("POST", "/api/v1/me/guests", token, base)
		}
		nothingWritten := func(t *testing.T) {
			t.Helper()
			if got := e.count("people"); got != people {
				t.Errorf("people = %d after a refused invite, want %d", got, people)
			}
			if got := e.count("guest_codes"); got != 0 {
				t.Errorf("guest_codes = %d after a refused invite", got)
			}
		}
		for _, tc := range []struct {
			name   string
			in     map[string]any
			status int
			code   string
		}{
			{"ErrWindowAfterHost", map[string]any{"keys": []string{e.F.Building.ID}, "expires_at": hostEnd.Add(time.Hour)}, 400, "invalid"},
			{"ErrOpenEndedPastHost", map[string]any{"keys": []string{e.F.Building.ID}}, 400, "invalid"},
			{"ErrKeyWithoutMayShare", map[string]any{"keys": []string{e.F.Home.ID}, "expires_at": hostEnd}, 403, "forbidden"},
			{"ErrKeyNotHeld", map[string]any{"keys": []string{"key_nope"}, "expires_at": hostEnd}, 400, "invalid"},
			{"ErrCodeGuestKeyWithoutDoorcodes", map[string]any{"kind": "day_code", "keys": []string{gym.ID}}, 400, "invalid"},
			{"ErrCodeGuestTwoKeys", map[string]any{"kind": "day_code", "keys": []string{gym.ID, e.F.Building.ID}}, 400, "invalid"},
			{"ErrCodeGuestPastDay", map[string]any{"kind": "quarter_hour_code", "keys": []string{e.F.Building.ID}, "day": "2001-01-01"}, 400, "invalid"},
			{"ErrCodeGuestAfterHost", map[string]any{"kind": "day_code", "keys": []string{e.F.Building.ID}, "day": hostEnd.Add(48 * time.Hour).Format("2006-01-02")}, 400, "invalid"},
			{"ErrUnknownKind", map[string]any{"kind": "fax", "keys": []string{e.F.Building.ID}}, 400, "invalid"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantStatus(t, guest(tc.in), tc.status, tc.code)
				nothingWritten(t)
			})
		}
		t.Run("QuarterHourGuestListedAndRevoked", func(t *testing.T) {
			r := guest(map[string]any{"kind": "quarter_hour_code", "keys": []string{e.F.Building.ID}, "email": "q@example.com"})
			if r.Status != 201 {
				t.Fatalf("invite = %d: %s", r.Status, r.Body)
			}
			var g store.ResidentGuest
			r.Decode(t, &g)
			if g.Code == "" || g.Kind != domain.GuestQuarterHourCode {
				t.Fatalf("guest = %+v", g)
			}
			var v domain.PersonView
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/people/"+host.ID, e.PMToken, nil).Decode(t, &v)
			if len(v.Guests) != 1 || v.Guests[0].ID != g.ID {
				t.Errorf("host page guests = %+v", v.Guests)
			}
			if r := e.Do("DELETE", "/api/v1/me/guests/"+g.ID, token, nil); r.Status != 204 {
				t.Fatalf("revoke = %d: %s", r.Status, r.Body)
			}
			wantStatus(t, e.Do("DELETE", "/api/v1/me/guests/"+g.ID, token, nil), 409, "conflict")
			var l struct{ Items []store.ResidentGuest }
			e.Do("GET", "/api/v1/me/guests", token, nil).Decode(t, &l)
			if len(l.Items) != 1 || l.Items[0].Status != domain.StatusRevoked || l.Items[0].Code != "" {
				t.Errorf("after revoke the host sees %+v", l.Items)
			}
		})
		t.Run("RevokedGuestInvitedAgainOnTheSameRecord", func(t *testing.T) {
			r := guest(map[string]any{"kind": "app", "keys": []string{e.F.Building.ID}, "email": "again@example.com", "expires_at": hostEnd})
			if r.Status != 201 {
				t.Fatalf("invite = %d: %s", r.Status, r.Body)
			}
			var first store.ResidentGuest
			r.Decode(t, &first)
			if r := e.Do("DELETE", "/api/v1/me/guests/"+first.ID, token, nil); r.Status != 204 {
				t.Fatalf("revoke = %d: %s", r.Status, r.Body)
			}
			r = guest(map[string]any{"kind": "day_code", "keys": []string{e.F.Building.ID}, "email": "again@example.com"})
			if r.Status != 201 {
				t.Fatalf("re-invite = %d: %s", r.Status, r.Body)
			}
			var again store.ResidentGuest
			r.Decode(t, &again)
			if again.ID != first.ID || again.Status != domain.StatusActive || again.Code == "" {
				t.Errorf("re-invited guest %+v, want record %s active with a code", again, first.ID)
			}
			wantStatus(t, guest(map[string]any{"kind": "day_code", "keys": []string{e.F.Building.ID}, "email": "again@example.com"}), 409, "conflict")
		})
		t.Run("OtherResidentsGuestNotFound", func(t *testing.T) {
			e.invite("other@example.com", []map[string]any{{"key_id": e.F.Building.ID, "may_share": true}}, nil)
			other := e.login("other@example.com")
			r := e.Do("POST", "/api/v1/me/guests", other, map[string]any{"kind": "day_code", "first_name": "O", "last_name": "G", "email": "og@example.com", "keys": []string{e.F.Building.ID}})
			var g store.ResidentGuest
			r.Decode(t, &g)
			wantStatus(t, e.Do("DELETE", "/api/v1/me/guests/"+g.ID, token, nil), 404, "not_found")
		})
	})
}

func TestResidentCredentialsAndDevices(t *testing.T) {
	storetest.Run(t, func(t *testing.T, st *store.Store) {
		e := newResEnv(t, st)
		v := e.invite("rita@example.com", []map[string]any{{"key_id": e.F.Home.ID}}, nil)
		token := e.login("rita@example.com")
		t.Run("OK", func(t *testing.T) {
			r := e.Do("POST", "/api/v1/me/credentials", token, nil)
			if r.Status != 200 {
				t.Fatalf("refresh = %d: %s", r.Status, r.Body)
			}
		})
		t.Run("ManagerRemovesDevice", func(t *testing.T) {
			var l struct{ Items []store.Device }
			e.Do("GET", "/api/v1/properties/"+e.prop()+"/people/"+v.ID+"/devices", e.PMToken, nil).Decode(t, &l)
			if len(l.Items) != 1 {
				t.Fatalf("devices = %+v", l.Items)
			}
			var before int
			st.DB().QueryRow(`SELECT version FROM doors WHERE id = '` + e.F.Unit101.ID + `'`).Scan(&before)
			if r := e.Do("DELETE", "/api/v1/properties/"+e.prop()+"/people/"+v.ID+"/devices/"+l.Items[0].ID, e.PMToken, nil); r.Status != 204 {
				t.Fatalf("remove = %d: %s", r.Status, r.Body)
			}
			var after, revs int
			st.DB().QueryRow(`SELECT version FROM doors WHERE id = '` + e.F.Unit101.ID + `'`).Scan(&after)
			st.DB().QueryRow(`SELECT COUNT(*) FROM door_revocations WHERE person_id = '` + v.ID + `'`).Scan(&revs)
			if after != before+1 || revs == 0 {
				t.Errorf("removing a phone: door version %d → %d, revocations %d; want a revocation at the person's door", before, after, revs)
			}
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", token, nil), 401, "unauthenticated")
		})
		t.Run("RevokedRefusedAndLogged", func(t *testing.T) {
			token := e.login("rita@example.com")
			e.Do("POST", "/api/v1/properties/"+e.prop()+"/people/"+v.ID+"/revoke", e.PMToken, nil)
			wantStatus(t, e.Do("POST", "/api/v1/me/credentials", token, nil), 403, "forbidden")
			if e.kinds(v.ID)[store.EventCredentialRefused] != 1 {
				t.Errorf("no %s entry in Activity", store.EventCredentialRefused)
			}
			var n int
			st.DB().QueryRow(`SELECT COUNT(*) FROM issued_credentials WHERE person_id = '` + v.ID + `'`).Scan(&n)
			if n != 1 {
				t.Errorf("issued credentials = %d, want only the one from before the revocation", n)
			}
		})
	})
}
