package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

func TestOperationalEndpoints(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	raw(t, "GET", env.Server.URL+"/healthz", "", "", "") // something to count
	tests := []struct {
		path        string
		contentType string
		contains    []string
	}{
		{"/healthz", "application/json", []string{`"status":"ok"`}},
		{"/readyz", "application/json", []string{`"database":"ok"`, `"migrations":"ok"`}},
		{"/openapi.yaml", "application/yaml", []string{"openapi: 3.0.3", "operationId: createToken"}},
		{"/docs", "text/html", []string{"swagger-ui-bundle.js", "/docs/init.js"}},
		{"/docs/init.js", "application/javascript", []string{`url: "/openapi.yaml"`}},
		{"/docs/swagger-ui-bundle.js", "javascript", []string{"SwaggerUIBundle"}},
		{"/docs/swagger-ui.css", "text/css", []string{".swagger-ui"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, "GET", env.Server.URL+tt.path, "", "", "")
			require.Equal(t, http.StatusOK, status)
			require.Contains(t, h.Get("Content-Type"), tt.contentType)
			require.NotEmpty(t, h.Get("X-Request-Id"))
			for _, want := range tt.contains {
				require.True(t, strings.Contains(string(body), want), "%s lacks %q", tt.path, want)
			}
		})
	}
}

func TestRequestIDIsEchoedOnlyWhenSane(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"caller's id is kept", "req-123", true},
		{"overlong id is replaced", strings.Repeat("x", 300), false},
		{"id with spaces is replaced", "a b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, h, _ := raw(t, "GET", env.Server.URL+"/healthz", "", "", "", "X-Request-Id", tt.sent)
			got := h.Get("X-Request-Id")
			require.NotEmpty(t, got)
			require.Equal(t, tt.kept, got == tt.sent)
		})
	}
}

// TestMetricsAreNotPublic: /metrics is served on the metrics listener; on
// the API port only with METRICS_TOKEN as bearer, and not at all without it.
func TestMetricsAreNotPublic(t *testing.T) {
	t.Parallel()
	plain := apptest.New(t)
	cfg := apptest.Config(t)
	cfg.MetricsToken = "metrics-token-0123456789"
	withToken := apptest.Start(t, cfg)
	raw(t, "GET", plain.Server.URL+"/healthz", "", "", "") // something to count
	metrics := httptest.NewServer(plain.App.Metrics)
	t.Cleanup(metrics.Close)

	tests := []struct {
		name   string
		url    string
		token  string
		status int
		code   string
	}{
		{"api port without METRICS_TOKEN", plain.Server.URL + "/metrics", "", http.StatusNotFound, "not_found"},
		{"api port without METRICS_TOKEN, any bearer", plain.Server.URL + "/metrics", "anything", http.StatusNotFound, "not_found"},
		{"api port, no bearer", withToken.Server.URL + "/metrics", "", http.StatusUnauthorized, "unauthenticated"},
		{"api port, wrong bearer", withToken.Server.URL + "/metrics", "metrics-token-wrong-6789", http.StatusUnauthorized, "unauthenticated"},
		{"api port, the token", withToken.Server.URL + "/metrics", "metrics-token-0123456789", http.StatusOK, ""},
		{"metrics listener", metrics.URL + "/metrics", "", http.StatusOK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, "GET", tt.url, tt.token, "", "")
			if tt.code != "" {
				requireProblem(t, status, h, body, tt.status, tt.code)
				return
			}
			require.Equal(t, tt.status, status, string(body))
			require.Contains(t, h.Get("Content-Type"), "text/plain")
			for _, want := range []string{"db_pool_connections", "jobs{state="} {
				require.Contains(t, string(body), want)
			}
		})
	}
	_, _, body := raw(t, "GET", metrics.URL+"/metrics", "", "", "")
	require.Contains(t, string(body), `http_requests_total{method="GET",route="/healthz",status="200"}`)
}
