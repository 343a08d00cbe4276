package httpapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

// Text PostgreSQL refuses (NUL, invalid UTF-8, lone surrogates) and JSON
// that encoding/json would quietly accept (duplicate keys, trailing data)
// are 400s naming the field, and change nothing.
func TestBadTextAndJSONAreRefused(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	tok := env.Login(t, env.NewUser(t, "admin", nil, nil))
	base := env.Server.URL
	const json = "application/json"
	const uid = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"

	tests := []struct {
		name      string
		method    string
		path      string
		body      string
		headers   []string
		wantCode  string
		wantField string
		wantFCode string
	}{
		{"escaped NUL in a value", "POST", "/v1/ventures", `{"name":"Bad\u0000Name","invoice_prefix":"NUL1"}`, nil, "validation_failed", "name", "invalid_format"},
		{"escaped NUL deep down", "POST", "/v1/ventures", `{"name":"V","invoice_prefix":"NUL2","x":{"items":[{"name":"ok"},{"name":"a\u0000"}]}}`, nil, "validation_failed", "x.items.1.name", "invalid_format"},
		{"escaped NUL in a key", "POST", "/v1/ventures", `{"name":"V","invoice_prefix":"NUL3","a\u0000b":1}`, nil, "validation_failed", "a\uFFFDb", "invalid_format"},
		{"raw NUL in a string", "POST", "/v1/ventures", "{\"name\":\"a\x00\",\"invoice_prefix\":\"NUL4\"}", nil, "malformed_json", "body", "malformed_json"},
		{"invalid UTF-8", "POST", "/v1/ventures", "{\"name\":\"caf\xe9\",\"invoice_prefix\":\"NUL5\"}", nil, "validation_failed", "name", "invalid_format"},
		{"lone high surrogate", "POST", "/v1/ventures", `{"name":"x\ud800y","invoice_prefix":"NUL6"}`, nil, "validation_failed", "name", "invalid_format"},
		{"high surrogate at the end", "POST", "/v1/ventures", `{"name":"x\ud800","invoice_prefix":"NUL7"}`, nil, "validation_failed", "name", "invalid_format"},
		{"lone low surrogate", "POST", "/v1/ventures", `{"name":"x\udc00","invoice_prefix":"NUL8"}`, nil, "validation_failed", "name", "invalid_format"},
		{"two high surrogates", "POST", "/v1/ventures", `{"name":"\ud800\ud800","invoice_prefix":"NUL9"}`, nil, "validation_failed", "name", "invalid_format"},
		{"NUL as a top-level string", "POST", "/v1/ventures", `"\u0000"`, nil, "validation_failed", "body", "invalid_format"},
		{"NUL in a path parameter", "GET", "/v1/storefront/usernames/ab%00cd", "", nil, "validation_failed", "username", "invalid_format"},
		{"invalid UTF-8 in a path parameter", "GET", "/v1/users/%ff", "", nil, "validation_failed", "id", "invalid_format"},
		{"NUL in a query parameter", "GET", "/v1/users?cursor=a%00b", "", nil, "validation_failed", "cursor", "invalid_format"},
		{"invalid UTF-8 in a query parameter", "GET", "/v1/users?role=%ff", "", nil, "validation_failed", "role", "invalid_format"},
		{"invalid UTF-8 in a query name", "GET", "/v1/users?%ff=1", "", nil, "validation_failed", "\uFFFD", "invalid_format"},
		{"invalid UTF-8 in Idempotency-Key", "POST", "/v1/ventures", `{"name":"V","invoice_prefix":"NUL10"}`, []string{"Idempotency-Key", "k\xff"}, "validation_failed", "Idempotency-Key", "invalid_format"},
		{"duplicate key", "POST", "/v1/ventures", `{"name":"A","name":"B","invoice_prefix":"DUP1"}`, nil, "malformed_json", "name", "duplicate_key"},
		{"duplicate key deep down", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"DUP2","x":[{"k":1},{"k":1,"k":2}]}`, nil, "malformed_json", "x.1.k", "duplicate_key"},
		{"trailing document", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"TRL1"} {"name":"B"}`, nil, "malformed_json", "body", "trailing_data"},
		{"trailing garbage", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"TRL2"}x`, nil, "malformed_json", "body", "trailing_data"},
		{"trailing value", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"TRL3"} 1`, nil, "malformed_json", "body", "trailing_data"},
		{"unclosed", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"TRL4"`, nil, "malformed_json", "body", "malformed_json"},
		{"nested too deeply", "POST", "/v1/ventures", `{"name":"A","invoice_prefix":"DEEP1","x":` + strings.Repeat("[", 65) + strings.Repeat("]", 65) + `}`, nil, "malformed_json", "x" + strings.Repeat(".0", 63), "too_deep"},
		{"NUL in a patch", "PATCH", "/v1/users/" + uid, `{"name":"\u0000"}`, nil, "validation_failed", "name", "invalid_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ct := ""
			if tt.body != "" {
				ct = json
			}
			status, h, body := raw(t, tt.method, base+tt.path, tok, ct, tt.body, tt.headers...)
			p := requireProblem(t, status, h, body, http.StatusBadRequest, tt.wantCode)
			require.NotEmpty(t, p.Errors, string(body))
			require.Equal(t, tt.wantField, p.Errors[0].Field, string(body))
			require.Equal(t, tt.wantFCode, p.Errors[0].Code, string(body))
		})
	}
	t.Run("API key with bytes we never issue", func(t *testing.T) {
		t.Parallel()
		status, h, body := raw(t, "GET", base+"/v1/me", "ak_"+strings.Repeat("\xff", 10)+"_secret", "", "")
		requireProblem(t, status, h, body, http.StatusUnauthorized, "unauthenticated")
	})
	t.Run("fine text passes", func(t *testing.T) {
		t.Parallel()
		// An escaped backslash before u0000 is not a NUL; a surrogate pair is
		// one character.
		status, _, body := raw(t, "POST", base+"/v1/ventures", tok, json, `{"name":"C:\\u0000 \ud83d\ude00 caf\u00e9","invoice_prefix":"OK1"}`)
		require.Equal(t, http.StatusCreated, status, string(body))
	})
	t.Cleanup(func() {
		var n int64
		require.NoError(t, env.App.DB.Gorm.WithContext(context.Background()).
			Raw("SELECT count(*) FROM ventures WHERE invoice_prefix <> 'OK1' AND (invoice_prefix LIKE 'NUL%' OR invoice_prefix LIKE 'DUP%' OR invoice_prefix LIKE 'TRL%')").Scan(&n).Error)
		require.Zero(t, n, "a refused request created a venture")
	})
}
