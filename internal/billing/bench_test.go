package billing_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// BenchmarkPostpaidRun times the 1st-of-month run over BENCH_SERVICES
// (default 100,000) post-paid services, one customer each, and then, as
// the floor to compare with, plain INSERT ... SELECTs of the same invoice,
// line, tax and billed-period rows. One op is one full run: use
// -benchtime=1x.
func BenchmarkPostpaidRun(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set")
	}
	n := benchEnvInt(b, "BENCH_SERVICES", 100000)
	ctx := context.Background()
	asOf := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var runTime, floorTime time.Duration
	var peak uint64
	for range b.N {
		b.StopTimer()
		env := seedPostpaid(b, n, asOf)
		runtime.GC() // the peak is the run's, not the seeding's garbage
		stop := apptest.SampleHeap(50 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		run, err := env.App.Billing.RunNow(ctx, "bench", billing.RunAll, asOf)
		took := time.Since(start)
		b.StopTimer()
		peak = max(peak, stop())
		runTime += took
		require.NoError(b, err)
		require.Equal(b, billing.RunCompleted, run.Status)
		require.Equal(b, "[]", string(run.Failures))
		require.Equal(b, n, run.Invoices)
		floorTime += floorInsert(b, env, n, asOf)
	}
	runs := float64(b.N)
	invPerSec := float64(n) * runs / runTime.Seconds()
	floorPerSec := float64(n) * runs / floorTime.Seconds()
	b.ReportMetric(float64(n), "invoices")
	b.ReportMetric(invPerSec, "invoices/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	b.ReportMetric(floorPerSec, "floor_invoices/s")
	b.ReportMetric(runTime.Seconds()/floorTime.Seconds(), "run/floor")
	b.Logf("postpaid run: %d invoices in %.1f s = %.0f invoices/s, peak heap %.1f MiB; "+
		"floor (INSERT ... SELECT of %d invoices, lines, taxes and billed periods) %.2f s = %.0f invoices/s; run/floor %.1fx",
		n, runTime.Seconds()/runs, invPerSec, float64(peak)/(1<<20), n, floorTime.Seconds()/runs, floorPerSec, runTime.Seconds()/floorTime.Seconds())
}

func benchEnvInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s must be a positive whole number, got %q", name, v)
	}
	return n
}

// seedPostpaid makes a platform on its own database with one venture, a
// tax, a post-paid plan at 10.00 a month and n customers with one active
// service each since the 1st of the month before asOf; its clock is asOf
// at 09:00 UTC. Rows go in with bulk SQL: the catalog calls would take
// longer than the run.
func seedPostpaid(tb testing.TB, n int, asOf time.Time) *apptest.Env {
	tb.Helper()
	cfg := apptest.Config(tb)
	cfg.DatabaseURL = pgtest.NewDatabase(tb, true)
	env := apptest.Start(tb, cfg)
	now := asOf.Add(9 * time.Hour)
	env.Clock.Set(now)
	ctx := context.Background()
	c := env.App.Catalog
	v, err := c.CreateVenture(ctx, "Acme", "ACME")
	require.NoError(tb, err)
	vat, err := c.CreateTax(ctx, "VAT", "21")
	require.NoError(tb, err)
	pt, err := c.CreateProductType(ctx, "Backup")
	require.NoError(tb, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Cyber Protect")
	require.NoError(tb, err)
	name, module, taxes := "Group", catalog.ModuleNone, []uuid.UUID{vat.ID}
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module, TaxIDs: &taxes})
	require.NoError(tb, err)
	planName, no := "Backup post-paid", false
	plan, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID,
		ProductGroupID: &g.ID, Name: &planName, PartnerVisible: &no})
	require.NoError(tb, err)
	_, err = c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.PostpaidFixed, Cycles: cycles("monthly", "10.00", "0.00")})
	require.NoError(tb, err)

	pool := env.App.DB.Pool
	_, err = pool.Exec(ctx, `INSERT INTO customers (id, name, email, currency, created_at, updated_at)
		SELECT gen_random_uuid(), 'Bench customer ' || g, 'bench-' || g || '@example.com', $1, $2, $2
		FROM generate_series(1, $3::int) g`, cfg.BaseCurrency, now, n)
	require.NoError(tb, err)
	_, err = pool.Exec(ctx, `INSERT INTO services (id, customer_id, plan_id, frequency, quantity, username, status,
			unit_price, setup_fee, start_date, anchor_day, activated_at, created_at, updated_at)
		SELECT gen_random_uuid(), c.id, $1::uuid, 'monthly', 1, 'u-' || c.id, 'active', 10.00, 0, $2::date, 1, $3, $3, $3
		FROM customers c`, plan.ID.String(), asOf.AddDate(0, -1, 0), now)
	require.NoError(tb, err)
	// Only the seeded tables: an ANALYZE of the empty invoice tables would
	// tell the planner they stay empty, and it would scan them for every
	// key and foreign-key check as they fill up during the run.
	_, err = pool.Exec(ctx, "ANALYZE customers, services")
	require.NoError(tb, err)
	return env
}

// floorInsert times, in a transaction it rolls back, the rows the run wrote
// made by INSERT ... SELECT alone: n invoices, then n lines, n invoice taxes
// and n billed periods joined back by billing key. It bills the month
// before the run's, whose periods are still free.
func floorInsert(tb testing.TB, env *apptest.Env, n int, asOf time.Time) time.Duration {
	tb.Helper()
	ctx := context.Background()
	from := asOf.AddDate(0, -2, 0)
	to := asOf.AddDate(0, -1, -1)
	due := asOf.AddDate(0, 0, 14)
	tx, err := env.App.DB.Pool.Begin(ctx)
	require.NoError(tb, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	// The new rows have no statistics yet, and a nested loop over what the
	// planner takes for a handful of rows is quadratic; JIT would only add
	// its compile time to a floor.
	_, err = tx.Exec(ctx, "SET LOCAL enable_nestloop = off; SET LOCAL jit = off")
	require.NoError(tb, err)
	exec := func(what, sql string, args ...any) {
		tb.Helper()
		tag, err := tx.Exec(ctx, sql, args...)
		require.NoError(tb, err, what)
		require.EqualValues(tb, n, tag.RowsAffected(), what)
	}
	start := time.Now()
	exec("floor invoices", `INSERT INTO invoices (id, number, billing_key, venture_id, customer_id, kind, status, currency,
			subtotal, tax_total, total, issue_date, due_date, period_start, period_end, version, created_at, updated_at)
		SELECT gen_random_uuid(), 'FLOOR-' || extract(year FROM $1::date) || '-' || lpad((row_number() OVER (ORDER BY s.id))::text, 6, '0'),
			'floor:' || s.id, p.venture_id, s.customer_id, 'postpaid', 'unpaid', $4,
			s.unit_price * s.quantity, round(s.unit_price * s.quantity * t.rate / 100, 2),
			s.unit_price * s.quantity + round(s.unit_price * s.quantity * t.rate / 100, 2),
			$1::date, $5::date, $2::date, $3::date, 1, now(), now()
		FROM services s
		JOIN plans p ON p.id = s.plan_id
		JOIN plan_pricing pr ON pr.plan_id = s.plan_id
		JOIN product_group_taxes gt ON gt.product_group_id = p.product_group_id
		JOIN taxes t ON t.id = gt.tax_id
		WHERE pr.billing_model IN ('postpaid_fixed', 'postpaid_payg') AND NOT s.free_trial
		  AND s.status IN ('active', 'suspended', 'terminated')`, asOf, from, to, env.Cfg.BaseCurrency, due)
	exec("floor lines", `INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description,
			period_start, period_end, quantity, unit_price, amount, tax_ids, detail)
		SELECT gen_random_uuid(), i.id, 1, 'recurring', s.id, p.name || ' (' || s.frequency || '), ' || $1::date || ' to ' || $2::date,
			$1::date, $2::date, s.quantity, s.unit_price, s.unit_price * s.quantity, ARRAY[gt.tax_id],
			jsonb_build_object('service_id', s.id, 'plan', p.name, 'frequency', s.frequency, 'unit_price', s.unit_price::text,
				'quantity', s.quantity, 'period', jsonb_build_array($1::date, $2::date), 'active_days', $2::date - $1::date + 1,
				'days_in_period', $2::date - $1::date + 1)
		FROM services s
		JOIN invoices i ON i.billing_key = 'floor:' || s.id
		JOIN plans p ON p.id = s.plan_id
		JOIN product_group_taxes gt ON gt.product_group_id = p.product_group_id`, from, to)
	exec("floor taxes", `INSERT INTO invoice_taxes (invoice_id, tax_id, name, rate, base, amount)
		SELECT i.id, t.id, t.name, t.rate, i.subtotal, i.tax_total
		FROM services s
		JOIN invoices i ON i.billing_key = 'floor:' || s.id
		JOIN plans p ON p.id = s.plan_id
		JOIN product_group_taxes gt ON gt.product_group_id = p.product_group_id
		JOIN taxes t ON t.id = gt.tax_id`)
	exec("floor billed periods", `INSERT INTO billed_periods (service_id, party, period_start, invoice_id)
		SELECT s.id, 'customer', $1::date, i.id
		FROM services s JOIN invoices i ON i.billing_key = 'floor:' || s.id`, from)
	took := time.Since(start)
	require.NoError(tb, tx.Rollback(ctx))
	return took
}
