package sim_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func oiByName(t *testing.T, m map[string]any, name string) map[string]any {
	t.Helper()
	for _, x := range m["items"].([]any) {
		if o := x.(map[string]any); o["name"] == name {
			return o
		}
	}
	require.Failf(t, "offering item missing", "%s in %v", name, m)
	return nil
}

func TestOfferingItems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sp := e.sim.SPTenantID()
	pid := e.mkTenant("P", "partner", sp)["id"].(string)

	// Edition filter: omitted = standard plus editionless; * = all.
	std := e.as("GET", "/tenants/"+sp+"/offering_items", nil).json(t)
	for _, x := range std["items"].([]any) {
		ed := x.(map[string]any)["edition"]
		require.True(t, ed == nil || ed == "standard", "%v", x)
	}
	all := e.as("GET", "/tenants/"+sp+"/offering_items?edition=*", nil).json(t)
	require.Greater(t, len(all["items"].([]any)), len(std["items"].([]any)))
	st := oiByName(t, all, "pg_base_storage")
	require.Equal(t, "infra", st["type"])
	require.Equal(t, "bytes", st["measurement_unit"])
	require.NotEmpty(t, st["infra_id"])
	un := e.as("GET", "/tenants/"+sp+"/offering_items?edition=*&usage_names=vms", nil).json(t)
	for _, x := range un["items"].([]any) {
		require.Equal(t, "vms", x.(map[string]any)["usage_name"])
	}

	// BASH: available_for_child, "items" renamed, timestamp kept; full objects echoed.
	av := e.as("GET", "/tenants/"+sp+"/offering_items/available_for_child?kind=partner&edition=pck_per_workload", nil)
	require.Equal(t, 200, av.status)
	body := av.json(t)
	body["offering_items"] = body["items"]
	delete(body, "items")
	body["paging"] = map[string]any{"cursors": map[string]any{}}
	r := e.as("PUT", "/tenants/"+pid+"/offering_items", body)
	require.Equal(t, 200, r.status, "%s", r.raw)
	got := r.json(t)
	require.Equal(t, 1.0, oiByName(t, got, "pw_base_servers")["status"])
	require.EqualValues(t, 1, e.as("GET", "/tenants/"+pid, nil).json(t)["version"], "OI changes must not bump the tenant version")

	// Disabled items carry no quota; untouched items keep their state.
	pall := e.as("GET", "/tenants/"+pid+"/offering_items?edition=*", nil).json(t)
	off := oiByName(t, pall, "pg_base_servers")
	require.Equal(t, 0.0, off["status"])
	require.NotContains(t, off, "quota")

	// Quota with string numbers; version becomes a ms timestamp.
	r = e.as("PUT", "/tenants/"+pid+"/offering_items", map[string]any{"offering_items": []any{
		map[string]any{"application_id": "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb", "name": "pw_base_servers", "status": "1",
			"quota": map[string]any{"value": "10", "overage": 5, "version": 0}, "usage_name": "servers", "locked": false}}})
	require.Equal(t, 200, r.status, "%s", r.raw)
	q := oiByName(t, r.json(t), "pw_base_servers")["quota"].(map[string]any)
	require.EqualValues(t, 10, q["value"])
	require.EqualValues(t, 5, q["overage"])
	qv := q["version"].(float64)
	require.Greater(t, qv, 1e12)

	// Stale quota version.
	r = e.as("PUT", "/tenants/"+pid+"/offering_items", map[string]any{"offering_items": []any{
		map[string]any{"application_id": "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb", "name": "pw_base_servers", "status": 1,
			"quota": map[string]any{"value": 11, "overage": 0, "version": 0}}}})
	require.Equal(t, http.StatusConflict, r.status)
	require.EqualValues(t, 1001, r.errCode(t))

	// 1022: a customer above the partner's hard quota (10+5).
	cid := e.mkTenant("C", "customer", pid)["id"].(string)
	put := func(name string, quota any) resp {
		item := map[string]any{"application_id": "6e6d758d-8e74-3ae3-ac84-50eb0dff12eb", "name": name, "status": 1}
		if quota != nil {
			item["quota"] = quota
		}
		return e.as("PUT", "/tenants/"+cid+"/offering_items", map[string]any{"offering_items": []any{item}})
	}
	r = put("pw_base_servers", map[string]any{"value": 12, "overage": 4, "version": 0})
	require.Equal(t, 400, r.status)
	require.EqualValues(t, 1022, r.errCode(t))
	require.Equal(t, 200, put("pw_base_servers", map[string]any{"value": 10, "overage": 5, "version": 0}).status)

	// 1021: the partner has pg_base_servers disabled; unknown names too.
	for _, name := range []string{"pg_base_servers", "no_such_item"} {
		r = put(name, nil)
		require.Equal(t, 400, r.status, name)
		require.EqualValues(t, 1021, r.errCode(t), name)
	}

	// value null resets the quota version and overage.
	cur := oiByName(t, e.as("GET", "/tenants/"+cid+"/offering_items?edition=*", nil).json(t), "pw_base_servers")["quota"].(map[string]any)
	r = put("pw_base_servers", map[string]any{"value": nil, "overage": 3, "version": cur["version"]})
	require.Equal(t, 200, r.status, "%s", r.raw)
	require.Equal(t, map[string]any{"value": nil, "overage": nil, "version": 0.0}, oiByName(t, r.json(t), "pw_base_servers")["quota"])
}
