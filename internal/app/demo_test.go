package app_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
)

func TestSeedDemoMakesOneSellingPlan(t *testing.T) {
	t.Parallel()
	vendor := apptest.StartVendor(t)
	cfg := apptest.Config(t)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vendor.URL, "sp-client", "sp-secret"
	env := apptest.Start(t, cfg)
	ctx := context.Background()

	first, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, first.OrderToken)
	again, err := env.App.SeedDemo(ctx)
	require.NoError(t, err)
	require.Equal(t, first, again, "a second seed finds the first one's plan")

	offer, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, first.OrderToken)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, offer.StatusCode(), string(offer.Body))
	require.Equal(t, "10.00", offer.JSON200.Price.Amount)

	cfg.AcronisURL = ""
	_, err = apptest.Start(t, cfg).App.SeedDemo(ctx)
	require.Error(t, err, "no vendor, no demo")
}
