package egress_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/egress"
)

var (
	dev         = egress.Policy{}
	prod        = egress.Policy{Production: true}
	prodPrivate = egress.Policy{Production: true, AllowPrivate: true}
)

func TestCheckIP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		ip                     string
		dev, prod, prodPrivate bool // allowed
	}{
		{"93.184.216.34", true, true, true},
		{"2606:2800:220:1:248:1893:25c8:1946", true, true, true},
		{"127.0.0.1", true, false, true},
		{"::1", true, false, true},
		{"10.0.0.1", false, false, true},
		{"172.16.5.4", false, false, true},
		{"192.168.0.1", false, false, true},
		{"169.254.169.254", false, false, true},
		{"fe80::1", false, false, true},
		{"fd12:3456::1", false, false, true},
		{"100.64.0.1", false, false, true},
		{"::ffff:10.0.0.1", false, false, true},
		{"::ffff:127.0.0.1", true, false, true},
		{"64:ff9b::a00:1", false, false, true},
		{"0.0.0.0", false, false, false},
		{"::", false, false, false},
		{"224.0.0.1", false, false, false},
		{"ff02::1", false, false, false},
		{"255.255.255.255", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			t.Parallel()
			ip := netip.MustParseAddr(tt.ip)
			for _, c := range []struct {
				p    egress.Policy
				want bool
			}{{dev, tt.dev}, {prod, tt.prod}, {prodPrivate, tt.prodPrivate}} {
				err := c.p.CheckIP(ip)
				require.Equal(t, c.want, err == nil, "%+v: %v", c.p, err)
			}
		})
	}
}

func TestCheckURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    egress.Policy
		url  string
		want error
	}{
		{"public https", prod, "https://93.184.216.34/", nil},
		{"loopback http outside production", dev, "http://127.0.0.1:8090", nil},
		{"localhost http outside production", dev, "http://localhost:8090", nil},
		{"http in production", prod, "http://93.184.216.34", egress.ErrScheme},
		{"http to a public address", dev, "http://93.184.216.34", egress.ErrScheme},
		{"http to a private address with VENDOR_ALLOW_PRIVATE", egress.Policy{AllowPrivate: true}, "http://10.0.0.1", egress.ErrScheme},
		{"ftp", dev, "ftp://93.184.216.34", egress.ErrScheme},
		{"http to a host that does not resolve", dev, "http://nowhere.invalid", egress.ErrScheme},
		{"https to a host that does not resolve", dev, "https://nowhere.invalid", nil},
		{"private", dev, "https://10.0.0.1", egress.ErrAddress},
		{"localhost in production", prod, "https://localhost", egress.ErrAddress},
		{"relative", dev, "/api", egress.ErrURL},
		{"no host", dev, "https://", egress.ErrURL},
		{"user info", dev, "https://a:b@93.184.216.34", egress.ErrURL},
		{"not a URL", dev, "https://[::1", egress.ErrURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.CheckURL(context.Background(), tt.url)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// TestClientChecksEveryConnection: the address actually dialled is checked,
// whatever the URL was when it was saved (a name resolving elsewhere now).
func TestClientChecksEveryConnection(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { hits.Add(1) }))
	t.Cleanup(tls.Close)
	port := tls.URL[strings.LastIndex(tls.URL, ":"):]
	tests := []struct {
		name    string
		p       egress.Policy
		url     string
		refused bool
	}{
		{"loopback outside production", dev, srv.URL, false},
		{"loopback in production", prod, "https://127.0.0.1" + port, true},
		{"a name resolving to loopback in production", prod, "https://localhost" + port, true},
		{"http in production", prod, srv.URL, true},
		// Refused before connecting: the address is not loopback.
		{"http to a private address", egress.Policy{AllowPrivate: true}, "http://10.255.255.1/", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.p.Client().Get(tt.url)
			if !tt.refused {
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				return
			}
			require.Error(t, err)
			require.True(t, egress.Refused(err), err)
		})
	}
	t.Cleanup(func() { require.EqualValues(t, 1, hits.Load(), "only the allowed call arrived") })
}

// TestRedirectsStayOnTheHost: a redirect to another host is not followed
// (the caller gets the redirect); one on the same host is.
func TestRedirectsStayOnTheHost(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
		case "/here":
			http.Redirect(w, r, "/landed", http.StatusFound)
		default:
			_, _ = w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		path   string
		status int
	}{
		{"/away", http.StatusTemporaryRedirect},
		{"/here", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			for _, c := range []*http.Client{dev.Client(), {CheckRedirect: egress.SameOrigin}} {
				res, err := c.Get(srv.URL + tt.path)
				require.NoError(t, err)
				require.NoError(t, res.Body.Close())
				require.Equal(t, tt.status, res.StatusCode)
			}
		})
	}
	t.Cleanup(func() { require.Zero(t, elsewhere.Load(), "nothing reached the other host") })
}
