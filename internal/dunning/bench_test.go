package dunning_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/provisioning"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The bench plan's dunning: reminders 3 days before the due date and 1, 3
// and 5 days after it, suspension at 7 days past due, termination at 30.
var (
	benchReminders   = []int64{-3, 1, 3, 5}
	benchSuspension  = 7
	benchTermination = 30
)

// benchMix is a seeded dunning day: how many services the run must
// suspend, terminate and remind, and how many it only checks.
type benchMix struct {
	services, terminate, suspend, remind int
}

func (m benchMix) acted() int { return m.terminate + m.suspend + m.remind }

// BenchmarkDunningRun times one dunning run over BENCH_DUNNING_SERVICES
// (default 100,000) services of an Acronis plan, one customer each, of
// which BENCH_DUNNING_OVERDUE_PCT (default 10) % are overdue and each
// acted on once: most reached suspension_days today (disabled at the
// simulator, then suspended), a tenth are suspended and reached
// termination_days (deleted at the simulator, then terminated), a fifth
// reached one of their reminder days (mailed). The rest are checked and
// left: most paid their last invoice, a third owe one not yet due. The
// history of earlier days (reminders sent, suspensions done) is seeded as
// done actions, as the daily runs before it would have left it. One op is
// one whole run: use -benchtime=1x. BENCH_DUNNING_WORKERS sets
// DUNNING_WORKERS (default: its default, 8).
//
// After it, untimed by the benchmark, the same day is run again: it must
// act on nothing, and its time is the cost of checking alone (rerun_s).
func BenchmarkDunningRun(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set")
	}
	n := benchEnvInt(b, "BENCH_DUNNING_SERVICES", 100000)
	pct := benchEnvInt(b, "BENCH_DUNNING_OVERDUE_PCT", 10)
	if pct > 100 {
		b.Fatalf("BENCH_DUNNING_OVERDUE_PCT must be at most 100, got %d", pct)
	}
	acted := n * pct / 100
	mix := benchMix{services: n, terminate: acted / 10, remind: acted / 5}
	mix.suspend = acted - mix.terminate - mix.remind
	workers := benchEnvInt(b, "BENCH_DUNNING_WORKERS", 0)
	ctx := context.Background()
	var runTime, rerunTime time.Duration
	var peak, base uint64
	var last dunning.Run
	for range b.N {
		b.StopTimer()
		env, v := seedDunning(b, mix, workers)
		day := env.App.Billing.Today()
		runtime.GC() // the peak is the run's, not the seeding's garbage
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = max(base, ms.HeapInuse) // the simulator's tenants and the seed, live before the run
		stop := apptest.SampleHeap(50 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		run, err := env.App.Dunning.RunNow(ctx, "bench", day)
		took := time.Since(start)
		b.StopTimer()
		peak = max(peak, stop())
		runTime += took
		require.NoError(b, err)
		checkRun(b, env, v, run, mix)
		last = run

		// The same day again: everything is done, nothing is acted on.
		start = time.Now()
		again, err := env.App.Dunning.RunNow(ctx, "bench", day)
		rerunTime += time.Since(start)
		require.NoError(b, err)
		require.Equal(b, dunning.RunCompleted, again.Status)
		require.Equal(b, mix.services-mix.terminate, again.Checked, "the terminated ones are no longer live")
		require.Zero(b, again.Suspended+again.Terminated+again.Reminders+again.Unsuspended+again.CreditAlerts+again.Failed+again.Skipped,
			"a run of a day done acts on nothing: %+v", again)
	}
	runs := float64(b.N)
	secs := runTime.Seconds()
	checkedPerSec := float64(mix.services) * runs / secs
	actionsPerSec := float64(mix.acted()) * runs / secs
	b.ReportMetric(float64(mix.services), "services")
	b.ReportMetric(checkedPerSec, "checked/s")
	b.ReportMetric(float64(mix.acted()), "actions")
	b.ReportMetric(actionsPerSec, "actions/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	b.ReportMetric(float64(base)/(1<<20), "base_heap_MiB")
	b.ReportMetric(rerunTime.Seconds()/runs, "rerun_s")
	b.Logf("dunning run: %d services checked in %.1f s = %.0f services/s; %d actions (%d suspensions, %d terminations, "+
		"%d reminders) = %.1f actions/s; peak heap %.1f MiB (%.1f MiB before it: the simulator's tenants, the seed); "+
		"the same day again, acting on nothing: %.1f s = %.0f services/s",
		last.Checked, secs/runs, checkedPerSec, mix.acted(), last.Suspended, last.Terminated, last.Reminders, actionsPerSec,
		float64(peak)/(1<<20), float64(base)/(1<<20), rerunTime.Seconds()/runs, float64(mix.services)*runs/rerunTime.Seconds())
}

// checkRun asserts the run did what was seeded, and nothing else: every
// overdue service acted on once by its kind, the others left, and the
// simulator's tenants disabled or gone.
func checkRun(b *testing.B, env *apptest.Env, v *apptest.Vendor, run dunning.Run, mix benchMix) {
	b.Helper()
	ctx := context.Background()
	require.Equal(b, dunning.RunCompleted, run.Status)
	require.Equal(b, "[]", string(run.Failures))
	require.Zero(b, run.Failed)
	require.Zero(b, run.Skipped)
	require.Equal(b, mix.services, run.Checked)
	require.Equal(b, mix.suspend, run.Suspended)
	require.Equal(b, mix.terminate, run.Terminated)
	require.Equal(b, mix.remind, run.Reminders)
	require.Zero(b, run.Unsuspended)
	require.Zero(b, run.CreditAlerts)

	// What the run did, per seeded bucket (the username's prefix) and kind:
	// exactly one action per overdue service, of its kind, done.
	pool := env.App.DB.Pool
	rows, err := pool.Query(ctx, `SELECT split_part(s.username, '-', 2) AS bucket, a.kind, ra.result,
			count(*), count(DISTINCT s.id)
		FROM dunning_run_actions ra
		JOIN dunning_actions a ON a.id = ra.action_id
		JOIN services s ON s.id = a.service_id
		WHERE ra.run_id = $1 GROUP BY 1, 2, 3`, run.ID)
	require.NoError(b, err)
	type key struct{ bucket, kind, result string }
	got := map[key][2]int{}
	for rows.Next() {
		var k key
		var n, distinct int
		require.NoError(b, rows.Scan(&k.bucket, &k.kind, &k.result, &n, &distinct))
		got[k] = [2]int{n, distinct}
	}
	require.NoError(b, rows.Err())
	want := map[key][2]int{
		{"susp", dunning.KindSuspend, dunning.ActionDone}:   {mix.suspend, mix.suspend},
		{"term", dunning.KindTerminate, dunning.ActionDone}: {mix.terminate, mix.terminate},
		{"rem", dunning.KindReminder, dunning.ActionDone}:   {mix.remind, mix.remind},
	}
	for k, w := range want {
		if w[0] == 0 {
			delete(want, k)
		}
	}
	require.Equal(b, want, got, "the run's actions by bucket, kind and result: [actions, services]")

	// The platform's side: each bucket in the status it must have.
	rows, err = pool.Query(ctx, `SELECT split_part(username, '-', 2), status, coalesce(suspension_reason, ''), count(*)
		FROM services GROUP BY 1, 2, 3`)
	require.NoError(b, err)
	type state struct{ bucket, status, reason string }
	states := map[state]int{}
	for rows.Next() {
		var s state
		var n int
		require.NoError(b, rows.Scan(&s.bucket, &s.status, &s.reason, &n))
		states[s] = n
	}
	require.NoError(b, rows.Err())
	wantStates := map[state]int{
		{"susp", "suspended", "overdue"}: mix.suspend,
		{"term", "terminated", ""}:       mix.terminate,
		{"rem", "active", ""}:            mix.remind,
		{"ok", "active", ""}:             mix.services - mix.acted(),
	}
	for k, w := range wantStates {
		if w == 0 {
			delete(wantStates, k)
		}
	}
	require.Equal(b, wantStates, states, "services by bucket, status and suspension reason")

	// Spot checks at the simulator: suspended tenants disabled, terminated
	// ones gone, reminded ones still enabled.
	vc := benchVendorClient(b, v)
	for _, c := range []struct {
		bucket string
		check  func(t acronis.Tenant, err error)
	}{
		{"susp", func(t acronis.Tenant, err error) {
			require.NoError(b, err)
			require.False(b, t.Enabled, "tenant %s", t.ID)
		}},
		{"term", func(_ acronis.Tenant, err error) {
			require.True(b, acronis.IsStatus(err, http.StatusNotFound), "%v", err)
		}},
		{"rem", func(t acronis.Tenant, err error) {
			require.NoError(b, err)
			require.True(b, t.Enabled, "tenant %s", t.ID)
		}},
	} {
		var tenants []string
		rows, err := pool.Query(ctx, `SELECT vendor_tenant_id FROM services WHERE username LIKE $1 || '-%' ORDER BY random() LIMIT 20`,
			"u-"+c.bucket)
		require.NoError(b, err)
		for rows.Next() {
			var t string
			require.NoError(b, rows.Scan(&t))
			tenants = append(tenants, t)
		}
		require.NoError(b, rows.Err())
		for _, id := range tenants {
			c.check(vc.GetTenant(ctx, id))
		}
	}
}

// seedDunning starts a simulator and a platform on its own database with
// an Acronis plan that dunns (benchReminders, benchSuspension,
// benchTermination), and stores mix.services customers with one service
// and one invoice each, the overdue ones with a customer tenant at the
// simulator; workers > 0 sets DUNNING_WORKERS. Usernames say the bucket: u-term-, u-susp-, u-rem-, u-ok-.
func seedDunning(b *testing.B, mix benchMix, workers int) (*apptest.Env, *apptest.Vendor) {
	b.Helper()
	ctx := context.Background()
	v := apptest.StartVendor(b)
	cfg := apptest.Config(b)
	cfg.DatabaseURL = pgtest.NewDatabase(b, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = v.URL, "sp-client", "sp-secret"
	cfg.AcronisAttemptTimeout = 20 * time.Second // the production default; the test one is tight for fault tests
	if workers > 0 {
		cfg.DunningWorkers = workers
	}
	env := apptest.Start(b, cfg)
	plan := benchPlan(b, env, v)

	// The overdue services' tenants through the client, in parallel: the
	// simulator has no bulk create. Those to terminate were disabled when
	// they were suspended.
	vc := benchVendorClient(b, v)
	acted := mix.acted()
	tenants := make([]string, acted)
	errs := make([]error, acted)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				tag := fmt.Sprintf("dunning-%07d", i+1)
				t, err := vc.CreateTenant(ctx, acronis.NewTenant{Name: "Bench customer " + tag, Kind: acronis.KindCustomer,
					ParentID: v.SPTenantID(), InternalTag: tag})
				if err == nil && i < mix.terminate {
					_, err = vc.SetTenantEnabled(ctx, t.ID, false)
				}
				tenants[i], errs[i] = t.ID, err
			}
		})
	}
	for i := range acted {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		require.NoError(b, err)
	}

	// One statement per table from a seed table of the services: g, its
	// bucket, how many days past due its invoice is (negative: not due
	// yet), its tenant. Services 1..terminate are to terminate, then to
	// suspend, then to remind (1, 3 or 5 days past due: one of their
	// reminder days), then the rest: a third owe an invoice due in 5 to 14
	// days (before any reminder), two thirds paid theirs.
	day := env.App.Billing.Today()
	now := env.Clock.Now()
	venture := plan.VentureID
	tx, err := env.App.DB.Pool.Begin(ctx)
	require.NoError(b, err)
	defer tx.Rollback(ctx) //nolint:errcheck
	exec := func(what, sql string, args ...any) {
		b.Helper()
		_, err := tx.Exec(ctx, sql, args...)
		require.NoError(b, err, what)
	}
	exec("seed", `CREATE TEMP TABLE bench_seed ON COMMIT DROP AS
		SELECT g, bucket, past, CASE WHEN g <= $4 THEN ($5::text[])[g] END AS tenant,
			gen_random_uuid() AS customer_id, gen_random_uuid() AS service_id, gen_random_uuid() AS invoice_id,
			$6::date - past AS due_date
		FROM (SELECT g,
				CASE WHEN g <= $1 THEN 'term' WHEN g <= $1 + $2 THEN 'susp' WHEN g <= $4 THEN 'rem' ELSE 'ok' END AS bucket,
				CASE WHEN g <= $1 THEN 30 + g % 3
				     WHEN g <= $1 + $2 THEN 7 + g % 3
				     WHEN g <= $4 THEN (ARRAY[1, 3, 5])[1 + g % 3]
				     WHEN g % 3 = 0 THEN -(5 + g % 10)
				     ELSE 20 END AS past
			FROM generate_series(1, $3::int) g) s`,
		mix.terminate, mix.suspend, mix.services, acted, tenants, day)
	exec("customers", `INSERT INTO customers (id, name, email, currency, created_at, updated_at)
		SELECT customer_id, 'Bench customer ' || g, 'bench-' || g || '@example.com', $1, $2, $2 FROM bench_seed`,
		cfg.BaseCurrency, now)
	exec("services", `INSERT INTO services (id, customer_id, plan_id, frequency, quantity, username, status, vendor_tenant_id,
			unit_price, setup_fee, start_date, anchor_day, activated_at, suspended_at, suspension_reason, created_at, updated_at)
		SELECT service_id, customer_id, $1::uuid, 'monthly', 1, 'u-' || bucket || '-' || g,
			CASE bucket WHEN 'term' THEN 'suspended' ELSE 'active' END, tenant, 10.00, 0,
			$2::date - 90, extract(day FROM $2::date - 90), $3::timestamptz, CASE bucket WHEN 'term' THEN $3::timestamptz END,
			CASE bucket WHEN 'term' THEN 'overdue' END, $3::timestamptz, $3::timestamptz
		FROM bench_seed`, plan.ID.String(), day, now)
	exec("invoices", `INSERT INTO invoices (id, number, billing_key, venture_id, customer_id, kind, status, currency,
			subtotal, tax_total, total, amount_paid, issue_date, due_date, period_start, period_end, paid_at, version, created_at, updated_at)
		SELECT invoice_id, 'DUN-' || lpad(g::text, 7, '0'), 'bench:' || service_id, $1::uuid, customer_id, 'renewal',
			CASE WHEN bucket = 'ok' AND past > 0 THEN 'paid' ELSE 'unpaid' END, $2, 10.00, 0, 10.00,
			CASE WHEN bucket = 'ok' AND past > 0 THEN 10.00 ELSE 0 END,
			due_date - 7, due_date, due_date, (due_date + interval '1 month')::date - 1,
			CASE WHEN bucket = 'ok' AND past > 0 THEN $3::timestamptz END, 1, $3::timestamptz, $3::timestamptz
		FROM bench_seed`, venture.String(), cfg.BaseCurrency, now)
	exec("invoice lines", `INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description,
			period_start, period_end, quantity, unit_price, amount)
		SELECT gen_random_uuid(), invoice_id, 1, 'recurring', service_id, 'Backup 100 GB (monthly)',
			due_date, (due_date + interval '1 month')::date - 1, 1, 10.00, 10.00
		FROM bench_seed`)
	// Earlier days' runs: the reminders of days already passed, and the
	// suspension of those now to terminate.
	exec("earlier actions", `INSERT INTO dunning_actions (id, key, kind, service_id, customer_id, invoice_id, status, outcome,
			attempts, done_at, created_at, updated_at)
		SELECT gen_random_uuid(), 'reminder:' || invoice_id || ':' || o, 'reminder', service_id, customer_id, invoice_id,
			'done', 'sent', 1, $2::timestamptz, $2::timestamptz, $2::timestamptz
		FROM bench_seed, unnest($1::int[]) o
		WHERE bucket <> 'ok' AND o < past
		UNION ALL
		SELECT gen_random_uuid(), 'suspend:' || service_id || ':' || invoice_id, 'suspend', service_id, customer_id, invoice_id,
			'done', 'applied', 1, $2::timestamptz, $2::timestamptz, $2::timestamptz
		FROM bench_seed WHERE bucket = 'term'`, pq.Int64Array(benchReminders), now)
	require.NoError(b, tx.Commit(ctx))
	// Only the seeded tables: the run's own (dunning_run_actions, the
	// operations, events and mails) start empty and fill as it goes.
	_, err = env.App.DB.Pool.Exec(ctx, "ANALYZE customers, services, invoices, invoice_lines, dunning_actions")
	require.NoError(b, err)
	return env, v
}

// benchPlan makes a prepaid Acronis plan whose module settings point at
// the simulator, the way the demo catalog does, and its dunning settings.
func benchPlan(b *testing.B, env *apptest.Env, v *apptest.Vendor) catalog.Plan {
	b.Helper()
	ctx := context.Background()
	c := env.App.Catalog
	venture, err := c.CreateVenture(ctx, "Bench", "BENCH")
	require.NoError(b, err)
	pt, err := c.CreateProductType(ctx, "Backup")
	require.NoError(b, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Acronis Cyber Protect")
	require.NoError(b, err)
	name, module := "Per workload", catalog.ModuleAcronis
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module})
	require.NoError(b, err)
	planName, no := "Backup 100 GB", false
	plan, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &venture.ID, ProductTypeID: &pt.ID, ProductID: &p.ID,
		ProductGroupID: &g.ID, Name: &planName, PartnerVisible: &no})
	require.NoError(b, err)
	cred := provisioning.Credentials{URL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret"}
	offer, err := provisioning.Inspect(ctx, cred, env.Clock)
	require.NoError(b, err)
	require.NotEmpty(b, offer.Locations)
	soft, hard := 100, 10
	_, err = c.SetModuleSettings(ctx, plan.ID, catalog.ModuleInput{DatacenterURL: cred.URL, ClientID: cred.ClientID,
		ClientSecret: &cred.ClientSecret, StorageQuotaGB: &soft, OverageQuotaGB: &hard, Edition: "pck_per_workload",
		BackupLocation: offer.Locations[0].ID, Common: map[string]float64{"pw_base_workstations": 5}})
	require.NoError(b, err)
	_, err = c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.Prepaid,
		Cycles: []catalog.Cycle{{Frequency: "monthly", Price: decimal.RequireFromString("10.00")}}})
	require.NoError(b, err)
	_, err = c.SetNotificationSettings(ctx, plan.ID, catalog.NotificationSettings{SuspensionDays: benchSuspension,
		TerminationDays: benchTermination, ReminderDays: benchReminders})
	require.NoError(b, err)
	return plan
}

func benchVendorClient(b *testing.B, v *apptest.Vendor) *acronis.Client {
	b.Helper()
	vc, err := acronis.New(acronis.Config{BaseURL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret",
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}})
	require.NoError(b, err)
	return vc
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
