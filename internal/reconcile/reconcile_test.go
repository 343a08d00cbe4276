package reconcile_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/reconcile"
)

type finding struct{ tenant, item, flag string }

// The world: an orphan tenant created directly at the vendor, a
// service whose tenant was deleted there, a tenant disabled there, a quota
// changed there and a usage figure changed there after billing. Each is
// flagged once and nothing else is; the other items are ok.
func TestReconciliationFlagsEachDefectOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "world", 6)
	svcs := w.services(t, tenants)
	fine, deleted, disabled, requota, reused := tenants[0], tenants[1], tenants[2], tenants[3], tenants[4]
	_ = tenants[5] // fine as well
	orphan := w.tenants(t, "orphan", 1)[0]

	// Every item's usage is fixed at the vendor, then the daily sync stores it.
	for i, id := range append(tenants, orphan) {
		require.NoError(t, w.v.SetUsage(id, storageItem, int64(20+i)<<30))
		require.NoError(t, w.v.SetUsage(id, workstations, int64(1+i%3)))
	}
	_, err := w.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	today := w.env.App.Billing.Today()
	from := today.AddDate(0, 0, -6)
	// The reused tenant's storage was billed at 24 GB; then it grew there.
	invoice := w.bill(t, svcs[4], storageItem, from, today, 24)
	require.NoError(t, w.v.SetUsage(reused, storageItem, 31<<30))

	// The other defects, made at the vendor behind the platform's back.
	_, err = w.vc.SetTenantEnabled(ctx, disabled, false)
	require.NoError(t, err)
	seven := int64(7)
	_, err = w.vc.SetOfferingItems(ctx, requota, []acronis.OfferingItem{{ApplicationID: acronis.AppBackup, Name: workstations, Status: 1, Quota: &acronis.Quota{Value: &seven}}})
	require.NoError(t, err)
	_, err = w.vc.SetTenantEnabled(ctx, deleted, false)
	require.NoError(t, err)
	require.NoError(t, w.vc.DeleteTenant(ctx, deleted))

	r, err := w.env.App.Reconcile.RunNow(ctx, "test", from, today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)

	rows, more, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 1000)
	require.NoError(t, err)
	require.False(t, more)
	var flagged []finding
	ok := map[string]int{}
	for _, row := range rows {
		if row.Flag == reconcile.FlagOK {
			ok[row.TenantID]++
			continue
		}
		flagged = append(flagged, finding{row.TenantID, row.Item, row.Flag})
	}
	want := []finding{
		{orphan, "", reconcile.FlagOrphanTenant},
		{deleted, "", reconcile.FlagMissingTenant},
		{disabled, "", reconcile.FlagStatusMismatch},
		{requota, workstations, reconcile.FlagQuotaMismatch},
		{reused, storageItem, reconcile.FlagUsageMismatch},
	}
	sortFindings(want)
	sortFindings(flagged)
	require.Equal(t, want, flagged)
	// Both items of the fine tenants are compared and ok; the disabled
	// one's too (its status is its only defect), one of the others'.
	require.Equal(t, map[string]int{fine: 2, tenants[5]: 2, disabled: 2, requota: 1, reused: 1}, ok)
	require.Equal(t, 1, r.OrphanTenant)
	require.Equal(t, 1, r.MissingTenant)
	require.Equal(t, 1, r.StatusMismatch)
	require.Equal(t, 1, r.QuotaMismatch)
	require.Equal(t, 1, r.UsageMismatch)
	require.Zero(t, r.EditionMismatch)
	require.Equal(t, 8, r.OK)
	require.Equal(t, len(rows), r.RowsCompared)

	for _, row := range rows {
		switch {
		case row.Flag == reconcile.FlagUsageMismatch:
			require.Equal(t, "24", row.PlatformValue)
			require.Equal(t, "31", row.VendorValue)
			require.Contains(t, string(row.Detail), invoice)
			require.Contains(t, string(row.Detail), `"source": "billed"`)
		case row.Flag == reconcile.FlagQuotaMismatch:
			require.Equal(t, "5", row.PlatformValue)
			require.Equal(t, "7", row.VendorValue)
		case row.Flag == reconcile.FlagOK && row.Item == storageItem && row.TenantID == fine:
			require.Equal(t, "20", row.PlatformValue, "what the daily sync stored")
			require.Equal(t, "20", row.VendorValue)
			require.Contains(t, string(row.Detail), `"source": "usage_sync"`)
		}
	}

	// A completed report never changes.
	_, err = w.env.App.DB.Pool.Exec(ctx, `UPDATE reconciliation_reports SET ok = 0 WHERE id = $1`, r.ID)
	require.ErrorContains(t, err, "completed")
	_, err = w.env.App.DB.Pool.Exec(ctx, `DELETE FROM reconciliation_rows WHERE report_id = $1`, r.ID)
	require.ErrorContains(t, err, "completed")
}

// A vendor failure in the middle of a report (after the vendor's report
// was requested) fails it with the reason and leaves no rows; a new
// request starts clean and completes.
func TestReconciliationVendorFailureFailsTheReport(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	w.services(t, w.tenants(t, "fail", 2))
	today := w.env.App.Billing.Today()
	w.v.SetFault(sim.Fault{Method: "GET", PathPrefix: "/api/2/tenants/", Status: 503, Rate: 1})
	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today.AddDate(0, 0, -1), today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusFailed, r.Status)
	require.NotNil(t, r.Reason)
	require.Contains(t, *r.Reason, "offering items")
	require.Contains(t, *r.Reason, "503")
	require.NotNil(t, r.FinishedAt)
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 10)
	require.NoError(t, err)
	require.Empty(t, rows)
	require.Zero(t, r.RowsCompared)

	w.v.ClearFaults()
	again, err := w.env.App.Reconcile.RunNow(ctx, "test", today.AddDate(0, 0, -1), today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, again.Status)
	require.Equal(t, 4, again.OK, "two items of two tenants")
	require.Equal(t, again.OK, again.RowsCompared)
	first, err := w.env.App.Reconcile.Get(ctx, r.ID)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusFailed, first.Status, "the failed report stays as it was")
}

// An item enabled in another edition than the plan's is an edition
// mismatch, once per tenant; the items themselves are compared as usual.
func TestReconciliationFlagsAnotherEdition(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "edition", 2)
	w.services(t, tenants)
	two := int64(2)
	_, err := w.vc.SetOfferingItems(ctx, tenants[1], []acronis.OfferingItem{
		{ApplicationID: acronis.AppBackup, Name: "pg_base_workstations", Status: 1, Quota: &acronis.Quota{Value: &two}},
		{ApplicationID: acronis.AppBackup, Name: "pg_base_servers", Status: 1, Quota: &acronis.Quota{Value: &two}},
	})
	require.NoError(t, err)
	today := w.env.App.Billing.Today()
	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today, today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	flag := reconcile.FlagEditionMismatch
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, &flag, 0, 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, tenants[1], rows[0].TenantID)
	require.Equal(t, edition, rows[0].PlatformValue)
	require.Equal(t, "pck_per_gigabyte", rows[0].VendorValue)
	require.Equal(t, 1, r.EditionMismatch)
	require.Equal(t, 4, r.OK)
	require.Equal(t, 5, r.RowsCompared)
}

func sortFindings(f []finding) {
	sort.Slice(f, func(i, j int) bool {
		if f[i].flag != f[j].flag {
			return f[i].flag < f[j].flag
		}
		return f[i].tenant < f[j].tenant
	})
}

// An expired free trial keeps its tenant, disabled: it is neither an
// orphan there nor a status mismatch, and its items are compared; enabled
// there, it is a status mismatch.
func TestReconciliationKnowsExpiredTrials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "expired", 2)
	svcs := w.services(t, tenants)
	_, err := w.env.App.DB.Pool.Exec(ctx, `UPDATE services SET status = 'expired', free_trial = true WHERE id = ANY($1::uuid[])`, uuidStrings(svcs))
	require.NoError(t, err)
	_, err = w.vc.SetTenantEnabled(ctx, tenants[0], false)
	require.NoError(t, err)
	today := w.env.App.Billing.Today()
	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today, today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 100)
	require.NoError(t, err)
	var flagged []finding
	for _, row := range rows {
		if row.Flag != reconcile.FlagOK {
			flagged = append(flagged, finding{row.TenantID, row.Item, row.Flag})
		}
	}
	require.Equal(t, []finding{{tenants[1], "", reconcile.FlagStatusMismatch}}, flagged, "the enabled one only")
	require.Zero(t, r.OrphanTenant)
	require.Equal(t, 4, r.OK, "two items of two tenants")
}

// The vendor's figure is the usage on the period's last day, and billed
// usage is compared with it only where it stands for that day: the
// customer's line (the partner's twin at cost bills the same figure again
// and is not added to it) whose period holds the last day, the most of its
// days at least the last day's figure. A line of an earlier period, or an
// average, leaves the comparison to what the daily sync stored.
func TestReconciliationComparesBilledUsageWithTheSameDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "billed", 6)
	svcs := w.services(t, tenants)
	for _, id := range tenants {
		require.NoError(t, w.v.SetUsage(id, storageItem, 25<<30))
		require.NoError(t, w.v.SetUsage(id, workstations, 3))
	}
	_, err := w.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	today := w.env.App.Billing.Today()
	from := today.AddDate(0, 0, -6)
	month := today.AddDate(0, -1, 0)
	// A partner's customer billed 25 GB, its partner the same at cost.
	w.billLine(t, svcs[0], storageItem, from, today, 25, "max", false)
	w.billLine(t, svcs[0], storageItem, from, today, 25, "max", true)
	// The most of the period's days was 30 GB; the last day is 25 GB.
	w.billLine(t, svcs[1], storageItem, from, today, 30, "max", false)
	// Last month's line billed 10 GB; today's usage is another figure.
	w.billLine(t, svcs[2], storageItem, month, from.AddDate(0, 0, 1), 10, "max", false)
	// An average is no day's figure.
	w.billLine(t, svcs[3], workstations, from, today, 1, "avg", false)
	// Billed the last day at 2 workstations, the vendor says 3: a mismatch.
	last := w.billLine(t, svcs[4], workstations, from, today, 2, "last", false)
	// Billed a peak of 20 GB, the vendor's last day is 25 GB: unbilled.
	peak := w.billLine(t, svcs[5], storageItem, from, today, 20, "max", false)

	r, err := w.env.App.Reconcile.RunNow(ctx, "test", from, today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 100)
	require.NoError(t, err)
	var flagged []finding
	source := map[string]string{}
	for _, row := range rows {
		var d map[string]any
		require.NoError(t, json.Unmarshal(row.Detail, &d))
		if s, ok := d["source"].(string); ok {
			source[row.TenantID+"/"+row.Item] = s
		}
		if row.Flag != reconcile.FlagOK {
			flagged = append(flagged, finding{row.TenantID, row.Item, row.Flag})
			require.Contains(t, []string{last, peak}, d["invoices"].([]any)[0], "the invoice that billed it")
		}
	}
	want := []finding{{tenants[4], workstations, reconcile.FlagUsageMismatch}, {tenants[5], storageItem, reconcile.FlagUsageMismatch}}
	sortFindings(want)
	sortFindings(flagged)
	require.Equal(t, want, flagged)
	require.Equal(t, "billed", source[tenants[0]+"/"+storageItem])
	require.Equal(t, "billed", source[tenants[1]+"/"+storageItem])
	require.Equal(t, "usage_sync", source[tenants[2]+"/"+storageItem])
	require.Equal(t, "usage_sync", source[tenants[3]+"/"+workstations])
}

// The vendor's figure is the period's last day's: what the daily sync
// stored for an earlier day (a tenant it stopped reading) is not compared
// with it, what it stored for that day is.
func TestReconciliationComparesStoredUsageOfTheLastDay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "stored", 2)
	w.services(t, tenants)
	for _, id := range tenants {
		require.NoError(t, w.v.SetUsage(id, storageItem, 20<<30))
	}
	_, err := w.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	today := w.env.App.Billing.Today()
	// The first tenant's last stored day is yesterday, at 10 GB; the
	// second's today is 10 GB while the vendor says 20.
	_, err = w.env.App.DB.Pool.Exec(ctx, `UPDATE usage_daily SET day = day - 1, value = 10::bigint << 30 WHERE tenant_id = $1 AND item = $2`, tenants[0], storageItem)
	require.NoError(t, err)
	_, err = w.env.App.DB.Pool.Exec(ctx, `UPDATE usage_daily SET value = 10::bigint << 30 WHERE tenant_id = $1 AND item = $2`, tenants[1], storageItem)
	require.NoError(t, err)
	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today.AddDate(0, 0, -6), today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	flag := reconcile.FlagUsageMismatch
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, &flag, 0, 10)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, tenants[1], rows[0].TenantID)
	require.Equal(t, "10", rows[0].PlatformValue)
	require.Equal(t, "20", rows[0].VendorValue)
}
