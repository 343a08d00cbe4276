package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

const partnerAdminPassword = "partner-admin-secret-passphrase"

func newPartnerBody() oapi.PartnerCreate {
	id := uuid.NewString()[:8]
	return oapi.PartnerCreate{Name: "Reseller " + id, Email: oapiEmail("billing-" + id + "@reseller.example"), VendorLogin: "reseller-" + id,
		Admin: oapi.PartnerAdmin{Name: "Admin " + id, Email: oapiEmail("admin-" + id + "@reseller.example"), Password: ptr(partnerAdminPassword)}}
}

// waitPartner polls until the partner leaves provisioning.
func waitPartner(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) oapi.Partner {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := c.GetPartnerWithResponse(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		if res.JSON200.Status != oapi.PartnerStatusProvisioning || time.Now().After(deadline) {
			return *res.JSON200
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countPartners(t *testing.T, env *apptest.Env) int64 {
	t.Helper()
	var n int64
	require.NoError(t, env.App.DB.Gorm.Table("partners").Count(&n).Error)
	return n
}

func TestPartnerIsProvisionedAtTheVendor(t *testing.T) {
	t.Parallel()
	env, vendor := apptest.WithJobs(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	tenantsBefore := vendor.CountTenants("partner")

	body := newPartnerBody()
	key := uuid.NewString()
	res, err := admin.CreatePartnerWithResponse(ctx, &oapi.CreatePartnerParams{IdempotencyKey: &key}, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.PartnerStatusProvisioning, res.JSON202.Status)
	require.NotContains(t, string(res.Body), partnerAdminPassword)
	id := res.JSON202.Id

	again, err := admin.CreatePartnerWithResponse(ctx, &oapi.CreatePartnerParams{IdempotencyKey: &key}, body)
	require.NoError(t, err)
	require.Equal(t, string(res.Body), string(again.Body), "a retried create replays, and makes nothing twice")

	p := waitPartner(t, admin, id)
	require.Equal(t, oapi.PartnerStatusActive, p.Status, "vendor error: %v", p.VendorError)
	require.NotNil(t, p.VendorTenantId)
	require.Equal(t, tenantsBefore+1, vendor.CountTenants("partner"), "one partner tenant at the vendor")

	// The partner's admin logs in and sees itself, and only itself.
	tok, err := env.Client(t, "").CreateTokenWithResponse(ctx, oapi.CreateTokenJSONRequestBody{Email: body.Admin.Email, Password: ptr(partnerAdminPassword)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, tok.StatusCode(), string(tok.Body))
	partner := env.Client(t, tok.JSON200.AccessToken)
	me, err := partner.GetPartnerWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, me.StatusCode())
	list, err := partner.ListPartnersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, list.JSON200.Data, 1)
	require.Equal(t, id, list.JSON200.Data[0].Id)

	// The vendor account exists: its login can no longer change here.
	fixed, err := admin.UpdatePartnerWithResponse(ctx, id, nil, oapi.PartnerUpdate{VendorLogin: ptr("another-login")})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, fixed.StatusCode())
	require.Equal(t, "vendor_login_fixed", fixed.ApplicationproblemJSON422.Code)
	retry, err := admin.UpdatePartnerWithResponse(ctx, id, nil, oapi.PartnerUpdate{Status: ptr(oapi.PartnerStatusProvisioning)})
	require.NoError(t, err)
	require.Equal(t, http.StatusUnprocessableEntity, retry.StatusCode())
	require.Equal(t, "invalid_status_change", retry.ApplicationproblemJSON422.Code)
	stale, err := admin.UpdatePartnerWithResponse(ctx, id, &oapi.UpdatePartnerParams{IfMatch: ptr(`"1"`)}, oapi.PartnerUpdate{Name: ptr("Renamed")})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())
	renamed, err := admin.UpdatePartnerWithResponse(ctx, id, &oapi.UpdatePartnerParams{IfMatch: ptr(`"` + itoa(p.Version) + `"`)}, oapi.PartnerUpdate{Name: ptr("Renamed " + id.String())})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, renamed.StatusCode(), string(renamed.Body))

	require.NotContains(t, env.Logs.String(), partnerAdminPassword, "the password never reaches a log")
}

func TestPartnerVendorFailureAndRetry(t *testing.T) {
	t.Parallel()
	env, vendor := apptest.WithJobs(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	// The vendor refuses the tenant: no retry can fix that, so the partner fails with the reason.
	vendor.SetFault(sim.Fault{Method: "POST", PathPrefix: "/api/2/tenants", Rate: 1, Status: http.StatusBadRequest})
	res, err := admin.CreatePartnerWithResponse(ctx, nil, newPartnerBody())
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	p := waitPartner(t, admin, res.JSON202.Id)
	require.Equal(t, oapi.PartnerStatusFailed, p.Status)
	require.NotNil(t, p.VendorError)
	require.Contains(t, *p.VendorError, "400")
	require.NotContains(t, *p.VendorError, "sp-secret")

	vendor.ClearFaults()
	retry, err := admin.UpdatePartnerWithResponse(ctx, p.Id, nil, oapi.PartnerUpdate{Status: ptr(oapi.PartnerStatusProvisioning)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, retry.StatusCode(), string(retry.Body))
	p = waitPartner(t, admin, p.Id)
	require.Equal(t, oapi.PartnerStatusActive, p.Status, "vendor error: %v", p.VendorError)
	require.Nil(t, p.VendorError)
}

func TestPartnerCreateRules(t *testing.T) {
	t.Parallel()
	env, vendor := apptest.WithJobs(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	existing := newPartnerBody()
	first, err := admin.CreatePartnerWithResponse(ctx, nil, existing)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, first.StatusCode(), string(first.Body))

	with := func(change func(*oapi.PartnerCreate)) oapi.PartnerCreate {
		b := newPartnerBody()
		change(&b)
		return b
	}
	t.Run("refused", func(t *testing.T) {
		tests := []struct {
			name   string
			body   oapi.PartnerCreate
			status int
			code   string
			field  string
		}{
			{"name taken", with(func(b *oapi.PartnerCreate) { b.Name = strings.ToUpper(existing.Name) }), http.StatusConflict, "partner_taken", ""},
			{"vendor login taken here", with(func(b *oapi.PartnerCreate) { b.VendorLogin = existing.VendorLogin }), http.StatusConflict, "vendor_login_taken", "vendor_login"},
			{"vendor login taken at the vendor", with(func(b *oapi.PartnerCreate) { b.VendorLogin = "sp-admin" }), http.StatusConflict, "vendor_login_taken", "vendor_login"},
			{"admin email taken", with(func(b *oapi.PartnerCreate) { b.Admin.Email = existing.Admin.Email }), http.StatusConflict, "email_taken", "admin.email"},
			{"short password", with(func(b *oapi.PartnerCreate) { b.Admin.Password = ptr("short") }), http.StatusBadRequest, "validation_failed", "admin.password"},
			{"bad vendor login", with(func(b *oapi.PartnerCreate) { b.VendorLogin = "no spaces allowed" }), http.StatusBadRequest, "validation_failed", "vendor_login"},
			{"blank name", with(func(b *oapi.PartnerCreate) { b.Name = "  " }), http.StatusBadRequest, "validation_failed", "name"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := admin.CreatePartnerWithResponse(ctx, nil, tt.body)
				require.NoError(t, err)
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
				if tt.field != "" {
					require.NotEmpty(t, p.Errors, string(res.Body))
					require.Equal(t, tt.field, p.Errors[0].Field)
				}
			})
		}
	})
	require.Equal(t, int64(1), countPartners(t, env), "refused creates store nothing")

	// The vendor down during the login check: a clear 502, nothing stored.
	vendor.SetFault(sim.Fault{Rate: 1, Status: http.StatusServiceUnavailable})
	down, err := admin.CreatePartnerWithResponse(ctx, nil, newPartnerBody())
	require.NoError(t, err)
	requireProblem(t, down.StatusCode(), down.HTTPResponse.Header, down.Body, http.StatusBadGateway, "vendor_unreachable")
	require.Equal(t, int64(1), countPartners(t, env))
}

func TestPartnerNeedsAConfiguredVendor(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	res, err := admin.CreatePartnerWithResponse(context.Background(), nil, newPartnerBody())
	require.NoError(t, err)
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusServiceUnavailable, "vendor_not_configured")
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
