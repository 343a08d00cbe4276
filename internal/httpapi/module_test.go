package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

const simSecret = "sim-secret-value-never-echoed"

func TestPlanModuleSettings(t *testing.T) {
	t.Parallel()
	vendor := sim.New(sim.Options{ClientID: "sim-client", ClientSecret: simSecret, Seed: 1})
	vsrv := httptest.NewServer(vendor)
	t.Cleanup(vsrv.Close)
	require.NoError(t, vendor.SetSPOfferingItems([]string{"pw_base_storage", "pw_base_workstations", "pw_base_servers"}))
	vc, err := acronis.New(acronis.Config{BaseURL: vsrv.URL, ClientID: "sim-client", ClientSecret: simSecret})
	require.NoError(t, err)
	locs, err := vc.TenantLocations(context.Background(), vendor.SPTenantID())
	require.NoError(t, err)
	require.NotEmpty(t, locs)
	location := locs[0].ID

	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	acr := newChain(t, admin, oapi.Acronis)
	plain := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, acr.plan("Acronis 100 GB", true))
	require.NoError(t, err)
	noModule, err := admin.CreatePlanWithResponse(ctx, nil, plain.plan("No module", false))
	require.NoError(t, err)
	id := plan.JSON201.Id

	base := func() oapi.ModuleSettingsInput {
		return oapi.ModuleSettingsInput{DatacenterUrl: vsrv.URL, ClientId: "sim-client", ClientSecret: ptr(simSecret),
			StorageQuotaGb: ptr(100), OverageQuotaGb: ptr(10), Edition: "pck_per_workload", BackupLocation: location,
			OfferingItems: &oapi.OfferingItemGroups{Common: &oapi.OfferingItemQuotas{"pw_base_workstations": 5}}}
	}
	with := func(change func(*oapi.ModuleSettingsInput)) oapi.ModuleSettingsInput {
		b := base()
		change(&b)
		return b
	}
	tests := []struct {
		name   string
		plan   *oapi.Plan
		body   oapi.ModuleSettingsInput
		status int
		code   string
	}{
		{"group without module", noModule.JSON201, base(), 422, "module_not_applicable"},
		{"hard quota without soft", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.StorageQuotaGb = nil }), 422, "hard_quota_requires_soft_quota"},
		{"fractional item quota", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) {
			b.OfferingItems.Common = &oapi.OfferingItemQuotas{"pw_base_workstations": 1.5}
		}), 422, "offering_item_quota_not_integer"},
		{"wrong secret", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.ClientSecret = ptr("wrong") }), 422, "vendor_credentials_invalid"},
		{"vendor unreachable", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.DatacenterUrl = "http://127.0.0.1:1" }), 502, "vendor_unreachable"},
		{"edition not offered", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.Edition = "platinum" }), 422, "edition_not_available"},
		{"location not offered", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.BackupLocation = "Mars" }), 422, "location_not_available"},
		{"item the SP lacks", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) {
			b.OfferingItems.Independent = &oapi.OfferingItemQuotas{"fc_seats": 2}
		}), 422, "offering_items_not_available"},
		{"first save without secret", plan.JSON201, with(func(b *oapi.ModuleSettingsInput) { b.ClientSecret = nil }), 400, "validation_failed"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := admin.SetPlanModuleSettingsWithResponse(ctx, tt.plan.Id, tt.body)
				require.NoError(t, err)
				require.Equal(t, tt.status, res.StatusCode(), string(res.Body))
				require.Contains(t, string(res.Body), `"code":"`+tt.code+`"`)
				require.NotContains(t, string(res.Body), simSecret)
			})
		}
	})
	none, err := admin.GetPlanModuleSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, none.StatusCode(), "nothing was saved")

	saved, err := admin.SetPlanModuleSettingsWithResponse(ctx, id, base())
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, saved.StatusCode(), string(saved.Body))
	require.True(t, saved.JSON200.ClientSecretSet)
	require.NotContains(t, string(saved.Body), simSecret)
	got, err := admin.GetPlanModuleSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.NotContains(t, string(got.Body), simSecret)
	require.Equal(t, float64(5), (*got.JSON200.OfferingItems.Common)["pw_base_workstations"])
	var leaked int64
	require.NoError(t, env.App.DB.Gorm.Raw(`SELECT count(*) FROM plan_module_settings WHERE position(convert_to(?, 'UTF8') in client_secret_enc) > 0`, simSecret).Scan(&leaked).Error)
	require.Zero(t, leaked, "the secret is encrypted at rest")

	// Saving again without the secret keeps the stored one (and is tested with it).
	again, err := admin.SetPlanModuleSettingsWithResponse(ctx, id, with(func(b *oapi.ModuleSettingsInput) { b.ClientSecret = nil; b.StorageQuotaGb = ptr(200) }))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, again.StatusCode(), string(again.Body))

	p, err := admin.GetPlanWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusDraft, p.JSON200.Status, "draft until priced")
	over := oapi.Money{Amount: "0.10", Currency: "USD"}
	priced := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10.00"))
	priced.OveragePricePerGb = &over
	priced.EnableQuantity = ptr(true)
	set, err := admin.SetPlanPricingWithResponse(ctx, id, priced)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	p, err = admin.GetPlanWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusActive, p.JSON200.Status, "active with pricing and module settings")

	// An unlimited soft quota makes the hard one unlimited, and rules out quantity.
	unlimited, err := admin.SetPlanModuleSettingsWithResponse(ctx, id, with(func(b *oapi.ModuleSettingsInput) { b.StorageQuotaGb = ptr(-1) }))
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, unlimited.StatusCode())
	require.Equal(t, "quantity_requires_finite_quota", unlimited.ApplicationproblemJSON422.Code)
	require.False(t, strings.Contains(string(unlimited.Body), simSecret))

	// Without quantity, an unlimited soft quota is saved with an unlimited hard one.
	other, err := admin.CreatePlanWithResponse(ctx, nil, acr.plan("Unlimited", false))
	require.NoError(t, err)
	unl, err := admin.SetPlanModuleSettingsWithResponse(ctx, other.JSON201.Id, with(func(b *oapi.ModuleSettingsInput) { b.StorageQuotaGb = ptr(-1) }))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, unl.StatusCode(), string(unl.Body))
	require.Equal(t, -1, *unl.JSON200.OverageQuotaGb, "soft -1 forces hard -1")

	// Nothing logged the secret: not the access log, not the failures above.
	logs := env.Logs.String()
	require.Contains(t, logs, "/v1/plans/:id/module-settings", "the requests were logged")
	require.NotContains(t, logs, simSecret)
	require.NotContains(t, logs, "wrong\"", "nor a refused secret")
}
