package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

func TestVendorLookups(t *testing.T) {
	t.Parallel()
	vendor := sim.New(sim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", Seed: 1})
	vsrv := httptest.NewServer(vendor)
	t.Cleanup(vsrv.Close)
	require.NoError(t, vendor.SetSPOfferingItems([]string{"pw_base_storage", "pw_base_workstations", "fc_seats"}))
	ctx := context.Background()

	cfg := apptest.Config(t)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vsrv.URL, "sp-client", "sp-secret"
	env := apptest.Start(t, cfg)
	admin, _ := env.Admin(t)

	eds, err := admin.ListVendorEditionsWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, eds.StatusCode(), string(eds.Body))
	require.Contains(t, eds.JSON200.Data, "pck_per_workload")
	locs, err := admin.ListVendorLocationsWithResponse(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, locs.JSON200.Data)
	items, err := admin.ListVendorOfferingItemsWithResponse(ctx)
	require.NoError(t, err)
	groups := map[string]oapi.OfferingItemGroup{}
	for _, it := range items.JSON200.Data {
		groups[it.Name] = it.Group
	}
	require.Equal(t, map[string]oapi.OfferingItemGroup{"pw_base_storage": oapi.Common, "pw_base_workstations": oapi.Common, "fc_seats": oapi.Independent}, groups)

	partnerID := env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerID, nil)))
	denied, err := partner.ListVendorEditionsWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, denied.StatusCode())

	tests := []struct {
		name   string
		url    string
		secret string
		status int
		code   string
	}{
		{"not configured", "", "", http.StatusServiceUnavailable, "vendor_not_configured"},
		{"unreachable", "http://127.0.0.1:1", "sp-secret", http.StatusBadGateway, "vendor_unreachable"},
		{"wrong secret", vsrv.URL, "wrong", http.StatusBadGateway, "vendor_credentials_invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := apptest.Config(t)
			c.AcronisURL, c.AcronisClientID, c.AcronisClientSecret = tt.url, "sp-client", tt.secret
			e := apptest.Start(t, c)
			a, _ := e.Admin(t)
			res, err := a.ListVendorLocationsWithResponse(ctx)
			require.NoError(t, err)
			require.Equal(t, tt.status, res.StatusCode(), string(res.Body))
			require.Contains(t, string(res.Body), `"code":"`+tt.code+`"`)
			if tt.secret != "" {
				require.NotContains(t, string(res.Body), tt.secret)
			}
		})
	}
}
