package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dooros/dooros/domain"
	"github.com/dooros/dooros/store/storetest"
	"github.com/dooros/dooros/webhook"
)

// verify is the receiver example of docs/webhooks.md, word for word: it
// uses the standard library only, as a receiver would.
func verify(r *http.Request, secret string) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	var ts string
	var sigs []string
	for _, part := range strings.Split(r.Header.Get("DoorOS-Signature"), ",") {
		if k, v, _ := strings.Cut(part, "="); k == "t" {
			ts = v
		} else if k == "v1" {
			sigs = append(sigs, v)
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(time.Since(time.Unix(t, 0)).Seconds()) > 300 {
		return nil, errors.New("timestamp missing or outside the 5-minute replay window")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%s.%s", ts, body)
	want := hex.EncodeToString(mac.Sum(nil))
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return body, nil
		}
	}
	return nil, errors.New("no valid signature")
}

// TestReceiverExample runs the documented receiver against a real
// delivery: it accepts it under the endpoint's secret and refuses it
// under another secret, with a changed body, or replayed too late.
func TestReceiverExample(t *testing.T) {
	st := storetest.OpenSQLite(t)
	e := newEnv(t, st)
	var accepted, refused []string
	var secret string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if body, err := verify(r, secret); err != nil {
			refused = append(refused, err.Error())
			http.Error(w, err.Error(), http.StatusBadRequest)
		} else {
			accepted = append(accepted, string(body))
		}
	}))
	defer srv.Close()
	_, secret, err := st.CreateWebhook(ctx, e.f.PM, e.keys, allowLocal, domain.WebhookInput{PropertyID: e.f.Property.ID, URL: srv.URL, Kinds: []string{"person.invited"}})
	if err != nil {
		t.Fatal(err)
	}
	e.invite("Ana", "ana@example.com")
	if _, err := e.worker().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if len(accepted) != 1 || !strings.Contains(accepted[0], `"type":"person.invited"`) {
		t.Fatalf("accepted %v, refused %v", accepted, refused)
	}
	body := []byte(accepted[0])
	post := func(sig string, b []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(string(b)))
		req.Header.Set(webhook.SignatureHeader, sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	post(webhook.Sign(body, time.Now(), "whsec_other"), body)
	post(webhook.Sign(body, time.Now(), secret), []byte(strings.Replace(string(body), "Ana", "Eve", 1)))
	post(webhook.Sign(body, time.Now().Add(-6*time.Minute), secret), body)
	post(webhook.Sign(body, time.Now(), "whsec_new", secret), body) // during a roll's grace period
	if len(refused) != 3 || len(accepted) != 2 {
		t.Fatalf("accepted %d, refused %v", len(accepted), refused)
	}
}
