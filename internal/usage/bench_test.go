package usage_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/usage"
)

// benchItems are enabled on every bench tenant: the simulator reports
// usage of enabled items only.
var benchItems = []string{"pw_base_storage", "pw_base_workstations", "pw_base_servers"}

// BenchmarkUsageSync times a usage sync of BENCH_TENANTS (default 10,000)
// customer tenants at the simulator, each an active service of one
// Acronis plan. One op is one full sync: use -benchtime=1x.
func BenchmarkUsageSync(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set")
	}
	n := 10000
	if v := os.Getenv("BENCH_TENANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_TENANTS must be a positive whole number, got %q", v)
		}
	}
	ctx := context.Background()
	var took time.Duration
	rows := 0
	for range b.N {
		b.StopTimer()
		env := seedTenants(b, n)
		b.StartTimer()
		start := time.Now()
		got, err := env.App.Usage.RunNow(ctx, "bench")
		took += time.Since(start)
		b.StopTimer()
		require.NoError(b, err)
		require.Equal(b, usage.StatusCompleted, got.Status, string(got.Failures))
		require.Equal(b, n, got.Tenants)
		require.Equal(b, n*len(benchItems), got.Rows)
		rows += got.Rows
	}
	secs := took.Seconds()
	b.ReportMetric(float64(rows/b.N), "rows")
	b.ReportMetric(float64(rows)/secs, "rows/s")
	b.ReportMetric(float64(n*b.N)/secs, "tenants/s")
	b.Logf("usage sync: %d tenants, %d rows in %.2f s = %.0f rows/s, %.0f tenants/s",
		n, rows/b.N, secs/float64(b.N), float64(rows)/secs, float64(n*b.N)/secs)
}

// seedTenants starts a simulator and a platform on its own database with
// an Acronis plan on it, makes n customer tenants at the simulator with
// benchItems enabled, and stores an active service of the plan per tenant.
func seedTenants(b *testing.B, n int) *apptest.Env {
	b.Helper()
	ctx := context.Background()
	v := apptest.StartVendor(b)
	cfg := apptest.Config(b)
	cfg.DatabaseURL = pgtest.NewDatabase(b, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = v.URL, "sp-client", "sp-secret"
	cfg.AcronisAttemptTimeout = 20 * time.Second // the production default; the test one is tight for fault tests
	env := apptest.Start(b, cfg)
	plan := acronisPlan(b, env, v).ID

	// Tenants through the client, in parallel: the simulator has no bulk create.
	vc, err := acronis.New(acronis.Config{BaseURL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret",
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}})
	require.NoError(b, err)
	items := make([]acronis.OfferingItem, len(benchItems))
	for i, name := range benchItems {
		items[i] = acronis.OfferingItem{ApplicationID: acronis.AppBackup, Name: name, Status: 1}
	}
	tenants := make([]string, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				tag := fmt.Sprintf("bench-%06d", i)
				t, err := vc.CreateTenant(ctx, acronis.NewTenant{Name: "Bench customer " + tag, Kind: acronis.KindCustomer,
					ParentID: v.SPTenantID(), InternalTag: tag})
				if err == nil {
					_, err = vc.SetOfferingItems(ctx, t.ID, items)
				}
				tenants[i], errs[i] = t.ID, err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		require.NoError(b, err)
	}

	now := env.Clock.Now()
	_, err = env.App.DB.Pool.Exec(ctx, `WITH c AS (
			INSERT INTO customers (id, name, email, currency, created_at, updated_at)
			SELECT gen_random_uuid(), 'Bench customer ' || i, 'bench-' || i || '@example.com', $3, $2, $2
			FROM unnest($1::text[]) WITH ORDINALITY AS t(tenant, i)
			RETURNING id, email)
		INSERT INTO services (id, customer_id, plan_id, frequency, quantity, username, status, vendor_tenant_id,
			unit_price, setup_fee, start_date, anchor_day, activated_at, created_at, updated_at)
		SELECT gen_random_uuid(), c.id, $4::uuid, 'monthly', 1, 'u-' || t.i, 'active', t.tenant, 10.00, 0, $2::date, 1, $2, $2, $2
		FROM c JOIN unnest($1::text[]) WITH ORDINALITY AS t(tenant, i) ON c.email = 'bench-' || t.i || '@example.com'`,
		tenants, now, cfg.BaseCurrency, plan.String())
	require.NoError(b, err)
	_, err = env.App.DB.Pool.Exec(ctx, "ANALYZE")
	require.NoError(b, err)
	return env
}

// acronisPlan makes a post-paid Acronis plan whose module settings point
// at the simulator, the way the demo catalog does.
func acronisPlan(b *testing.B, env *apptest.Env, v *apptest.Vendor) catalog.Plan {
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
	_, err = c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.PostpaidFixed,
		Cycles: []catalog.Cycle{{Frequency: "monthly", Price: decimal.RequireFromString("10.00")}}})
	require.NoError(b, err)
	return plan
}
