package app_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

var seedAdmin = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "test"}

// demoConfig is a platform on a database of its own (the demo's rows have
// fixed ids) with the vendor at vendorURL.
func demoConfig(t *testing.T, vendorURL string) config.Config {
	t.Helper()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vendorURL, "sp-client", "sp-secret"
	cfg.SeedDemo = true
	return cfg
}

// catalogCounts is how many rows of each catalog table the database holds.
func catalogCounts(t *testing.T, a *app.App) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"ventures", "product_types", "products", "product_groups", "plans"} {
		var n int64
		require.NoError(t, a.DB.Gorm.Table(table).Count(&n).Error)
		out[table] = n
	}
	return out
}

// sells checks that the order token's offer answers with its price.
func sells(t *testing.T, env *apptest.Env, token, price string) {
	t.Helper()
	offer, err := env.Client(t, "").GetStorefrontOfferWithResponse(context.Background(), token)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, offer.StatusCode(), string(offer.Body))
	require.Equal(t, price, offer.JSON200.Price.Amount)
}

func TestSeedDemoMakesOneSellingPlan(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, demoConfig(t, apptest.StartVendor(t).URL))
	ctx := context.Background()

	first, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, first.OrderToken)
	counts := catalogCounts(t, env.App)
	again, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.Equal(t, first, again, "a second seed finds the first one's plan")
	require.Equal(t, counts, catalogCounts(t, env.App), "and makes nothing more")
	sells(t, env, first.OrderToken, "10.00")

	cfg := apptest.Config(t)
	cfg.AcronisURL = ""
	_, err = apptest.Start(t, cfg).App.SeedDemo(ctx)
	require.Error(t, err, "no vendor, no demo")
}

// Whatever an admin changed in the demo, the next seed (every make run)
// finds it by its ids: no error, nothing duplicated, the change kept.
func TestSeedDemoAfterTheDemoWasEdited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(t *testing.T, c *catalog.Service, plan catalog.Plan)
		// check runs on the second seed's demo.
		check func(t *testing.T, env *apptest.Env, first, again app.Demo)
	}{
		{
			name: "venture renamed and its prefix changed",
			edit: func(t *testing.T, c *catalog.Service, plan catalog.Plan) {
				_, err := c.UpdateVenture(ctx, plan.VentureID, ptr("Acme hosting"), ptr("ACME"), nil)
				require.NoError(t, err)
			},
			check: func(t *testing.T, env *apptest.Env, first, again app.Demo) {
				require.Equal(t, first, again)
				plan, err := env.App.Catalog.GetPlan(ctx, seedAdmin, uuid.MustParse(again.PlanID))
				require.NoError(t, err)
				v, err := env.App.Catalog.GetVenture(ctx, plan.VentureID)
				require.NoError(t, err)
				require.Equal(t, "ACME", v.InvoicePrefix)
			},
		},
		{
			name: "product type, product, group and plan renamed",
			edit: func(t *testing.T, c *catalog.Service, plan catalog.Plan) {
				_, err := c.UpdateProductType(ctx, plan.ProductTypeID, ptr("Backup"), nil)
				require.NoError(t, err)
				_, err = c.UpdateProduct(ctx, plan.ProductID, nil, ptr("Cyber Protect"), nil)
				require.NoError(t, err)
				_, err = c.UpdateProductGroup(ctx, plan.ProductGroupID, catalog.GroupInput{Name: ptr("Workloads")}, nil)
				require.NoError(t, err)
				_, err = c.UpdatePlan(ctx, plan.ID, catalog.PlanInput{Name: ptr("Backup S")}, nil)
				require.NoError(t, err)
			},
			check: func(t *testing.T, env *apptest.Env, first, again app.Demo) {
				require.Equal(t, first, again)
				plan, err := env.App.Catalog.GetPlan(ctx, seedAdmin, uuid.MustParse(again.PlanID))
				require.NoError(t, err)
				require.Equal(t, "Backup S", plan.Name)
			},
		},
		{
			name: "price changed",
			edit: func(t *testing.T, c *catalog.Service, plan catalog.Plan) {
				_, err := c.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.PostpaidFixed, EnableQuantity: true,
					Cycles: []catalog.Cycle{{Frequency: "monthly", Price: decimal.RequireFromString("12.00")}}})
				require.NoError(t, err)
			},
			check: func(t *testing.T, env *apptest.Env, first, again app.Demo) {
				require.Equal(t, first, again)
				sells(t, env, again.OrderToken, "12.00")
			},
		},
		{
			name: "plan retired",
			edit: func(t *testing.T, c *catalog.Service, plan catalog.Plan) {
				_, err := c.UpdatePlan(ctx, plan.ID, catalog.PlanInput{Status: ptr(catalog.PlanRetired)}, nil)
				require.NoError(t, err)
			},
			check: func(t *testing.T, env *apptest.Env, first, again app.Demo) {
				require.Equal(t, first.PlanID, again.PlanID)
				plan, err := env.App.Catalog.GetPlan(ctx, seedAdmin, uuid.MustParse(again.PlanID))
				require.NoError(t, err)
				require.Equal(t, catalog.PlanRetired, plan.Status, "the seed does not undo the admin's retirement")
			},
		},
		{
			name: "plan deleted",
			edit: func(t *testing.T, c *catalog.Service, plan catalog.Plan) {
				require.NoError(t, c.DeletePlan(ctx, plan.ID, nil))
			},
			check: func(t *testing.T, env *apptest.Env, first, again app.Demo) {
				require.Equal(t, first.PlanID, again.PlanID, "made again under its id, on the demo's venture and product")
				sells(t, env, again.OrderToken, "10.00")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := apptest.Start(t, demoConfig(t, apptest.StartVendor(t).URL))
			first, err := env.App.SeedDemo(ctx)
			require.NoError(t, err)
			counts := catalogCounts(t, env.App)
			plan, err := env.App.Catalog.GetPlan(ctx, seedAdmin, uuid.MustParse(first.PlanID))
			require.NoError(t, err)

			tt.edit(t, env.App.Catalog, plan)
			again, err := env.App.SeedDemo(ctx)
			require.NoError(t, err)
			require.Equal(t, counts, catalogCounts(t, env.App), "nothing duplicated")
			tt.check(t, env, first, again)
		})
	}
}

// Rows of the admin's that hold the demo's names or prefix do not stop the
// demo: it takes numbered ones.
func TestSeedDemoBesideRowsWithItsNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := apptest.Start(t, demoConfig(t, apptest.StartVendor(t).URL))
	c := env.App.Catalog
	_, err := c.CreateVenture(ctx, "Demo hosting", "DEMO")
	require.NoError(t, err)
	_, err = c.CreateProductType(ctx, "Demo backup")
	require.NoError(t, err)

	first, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	sells(t, env, first.OrderToken, "10.00")
	plan, err := c.GetPlan(ctx, seedAdmin, uuid.MustParse(first.PlanID))
	require.NoError(t, err)
	v, err := c.GetVenture(ctx, plan.VentureID)
	require.NoError(t, err)
	require.Equal(t, "DEMO2", v.InvoicePrefix)
	pt, err := c.GetProductType(ctx, plan.ProductTypeID)
	require.NoError(t, err)
	require.Equal(t, "Demo backup 2", pt.Name)

	counts := catalogCounts(t, env.App)
	again, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Equal(t, counts, catalogCounts(t, env.App))
}

// A demo seeded before the ids were fixed (found by its DEMO prefix) is
// used, not made a second time.
func TestSeedDemoFindsADemoOfAnEarlierVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := apptest.Start(t, demoConfig(t, apptest.StartVendor(t).URL))
	c := env.App.Catalog
	v, err := c.CreateVenture(ctx, "Demo hosting", "DEMO")
	require.NoError(t, err)
	pt, err := c.CreateProductType(ctx, "Demo backup")
	require.NoError(t, err)
	p, err := c.CreateProduct(ctx, pt.ID, "Acronis Cyber Protect")
	require.NoError(t, err)
	g, err := c.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: ptr("Per workload"), Module: ptr(catalog.ModuleAcronis)})
	require.NoError(t, err)
	old, err := c.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID, ProductGroupID: &g.ID, Name: ptr("Backup 100 GB")})
	require.NoError(t, err)
	counts := catalogCounts(t, env.App)

	d, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.Equal(t, old.ID.String(), d.PlanID)
	require.Equal(t, counts, catalogCounts(t, env.App))
	var out bytes.Buffer
	require.NoError(t, env.App.Seed(ctx, &out))
	require.Contains(t, out.String(), "demo rate card: ", "the earlier demo's group gets the card")
	var n int64
	require.NoError(t, env.App.DB.Gorm.Table("rate_cards").Where("product_group_id = ?", g.ID).Count(&n).Error)
	require.EqualValues(t, 1, n)
}

// A demo that cannot be made (the vendor is down) is a warning: seeding
// succeeds with the admin, the platform serves, and the next seed with the
// vendor up completes the demo it began.
func TestSeedWarnsWhenTheDemoCannotBeMade(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg := demoConfig(t, down.URL)
	env := apptest.Start(t, cfg)

	var out bytes.Buffer
	require.NoError(t, env.App.Seed(ctx, &out))
	require.Contains(t, out.String(), "admin created: "+cfg.SeedAdminEmail)
	require.NotContains(t, out.String(), "demo order token")
	require.Contains(t, env.Logs.String(), "demo catalog not seeded")
	health, err := env.Client(t, "").GetHealthWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, health.StatusCode())

	cfg.AcronisURL = apptest.StartVendor(t).URL
	up := apptest.Start(t, cfg)
	counts := catalogCounts(t, up.App)
	out.Reset()
	require.NoError(t, up.App.Seed(ctx, &out))
	require.Contains(t, out.String(), "admin updated: "+cfg.SeedAdminEmail)
	require.Contains(t, out.String(), "demo order token: ")
	require.Equal(t, counts, catalogCounts(t, up.App), "the demo begun by the failed seed is completed, not made again")
	d, err := up.App.SeedDemo(ctx)
	require.NoError(t, err)
	sells(t, up, d.OrderToken, "10.00")
}

func ptr[T any](v T) *T { return &v }

// The seed imports the demo group's card for the current month from the
// platform's template; the next seed keeps it (an admin's import too), and
// the margin report prices the month with it.
func TestSeedImportsTheDemoRateCardOnce(t *testing.T) {
	t.Parallel()
	env := apptest.Start(t, demoConfig(t, apptest.StartVendor(t).URL))
	ctx := context.Background()
	var out bytes.Buffer
	require.NoError(t, env.App.Seed(ctx, &out))
	require.Contains(t, out.String(), "demo rate card: ")
	require.Contains(t, out.String(), " in EUR at 1.08 ")

	c, _ := env.Admin(t)
	now := env.Clock.Now().In(env.Cfg.Location())
	m, y := int(now.Month()), now.Year()
	groups, err := c.ListProductGroupsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, groups.JSON200.Data, 1)
	group := groups.JSON200.Data[0].Id
	list := func() []oapi.RateCard {
		r, err := c.ListProductGroupRateCardsWithResponse(ctx, group, &oapi.ListProductGroupRateCardsParams{Month: &m, Year: &y})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		return r.JSON200.Data
	}
	cards := list()
	require.Len(t, cards, 1)
	got, err := c.GetRateCardWithResponse(ctx, cards[0].Id, nil)
	require.NoError(t, err)
	require.Equal(t, "EUR", got.JSON200.Currency)
	require.Equal(t, "1.08", got.JSON200.ExchangeRate)
	require.Len(t, *got.JSON200.Rows, 3)
	row := (*got.JSON200.Rows)[1]
	require.Equal(t, []string{"pw_base_workstations", "workstation", "1.85", "quota"}, []string{row.Sku, row.Unit, row.UnitCost, string(row.Basis)})

	out.Reset()
	require.NoError(t, env.App.Seed(ctx, &out))
	require.Contains(t, out.String(), "version 1 (kept)")
	require.Len(t, list(), 1, "a second seed imports nothing")

	rep, err := c.GetMarginReportWithResponse(ctx, &oapi.GetMarginReportParams{Month: m, Year: y})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, rep.StatusCode(), string(rep.Body))
	require.NotContains(t, rep.JSON200.Totals.Flags, oapi.MarginRowFlags("no_card"))
}
