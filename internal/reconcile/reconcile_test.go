package reconcile_test

import (
	"context"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/reconcile"
)

type finding struct{ tenant, item, flag string }

// The world: an orphan tenant created directly at the vendor, a
// service whose tenant was deleted there, a tenant disabled there, a quota
// changed there and a usage figure revised there after billing (a past,
// billed day's). Each is flagged once and nothing else is; the other
// items are ok, storage that peaked mid-period and fell since included.
func TestReconciliationFlagsEachDefectOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// The tenants exist at the vendor since a week before the period.
	w := newWorldBack(t, 14)
	tenants := w.tenants(t, "world", 7)
	orphan := w.tenants(t, "orphan", 1)[0]
	w.catchUp()
	svcs := w.services(t, tenants)
	fine, deleted, disabled, requota, reused, peaked := tenants[0], tenants[1], tenants[2], tenants[3], tenants[4], tenants[6]
	_ = tenants[5] // fine as well
	today := w.env.App.Billing.Today()
	from := today.AddDate(0, 0, -6)
	day := func(i int) time.Time { return from.AddDate(0, 0, i) } // day(6) is today

	// Every item's usage is fixed at the vendor, then the daily sync stores it.
	for i, id := range append(tenants, orphan) {
		require.NoError(t, w.v.SetUsage(id, storageItem, int64(20+i)<<30))
		require.NoError(t, w.v.SetUsage(id, workstations, int64(1+i%3)))
	}
	// The reused tenant had 24 GB all week; the peaked one 20 GB, 40 GB
	// on day 3, 25 GB since: the sync stored each day as it was.
	require.NoError(t, w.v.SetUsageFrom(reused, storageItem, from, 24<<30))
	require.NoError(t, w.v.SetUsageFrom(peaked, storageItem, from, 20<<30))
	require.NoError(t, w.v.SetUsageFrom(peaked, storageItem, day(3), 40<<30))
	require.NoError(t, w.v.SetUsageFrom(peaked, storageItem, day(4), 25<<30))
	_, err := w.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	w.store(t, reused, storageItem, "bytes", from, 24<<30, 24<<30, 24<<30, 24<<30, 24<<30, 24<<30)
	w.store(t, peaked, storageItem, "bytes", from, 20<<30, 20<<30, 20<<30, 40<<30, 25<<30, 25<<30)
	// Both were billed on their peak; then the vendor revised the reused
	// tenant's storage from day 3 on, days already billed.
	invoice := w.bill(t, svcs[4], storageItem, from, today, 24)
	w.bill(t, svcs[6], storageItem, from, today, 40)
	require.NoError(t, w.v.SetUsageFrom(reused, storageItem, day(3), 31<<30))

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
	require.Equal(t, map[string]int{fine: 2, tenants[5]: 2, disabled: 2, requota: 1, reused: 1, peaked: 2}, ok)
	require.Equal(t, 1, r.OrphanTenant)
	require.Equal(t, 1, r.MissingTenant)
	require.Equal(t, 1, r.StatusMismatch)
	require.Equal(t, 1, r.QuotaMismatch)
	require.Equal(t, 1, r.UsageMismatch)
	require.Zero(t, r.EditionMismatch)
	require.Equal(t, 10, r.OK)
	require.Equal(t, len(rows), r.RowsCompared)

	for _, row := range rows {
		var detail map[string]any
		require.NoError(t, json.Unmarshal(row.Detail, &detail))
		switch {
		case row.Flag == reconcile.FlagUsageMismatch:
			require.Equal(t, "24", row.PlatformValue, "the peak of the stored days, as billed")
			require.Equal(t, "31", row.VendorValue, "the peak of the vendor's same days")
			require.Equal(t, "max", detail["aggregation"])
			require.Equal(t, "usage_sync", detail["source"])
			require.Equal(t, []any{invoice}, detail["invoices"])
			require.EqualValues(t, 7, detail["days_compared"])
			require.EqualValues(t, 4, detail["days_differing"])
			days := detail["differing_days"].([]any)
			require.Len(t, days, 4)
			require.Equal(t, map[string]any{"day": day(3).Format(time.DateOnly), "platform": 24.0, "vendor": 31.0}, days[0])
		case row.Flag == reconcile.FlagQuotaMismatch:
			require.Equal(t, "5", row.PlatformValue)
			require.Equal(t, "7", row.VendorValue)
		case row.Flag == reconcile.FlagOK && row.Item == storageItem && row.TenantID == fine:
			require.Equal(t, "20", row.PlatformValue, "what the daily sync stored")
			require.Equal(t, "20", row.VendorValue)
			require.EqualValues(t, 1, detail["days_compared"])
		case row.Flag == reconcile.FlagOK && row.Item == storageItem && row.TenantID == peaked:
			require.Equal(t, "40", row.PlatformValue, "the peak, though it fell since")
			require.Equal(t, "40", row.VendorValue)
			require.EqualValues(t, 7, detail["days_compared"])
		}
	}

	// A completed report never changes.
	_, err = w.env.App.DB.Pool.Exec(ctx, `UPDATE reconciliation_reports SET ok = 0 WHERE id = $1`, r.ID)
	require.ErrorContains(t, err, "completed")
	_, err = w.env.App.DB.Pool.Exec(ctx, `DELETE FROM reconciliation_rows WHERE report_id = $1`, r.ID)
	require.ErrorContains(t, err, "completed")
}

// The usage tolerance is a percentage of the platform's figure: a vendor
// figure exactly at it is ok, one just beyond it is flagged.
func TestReconciliationUsageTolerance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorld(t)
	tenants := w.tenants(t, "tolerance", 3)
	w.services(t, tenants)
	w.setTolerance(t, "10")
	for _, id := range tenants {
		require.NoError(t, w.v.SetUsage(id, storageItem, 50<<30))
		require.NoError(t, w.v.SetUsage(id, workstations, 2))
	}
	_, err := w.env.App.Usage.RunNow(ctx, "test")
	require.NoError(t, err)
	// Then the vendor revises today: 55 GB is 10 % over 50, 56 GB beyond;
	// 45 GB is 10 % under.
	require.NoError(t, w.v.SetUsage(tenants[0], storageItem, 55<<30))
	require.NoError(t, w.v.SetUsage(tenants[1], storageItem, 56<<30))
	require.NoError(t, w.v.SetUsage(tenants[2], storageItem, 45<<30))
	today := w.env.App.Billing.Today()
	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today, today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	require.True(t, r.TolerancePercent.Equal(decimal.NewFromInt(10)))
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 100)
	require.NoError(t, err)
	got := map[string]string{}
	for _, row := range rows {
		if row.Item == storageItem {
			got[row.TenantID] = row.Flag + " " + row.PlatformValue + "/" + row.VendorValue
		}
	}
	require.Equal(t, map[string]string{
		tenants[0]: "ok 50/55",
		tenants[1]: "usage_mismatch 50/56",
		tenants[2]: "ok 50/45",
	}, got)
	require.Equal(t, 1, r.UsageMismatch)
	require.Equal(t, 5, r.OK)
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

// Usage is compared over the days the daily sync stored, each against the
// vendor's figure of the same day: a tenant the sync stopped reading (an
// expired trial) agrees on its stored days whatever the vendor says since;
// a stored day the vendor reports otherwise is a mismatch; a partner's
// twin line at cost is no second figure.
func TestReconciliationComparesTheStoredDays(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	w := newWorldBack(t, 3)
	tenants := w.tenants(t, "stored", 3)
	svcs := w.services(t, tenants)
	w.catchUp()
	today := w.env.App.Billing.Today()
	for _, id := range tenants {
		require.NoError(t, w.v.SetUsageFrom(id, storageItem, today.AddDate(0, 0, -3), 20<<30))
	}
	// The first tenant's sync stopped two days ago; the vendor has moved on.
	w.store(t, tenants[0], storageItem, "bytes", today.AddDate(0, 0, -3), 20<<30, 20<<30)
	require.NoError(t, w.v.SetUsage(tenants[0], storageItem, 35<<30))
	// The second stored 10 GB a day where the vendor says 20.
	w.store(t, tenants[1], storageItem, "bytes", today.AddDate(0, 0, -1), 10<<30, 10<<30)
	// The third, a partner's customer, billed to both at 20 GB.
	w.store(t, tenants[2], storageItem, "bytes", today.AddDate(0, 0, -1), 20<<30, 20<<30)
	w.billLine(t, svcs[2], storageItem, today.AddDate(0, 0, -1), today, 20, "max", false)
	w.billLine(t, svcs[2], storageItem, today.AddDate(0, 0, -1), today, 20, "max", true)

	r, err := w.env.App.Reconcile.RunNow(ctx, "test", today.AddDate(0, 0, -3), today)
	require.NoError(t, err)
	require.Equal(t, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
	rows, _, err := w.env.App.Reconcile.Rows(ctx, r.ID, nil, 0, 100)
	require.NoError(t, err)
	got := map[string]string{}
	for _, row := range rows {
		if row.Item == storageItem {
			got[row.TenantID] = row.Flag + " " + row.PlatformValue + "/" + row.VendorValue
		}
	}
	require.Equal(t, map[string]string{
		tenants[0]: "ok 20/20",
		tenants[1]: "usage_mismatch 10/20",
		tenants[2]: "ok 20/20",
	}, got)
}
