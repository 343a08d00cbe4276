// Package egress guards outbound calls to addresses that users configure,
// such as a plan's vendor datacenter_url, so that they cannot point the
// server at itself or at the network behind it.
//
// A Policy says which schemes and addresses are allowed: https to public
// addresses; http only to loopback and only outside production; private,
// loopback and link-local addresses only with AllowPrivate (loopback also
// outside production); unspecified, multicast and broadcast never. A URL is
// checked when it is saved (CheckURL, every address its host resolves to)
// and again on every connection (Client: the address actually dialled, so
// a DNS answer that changes in between gains nothing). Redirects are
// followed only to the same scheme and host (SameOrigin), or not at all
// (NoRedirects, for webhooks: a receiver that redirects has failed).
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Reasons a URL or an address is refused.
var (
	ErrURL     = errors.New("not an absolute http(s) URL with a host")
	ErrScheme  = errors.New("https is required (http only to loopback, outside production)")
	ErrAddress = errors.New("the host is, or resolves to, an address that is not allowed")
)

// Policy is what outbound addresses are allowed.
type Policy struct {
	// Production refuses http and loopback (unless AllowPrivate).
	Production bool
	// AllowPrivate lets private, loopback and link-local addresses through
	// (a vendor inside the SP's network).
	AllowPrivate bool
	// Resolver looks hosts up (net.DefaultResolver when nil).
	Resolver *net.Resolver
}

// Non-public ranges IsPrivate and friends do not cover.
var reserved = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: may embed any IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4: may embed any IPv4
	netip.MustParsePrefix("fec0::/10"),       // site-local (deprecated)
}

// CheckIP reports whether a connection to ip is allowed.
func (p Policy) CheckIP(ip netip.Addr) error {
	ip = ip.Unmap()
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), ip.IsInterfaceLocalMulticast(), ip.IsLinkLocalMulticast():
		return ErrAddress
	case ip.IsLoopback():
		if p.Production && !p.AllowPrivate {
			return ErrAddress
		}
		return nil
	case ip.IsPrivate(), ip.IsLinkLocalUnicast():
		if !p.AllowPrivate {
			return ErrAddress
		}
		return nil
	}
	for _, r := range reserved {
		if r.Contains(ip) {
			if p.AllowPrivate {
				return nil
			}
			return ErrAddress
		}
	}
	if !ip.IsGlobalUnicast() {
		return ErrAddress
	}
	return nil
}

// CheckURL parses raw and checks its scheme and every address its host
// resolves to. An https host that does not resolve passes: the connection
// will fail, and be checked, when it is made; an http one does not.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Hostname() == "" || u.User != nil || u.Opaque != "" {
		return ErrURL
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return ErrScheme
	}
	if u.Scheme == "http" && p.Production {
		return ErrScheme
	}
	ips, err := p.resolve(ctx, u.Hostname())
	if err != nil && u.Scheme == "http" {
		return ErrScheme // http only to loopback, which a host that does not resolve is not shown to be
	}
	if err != nil {
		return nil //nolint:nilerr // an unresolvable host fails at the dial, which is guarded too
	}
	for _, ip := range ips {
		if err := p.CheckIP(ip); err != nil {
			return err
		}
		if u.Scheme == "http" && !ip.Unmap().IsLoopback() {
			return ErrScheme
		}
	}
	return nil
}

func (p Policy) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	r := p.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err == nil && len(ips) == 0 {
		err = fmt.Errorf("%s: no addresses", host)
	}
	return ips, err
}

// Client is an HTTP client whose every connection is checked against the
// policy (the address dialled), that refuses http in production, lets http
// dial only loopback addresses, and that follows redirects only to the same
// scheme and host. It connects directly: proxy settings of the environment
// are not used, as a proxy would dial for it unchecked.
func (p Policy) Client() *http.Client {
	return &http.Client{Transport: schemeGuard{p: p, tls: p.transport(false), plain: p.transport(true)}, CheckRedirect: SameOrigin}
}

// transport dials only addresses the policy allows; plain (http) ones only
// loopback addresses, so a name that resolved to loopback when saved cannot
// carry plain text elsewhere later.
func (p Policy) transport(plain bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("egress: %s: %w", address, ErrAddress)
			}
			if err := p.CheckIP(ap.Addr()); err != nil {
				return fmt.Errorf("egress: %s: %w", address, err)
			}
			if plain && !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("egress: %s: %w", address, ErrScheme)
			}
			return nil
		}}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = d.DialContext
	// Many workers post to the same few hosts (webhook endpoints): keep
	// their connections open instead of dialling (and checking) each time.
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	return t
}

// schemeGuard refuses plain http in production, redirects included, and
// sends http and https over their own transports.
type schemeGuard struct {
	p          Policy
	tls, plain http.RoundTripper
}

func (g schemeGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.URL.Scheme == "https":
		return g.tls.RoundTrip(r)
	case r.URL.Scheme == "http" && !g.p.Production:
		return g.plain.RoundTrip(r)
	}
	return nil, fmt.Errorf("egress: %s: %w", r.URL.Redacted(), ErrScheme)
}

// SameOrigin is an http.Client CheckRedirect that follows at most 10
// redirects, and only to the scheme and host of the first request; another
// one is handed back to the caller as the redirect response itself.
func SameOrigin(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return http.ErrUseLastResponse
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return http.ErrUseLastResponse
	}
	return nil
}

// NoRedirects is an http.Client CheckRedirect that follows no redirect:
// the 3xx is handed back to the caller as the response.
func NoRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Refused reports whether err is a call this package refused (a retry will
// be refused again).
func Refused(err error) bool {
	return errors.Is(err, ErrAddress) || errors.Is(err, ErrScheme)
}
