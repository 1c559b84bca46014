package throttle

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Proxies are the reverse proxies (load balancers) in front of the
// server whose X-Forwarded-For header is believed. Anyone else can write
// any X-Forwarded-For, so the header of a request that does not come
// from one of them is ignored: otherwise a client could pick a new
// address for every guess and never reach the address limit.
type Proxies []netip.Prefix

// ParseProxies reads a comma- or space-separated list of CIDR prefixes
// or single addresses ("10.0.0.0/8, 192.0.2.7, ::1").
func ParseProxies(s string) (Proxies, error) {
	var out Proxies
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("trusted proxies: %q is neither a CIDR prefix (10.0.0.0/8) nor an address", f)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

func (p Proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pr := range p {
		if pr.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP is the address a request comes from: the peer's, unless the
// peer is a trusted proxy; then the X-Forwarded-For chain is walked from
// the right (the entry the proxy itself appended) past trusted proxies,
// and the first address that is not one is the client. An entry that is
// not an address ends the walk at the last trusted hop, so a forged
// header never yields an address of the client's choosing.
func (p Proxies) ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(p) == 0 || !p.trusted(peer) {
		return host
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	last := peer.Unmap()
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !p.trusted(a) {
			return a.Unmap().String()
		}
		last = a.Unmap()
	}
	return last.String()
}

// ClientIP is the request's client address under l's trusted proxies.
func (l *Login) ClientIP(r *http.Request) string { return l.Proxies.ClientIP(r) }
