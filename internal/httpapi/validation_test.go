package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/user"
)

func TestBadRequestsNameTheFieldAndChangeNothing(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := env.Login(t, env.NewUser(t, "admin", nil, nil))
	base := env.Server.URL
	const json = "application/json"

	tests := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        string
		headers     []string
		wantCode    string
		wantField   string
		wantFCode   string
	}{
		{"malformed json", "POST", "/v1/users", json, `{"email": "a@example.com",`, nil, "malformed_json", "body", "malformed_json"},
		{"not an object", "POST", "/v1/users", json, `[1,2]`, nil, "validation_failed", "body", "invalid_type"},
		{"wrong type", "POST", "/v1/users", json, `{"email":"a@example.com","name":5,"password":"long-enough-pass","role":"admin"}`, nil, "validation_failed", "name", "invalid_type"},
		{"bad enum", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"long-enough-pass","role":"root"}`, nil, "validation_failed", "role", "invalid_enum"},
		{"unknown field", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"long-enough-pass","role":"admin","is_god":true}`, nil, "validation_failed", "is_god", "unknown_field"},
		{"missing field", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","role":"admin"}`, nil, "validation_failed", "password", "required"},
		{"bad email", "POST", "/v1/users", json, `{"email":"nope","name":"A","password":"long-enough-pass","role":"admin"}`, nil, "validation_failed", "email", "invalid_format"},
		{"short password", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"short","role":"admin"}`, nil, "validation_failed", "password", "out_of_range"},
		{"bad uuid in body", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"long-enough-pass","role":"partner","partner_id":"p-1"}`, nil, "validation_failed", "partner_id", "invalid_format"},
		{"partner without partner_id", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"long-enough-pass","role":"partner"}`, nil, "validation_failed", "partner_id", "required"},
		{"admin with customer_id", "POST", "/v1/users", json, `{"email":"a@example.com","name":"A","password":"long-enough-pass","role":"admin","customer_id":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"}`, nil, "validation_failed", "customer_id", "not_allowed"},
		{"wrong content type", "POST", "/v1/users", "text/plain", `hello`, nil, "validation_failed", "Content-Type", "unsupported_media_type"},
		{"empty body", "POST", "/v1/users", json, ``, nil, "validation_failed", "body", "required"},
		{"bad uuid in path", "GET", "/v1/users/not-a-uuid", "", "", nil, "validation_failed", "id", "invalid_format"},
		{"bad uuid in query", "GET", "/v1/users?partner_id=42", "", "", nil, "validation_failed", "partner_id", "invalid_format"},
		{"bad enum in query", "GET", "/v1/users?role=root", "", "", nil, "validation_failed", "role", "invalid_enum"},
		{"limit too big", "GET", "/v1/users?limit=500", "", "", nil, "validation_failed", "limit", "out_of_range"},
		{"limit not a number", "GET", "/v1/users?limit=ten", "", "", nil, "validation_failed", "limit", "invalid_format"},
		{"cursor not ours", "GET", "/v1/users?cursor=Zm9v", "", "", nil, "validation_failed", "cursor", "invalid_cursor"},
		{"bad If-Match", "PATCH", "/v1/users/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", json, `{"name":"B"}`, []string{"If-Match", "yesterday"}, "validation_failed", "If-Match", "invalid_format"},
		{"empty patch", "PATCH", "/v1/users/6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f", json, `{}`, nil, "validation_failed", "body", "out_of_range"},
		{"idempotency key too long", "POST", "/v1/api-keys", json, `{"name":"k"}`, []string{"Idempotency-Key", strings.Repeat("k", 300)}, "validation_failed", "Idempotency-Key", "out_of_range"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, h, body := raw(t, tt.method, base+tt.path, tok, tt.contentType, tt.body, tt.headers...)
				p := requireProblem(t, status, h, body, http.StatusBadRequest, tt.wantCode)
				require.NotEmpty(t, p.Errors, string(body))
				require.Equal(t, tt.wantField, p.Errors[0].Field, string(body))
				require.Equal(t, tt.wantFCode, p.Errors[0].Code, string(body))
			})
		}
	})
	var n int64
	require.NoError(t, env.App.DB.Gorm.WithContext(context.Background()).Model(&user.User{}).
		Where("email = ?", "a@example.com").Count(&n).Error)
	require.Zero(t, n, "a bad request created a user")
	var keys int64
	require.NoError(t, env.App.DB.Gorm.Raw("SELECT count(*) FROM api_keys WHERE name = 'k'").Scan(&keys).Error)
	require.Zero(t, keys, "a bad request created an API key")
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tests := []struct {
		name, method, path string
		want               int
		code               string
	}{
		{"unknown path", "GET", "/v1/nothing-here", http.StatusNotFound, "not_found"},
		{"unknown root", "GET", "/wp-admin", http.StatusNotFound, "not_found"},
		{"wrong method", "PUT", "/v1/me", http.StatusMethodNotAllowed, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, tt.method, env.Server.URL+tt.path, "", "", "")
			requireProblem(t, status, h, body, tt.want, tt.code)
		})
	}
}

func TestPanicIsAProblemWithoutInternals(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	env.App.HTTP.GET("/test/panic", func(echo.Context) error {
		panic("boom: password=hunter2 SELECT * FROM users")
	})
	status, h, body := raw(t, "GET", env.Server.URL+"/test/panic", "", "", "")
	requireProblem(t, status, h, body, http.StatusInternalServerError, "internal")
	require.NotContains(t, string(body), "hunter2")
	require.NotContains(t, string(body), "SELECT")
	require.NotContains(t, string(body), "goroutine")

	// The server keeps serving.
	status, _, _ = raw(t, "GET", env.Server.URL+"/healthz", "", "", "")
	require.Equal(t, http.StatusOK, status)
}
