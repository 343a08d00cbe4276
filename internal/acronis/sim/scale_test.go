package sim_test

import (
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// What reconciliation reads, at scale: every live customer under the SP (and
// under its partners) in a usage report, items with zero usage included when
// hide_zero_usage is false, with their edition; tenants in batches of 100.
// 1,000 customers by default; SIM_SCALE_TENANTS=10000 for the full size (the
// timings are logged, not asserted).
func TestReconciliationReads(t *testing.T) {
	t.Parallel()
	n := 1000
	if v := envInt("SIM_SCALE_TENANTS"); v > 0 {
		n = v
	}
	e := newEnvWith(t, fixedClock)
	sp := e.sim.SPTenantID()
	p := e.mkTenant("Partner", "partner", sp)["id"].(string)
	e.enable(p, "pg_base_storage", "pg_base_workstations")

	start := time.Now()
	ids := make([]string, 0, n)
	for i := range n {
		parent := sp
		if i%2 == 1 {
			parent = p
		}
		id := e.mkTenant(fmt.Sprintf("Customer %05d", i), "customer", parent)["id"].(string)
		e.setItems(id, map[string]*int64{"pg_base_storage": i64(int64(i+1) << 30), "pg_base_workstations": i64(3)})
		ids = append(ids, id)
	}
	require.NoError(t, e.sim.SetUsage(ids[0], "pg_base_workstations", 0))
	t.Logf("%d customers created in %s", n, time.Since(start))

	start = time.Now()
	_, rows, _ := e.createAndFetch(reportBody(sp, "all_customers", "usage_summary", []string{day(e, -30), day(e, -1)},
		map[string]any{"formats": []any{"csv_v2_0"}, "hide_zero_usage": false}))
	t.Logf("summary report over %d customers: %d rows, created and downloaded in %s", n, len(rows), time.Since(start))
	seen := map[string]int{}
	zero := false
	for _, r := range rows {
		require.Equal(t, "customer", r["tenant.kind"])
		require.Equal(t, "pck_per_gigabyte", r["edition"])
		seen[r["tenant.id"]]++
		if r["tenant.id"] == ids[0] && r["name"] == "pg_base_workstations" {
			zero = r["usage.absolute.total"] == "0"
		}
	}
	require.Len(t, seen, n, "every live customer, under the SP and under its partner")
	for _, id := range ids {
		require.Equal(t, 2, seen[id], "both enabled items of %s", id)
	}
	require.True(t, zero, "an item with zero usage is in the report")

	start = time.Now()
	found := 0
	for i := 0; i < n; i += 100 {
		batch := ids[i:min(i+100, n)]
		r := e.as("GET", "/tenants?uuids="+strings.Join(batch, ","), nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
		found += len(r.json(t)["items"].([]any))
	}
	require.Equal(t, n, found)
	t.Logf("%d tenants read in batches of 100 in %s", n, time.Since(start))

	start = time.Now()
	items := 0
	next := "/tenants/offering_items?subtree_root_tenant_id=" + sp + "&offering_items=pg_base_storage,pg_base_workstations"
	for next != "" {
		r := e.as("GET", next, nil)
		require.Equal(t, http.StatusOK, r.status, "%s", r.raw)
		m := r.json(t)
		items += len(m["items"].([]any))
		next = ""
		if after, _ := m["paging"].(map[string]any)["cursors"].(map[string]any)["after"].(string); after != "" {
			next = "/tenants/offering_items?subtree_root_tenant_id=" + sp + "&offering_items=pg_base_storage,pg_base_workstations&after=" + after
		}
	}
	require.Equal(t, 2*n+4, items, "each customer's two items, and the SP's and the partner's")
	t.Logf("%d offering items read in pages of 5000 in %s", items, time.Since(start))
}

func envInt(name string) int {
	n, _ := strconv.Atoi(os.Getenv(name))
	return n
}
