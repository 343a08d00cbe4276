package sim_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis/sim"
)

// The calls the vendor's example clients (acronis-cyber-platform-python- and
// bash-examples, pyacronis) make beyond the billing platform's own.

const appBackup = "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb"

func basicAuth(login, pw string) string { return "Basic " + basic(login, pw) }

// token issues a client_credentials token for an API client.
func (e *env) tokenFor(id, secret string) resp {
	e.t.Helper()
	return e.form(url.Values{"grant_type": {"client_credentials"}}, "Authorization", basicAuth(id, secret))
}

func accessToken(t *testing.T, r resp) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	return r.json(t)["access_token"].(string)
}

func TestCreateAPIClient(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	cust := e.mkTenant("Cust", "customer", sp)["id"].(string)
	other := e.mkTenant("Other", "customer", sp)["id"].(string)
	admin := basicAuth(adminLogin, adminPass)
	body := func(tenant string) map[string]any {
		return map[string]any{"type": "api_client", "tenant_id": tenant, "token_endpoint_auth_method": "client_secret_basic",
			"data": map[string]any{"client_name": "Python.Client"}}
	}

	// The admin's Basic login and password create a client whose token works.
	r := e.call("POST", "/clients", body(sp), "Authorization", admin)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.raw)
	if haveSpec(t) {
		validate(t, "/clients", "POST", 201, r.raw)
	}
	c := r.json(t)
	require.Equal(t, sp, c["tenant_id"])
	require.NotEmpty(t, c["client_secret"])
	tok := accessToken(t, e.tokenFor(c["client_id"].(string), c["client_secret"].(string)))
	me := e.call("GET", "/tenants/"+sp+"/children", nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, me.status, "%s", me.raw)
	got := e.call("GET", "/clients/"+c["client_id"].(string), nil, "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, got.status, "%s", got.raw)
	require.Equal(t, sp, got.json(t)["tenant_id"])
	require.NotContains(t, got.json(t), "client_secret")

	// A client of a customer tenant acts only within it.
	r = e.as("POST", "/clients", body(cust))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.raw)
	cc := r.json(t)
	ctok := accessToken(t, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)))
	require.Equal(t, http.StatusOK, e.call("GET", "/tenants/"+cust, nil, "Authorization", "Bearer "+ctok).status)
	require.Equal(t, http.StatusForbidden, e.call("GET", "/tenants/"+other, nil, "Authorization", "Bearer "+ctok).status)
	// ... and cannot create clients above itself.
	require.Equal(t, http.StatusForbidden, e.call("POST", "/clients", body(sp), "Authorization", "Bearer "+ctok).status)

	// Its credentials stop working once its tenant is disabled.
	require.Equal(t, http.StatusOK, e.as("PUT", "/tenants/"+cust, map[string]any{"version": 1, "enabled": false}).status)
	require.Equal(t, http.StatusUnauthorized, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)).status)
	require.Equal(t, http.StatusUnauthorized, e.call("GET", "/tenants/"+cust, nil, "Authorization", "Bearer "+ctok).status)

	tests := []struct {
		name   string
		auth   string
		body   any
		status int
	}{
		{"no auth", "", body(sp), 401},
		{"wrong password", basicAuth(adminLogin, "nope"), body(sp), 401},
		{"missing tenant", admin, map[string]any{"type": "api_client", "token_endpoint_auth_method": "client_secret_basic"}, 400},
		{"missing type", admin, map[string]any{"tenant_id": sp, "token_endpoint_auth_method": "client_secret_basic"}, 400},
		{"bad type", admin, map[string]any{"type": "robot", "tenant_id": sp, "token_endpoint_auth_method": "client_secret_basic"}, 400},
		{"bad method", admin, map[string]any{"type": "api_client", "tenant_id": sp, "token_endpoint_auth_method": "magic"}, 400},
		{"unknown field", admin, map[string]any{"type": "api_client", "tenant_id": sp, "token_endpoint_auth_method": "none", "x": 1}, 400},
		{"unknown tenant", admin, body("00000000-0000-4000-8000-000000000000"), 404},
		{"not JSON", admin, "type=api_client", 415},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hdr := []string{"Authorization", tc.auth}
			if s, ok := tc.body.(string); ok {
				r := e.call("POST", "/clients", s, append(hdr, "Content-Type", "application/x-www-form-urlencoded")...)
				require.Equal(t, tc.status, r.status, "%s", r.raw)
				return
			}
			r := e.call("POST", "/clients", tc.body, hdr...)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
		})
	}
}

func TestCustomerScopedToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	partner := e.mkTenant("P", "partner", sp)["id"].(string)
	cust := e.mkTenant("C", "customer", partner)["id"].(string)
	sibling := e.mkTenant("C2", "customer", sp)["id"].(string)
	exchange := func(assertion, scope string) resp {
		return e.form(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {assertion},
			"scope": {scope}}, "Authorization", "Bearer "+e.tok)
	}
	r := exchange(e.tok, "urn:acronis.com:tenant-id:"+cust)
	scoped := accessToken(t, r)
	require.NotZero(t, r.json(t)["expires_on"])
	as := func(path string) int { return e.call("GET", path, nil, "Authorization", "Bearer "+scoped).status }
	require.Equal(t, http.StatusOK, as("/tenants/"+cust))
	require.Equal(t, http.StatusForbidden, as("/tenants/"+sibling))
	require.Equal(t, http.StatusForbidden, as("/tenants/"+sp))

	// A partner's own client exchanges only within the partner.
	pc := e.as("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": partner, "token_endpoint_auth_method": "client_secret_basic"}).json(t)
	ptok := accessToken(t, e.tokenFor(pc["client_id"].(string), pc["client_secret"].(string)))

	tests := []struct {
		name      string
		assertion string
		scope     string
		status    int
		code      string
	}{
		{"partner to its customer", ptok, "urn:acronis.com:tenant-id:" + cust, 200, ""},
		{"partner to a customer outside it", ptok, "urn:acronis.com:tenant-id:" + sibling, 403, "access_denied"},
		{"not a customer", e.tok, "urn:acronis.com:tenant-id:" + partner, 400, "invalid_scope"},
		{"unknown tenant", e.tok, "urn:acronis.com:tenant-id:00000000-0000-4000-8000-000000000000", 403, "access_denied"},
		{"no scope", e.tok, "", 400, "invalid_scope"},
		{"bad scope", e.tok, "tenant:" + cust, 400, "invalid_scope"},
		{"bad assertion", "not-a-token", "urn:acronis.com:tenant-id:" + cust, 400, "invalid_grant"},
		{"no assertion", "", "urn:acronis.com:tenant-id:" + cust, 400, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := exchange(tc.assertion, tc.scope)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			if tc.code != "" {
				require.Equal(t, tc.code, r.json(t)["error"])
			}
		})
	}
}

func TestScopedTokenEndsWithItsAssertion(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	e := newEnvWith(t, func(o *sim.Options) { o.Clock = func() time.Time { return now } })
	cust := e.mkTenant("C", "customer", e.sim.SPTenantID())["id"].(string)
	e.sim.Advance(time.Hour) // the client token has an hour left
	r := e.form(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {e.tok},
		"scope": {"urn:acronis.com:tenant-id:" + cust}})
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	require.EqualValues(t, 3600, r.json(t)["expires_in"])
	scoped := r.json(t)["access_token"].(string)
	e.sim.Advance(time.Hour)
	require.Equal(t, http.StatusUnauthorized, e.call("GET", "/tenants/"+cust, nil, "Authorization", "Bearer "+scoped).status)
	r = e.form(url.Values{"grant_type": {"urn:ietf:params:oauth:grant-type:jwt-bearer"}, "assertion": {e.tok},
		"scope": {"urn:acronis.com:tenant-id:" + cust}})
	require.Equal(t, http.StatusBadRequest, r.status, "an expired assertion: %s", r.raw)
}

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	p := e.mkTenant("Acme Partner", "partner", sp)["id"].(string)
	c := e.mkTenant("Acme Customer", "customer", p)["id"].(string)
	other := e.mkTenant("Other customer", "customer", sp)["id"].(string)
	u := e.mkUser("acme.admin", c)
	e.mkUser("zed", other)

	r := e.as("GET", "/search?text=acme&tenant="+sp, nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	if haveSpec(t) {
		validate(t, "/search", "GET", 200, r.raw)
	}
	items := r.json(t)["items"].([]any)
	require.Len(t, items, 3)
	first := items[0].(map[string]any)
	require.Equal(t, "tenant", first["obj_type"])
	require.Equal(t, p, first["id"])
	require.Equal(t, []any{"Simulated Root", "Simulated Service Provider"}, first["path"])
	last := items[2].(map[string]any)
	require.Equal(t, "user", last["obj_type"])
	require.Equal(t, u["id"], last["id"])
	require.Equal(t, c, last["parent_id"])

	tests := []struct {
		name   string
		query  string
		tok    string
		count  int
		status int
	}{
		{"case-insensitive", "text=ACME&tenant=" + sp, "", 3, 200},
		{"within the tenant", "text=acme&tenant=" + other, "", 0, 200},
		{"users by email", "text=zed@example&tenant=" + sp, "", 1, 200},
		{"limit", "text=acme&limit=1&tenant=" + sp, "", 1, 200},
		{"no tenant", "text=acme", "", 0, 400},
		{"no text", "tenant=" + sp, "", 0, 400},
		{"bad limit", "text=a&limit=0&tenant=" + sp, "", 0, 400},
		{"unknown tenant", "text=a&tenant=00000000-0000-4000-8000-000000000000", "", 0, 404},
		{"no auth", "text=a&tenant=" + sp, "none", 0, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r resp
			if tc.tok == "none" {
				r = e.call("GET", "/search?"+tc.query, nil)
			} else {
				r = e.as("GET", "/search?"+tc.query, nil)
			}
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			if tc.status == 200 {
				require.Len(t, r.json(t)["items"], tc.count)
			}
		})
	}

	// Outside the caller's scope: a customer-scoped client cannot search the SP.
	cc := e.as("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": other, "token_endpoint_auth_method": "client_secret_basic"}).json(t)
	ctok := accessToken(t, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)))
	require.Equal(t, http.StatusForbidden, e.call("GET", "/search?text=acme&tenant="+sp, nil, "Authorization", "Bearer "+ctok).status)
}

// setItems enables the named items (quota value, nil = unlimited) on a tenant.
func (e *env) setItems(tenant string, items map[string]*int64) {
	e.t.Helper()
	var list []any
	for name, q := range items {
		list = append(list, map[string]any{"application_id": appBackup, "name": name, "status": 1,
			"quota": map[string]any{"value": q, "overage": nil, "version": 0}})
	}
	r := e.as("PUT", "/tenants/"+tenant+"/offering_items", map[string]any{"offering_items": list})
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.raw)
}

// items returns name -> item of a tenant's offering items (all editions).
func (e *env) items(tenant string) map[string]map[string]any {
	e.t.Helper()
	r := e.as("GET", "/tenants/"+tenant+"/offering_items?edition=*", nil)
	require.Equal(e.t, http.StatusOK, r.status, "%s", r.raw)
	out := map[string]map[string]any{}
	for _, it := range r.json(e.t)["items"].([]any) {
		m := it.(map[string]any)
		out[m["name"].(string)] = m
	}
	return out
}

func i64(v int64) *int64 { return &v }

func TestEditionSwitch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	p := e.mkTenant("P", "partner", sp)["id"].(string)
	e.setItems(p, map[string]*int64{"pg_base_storage": nil, "pg_base_workstations": nil, "pw_base_storage": nil})
	c := e.mkTenant("C", "customer", p)["id"].(string)
	e.setItems(c, map[string]*int64{"pg_base_storage": i64(100 << 30), "pg_base_workstations": i64(5)})
	q := func(tenant, target string) string {
		return "/tenants/" + tenant + "/edition?application_id=" + appBackup + "&target_edition=" + target
	}

	// The partner lacks pw_base_workstations: both the dry run and the switch refuse, naming it.
	r := e.as("GET", q(c, "pck_per_workload"), nil)
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.raw)
	require.Equal(t, []any{"pw_base_workstations"}, r.json(t)["error"].(map[string]any)["context"].(map[string]any)["offering_items"])
	r = e.as("PUT", "/tenants/"+c+"/edition", map[string]any{"application_id": appBackup, "target_edition": "pck_per_workload"})
	require.Equal(t, http.StatusBadRequest, r.status, "%s", r.raw)
	require.EqualValues(t, 1, e.items(c)["pg_base_storage"]["status"], "nothing changed")

	e.setItems(p, map[string]*int64{"pw_base_workstations": nil})
	r = e.as("GET", q(c, "pck_per_workload"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	if haveSpec(t) {
		validate(t, "/tenants/{tenant_id}/edition", "GET", 200, r.raw)
	}
	require.Empty(t, r.json(t)["warnings"])
	// The dry run of the partner warns that its customer loses its items.
	r = e.as("GET", q(p, "standard"), nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	require.NotEmpty(t, r.json(t)["warnings"])
	require.EqualValues(t, 1, e.items(c)["pg_base_storage"]["status"], "a dry run changes nothing")

	r = e.as("PUT", "/tenants/"+c+"/edition", map[string]any{"application_id": appBackup, "target_edition": "pck_per_workload"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	if haveSpec(t) {
		validate(t, "/tenants/{tenant_id}/edition", "PUT", 200, r.raw)
	}
	got := e.items(c)
	require.EqualValues(t, 0, got["pg_base_storage"]["status"])
	require.EqualValues(t, 0, got["pg_base_workstations"]["status"])
	require.EqualValues(t, 1, got["pw_base_storage"]["status"])
	require.EqualValues(t, 100<<30, got["pw_base_storage"]["quota"].(map[string]any)["value"], "the quota moves with the item")
	require.EqualValues(t, 5, got["pw_base_workstations"]["quota"].(map[string]any)["value"])
	require.Equal(t, "pck_per_workload", got["pw_base_storage"]["edition"])

	other := e.mkTenant("Other", "customer", sp)["id"].(string)
	cc := e.as("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": other, "token_endpoint_auth_method": "client_secret_basic"}).json(t)
	ctok := accessToken(t, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)))
	tests := []struct {
		name   string
		method string
		path   string
		body   any
		tok    string
		status int
	}{
		{"no target", "GET", "/tenants/" + c + "/edition?application_id=" + appBackup, nil, "", 400},
		{"no application", "GET", "/tenants/" + c + "/edition?target_edition=standard", nil, "", 400},
		{"unknown edition", "GET", q(c, "platinum"), nil, "", 400},
		{"unknown application", "GET", "/tenants/" + c + "/edition?application_id=00000000-0000-4000-8000-000000000000&target_edition=standard", nil, "", 404},
		{"unknown tenant", "GET", q("00000000-0000-4000-8000-000000000000", "standard"), nil, "", 404},
		{"outside scope", "GET", q(c, "standard"), nil, ctok, 403},
		{"no auth", "GET", q(c, "standard"), nil, "none", 401},
		{"put unknown field", "PUT", "/tenants/" + c + "/edition", map[string]any{"application_id": appBackup, "target_edition": "standard", "x": 1}, "", 400},
		{"put missing target", "PUT", "/tenants/" + c + "/edition", map[string]any{"application_id": appBackup}, "", 400},
		{"put outside scope", "PUT", "/tenants/" + c + "/edition", map[string]any{"application_id": appBackup, "target_edition": "standard"}, ctok, 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r resp
			switch tc.tok {
			case "":
				r = e.as(tc.method, tc.path, tc.body)
			case "none":
				r = e.call(tc.method, tc.path, tc.body)
			default:
				r = e.call(tc.method, tc.path, tc.body, "Authorization", "Bearer "+tc.tok)
			}
			require.Equal(t, tc.status, r.status, "%s", r.raw)
		})
	}
}

// TestDisableCustomerApplications follows disable_all_applications_for_customer.py.
func TestDisableCustomerApplications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	c := e.mkTenant("C", "customer", sp)["id"].(string)
	require.Equal(t, []any{sim.AppPlatform}, e.as("GET", "/tenants/"+c+"/applications", nil).json(t)["items"],
		"a new tenant has the management portal only")
	e.setItems(c, map[string]*int64{"pg_base_storage": i64(10 << 30)}) // enabling an item enables its application
	apps := e.as("GET", "/applications", nil).json(t)["items"].([]any)
	var platform string
	for _, a := range apps {
		if a.(map[string]any)["type"] == "platform" {
			platform = a.(map[string]any)["id"].(string)
		}
	}
	require.NotEmpty(t, platform)
	r := e.as("GET", "/tenants/"+c+"/applications", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	bound := r.json(t)["items"].([]any)
	require.Contains(t, bound, any(appBackup))
	for _, id := range bound {
		if id != platform {
			r := e.as("DELETE", "/applications/"+id.(string)+"/bindings/tenants/"+c, nil)
			require.Equal(t, http.StatusNoContent, r.status, "%s", r.raw)
		}
	}
	require.Equal(t, []any{platform}, e.as("GET", "/tenants/"+c+"/applications", nil).json(t)["items"])
	require.EqualValues(t, 0, e.items(c)["pg_base_storage"]["status"], "its items go with the application")
	require.Equal(t, http.StatusNoContent, e.as("POST", "/applications/"+appBackup+"/bindings/tenants/"+c, nil).status)
	require.Contains(t, e.as("GET", "/tenants/"+c+"/applications", nil).json(t)["items"], any(appBackup))
	require.EqualValues(t, 0, e.items(c)["pg_base_storage"]["status"], "binding does not enable items")

	other := e.mkTenant("Other", "customer", sp)["id"].(string)
	cc := e.as("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": other, "token_endpoint_auth_method": "client_secret_basic"}).json(t)
	ctok := accessToken(t, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)))
	tests := []struct {
		name   string
		method string
		path   string
		tok    string
		status int
	}{
		{"unknown application", "DELETE", "/applications/00000000-0000-4000-8000-000000000000/bindings/tenants/" + c, "", 404},
		{"unknown tenant", "DELETE", "/applications/" + appBackup + "/bindings/tenants/00000000-0000-4000-8000-000000000000", "", 404},
		{"outside scope", "DELETE", "/applications/" + appBackup + "/bindings/tenants/" + c, ctok, 403},
		{"list outside scope", "GET", "/tenants/" + c + "/applications", ctok, 403},
		{"no auth", "DELETE", "/applications/" + appBackup + "/bindings/tenants/" + c, "none", 401},
		{"the platform stays", "DELETE", "/applications/" + sim.AppPlatform + "/bindings/tenants/" + c, "", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var r resp
			switch tc.tok {
			case "":
				r = e.as(tc.method, tc.path, nil)
			case "none":
				r = e.call(tc.method, tc.path, nil)
			default:
				r = e.call(tc.method, tc.path, nil, "Authorization", "Bearer "+tc.tok)
			}
			require.Equal(t, tc.status, r.status, "%s", r.raw)
		})
	}
}

// TestCheckLoginAsPyacronisSends: pyacronis puts a GET's parameters in the
// body, form-encoded, under Content-Type application/json.
func TestCheckLoginAsPyacronisSends(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"form body, free", "username=free.login", 204},
		{"form body, taken", "username=" + adminLogin, 409},
		{"form body, invalid", "username=ab", 400},
		{"JSON body, free", `{"username":"json.login"}`, 204},
		{"no username", "other=x", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.call("GET", "/users/check_login", tc.body, "Authorization", "Bearer "+e.tok, "Content-Type", "application/json")
			require.Equal(t, tc.status, r.status, "%s", r.raw)
		})
	}
	// A query string wins over the body.
	r := e.call("GET", "/users/check_login?username="+adminLogin, "username=free.login", "Authorization", "Bearer "+e.tok)
	require.Equal(t, http.StatusConflict, r.status)
	require.Equal(t, http.StatusUnauthorized, e.call("GET", "/users/check_login", "username=free.login").status)
}

func TestPartnerUsagesAggregateChildren(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	p := e.mkTenant("P", "partner", sp)["id"].(string)
	e.setItems(p, map[string]*int64{"pg_base_storage": nil, "pg_base_workstations": nil})
	c1 := e.mkTenant("C1", "customer", p)["id"].(string)
	e.setItems(c1, map[string]*int64{"pg_base_storage": nil, "pg_base_workstations": nil})
	c2 := e.mkTenant("C2", "customer", sp)["id"].(string)
	e.setItems(c2, map[string]*int64{"pg_base_storage": nil})
	gone := e.mkTenant("Gone", "customer", sp)
	e.setItems(gone["id"].(string), map[string]*int64{"pg_base_storage": nil})
	require.NoError(t, e.sim.SetUsage(c1, "pg_base_storage", 10<<30))
	require.NoError(t, e.sim.SetUsage(c1, "pg_base_workstations", 3))
	require.NoError(t, e.sim.SetUsage(c2, "pg_base_storage", 5<<30))
	require.NoError(t, e.sim.SetUsage(gone["id"].(string), "pg_base_storage", 100<<30))
	require.Equal(t, http.StatusOK, e.as("PUT", "/tenants/"+gone["id"].(string), map[string]any{"version": ver(gone), "enabled": false}).status)
	require.Equal(t, http.StatusNoContent, e.as("DELETE", "/tenants/"+gone["id"].(string)+"?version="+"2", nil).status)

	usage := func(tenant string) map[string]float64 {
		r := e.as("GET", "/tenants/"+tenant+"/usages", nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
		out := map[string]float64{}
		for _, it := range r.json(t)["items"].([]any) {
			m := it.(map[string]any)
			require.Equal(t, tenant, m["tenant_uuid"])
			out[m["name"].(string)] = m["value"].(float64)
		}
		return out
	}
	require.Equal(t, float64(15<<30), usage(sp)["pg_base_storage"], "the SP's usage sums its live customers, deleted ones not")
	require.Equal(t, float64(3), usage(sp)["pg_base_workstations"])
	require.Equal(t, float64(10<<30), usage(p)["pg_base_storage"])
	require.Equal(t, float64(10<<30), usage(c1)["pg_base_storage"])
	if haveSpec(t) {
		validate(t, "/tenants/{tenant_id}/usages", "GET", 200, e.as("GET", "/tenants/"+sp+"/usages", nil).raw)
	}

	cc := e.as("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": c2, "token_endpoint_auth_method": "client_secret_basic"}).json(t)
	ctok := accessToken(t, e.tokenFor(cc["client_id"].(string), cc["client_secret"].(string)))
	require.Equal(t, http.StatusForbidden, e.call("GET", "/tenants/"+sp+"/usages", nil, "Authorization", "Bearer "+ctok).status)
	require.Equal(t, http.StatusUnauthorized, e.call("GET", "/tenants/"+sp+"/usages", nil).status)
	require.Equal(t, http.StatusNotFound, e.as("GET", "/tenants/"+gone["id"].(string)+"/usages", nil).status)
}

func TestBatchOfferingItems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	c1 := e.mkTenant("C1", "customer", sp)["id"].(string)
	e.setItems(c1, map[string]*int64{"pg_base_storage": i64(7)})
	c2 := e.mkTenant("C2", "customer", sp)["id"].(string)
	e.setItems(c2, map[string]*int64{"pg_base_storage": nil, "pg_base_vms": nil})

	r := e.as("GET", "/tenants/offering_items?subtree_root_tenant_id="+sp+"&offering_items=pg_base_storage", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
	items := r.json(t)["items"].([]any)
	require.Len(t, items, 3, "the SP's and both customers'")
	require.Equal(t, c1, items[1].(map[string]any)["tenant_id"])
	require.EqualValues(t, 7, items[1].(map[string]any)["quota"].(map[string]any)["value"])

	// Paging: one by one, the cursor walks every item once.
	var seen []string
	next := "/tenants/offering_items?subtree_root_tenant_id=" + c2 + "&limit=1"
	for range 50 {
		r := e.as("GET", next, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
		m := r.json(t)
		for _, it := range m["items"].([]any) {
			seen = append(seen, it.(map[string]any)["name"].(string))
		}
		after, _ := m["paging"].(map[string]any)["cursors"].(map[string]any)["after"].(string)
		if after == "" {
			break
		}
		next = "/tenants/offering_items?subtree_root_tenant_id=" + c2 + "&limit=1&after=" + url.QueryEscape(after)
	}
	var want []string
	for _, it := range e.as("GET", "/tenants/"+c2+"/offering_items?edition=*", nil).json(t)["items"].([]any) {
		want = append(want, it.(map[string]any)["name"].(string))
	}
	require.Equal(t, want, seen)

	for _, bad := range []struct {
		q      string
		status int
	}{
		{"", 400},
		{"subtree_root_tenant_id=" + sp + "&limit=0", 400},
		{"subtree_root_tenant_id=" + sp + "&updated_since=yesterday", 400},
		{"subtree_root_tenant_id=00000000-0000-4000-8000-000000000000", 404},
	} {
		require.Equal(t, bad.status, e.as("GET", "/tenants/offering_items?"+bad.q, nil).status, bad.q)
	}
}

// TestAPIClientsPersist: created API clients survive a restart with a state file.
func TestAPIClientsPersist(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/state.json"
	e := newEnvWith(t, func(o *sim.Options) { o.StateFile = file })
	c := e.call("POST", "/clients", map[string]any{"type": "api_client", "tenant_id": e.sim.SPTenantID(),
		"token_endpoint_auth_method": "client_secret_basic"}, "Authorization", basicAuth(adminLogin, adminPass)).json(t)
	e2 := newEnvWith(t, func(o *sim.Options) { o.StateFile = file })
	tok := accessToken(t, e2.tokenFor(c["client_id"].(string), c["client_secret"].(string)))
	require.Equal(t, http.StatusOK, e2.call("GET", "/clients/"+c["client_id"].(string), nil, "Authorization", "Bearer "+tok).status)
}
