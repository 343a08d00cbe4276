package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/config"
)

// TestDatacenterURLIsGuarded: a plan's datacenter_url is https to a public
// address; http only to loopback outside production; private, link-local
// and reserved addresses only with VENDOR_ALLOW_PRIVATE. Refused is 422
// naming datacenter_url, and nothing is called; allowed goes on to the
// vendor (here unreachable: 502).
func TestDatacenterURLIsGuarded(t *testing.T) {
	t.Parallel()
	type platform struct {
		admin *oapi.ClientWithResponses
		plan  uuid.UUID
	}
	start := func(change func(*config.Config)) platform {
		cfg := apptest.Config(t)
		change(&cfg)
		env := apptest.Start(t, cfg)
		admin, _ := env.Admin(t)
		p, err := admin.CreatePlanWithResponse(context.Background(), nil, newChain(t, admin, oapi.Acronis).plan(uniq("Guarded"), false))
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
		return platform{admin, p.JSON201.Id}
	}
	dev := start(func(*config.Config) {})
	prod := start(func(c *config.Config) { c.Env = "production" })
	prodPrivate := start(func(c *config.Config) { c.Env = "production"; c.VendorAllowPrivate = true })

	tests := []struct {
		name   string
		on     platform
		url    string
		status int
		code   string
	}{
		{"private http", dev, "http://10.0.0.1", 422, "datacenter_url_not_allowed"},
		{"private https", dev, "https://10.0.0.1", 422, "datacenter_url_not_allowed"},
		{"private 192.168", dev, "https://192.168.1.10/", 422, "datacenter_url_not_allowed"},
		{"cloud metadata (link-local)", dev, "https://169.254.169.254", 422, "datacenter_url_not_allowed"},
		{"link-local v6", dev, "https://[fe80::1]", 422, "datacenter_url_not_allowed"},
		{"unique-local v6", dev, "https://[fd00::1]", 422, "datacenter_url_not_allowed"},
		{"carrier-grade NAT", dev, "https://100.64.0.1", 422, "datacenter_url_not_allowed"},
		{"unspecified", dev, "https://0.0.0.0", 422, "datacenter_url_not_allowed"},
		{"private as mapped v6", dev, "https://[::ffff:10.0.0.1]", 422, "datacenter_url_not_allowed"},
		{"http to a public address", dev, "http://93.184.216.34", 422, "datacenter_url_not_https"},
		{"another scheme", dev, "ftp://93.184.216.34", 422, "datacenter_url_not_https"},
		{"credentials in the URL", dev, "https://user:pass@93.184.216.34", 422, "datacenter_url_invalid"},
		{"loopback http outside production", dev, "http://127.0.0.1:1", 502, "vendor_unreachable"},
		{"loopback http in production", prod, "http://127.0.0.1:1", 422, "datacenter_url_not_https"},
		{"loopback https in production", prod, "https://127.0.0.1:1", 422, "datacenter_url_not_allowed"},
		{"localhost in production", prod, "https://localhost:1", 422, "datacenter_url_not_allowed"},
		{"private in production", prod, "https://10.1.2.3", 422, "datacenter_url_not_allowed"},
		{"loopback with VENDOR_ALLOW_PRIVATE", prodPrivate, "https://127.0.0.1:1", 502, "vendor_unreachable"},
		{"http with VENDOR_ALLOW_PRIVATE in production", prodPrivate, "http://127.0.0.1:1", 422, "datacenter_url_not_https"},
		{"unspecified with VENDOR_ALLOW_PRIVATE", prodPrivate, "https://0.0.0.0", 422, "datacenter_url_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res, err := tt.on.admin.SetPlanModuleSettingsWithResponse(context.Background(), tt.on.plan, oapi.ModuleSettingsInput{
				DatacenterUrl: tt.url, ClientId: "client", ClientSecret: ptr("secret"), Edition: "pck_per_workload", BackupLocation: "somewhere"})
			require.NoError(t, err)
			require.Equal(t, tt.status, res.StatusCode(), string(res.Body))
			var p problem
			require.NoError(t, json.Unmarshal(res.Body, &p))
			require.Equal(t, tt.code, p.Code, string(res.Body))
			if tt.status == http.StatusUnprocessableEntity {
				require.Len(t, p.Errors, 1)
				require.Equal(t, "datacenter_url", p.Errors[0].Field)
			}
			got, err := tt.on.admin.GetPlanModuleSettingsWithResponse(context.Background(), tt.on.plan)
			require.NoError(t, err)
			require.Equal(t, http.StatusNotFound, got.StatusCode(), "nothing was saved")
		})
	}
}
