package reconcile_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/reconcile"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Per unit of the test plan: 100 GB of storage (10 GB overage) and 5
// workstations, edition pck_per_workload.
const (
	edition      = "pck_per_workload"
	storageItem  = "pw_base_storage"
	workstations = "pw_base_workstations"
	softGB       = 100
	overageGB    = 10
	stations     = 5
)

// world is a platform on a database of its own, on the wall clock (the
// simulator's reports are dated by it), with a simulator as the SP's
// account and an Acronis plan on that same account.
type world struct {
	env  *apptest.Env
	v    *apptest.Vendor
	vc   *acronis.Client
	plan catalog.Plan
	back time.Duration // the simulator's clock behind the wall clock until catchUp
}

// catchUp brings the simulator's clock to the wall clock's.
func (w *world) catchUp() {
	w.v.Advance(w.back)
	w.back = 0
}

func newWorld(t testing.TB, change ...func(*config.Config)) *world {
	t.Helper()
	return newWorldBack(t, 0, change...)
}

// newWorldBack is newWorld with the simulator's clock back days days
// until catchUp: tenants created before then have a history at the vendor.
func newWorldBack(t testing.TB, days int, change ...func(*config.Config)) *world {
	t.Helper()
	ctx := context.Background()
	back := time.Duration(days) * 24 * time.Hour
	s := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", AdminLogin: "sp-admin", AdminPassword: "sp-admin-password",
		Seed: 1, Clock: func() time.Time { return time.Now().Add(-back) }})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.SetBaseURL(srv.URL)
	v := &apptest.Vendor{Server: s, URL: srv.URL}
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = v.URL, "sp-client", "sp-secret"
	for _, c := range change {
		c(&cfg)
	}
	env := apptest.Start(t, cfg)
	env.Clock.Set(time.Now().UTC())
	vc, err := acronis.New(acronis.Config{BaseURL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret",
		HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}})
	require.NoError(t, err)
	w := &world{env: env, v: v, vc: vc, back: back}

	c := env.App.Catalog
	venture, err := c.CreateVenture(ctx, "Recon", "RECON")
	require.NoError(t, err)
	pt, err := c.CreateProductType(ctx, "Backup")
	require.NoError(t, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Acronis Cyber Protect")
	require.NoError(t, err)
	name, module := "Per workload", catalog.ModuleAcronis
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module})
	require.NoError(t, err)
	planName, no := "Backup 100 GB", false
	w.plan, err = c.CreatePlan(ctx, catalog.PlanInput{VentureID: &venture.ID, ProductTypeID: &pt.ID, ProductID: &p.ID,
		ProductGroupID: &g.ID, Name: &planName, PartnerVisible: &no})
	require.NoError(t, err)
	cred := provisioning.Credentials{URL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret"}
	offer, err := provisioning.Inspect(ctx, cred, env.Clock)
	require.NoError(t, err)
	soft, hard := softGB, overageGB
	_, err = c.SetModuleSettings(ctx, w.plan.ID, catalog.ModuleInput{DatacenterURL: cred.URL, ClientID: cred.ClientID,
		ClientSecret: &cred.ClientSecret, StorageQuotaGB: &soft, OverageQuotaGB: &hard, Edition: edition,
		BackupLocation: offer.Locations[0].ID, Common: map[string]float64{workstations: stations}})
	require.NoError(t, err)
	_, err = c.SetPricing(ctx, w.plan.ID, catalog.Pricing{BillingModel: catalog.Prepaid,
		Cycles: []catalog.Cycle{{Frequency: "monthly", Price: decimal.RequireFromString("10.00")}}})
	require.NoError(t, err)
	return w
}

// tenants creates n customer tenants under the SP with the plan's items
// and quotas for quantity 1, as provisioning leaves them, 16 at a time.
func (w *world) tenants(t testing.TB, prefix string, n int) []string {
	t.Helper()
	ctx := context.Background()
	ids := make([]string, n)
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	soft, over, ws := int64(softGB)<<30, int64(overageGB)<<30, int64(stations)
	avail, err := w.vc.AvailableForChild(ctx, w.v.SPTenantID(), acronis.KindCustomer, edition)
	require.NoError(t, err)
	var infra *string
	for _, o := range avail {
		if o.Name == storageItem {
			infra = o.InfraID
		}
	}
	for range 16 {
		wg.Go(func() {
			for i := range next {
				tag := fmt.Sprintf("%s-%07d", prefix, i+1)
				tn, err := w.vc.CreateTenant(ctx, acronis.NewTenant{Name: "Customer " + tag, Kind: acronis.KindCustomer,
					ParentID: w.v.SPTenantID(), InternalTag: tag})
				if err == nil {
					_, err = w.vc.SetOfferingItems(ctx, tn.ID, []acronis.OfferingItem{
						{ApplicationID: acronis.AppBackup, Name: storageItem, InfraID: infra, Status: 1, Quota: &acronis.Quota{Value: &soft, Overage: &over}},
						{ApplicationID: acronis.AppBackup, Name: workstations, Status: 1, Quota: &acronis.Quota{Value: &ws}},
					})
				}
				ids[i], errs[i] = tn.ID, err
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	return ids
}

// services stores one customer with one active service (quantity 1) per
// tenant, as SQL: what orders would have left.
func (w *world) services(t testing.TB, tenants []string) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	now := w.env.Clock.Now()
	ids := make([]uuid.UUID, len(tenants))
	for i := range ids {
		ids[i] = uuid.New()
	}
	_, err := w.env.App.DB.Pool.Exec(ctx, `WITH seed AS (
			SELECT t.tenant, t.service_id::uuid, gen_random_uuid() AS customer_id, t.ord
			FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(tenant, service_id, ord)),
		c AS (INSERT INTO customers (id, name, email, currency, created_at, updated_at)
			SELECT customer_id, 'Customer ' || ord, 'c' || ord || '@example.com', $3, $4, $4 FROM seed)
		INSERT INTO services (id, customer_id, plan_id, frequency, quantity, username, status, vendor_tenant_id,
			unit_price, setup_fee, start_date, anchor_day, activated_at, created_at, updated_at)
		SELECT service_id, customer_id, $5::uuid, 'monthly', 1, 'user-' || ord || '-' || left(service_id::text, 8), 'active', tenant,
			10.00, 0, $6::date, 1, $4, $4, $4 FROM seed`,
		tenants, uuidStrings(ids), w.env.Cfg.BaseCurrency, now, w.plan.ID.String(), now.Format(time.DateOnly))
	require.NoError(t, err)
	return ids
}

// bill stores an issued invoice of the service with one usage line of
// item over [from, to] for quantity.
func (w *world) bill(t testing.TB, service uuid.UUID, item string, from, to time.Time, quantity int64) string {
	t.Helper()
	ctx := context.Background()
	now := w.env.Clock.Now()
	number := "RECON-" + service.String()[:8]
	_, err := w.env.App.DB.Pool.Exec(ctx, `WITH s AS (SELECT id, customer_id FROM services WHERE id = $1),
		v AS (SELECT venture_id FROM plans WHERE id = $2),
		i AS (INSERT INTO invoices (id, number, billing_key, venture_id, customer_id, kind, status, currency, subtotal, tax_total, total,
				issue_date, due_date, period_start, period_end, version, created_at, updated_at)
			SELECT gen_random_uuid(), $3, 'recon:' || s.id, v.venture_id, s.customer_id, 'postpaid', 'unpaid', $4, 1.00, 0, 1.00,
				$6::date, $6::date, $5::date, $6::date, 1, $7, $7 FROM s, v RETURNING id)
		INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description, period_start, period_end, quantity, unit_price,
			amount, detail)
		SELECT gen_random_uuid(), i.id, 1, 'usage', $1, $8 || ': max of daily usage', $5::date, $6::date, $9, 0.05, 1.00,
			jsonb_build_object('offering_item', $8::text, 'aggregation', 'max', 'service_id', $1::text) FROM i`,
		service, w.plan.ID, number, w.env.Cfg.BaseCurrency, from.Format(time.DateOnly), to.Format(time.DateOnly), now, item, quantity)
	require.NoError(t, err)
	return number
}

// store records what the daily sync would have stored of a tenant's item
// on the days from first on, one value a day.
func (w *world) store(t testing.TB, tenant, item, unit string, first time.Time, values ...int64) {
	t.Helper()
	days := make([]string, len(values))
	for i := range values {
		days[i] = first.AddDate(0, 0, i).Format(time.DateOnly)
	}
	_, err := w.env.App.DB.Pool.Exec(context.Background(), `INSERT INTO usage_daily (tenant_id, item, day, value, unit, synced_at)
		SELECT $1, $2, d::date, v, $3, now() FROM unnest($4::text[], $5::bigint[]) AS x(d, v)
		ON CONFLICT (tenant_id, item, day) DO UPDATE SET value = EXCLUDED.value, unit = EXCLUDED.unit`,
		tenant, item, unit, days, values)
	require.NoError(t, err)
}

// setTolerance sets the usage tolerance of later reports.
func (w *world) setTolerance(t testing.TB, percent string) {
	t.Helper()
	ctx := context.Background()
	st, err := w.env.App.Reconcile.GetSettings(ctx)
	require.NoError(t, err)
	_, err = w.env.App.Reconcile.PutSettings(ctx, reconcile.SettingsInput{DefaultPeriod: st.DefaultPeriod,
		UsageTolerancePercent: decimal.RequireFromString(percent)})
	require.NoError(t, err)
}

func uuidStrings(ids []uuid.UUID) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id.String()
	}
	return out
}

// billLine stores an issued invoice with one usage line of the service's
// item over [from, to], aggregated as agg: to the service's customer, or,
// with partner set, the twin at cost on the SP's bill to a partner.
func (w *world) billLine(t testing.TB, service uuid.UUID, item string, from, to time.Time, quantity int64, agg string, partner bool) string {
	t.Helper()
	ctx := context.Background()
	now := w.env.Clock.Now()
	number := fmt.Sprintf("RECON-%s-%s-%t", service.String()[:8], from.Format("0102"), partner)
	var partnerID *uuid.UUID
	if partner {
		id := uuid.New()
		partnerID = &id
		_, err := w.env.App.DB.Pool.Exec(ctx, `INSERT INTO partners (id, name, email, vendor_login, status, created_at, updated_at)
			VALUES ($1, 'Partner ' || $2, $2 || '@partner.example', 'login-' || $2, 'provisioning', $3, $3)`, id, number, now)
		require.NoError(t, err)
	}
	_, err := w.env.App.DB.Pool.Exec(ctx, `WITH s AS (SELECT id, customer_id FROM services WHERE id = $1),
		v AS (SELECT venture_id FROM plans WHERE id = $2),
		i AS (INSERT INTO invoices (id, number, billing_key, venture_id, customer_id, partner_id, kind, status, currency, subtotal, tax_total, total,
				issue_date, due_date, period_start, period_end, version, created_at, updated_at)
			SELECT gen_random_uuid(), $3, 'recon:' || $3, v.venture_id, CASE WHEN $10::uuid IS NULL THEN s.customer_id END, $10::uuid,
				'postpaid', 'unpaid', $4, 1.00, 0, 1.00, $6::date, $6::date, $5::date, $6::date, 1, $7, $7 FROM s, v RETURNING id)
		INSERT INTO invoice_lines (id, invoice_id, position, kind, service_id, description, period_start, period_end, quantity, unit_price,
			amount, detail)
		SELECT gen_random_uuid(), i.id, 1, 'usage', $1, $8 || ': ' || $11 || ' of daily usage', $5::date, $6::date, $9, 0.05, 1.00,
			jsonb_build_object('offering_item', $8::text, 'aggregation', $11::text, 'service_id', $1::text) FROM i`,
		service, w.plan.ID, number, w.env.Cfg.BaseCurrency, from.Format(time.DateOnly), to.Format(time.DateOnly), now, item, quantity, partnerID, agg)
	require.NoError(t, err)
	return number
}
