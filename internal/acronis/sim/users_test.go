package sim_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		login  string
		status int
		code   float64
	}{
		{"free.user", 204, 0},
		{adminLogin, 409, 409},
		{strings.ToUpper(adminLogin), 409, 409},
		{"ab", 400, 1033},
		{"has space", 400, 1033},
		{"ünï", 400, 1033},
		{"john+doe@example.com", 204, 0},
	}
	for _, tc := range tests {
		t.Run(tc.login, func(t *testing.T) {
			t.Parallel()
			r := e.as("GET", "/users/check_login?username="+url.QueryEscape(tc.login), nil)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			if tc.code != 0 {
				require.Equal(t, tc.code, r.errCode(t))
			}
		})
	}
}

func TestUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	cid := e.mkTenant("C", "customer", sp)["id"].(string)
	pid := e.mkTenant("P", "partner", sp)["id"].(string)

	// Personal tenants: only for users in customer tenants; the key is always there.
	cu := e.mkUser("cust.admin", cid)
	require.Contains(t, cu, "personal_tenant_id")
	require.NotNil(t, cu["personal_tenant_id"])
	require.Equal(t, false, cu["activated"])
	require.EqualValues(t, 1, cu["version"])
	pu := e.mkUser("partner.admin", pid)
	require.Contains(t, pu, "personal_tenant_id")
	require.Nil(t, pu["personal_tenant_id"])
	require.Equal(t, 2, e.sim.CountTenants("customer")+e.sim.CountTenants("partner")-1)
	require.Equal(t, 3, e.sim.CountUsers())

	bad := []struct {
		name   string
		body   map[string]any
		status int
		code   float64
	}{
		{"taken", map[string]any{"tenant_id": cid, "login": "cust.admin", "contact": map[string]any{"email": "x@example.com"}}, 409, 409},
		{"invalid login", map[string]any{"tenant_id": cid, "login": "a b", "contact": map[string]any{"email": "x@example.com"}}, 400, 1033},
		{"unknown field", map[string]any{"tenant_id": cid, "login": "zzz", "contact": map[string]any{"email": "x@example.com"}, "password": "x"}, 400, 400},
		{"no tenant", map[string]any{"tenant_id": "00000000-0000-4000-8000-000000000000", "login": "zzz", "contact": map[string]any{"email": "x@example.com"}}, 404, 1005},
	}
	for _, tc := range bad {
		r := e.as("POST", "/users", tc.body)
		require.Equal(t, tc.status, r.status, tc.name)
		require.Equal(t, tc.code, r.errCode(t), tc.name)
	}

	uid := cu["id"].(string)
	// Password: API-client token only; PYSAMP's extra version field is ignored.
	adminBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminLogin+":"+adminPass))
	r := e.call("POST", "/users/"+uid+"/password", map[string]any{"password": "P@ssw0rd!"}, "Authorization", adminBasic)
	require.Equal(t, http.StatusForbidden, r.status)
	ut := e.form(url.Values{"grant_type": {"password"}, "username": {adminLogin}, "password": {adminPass}}).json(t)["access_token"].(string)
	r = e.call("POST", "/users/"+uid+"/password", map[string]any{"password": "P@ssw0rd!"}, "Authorization", "Bearer "+ut)
	require.Equal(t, http.StatusForbidden, r.status)
	r = e.as("POST", "/users/"+uid+"/password", map[string]any{"password": "P@ssw0rd!", "version": 1})
	require.Equal(t, http.StatusNoContent, r.status, "%s", r.raw)
	require.Equal(t, true, e.as("GET", "/users/"+uid, nil).json(t)["activated"])
	// The new user can now log in.
	r = e.form(url.Values{"grant_type": {"password"}, "username": {"cust.admin"}, "password": {"P@ssw0rd!"}})
	require.Equal(t, 200, r.status)

	// Activation email, with and without a body.
	require.Equal(t, 204, e.call("POST", "/users/"+pu["id"].(string)+"/send-activation-email", nil, "Authorization", "Bearer "+e.tok).status)
	require.Equal(t, 204, e.as("POST", "/users/"+pu["id"].(string)+"/send-activation-email", map[string]any{}).status)

	// Access policies: PUT replaces the set.
	pol := map[string]any{"items": []any{map[string]any{"id": "00000000-0000-0000-0000-000000000000", "issuer_id": "00000000-0000-0000-0000-000000000000",
		"role_id": "company_admin", "tenant_id": cid, "trustee_id": uid, "trustee_type": "user", "version": 0}}}
	r = e.as("PUT", "/users/"+uid+"/access_policies", pol)
	require.Equal(t, 200, r.status, "%s", r.raw)
	items := r.json(t)["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, "company_admin", items[0].(map[string]any)["role_id"])
	require.Equal(t, uid, items[0].(map[string]any)["trustee_id"])
	require.Len(t, e.as("GET", "/users/"+uid+"/access_policies", nil).json(t)["items"], 1)
	require.Empty(t, e.as("PUT", "/users/"+uid+"/access_policies", map[string]any{"items": []any{}}).json(t)["items"])
	require.Equal(t, 400, e.as("PUT", "/users/"+uid+"/access_policies", map[string]any{"items": []any{map[string]any{"role_id": "god", "tenant_id": cid}}}).status)

	// Lookups by login and tenant.
	r = e.as("GET", "/users?login=cust.admin", nil)
	require.Len(t, r.json(t)["items"], 1)
	r = e.as("GET", "/users?tenant_id="+cid, nil)
	require.Len(t, r.json(t)["items"], 1)
	require.Equal(t, []any{uid}, e.as("GET", "/tenants/"+cid+"/users", nil).json(t)["items"])

	// Update with version, stale version, delete.
	r = e.as("PUT", "/users/"+uid, map[string]any{"version": "1", "enabled": "false", "contact": map[string]any{"firstname": "Jo"}})
	require.Equal(t, 200, r.status, "%s", r.raw)
	u := r.json(t)
	require.EqualValues(t, 2, u["version"])
	require.Equal(t, false, u["enabled"])
	require.Equal(t, "Jo", u["contact"].(map[string]any)["firstname"])
	r = e.as("DELETE", "/users/"+uid+"?version=1", nil)
	require.Equal(t, 409, r.status)
	require.EqualValues(t, 1001, r.errCode(t))
	require.Equal(t, 204, e.as("DELETE", "/users/"+uid+"/?version=2", nil).status)
	require.Equal(t, 404, e.as("GET", "/users/"+uid, nil).status)
	require.Equal(t, 204, e.as("GET", "/users/check_login?username=cust.admin", nil).status)
}

func TestOTT(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cid := e.mkTenant("C", "customer", e.sim.SPTenantID())["id"].(string)
	u := e.mkUser("sso.user", cid)

	adminBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte(adminLogin+":"+adminPass))
	require.Equal(t, 403, e.call("POST", "/idp/ott", map[string]any{"purpose": "user_login", "login": "sso.user"}, "Authorization", adminBasic).status)

	for _, key := range []string{"login", "user_id"} {
		val := "sso.user"
		if key == "user_id" {
			val = u["id"].(string)
		}
		r := e.as("POST", "/idp/ott", map[string]any{"purpose": "user_login", key: val})
		require.Equal(t, 200, r.status, "%s", r.raw)
		ott := r.json(t)["ott"].(string)
		require.NotEmpty(t, ott)
		page := e.call("GET", "/idp/external-login?ott="+url.QueryEscape(ott)+"&targetURI="+url.QueryEscape(e.srv.URL+"/mc/"), nil)
		require.Equal(t, 200, page.status)
		require.True(t, strings.HasPrefix(page.header.Get("Content-Type"), "text/html"))
		require.Contains(t, string(page.raw), "Logged in as sso.user")
		again := e.call("GET", "/idp/external-login?ott="+url.QueryEscape(ott), nil)
		require.Equal(t, 401, again.status)
	}
	require.Equal(t, 401, e.call("GET", "/idp/external-login?ott=bogus", nil).status)

	// Programmatic session: ott/login returns the user and a cookie session.
	ott := e.as("POST", "/idp/ott", map[string]any{"purpose": "user_login", "login": "sso.user"}).json(t)["ott"].(string)
	r := e.call("POST", "/idp/ott/login", map[string]any{"ott": ott})
	require.Equal(t, 200, r.status)
	require.Equal(t, "sso.user", r.json(t)["login"])
	require.Equal(t, 401, e.call("POST", "/idp/ott/login", map[string]any{"ott": ott}).status)
}
