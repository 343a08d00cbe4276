package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

// /docs "Try it out" calls the origin the page was loaded from: the served
// spec's server is relative, so it resolves against whatever address and
// port serve it.
func TestDocsCallTheirOwnOrigin(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	base := env.Server.URL // 127.0.0.1:<port>, neither localhost nor 8080

	status, _, specBody := raw(t, http.MethodGet, base+"/openapi.yaml", "", "", "")
	require.Equal(t, http.StatusOK, status)
	spec, err := openapi3.NewLoader().LoadFromData(specBody)
	require.NoError(t, err)
	require.Len(t, spec.Servers, 1)
	server, err := url.Parse(spec.Servers[0].URL)
	require.NoError(t, err)
	require.False(t, server.IsAbs(), "a server with a host sends Swagger UI elsewhere: %s", spec.Servers[0].URL)
	require.Empty(t, server.Host)

	docs, err := url.Parse(base + "/docs")
	require.NoError(t, err)
	origin := docs.ResolveReference(server) // what Swagger UI does with it
	require.Equal(t, docs.Host, origin.Host)

	tests := []struct {
		name, path, contentType, contains string
	}{
		{"the page", "/docs", "text/html", `id="swagger-ui"`},
		{"the page with a slash", "/docs/", "text/html", "swagger-ui-bundle.js"},
		{"its set-up names the spec", "/docs/init.js", "application/javascript", `url: "/openapi.yaml"`},
		{"Swagger UI's script", "/docs/swagger-ui-bundle.js", "javascript", "SwaggerUIBundle"},
		{"Swagger UI's style", "/docs/swagger-ui.css", "text/css", ".swagger-ui"},
		{"the spec it names", "/openapi.yaml", "application/yaml", "operationId: getHealth"},
		{"an operation, called as Try it out would", strings.TrimSuffix(origin.String(), "/") + "/healthz", "application/json", `"ok"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := tt.path
			if strings.HasPrefix(u, "/") {
				u = base + u
			}
			status, h, body := raw(t, http.MethodGet, u, "", "", "")
			require.Equal(t, http.StatusOK, status, string(body))
			require.Contains(t, h.Get("Content-Type"), tt.contentType)
			require.Contains(t, string(body), tt.contains)
		})
	}
}

// HEAD answers every GET route with the GET's status and headers, and no body.
func TestHeadOnGetRoutes(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	_, admin := env.Admin(t)
	token := env.Login(t, admin)
	tests := []struct {
		name, path, token string
		wantStatus        int
	}{
		{"liveness", "/healthz", "", http.StatusOK},
		{"readiness", "/readyz", "", http.StatusOK},
		{"the spec", "/openapi.yaml", "", http.StatusOK},
		{"the docs page", "/docs", "", http.StatusOK},
		{"a docs asset", "/docs/swagger-ui.css", "", http.StatusOK},
		{"an authenticated read", "/v1/me", token, http.StatusOK},
		{"a list", "/v1/plans?limit=1", token, http.StatusOK},
		{"unauthenticated", "/v1/me", "", http.StatusUnauthorized},
		{"an unknown offer", "/v1/storefront/offers/" + strings.Repeat("x", 32), "", http.StatusNotFound},
		{"an unknown path", "/v1/nothing-here", "", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			getStatus, getHeader, getBody := raw(t, http.MethodGet, env.Server.URL+tt.path, tt.token, "", "")
			require.Equal(t, tt.wantStatus, getStatus, string(getBody))
			status, h, body := raw(t, http.MethodHead, env.Server.URL+tt.path, tt.token, "", "")
			require.Equal(t, tt.wantStatus, status)
			require.Empty(t, body)
			for _, name := range []string{"Content-Type", "Cache-Control", "WWW-Authenticate"} {
				require.Equal(t, getHeader.Get(name), h.Get(name), name)
			}
			require.NotEmpty(t, h.Get("X-Request-Id"))
			if n := getHeader.Get("Content-Length"); n != "" {
				require.Equal(t, n, h.Get("Content-Length"))
			} else if getHeader.Get("Transfer-Encoding") == "" {
				require.Equal(t, strconv.Itoa(len(getBody)), h.Get("Content-Length"))
			}
		})
	}

	t.Run("not on a route without GET", func(t *testing.T) {
		t.Parallel()
		status, _, body := raw(t, http.MethodHead, env.Server.URL+"/v1/auth/token", "", "", "")
		require.Equal(t, http.StatusMethodNotAllowed, status)
		require.Empty(t, body)
	})
}

// CORS: allowed origins get the headers an SPA needs; others, and every
// origin without CORS_ALLOWED_ORIGINS, get none.
func TestCORS(t *testing.T) {
	t.Parallel()
	const console = "https://console.example.com"
	start := func(origins string) *apptest.Env {
		cfg := apptest.Config(t)
		cfg.CORSAllowedOrigins = origins
		return apptest.Start(t, cfg)
	}
	configured, unset, anyOrigin := start(console+", http://localhost:5173"), start(""), start("*")

	preflight := []string{"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type,idempotency-key"}
	tests := []struct {
		name       string
		env        *apptest.Env
		method     string
		path       string
		origin     string
		headers    []string
		wantStatus int
		// wantOrigin is Access-Control-Allow-Origin; empty: no CORS headers.
		wantOrigin string
	}{
		{"allowed origin", configured, http.MethodGet, "/healthz", console, nil, http.StatusOK, console},
		{"allowed origin, another in the list", configured, http.MethodGet, "/healthz", "http://localhost:5173", nil, http.StatusOK, "http://localhost:5173"},
		{"allowed origin on an error", configured, http.MethodGet, "/v1/me", console, nil, http.StatusUnauthorized, console},
		{"disallowed origin", configured, http.MethodGet, "/healthz", "https://evil.example", nil, http.StatusOK, ""},
		{"origin differing by port", configured, http.MethodGet, "/healthz", console + ":8443", nil, http.StatusOK, ""},
		{"preflight, allowed", configured, http.MethodOptions, "/v1/storefront/orders", console, preflight, http.StatusNoContent, console},
		{"preflight, disallowed", configured, http.MethodOptions, "/v1/storefront/orders", "https://evil.example", preflight, http.StatusNoContent, ""},
		{"no config", unset, http.MethodGet, "/healthz", console, nil, http.StatusOK, ""},
		{"no config, preflight", unset, http.MethodOptions, "/v1/storefront/orders", console, preflight, 0, ""},
		{"any origin", anyOrigin, http.MethodGet, "/healthz", "https://shop.example", nil, http.StatusOK, "https://shop.example"},
		{"any origin, preflight", anyOrigin, http.MethodOptions, "/v1/storefront/orders", "https://shop.example", preflight, http.StatusNoContent, "https://shop.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, tt.method, tt.env.Server.URL+tt.path, "", "", "", append([]string{"Origin", tt.origin}, tt.headers...)...)
			if tt.wantStatus != 0 {
				require.Equal(t, tt.wantStatus, status, string(body))
			}
			require.Empty(t, h.Get("Access-Control-Allow-Credentials"), "credentials are never allowed")
			if tt.wantOrigin == "" {
				for name := range h {
					require.False(t, strings.HasPrefix(name, "Access-Control-"), "no CORS header expected, got %s", name)
				}
				return
			}
			require.Equal(t, tt.wantOrigin, h.Get("Access-Control-Allow-Origin"))
			require.Contains(t, h.Values("Vary"), "Origin", "caches must key on Origin")
			if tt.method != http.MethodOptions {
				exposed := strings.Split(h.Get("Access-Control-Expose-Headers"), ",")
				require.ElementsMatch(t, []string{"ETag", "Content-Disposition", "X-Request-Id", "Idempotent-Replayed", "Retry-After", "Location",
					"RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"}, exposed)
				return
			}
			require.Empty(t, body)
			require.Equal(t, "3600", h.Get("Access-Control-Max-Age"), "preflights are cached")
			methods := strings.Split(h.Get("Access-Control-Allow-Methods"), ",")
			require.Subset(t, methods, []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
			allowed := strings.Split(h.Get("Access-Control-Allow-Headers"), ",")
			require.ElementsMatch(t, []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match", "X-Request-Id"}, allowed)
		})
	}
}
