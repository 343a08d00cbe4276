package sim_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	tests := []struct {
		name   string
		body   map[string]any
		status int
		code   float64
	}{
		{"partner", map[string]any{"name": "P1", "kind": "partner", "parent_id": sp}, 201, 0},
		{"customer docs example", map[string]any{"name": "Foobar", "kind": "customer", "parent_id": sp, "internal_tag": "some.unique.tag.value",
			"language": "en", "contact": map[string]any{"address1": "366 5th Ave", "email": "foo.bar@example.com", "phone": "1 123 4567890"}}, 201, 0},
		{"string boolean", map[string]any{"name": "S1", "kind": "customer", "parent_id": sp, "enabled": "false"}, 201, 0},
		{"unknown field", map[string]any{"name": "U1", "kind": "customer", "parent_id": sp, "bogus": 1}, 400, 400},
		{"missing name", map[string]any{"kind": "customer", "parent_id": sp}, 400, 400},
		{"missing parent", map[string]any{"name": "X", "kind": "customer"}, 400, 400},
		{"bad kind", map[string]any{"name": "X", "kind": "planet", "parent_id": sp}, 400, 400},
		{"unit under partner", map[string]any{"name": "X", "kind": "unit", "parent_id": sp}, 400, 1027},
		{"unknown parent", map[string]any{"name": "X", "kind": "customer", "parent_id": "00000000-0000-4000-8000-000000000000"}, 404, 1005},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.as("POST", "/tenants", tc.body)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			if tc.code != 0 {
				require.Equal(t, tc.code, r.errCode(t))
				return
			}
			m := r.json(t)
			require.Equal(t, tc.body["name"], m["name"])
			require.Equal(t, tc.body["kind"], m["kind"])
			require.Equal(t, sp, m["parent_id"])
			require.EqualValues(t, 1, m["version"])
			require.Equal(t, tc.body["enabled"] != "false", m["enabled"])
			require.Regexp(t, `^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$`, m["id"])
			for _, k := range []string{"customer_id", "internal_tag", "owner_id", "update_lock", "contact", "has_children", "ancestral_access", "brand_id", "default_idp_id"} {
				require.Contains(t, m, k)
			}
			if tc.body["kind"] == "customer" {
				require.Equal(t, "trial", m["pricing_mode"])
			}
			if tc.name == "customer docs example" {
				require.Equal(t, "some.unique.tag.value", m["internal_tag"])
				c := m["contact"].(map[string]any)
				require.Equal(t, "366 5th Ave", c["address1"])
				require.Nil(t, c["city"])
				require.Equal(t, "", c["firstname"])
			}
		})
	}
	t.Run("sibling name conflict", func(t *testing.T) {
		t.Parallel()
		e.mkTenant("Dup", "customer", sp)
		r := e.as("POST", "/tenants", map[string]any{"name": "Dup", "kind": "customer", "parent_id": sp})
		require.Equal(t, http.StatusConflict, r.status)
		require.EqualValues(t, 1004, r.errCode(t))
	})
}

func TestTenantLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	p := e.mkTenant("Partner", "partner", sp)
	pid := p["id"].(string)
	c := e.mkTenant("Customer", "customer", pid)
	cid := c["id"].(string)
	require.Equal(t, 1, e.sim.CountTenants("customer"))

	// Lookups.
	r := e.as("GET", "/tenants?parent_id="+pid, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.json(t)["items"], 1)
	require.Equal(t, 200, e.as("PUT", "/tenants/"+cid, map[string]any{"version": 1, "internal_tag": "tag-42"}).status)
	r = e.as("GET", "/tenants?internal_tag=tag-42", nil)
	items := r.json(t)["items"].([]any)
	require.Len(t, items, 1)
	require.Equal(t, cid, items[0].(map[string]any)["id"])
	r = e.as("GET", "/tenants/"+pid+"/children", nil)
	require.Equal(t, []any{cid}, r.json(t)["items"])
	require.Equal(t, true, e.as("GET", "/tenants/"+pid, nil).json(t)["has_children"])
	require.Equal(t, 404, e.as("GET", "/tenants/00000000-0000-4000-8000-000000000000", nil).status)

	// Stale version, string version and boolean.
	r = e.as("PUT", "/tenants/"+cid, map[string]any{"version": 1, "enabled": false})
	require.Equal(t, http.StatusConflict, r.status)
	require.EqualValues(t, 1001, r.errCode(t))
	require.Equal(t, 400, e.as("PUT", "/tenants/"+cid, map[string]any{"enabled": false}).status)

	// Delete of an enabled tenant: the documented envelope, byte for byte.
	r = e.as("DELETE", "/tenants/"+cid+"/?version=2", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	want := fmt.Sprintf(`{"error":{"code":1006,"message":"It is prohibited to delete a non-disabled tenant.","details":{"info":"It is prohibited to delete a non-disabled tenant \"%s\"","addition":[{"id":"%s"}]},"context":{"id":"%s"},"domain":"PlatformAccountServer"}}`, cid, cid, cid)
	require.Equal(t, want, string(r.raw))

	// Creating under a disabled parent: 1003.
	r = e.as("PUT", "/tenants/"+pid, map[string]any{"version": "1", "enabled": "false"})
	require.Equal(t, 200, r.status, "%s", r.raw)
	require.EqualValues(t, 2, r.json(t)["version"])
	require.Equal(t, false, r.json(t)["enabled"])
	r = e.as("POST", "/tenants", map[string]any{"name": "Late", "kind": "customer", "parent_id": pid})
	require.Equal(t, 400, r.status)
	require.EqualValues(t, 1003, r.errCode(t))

	// Stale delete version, then cascade delete with a trailing slash.
	r = e.as("DELETE", "/tenants/"+pid+"/?version=1", nil)
	require.Equal(t, http.StatusConflict, r.status)
	require.EqualValues(t, 1001, r.errCode(t))
	require.Equal(t, 400, e.as("DELETE", "/tenants/"+pid, nil).status)
	r = e.as("DELETE", "/tenants/"+pid+"/?version=2", nil)
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, 404, e.as("GET", "/tenants/"+pid, nil).status)
	require.Equal(t, 404, e.as("GET", "/tenants/"+cid, nil).status)
	require.Equal(t, 200, e.as("GET", "/tenants/"+cid+"?allow_deleted=true", nil).status)
	require.Equal(t, 0, e.sim.CountTenants("customer"))
	require.Equal(t, 0, e.sim.CountTenants("partner")-1)
}

func TestPricing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cid := e.mkTenant("C", "customer", e.sim.SPTenantID())["id"].(string)
	r := e.as("GET", "/tenants/"+cid+"/pricing", nil)
	require.Equal(t, 200, r.status)
	pr := r.json(t)
	require.Equal(t, "trial", pr["mode"])
	require.Nil(t, pr["production_start_date"])
	pr["mode"] = "production"
	r = e.as("PUT", "/tenants/"+cid+"/pricing", pr) // the whole GET object goes back
	require.Equal(t, 200, r.status, "%s", r.raw)
	got := r.json(t)
	require.Equal(t, "production", got["mode"])
	require.NotNil(t, got["production_start_date"])
	r = e.as("PUT", "/tenants/"+cid+"/pricing", pr)
	require.Equal(t, 409, r.status)
	got["mode"] = "trial"
	r = e.as("PUT", "/tenants/"+cid+"/pricing", got)
	require.Equal(t, 400, r.status)
	require.Equal(t, "production", e.as("GET", "/tenants/"+cid, nil).json(t)["pricing_mode"])
	// The tenant version does not change with pricing.
	require.EqualValues(t, 1, e.as("GET", "/tenants/"+cid, nil).json(t)["version"])
}
