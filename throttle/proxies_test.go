package throttle_test

import (
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/dooros/dooros/throttle"
)

func TestParseProxies(t *testing.T) {
	p, err := throttle.ParseProxies(" 10.0.0.0/8, 192.0.2.7 ::1,fd00::/8 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != 4 || p[1] != netip.MustParsePrefix("192.0.2.7/32") || p[2] != netip.MustParsePrefix("::1/128") {
		t.Errorf("parsed %v", p)
	}
	if p, err := throttle.ParseProxies(""); err != nil || len(p) != 0 {
		t.Errorf("empty list: %v %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.1/8/1", "*"} {
		if _, err := throttle.ParseProxies(bad); err == nil {
			t.Errorf("ParseProxies(%q) accepted", bad)
		}
	}
}

// TestClientIP: X-Forwarded-For counts only from a trusted proxy, and
// only as far as trusted proxies appended it.
func TestClientIP(t *testing.T) {
	trusted, err := throttle.ParseProxies("10.0.0.0/8, 2001:db8::1")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		proxies throttle.Proxies
		peer    string
		xff     []string
		want    string
	}{
		{"no proxies configured: the header is ignored", nil, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"untrusted peer forging the header", trusted, "203.0.113.9:5000", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted proxy", trusted, "10.1.2.3:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client forges a left part; the proxy appended the real one", trusted, "10.1.2.3:443", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"two trusted hops", trusted, "10.1.2.3:443", []string{"198.51.100.1, 10.9.9.9"}, "198.51.100.1"},
		{"headers repeated", trusted, "10.1.2.3:443", []string{"1.2.3.4", "198.51.100.1"}, "198.51.100.1"},
		{"garbage from the client's side ends at the last trusted hop", trusted, "10.1.2.3:443", []string{"not-an-ip, 10.9.9.9"}, "10.9.9.9"},
		{"trusted proxy without the header", trusted, "10.1.2.3:443", nil, "10.1.2.3"},
		{"IPv6 proxy", trusted, "[2001:db8::1]:443", []string{"2001:db8::77"}, "2001:db8::77"},
		{"IPv4-mapped peer", trusted, "[::ffff:10.1.2.3]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"entry with spaces", trusted, "10.1.2.3:443", []string{"  198.51.100.1  "}, "198.51.100.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/api/v1/auth/login", nil)
			r.RemoteAddr = c.peer
			for _, h := range c.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := c.proxies.ClientIP(r); got != c.want {
				t.Errorf("ClientIP = %q, want %q", got, c.want)
			}
		})
	}
}

// FuzzClientIP: any X-Forwarded-For from a trusted proxy yields either a
// parseable address or the peer; never a panic, never a non-address.
func FuzzClientIP(f *testing.F) {
	for _, s := range []string{"198.51.100.1", "1.2.3.4, 10.0.0.1", ",,,", "::1%eth0", " 10.0.0.1 , x", "\x00"} {
		f.Add(s)
	}
	trusted, _ := throttle.ParseProxies("10.0.0.0/8")
	f.Fuzz(func(t *testing.T, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = "10.0.0.2:1234"
		r.Header["X-Forwarded-For"] = []string{xff}
		got := trusted.ClientIP(r)
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("ClientIP(%q) = %q, not an address", xff, got)
		}
	})
}

// FuzzParseProxies: a list either parses into prefixes that contain
// nothing outside them, or fails with an error.
func FuzzParseProxies(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1, 192.0.2.7", "10.0.0.0/33", ",", "1.2.3.4/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := throttle.ParseProxies(s)
		if err != nil {
			return
		}
		for _, pr := range p {
			if !pr.IsValid() {
				t.Fatalf("ParseProxies(%q) gave an invalid prefix", s)
			}
		}
	})
}
