package margin_test

import (
	"context"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// BenchmarkMarginReport times GET /v1/reports/margin for November 2026
// over BENCH_MARGIN_SERVICES services (default 100,000), seeded with bulk
// SQL: two Acronis product groups of two plans each, 10,000 customers (a
// fifth of them a partner's), each service with a vendor tenant, a
// November invoice line (a tenth of them a quarter's prepaid line from
// 15 Oct, a tenth the SP's invoice to a partner at cost) and usage of
// three items on every third day of November; one group's card lacks a
// row (no_rate). One op is one report (JSON, by product group, then by
// partner) through the API on loopback; peak heap is the Go heap in use,
// sampled every 50 ms.
func BenchmarkMarginReport(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL not set")
	}
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("BENCH_MARGIN_SERVICES")); err == nil && v > 0 {
		n = v
	}
	cfg := apptest.Config(b)
	cfg.DatabaseURL = pgtest.NewDatabase(b, true)
	env := apptest.Start(b, cfg)
	env.Clock.Set(time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
	db := env.App.DB.Gorm
	s := seed{t: b, db: db}
	started := time.Now()
	v := s.venture()
	g1, g2 := s.group("Backup", "acronis"), s.group("Security", "acronis")
	plans := [4]string{
		s.plan(v, g1, "Backup Pro", ptr(100), ptr(20), `{"common": {"pw_base_workstations": 5}}`).String(),
		s.plan(v, g1, "Backup PAYG", ptr(50), nil, `{"common": {"pw_base_workstations": -1}}`).String(),
		s.plan(v, g2, "Security", ptr(10), nil, `{"common": {"pw_base_servers": 2}}`).String(),
		s.plan(v, g2, "Security Plus", ptr(20), nil, `{}`).String(),
	}
	for i := range 10 {
		s.partner("Reseller " + strconv.Itoa(i))
	}
	s.card(g1, 2026, 11, 1, "EUR", "1.08", false, [4]string{"pw_base_storage", "GB", "0.02", "usage"},
		[4]string{"pw_base_workstations", "workstation", "1.50", "quota"}, [4]string{"pw_base_servers", "server", "4.00", "usage"})
	s.card(g2, 2026, 11, 1, "USD", "1", false, [4]string{"pw_base_storage", "TB", "15.00", "usage"},
		[4]string{"pw_base_servers", "server", "3.00", "quota"})

	s.exec(`INSERT INTO customers (id, partner_id, name, email, currency, created_at, updated_at)
		SELECT md5('c' || j)::uuid, CASE WHEN j % 5 = 0 THEN (SELECT id FROM partners ORDER BY name OFFSET (j / 5) % 10 LIMIT 1) END,
		       'Customer ' || j, 'c' || j || '@bench.example', 'USD', now(), now()
		FROM generate_series(0, 9999) j`)
	s.exec(`INSERT INTO services (id, customer_id, partner_id, plan_id, frequency, quantity, username, status, vendor_tenant_id,
		unit_price, setup_fee, start_date, activated_at, storage_item, created_at, updated_at)
		SELECT md5('s' || i)::uuid, c.id, c.partner_id, (ARRAY[?, ?, ?, ?]::uuid[])[1 + i % 4], 'monthly', 1 + i % 3, 'u' || i, 'active', 't' || i,
		       10, 0, date '2026-06-01', timestamptz '2026-06-01 09:00Z', 'pw_base_storage', now(), now()
		FROM generate_series(0, ? - 1) i JOIN customers c ON c.id = md5('c' || (i % 10000))::uuid`, plans[0], plans[1], plans[2], plans[3], n)
	// One invoice per service: to the partner at cost for a partner's
	// service, else to the customer; a tenth prepaid for a quarter.
	s.exec(`INSERT INTO invoices (id, number, billing_key, venture_id, customer_id, partner_id, kind, status, currency, subtotal, tax_total,
		total, period_start, period_end, created_at, updated_at)
		SELECT md5('i' || i)::uuid, 'B-' || i, 'b-' || i, ?, CASE WHEN s.partner_id IS NULL THEN s.customer_id END, s.partner_id,
		       'postpaid', CASE WHEN i % 2 = 0 THEN 'paid' ELSE 'unpaid' END, 'USD', 0, 0, 0,
		       CASE WHEN i % 10 = 1 THEN date '2026-10-15' ELSE date '2026-11-01' END,
		       CASE WHEN i % 10 = 1 THEN date '2027-01-14' ELSE date '2026-11-30' END, now(), now()
		FROM generate_series(0, ? - 1) i JOIN services s ON s.id = md5('s' || i)::uuid`, v, n)
	s.exec(`INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description, period_start, period_end, quantity, unit_price, amount)
		SELECT md5('l' || i)::uuid, i.id, 1, 'recurring', md5('s' || substr(i.number, 3))::uuid, 'line', i.period_start, i.period_end, 1,
		       CASE WHEN i.period_start = date '2026-10-15' THEN 300.00 ELSE 10.00 + (substr(i.number, 3)::int % 7) END,
		       CASE WHEN i.period_start = date '2026-10-15' THEN 300.00 ELSE 10.00 + (substr(i.number, 3)::int % 7) END
		FROM invoices i WHERE i.number LIKE 'B-%'`)
	s.exec(`INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		SELECT 't' || i, it.item, d::date, CASE WHEN it.unit = 'bytes' THEN (20 + i % 200)::bigint << 30 ELSE 1 + i % 5 END, it.unit, now()
		FROM generate_series(0, ? - 1) i,
		     generate_series(date '2026-11-01', date '2026-11-30', interval '3 days') d,
		     (VALUES ('pw_base_storage', 'bytes'), ('pw_base_workstations', 'quantity'), ('pw_base_mobiles', 'quantity')) it(item, unit)`, n)
	s.exec(`ANALYZE`)
	b.Logf("margin report: seeded %d services in %s", n, time.Since(started).Round(time.Millisecond))

	c, _ := env.Admin(b)
	ctx := context.Background()
	var last *oapi.MarginReport
	stop := apptest.SampleHeap(50 * time.Millisecond)
	b.ResetTimer()
	for b.Loop() {
		for _, g := range []oapi.GetMarginReportParamsGroupBy{oapi.GetMarginReportParamsGroupByProductGroup, oapi.GetMarginReportParamsGroupByPartner} {
			res, err := c.GetMarginReportWithResponse(ctx, &oapi.GetMarginReportParams{Month: 11, Year: 2026, GroupBy: &g})
			if err != nil || res.StatusCode() != http.StatusOK {
				b.Fatalf("report: %v %d %s", err, res.StatusCode(), res.Body)
			}
			last = res.JSON200
		}
	}
	b.StopTimer()
	peak := stop()
	require.Equal(b, n, last.Totals.Services)
	b.ReportMetric(float64(n), "services")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	b.Logf("margin report: %d services, revenue %s, vendor cost %s, %d partner rows; peak heap %.1f MiB",
		n, last.Totals.Revenue.Amount, last.Totals.VendorCost.Amount, len(last.Rows), float64(peak)/(1<<20))
}
