package sim_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestToken(t *testing.T) {
	t.Parallel()
	basic := func(id, secret string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
	}
	tests := []struct {
		name    string
		form    url.Values
		hdr     []string
		status  int
		errCode string
	}{
		{"basic client credentials", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic(clientID, clientSecret)}, 200, ""},
		{"client_secret_post", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}, nil, 200, ""},
		{"password grant", url.Values{"grant_type": {"password"}, "username": {adminLogin}, "password": {adminPass}}, nil, 200, ""},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, []string{"Authorization", basic(clientID, "nope")}, 401, "invalid_client"},
		{"wrong form secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"x"}}, nil, 401, "invalid_client"},
		{"wrong password", url.Values{"grant_type": {"password"}, "username": {adminLogin}, "password": {"x"}}, nil, 401, "invalid_grant"},
		{"unsupported grant", url.Values{"grant_type": {"magic"}}, nil, 400, "unsupported_grant_type"},
		{"missing grant", url.Values{}, nil, 400, "invalid_request"},
	}
	e := newEnv(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.form(tc.form, tc.hdr...)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			m := r.json(t)
			if tc.errCode != "" {
				require.Equal(t, tc.errCode, m["error"])
				require.NotEmpty(t, m["error_description"])
				return
			}
			require.Equal(t, "bearer", m["token_type"])
			require.NotEmpty(t, m["access_token"])
			require.NotEmpty(t, m["id_token"])
			require.EqualValues(t, 7200, m["expires_in"])
			require.InDelta(t, float64(time.Now().Add(2*time.Hour).Unix()), m["expires_on"], 5)
		})
	}
	t.Run("json body is 415", func(t *testing.T) {
		t.Parallel()
		r := e.call("POST", "/idp/token", map[string]any{"grant_type": "client_credentials"})
		require.Equal(t, http.StatusUnsupportedMediaType, r.status)
	})
}

func TestAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()

	r := e.as("GET", "/clients/"+clientID, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, sp, r.json(t)["tenant_id"])

	r = e.call("GET", "/users/me", nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(adminLogin+":"+adminPass)))
	require.Equal(t, 200, r.status)
	me := r.json(t)
	require.Equal(t, sp, me["tenant_id"])
	require.Contains(t, me, "personal_tenant_id")

	require.Equal(t, 401, e.call("GET", "/tenants/"+sp, nil).status)
	require.Equal(t, 401, e.call("GET", "/tenants/"+sp, nil, "Authorization", "Bearer nope").status)
	require.Equal(t, 401, e.call("GET", "/tenants/"+sp, nil, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(adminLogin+":bad"))).status)

	// Root is outside the SP's subtree.
	r = e.as("GET", "/tenants/"+sp, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, 403, e.as("GET", "/tenants/"+r.json(t)["parent_id"].(string), nil).status)

	// API-client-only endpoints refuse Basic and user tokens.
	ut := e.form(url.Values{"grant_type": {"password"}, "username": {adminLogin}, "password": {adminPass}}).json(t)["access_token"].(string)
	for _, p := range []string{"/infra", "/locations"} {
		require.Equal(t, 403, e.call("GET", p, nil, "Authorization", "Bearer "+ut).status)
		require.Equal(t, 200, e.as("GET", p, nil).status)
	}

	// Expiry follows the simulator clock.
	e.sim.Advance(2*time.Hour + time.Second)
	r = e.as("GET", "/clients/"+clientID, nil)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.EqualValues(t, 401, r.errCode(t))
	e.tok = e.clientToken()
	require.Equal(t, 200, e.as("GET", "/clients/"+clientID, nil).status)
}
