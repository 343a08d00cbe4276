package usagereport_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// BenchmarkDailyReportXLSX times GET /v1/services/{id}/usage-report as the
// daily report in XLSX of a service with a year of usage (366 days to
// today) of four items, its quantity changed twice, through the API on
// loopback: reading, building and writing the workbook with its chart.
// One op is one report; xlsx_KiB is its size, rows its daily rows.
func BenchmarkDailyReportXLSX(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL not set")
	}
	w := setup(b, time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	db := w.env.App.DB.Gorm
	id := w.newService(b, w.customer, nil, "t-year", "2025-12-01")
	// A year of usage: storage growing past its quota, workstations, servers and a mailbox count.
	require.NoError(b, db.Exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		SELECT 't-year', i.item, d::date, i.base + i.step * (d::date - date '2025-12-01'), i.unit, now()
		FROM generate_series(date '2025-12-01', date '2026-12-01', interval '1 day') d,
		(VALUES ('pw_base_storage', 50::bigint << 30, 1::bigint << 30, 'bytes'), ('pw_base_workstations', 3, 0, 'quantity'),
		        ('pw_base_servers', 1, 0, 'quantity'), ('mailboxes', 10, 0, 'quantity')) AS i(item, base, step, unit)`).Error)
	require.NoError(b, db.Exec(`INSERT INTO service_quantity_changes (service_id, day, quantity, changed_at) VALUES
		(?, '2025-12-01', 2, now()), (?, '2026-04-01', 3, now()), (?, '2026-09-01', 4, now())`, id, id, id).Error)
	require.NoError(b, db.Exec("UPDATE services SET quantity = 4 WHERE id = ?", id).Error)
	c, _ := w.env.Admin(b)
	kind, format := oapi.GetServiceUsageReportParamsKindDaily, oapi.GetServiceUsageReportParamsFormatXlsx
	from, to := date("2025-12-01"), date("2026-12-01")
	p := oapi.GetServiceUsageReportParams{Kind: &kind, Format: &format, From: from, To: to}
	var size int
	b.ResetTimer()
	for b.Loop() {
		res, err := c.GetServiceUsageReportWithResponse(context.Background(), id, &p)
		if err != nil || res.StatusCode() != http.StatusOK {
			b.Fatalf("report: %v %d %s", err, res.StatusCode(), res.Body)
		}
		size = len(res.Body)
	}
	b.StopTimer()
	rows := 4 * 366
	b.ReportMetric(float64(size)/1024, "xlsx_KiB")
	b.ReportMetric(float64(rows), "rows")
	b.Logf("daily usage report: %d rows (4 items x 366 days) in XLSX, %.0f KiB", rows, float64(size)/1024)
}
