package httpapi_test

import (
	"net/http"
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
		{"/metrics", "text/plain", []string{`http_requests_total{method="GET",route="/healthz",status="200"}`,
			"http_request_duration_seconds_bucket", "db_pool_connections", "jobs{state="}},
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
