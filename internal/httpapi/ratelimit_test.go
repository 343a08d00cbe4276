package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/config"
)

// clientIP is a documentation address of its own for one test, sent as
// X-Forwarded-For (the platform trusts it with TRUST_PROXY_HEADERS).
func clientIP() string {
	return fmt.Sprintf("2001:db8:%x:%x::%x", rand.Uint32()&0xffff, rand.Uint32()&0xffff, rand.Uint32()&0xffff)
}

// TestAnonymousRequestsAreRateLimited: every anonymous operation counts
// against its client address; over the limit it is 429 rate_limited with
// Retry-After and RateLimit-*; those calling the vendor have a tighter limit;
// authenticated callers and probes are not counted.
func TestAnonymousRequestsAreRateLimited(t *testing.T) {
	t.Parallel()
	const perMinute, vendorPerMinute = 4, 2
	s := newShop(t, func(c *config.Config) {
		c.TrustProxyHeaders = true
		c.AnonRateLimit, c.AnonVendorLimit = perMinute, vendorPerMinute
	})
	_, token := s.plan(t, planOpts{})
	k, err := s.admin.CreateApiKeyWithResponse(context.Background(), nil, oapi.ApiKeyCreate{Name: "storefront"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, k.StatusCode(), string(k.Body))
	key := k.JSON201.Secret
	orderBody := `{"token":"` + token + `","username":"rl-` + uuid.NewString()[:8] + `","customer":{"name":"R","email":"r@example.com"}}`
	url := s.env.Server.URL

	tests := []struct {
		name    string
		method  string
		path    string
		bearer  string
		body    string
		limit   int // 0: never limited
		status  int // answer within the limit
		headers []string
	}{
		{"offer", "GET", "/v1/storefront/offers/" + token, "", "", perMinute, http.StatusOK, nil},
		{"unknown offer", "GET", "/v1/storefront/offers/" + "no-such-token-0123456789", "", "", perMinute, http.StatusNotFound, nil},
		{"username check", "GET", "/v1/storefront/usernames/rl-free-name", "", "", vendorPerMinute, http.StatusOK, nil},
		{"anonymous order, broken", "POST", "/v1/storefront/orders", "", `{"token":1}`, vendorPerMinute, http.StatusBadRequest,
			[]string{"Idempotency-Key", uuid.NewString()}},
		{"order status", "GET", "/v1/storefront/orders/" + uuid.NewString() + "?token=aaaaaaaaaaaaaaaaaaaa", "", "", perMinute, http.StatusNotFound, nil},
		{"token request", "POST", "/v1/auth/token", "", `{"email":"nobody@example.com","password":"wrong-password"}`, perMinute, http.StatusUnauthorized, nil},
		{"order with an api key", "POST", "/v1/storefront/orders", key, `{"token":1}`, 0, http.StatusBadRequest, nil},
		{"liveness", "GET", "/healthz", "", "", 0, http.StatusOK, nil},
		{"readiness", "GET", "/readyz", "", "", 0, http.StatusOK, nil},
	}
	t.Run("group", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				ip := clientIP()
				send := func() (int, http.Header, []byte) {
					h := append([]string{"X-Forwarded-For", ip}, tt.headers...)
					if tt.method == "POST" && len(tt.headers) == 0 && tt.path == "/v1/storefront/orders" {
						h = append(h, "Idempotency-Key", uuid.NewString())
					}
					return raw(t, tt.method, url+tt.path, tt.bearer, "application/json", tt.body, h...)
				}
				if tt.limit == 0 {
					for range perMinute + 2 {
						status, h, body := send()
						require.Equal(t, tt.status, status, string(body))
						require.Empty(t, h.Get("RateLimit-Limit"), "not counted")
					}
					return
				}
				for i := range tt.limit {
					status, h, body := send()
					require.Equal(t, tt.status, status, "request %d: %s", i+1, body)
					require.Equal(t, strconv.Itoa(tt.limit), h.Get("RateLimit-Limit"))
					require.Equal(t, strconv.Itoa(tt.limit-i-1), h.Get("RateLimit-Remaining"))
					requireSeconds(t, h.Get("RateLimit-Reset"))
				}
				status, h, body := send()
				requireProblem(t, status, h, body, http.StatusTooManyRequests, "rate_limited")
				requireSeconds(t, h.Get("Retry-After"))
				require.Equal(t, strconv.Itoa(tt.limit), h.Get("RateLimit-Limit"))
				require.Equal(t, "0", h.Get("RateLimit-Remaining"))
				requireSeconds(t, h.Get("RateLimit-Reset"))

				// Another address is not affected.
				status, _, body = raw(t, tt.method, url+tt.path, tt.bearer, "application/json", tt.body,
					"X-Forwarded-For", clientIP(), "Idempotency-Key", uuid.NewString())
				require.Equal(t, tt.status, status, string(body))
			})
		}
	})

	// Windows are per minute: the next one lets an address in again.
	ip := clientIP()
	for range perMinute {
		raw(t, "GET", url+"/v1/storefront/offers/"+token, "", "", "", "X-Forwarded-For", ip)
	}
	status, h, body := raw(t, "GET", url+"/v1/storefront/offers/"+token, "", "", "", "X-Forwarded-For", ip)
	requireProblem(t, status, h, body, http.StatusTooManyRequests, "rate_limited")
	s.env.Clock.Advance(time.Minute)
	status, _, body = raw(t, "GET", url+"/v1/storefront/offers/"+token, "", "", "", "X-Forwarded-For", ip)
	require.Equal(t, http.StatusOK, status, string(body))

	// The order placed while it could: its 202 carries the headers too.
	status, h, body = raw(t, "POST", url+"/v1/storefront/orders", "", "application/json", orderBody,
		"X-Forwarded-For", clientIP(), "Idempotency-Key", uuid.NewString())
	require.Equal(t, http.StatusAccepted, status, string(body))
	require.Equal(t, strconv.Itoa(vendorPerMinute), h.Get("RateLimit-Limit"))
	require.Equal(t, strconv.Itoa(vendorPerMinute-1), h.Get("RateLimit-Remaining"))
}

func requireSeconds(t *testing.T, v string) {
	t.Helper()
	n, err := strconv.Atoi(v)
	require.NoError(t, err, "%q is not whole seconds", v)
	require.True(t, n >= 1 && n <= 60, "%d seconds", n)
}
