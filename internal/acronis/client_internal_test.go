package acronis

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestResponseError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		status    int
		body      string
		code      int
		message   string
		retryable bool
	}{
		{"vendor envelope", 400, `{"error":{"code":1006,"message":"It is prohibited to delete a non-disabled tenant.","details":{"info":"It is prohibited to delete a non-disabled tenant \"1415032\""},"context":{},"domain":"PlatformAccountServer"}}`,
			1006, `It is prohibited to delete a non-disabled tenant "1415032"`, false},
		{"http code in envelope", 404, `{"error":{"code":404,"message":"Not found"}}`, 0, "Not found", false},
		{"version conflict", 409, `{"error":{"code":1001,"message":"Version mismatch"}}`, 1001, "Version mismatch", false},
		{"server error, no body", 503, ``, 0, "Service Unavailable", true},
		{"rate limited", 429, `not json`, 0, "Too Many Requests", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := responseError("GET /x", tt.status, []byte(tt.body))
			require.Equal(t, tt.status, e.Status)
			require.Equal(t, tt.code, e.Code)
			require.Equal(t, tt.message, e.Message)
			require.Equal(t, tt.retryable, e.Retryable)
			require.Equal(t, tt.retryable, isAmbiguous(e))
		})
	}
}

// A write that keeps meeting version conflicts ends retryable (a race to
// try again later); any other error, and success, end as they came.
func TestOnConflict(t *testing.T) {
	t.Parallel()
	conflict := func() error {
		return responseError("PUT /tenants/x", 409, []byte(`{"error":{"code":1001,"message":"Version mismatch"}}`))
	}
	tests := []struct {
		name      string
		answers   []error
		calls     int
		retryable bool
		ok        bool
	}{
		{"conflict then success", []error{conflict(), nil}, 2, false, true},
		{"conflict on every attempt", []error{conflict(), conflict(), conflict()}, 3, true, false},
		{"other refusal is final", []error{responseError("PUT /tenants/x", 409, []byte(`{"error":{"code":1004,"message":"Name taken"}}`))}, 1, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := &Client{cfg: Config{MaxAttempts: 3}}
			calls := 0
			_, err := onConflict(c, func() (int, error) {
				err := tt.answers[min(calls, len(tt.answers)-1)]
				calls++
				return calls, err
			})
			require.Equal(t, tt.calls, calls)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, tt.retryable, e.Retryable)
		})
	}
}

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name string
		tr   tokenResponse
		want time.Time
	}{
		{"expires_on wins, renewed 15 min early", tokenResponse{ExpiresOn: now.Unix() + 7200, ExpiresIn: 60}, now.Add(105 * time.Minute)},
		{"expires_in only", tokenResponse{ExpiresIn: 7200}, now.Add(105 * time.Minute)},
		{"short token renewed at three quarters", tokenResponse{ExpiresIn: 400}, now.Add(300 * time.Second)},
		{"unknown life", tokenResponse{}, now.Add(10 * time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.True(t, tt.want.Equal(tokenExpiry(tt.tr, now)), "got %v", tokenExpiry(tt.tr, now))
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []Config{
		{BaseURL: "ftp://x", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "https://", ClientID: "a", ClientSecret: "b"},
		{BaseURL: "https://dc.example", ClientSecret: "b"},
		{BaseURL: "https://dc.example", ClientID: "a"},
	}
	for _, cfg := range tests {
		_, err := New(cfg)
		require.Error(t, err)
		require.NotContains(t, err.Error(), "b\"")
	}
	c, err := New(Config{BaseURL: "https://dc.example/", ClientID: "a", ClientSecret: "b"})
	require.NoError(t, err)
	require.Equal(t, "https://dc.example", c.BaseURL())
	require.Equal(t, "https://dc.example/api/2/idp/external-login?ott=t%2F1&targetURI=https%3A%2F%2Fdc.example%2Fmc%2F",
		c.ExternalLoginURL("t/1", ""))
	_ = http.StatusOK
}
