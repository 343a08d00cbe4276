package httpapi_test

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/config"
)

// shop is a platform with jobs, a vendor, an admin and an Acronis plan:
// 100 GB soft and 10 GB hard storage and 5 workstations per unit.
type shop struct {
	env    *apptest.Env
	vendor *apptest.Vendor
	vc     *acronis.Client
	admin  *oapi.ClientWithResponses
	chain  chain
	loc    string
}

func newShop(t *testing.T, change ...func(*config.Config)) *shop {
	t.Helper()
	env, vendor := apptest.WithJobs(t, change...)
	return shopOn(t, env, vendor)
}

type planOpts struct {
	model          oapi.BillingModel
	quantity       bool
	partnerVisible bool
	autoApprove    bool
	trial          bool
	storageGB      int              // per unit; 100 when 0
	edition        string           // pck_per_workload when empty
	cycles         []oapi.PlanCycle // 10.00 monthly when empty
	// bare is the smallest plan the vendor can sell: no storage quota and
	// no offering items.
	bare bool
}

// plan makes an active Acronis plan priced 10.00 monthly and returns it
// with its SP order-URL token.
func (s *shop) plan(t *testing.T, o planOpts) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	body := s.chain.plan(uniq("Backup"), o.partnerVisible)
	body.AutoApprove = &o.autoApprove
	p, err := s.admin.CreatePlanWithResponse(ctx, nil, body)
	require.NoError(t, err)
	id := p.JSON201.Id
	storage := o.storageGB
	if storage == 0 {
		storage = 100
	}
	settings := oapi.ModuleSettingsInput{DatacenterUrl: s.vendor.URL, ClientId: "sp-client",
		ClientSecret: ptr("sp-secret"), StorageQuotaGb: ptr(storage), OverageQuotaGb: ptr(10), Edition: cmp.Or(o.edition, "pck_per_workload"), BackupLocation: s.loc,
		FreeTrial: &o.trial, OfferingItems: &oapi.OfferingItemGroups{Common: &oapi.OfferingItemQuotas{"pw_base_workstations": 5}}}
	if o.bare {
		settings.StorageQuotaGb, settings.OverageQuotaGb, settings.OfferingItems = nil, nil, nil
	}
	ms, err := s.admin.SetPlanModuleSettingsWithResponse(ctx, id, settings)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ms.StatusCode(), string(ms.Body))
	model := o.model
	if model == "" {
		model = oapi.BillingModelPrepaid
	}
	pr := pricing(model, cycle(oapi.Monthly, "10.00"))
	if len(o.cycles) > 0 {
		pr = pricing(model, o.cycles...)
	}
	pr.EnableQuantity = &o.quantity
	res, err := s.admin.SetPlanPricingWithResponse(ctx, id, pr)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return id, tokens(t, s.admin, id)[oapi.Monthly]
}

func newLogin() string { return "user-" + uuid.NewString()[:12] }

func storefrontOrder(token, username string) oapi.StorefrontOrderCreate {
	return oapi.StorefrontOrderCreate{Token: token, Username: username,
		Customer: &oapi.NewCustomer{Name: "Fabrikam " + username, Email: oapiEmail(username + "@fabrikam.example")}}
}

func place(t *testing.T, c *oapi.ClientWithResponses, body oapi.StorefrontOrderCreate) *oapi.PlaceStorefrontOrderResponse {
	t.Helper()
	res, err := c.PlaceStorefrontOrderWithResponse(context.Background(), &oapi.PlaceStorefrontOrderParams{IdempotencyKey: uuid.NewString()}, body)
	require.NoError(t, err)
	return res
}

// waitOrder polls until the order is done (completed, failed or cancelled).
func waitOrder(t *testing.T, c *oapi.ClientWithResponses, id uuid.UUID) oapi.Order {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := c.GetOrderWithResponse(context.Background(), id)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		switch res.JSON200.Status {
		case oapi.OrderStatusCompleted, oapi.OrderStatusFailed, oapi.OrderStatusCancelled:
			return *res.JSON200
		}
		if time.Now().After(deadline) {
			require.Failf(t, "order not done", "status %s", res.JSON200.Status)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func countRows(t *testing.T, env *apptest.Env, table string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, env.App.DB.Gorm.Table(table).Count(&n).Error)
	return n
}

func TestStorefrontOrderToService(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{quantity: true})
	public := s.env.Client(t, "")
	login := newLogin()

	avail, err := public.GetUsernameAvailabilityWithResponse(ctx, login)
	require.NoError(t, err)
	require.True(t, avail.JSON200.Available)

	body := storefrontOrder(token, login)
	body.Quantity = ptr(2)
	res := place(t, public, body)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	o := res.JSON202
	require.Equal(t, oapi.OrderStatusPending, o.Status, "a manual plan waits for an admin")
	require.NotNil(t, o.StatusToken)
	require.Equal(t, "10.00", o.UnitPrice.Amount)
	require.Nil(t, o.Password)

	taken, err := public.GetUsernameAvailabilityWithResponse(ctx, login)
	require.NoError(t, err)
	require.False(t, taken.JSON200.Available, "a pending order holds its username")

	approved, err := s.admin.ApproveOrderWithResponse(ctx, o.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, approved.StatusCode(), string(approved.Body))
	again, err := s.admin.ApproveOrderWithResponse(ctx, o.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, again.StatusCode())

	done := waitOrder(t, s.admin, o.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.Nil(t, done.Password, "an admin who did not place the order never sees the password")
	var trail []string
	for _, e := range done.History {
		trail = append(trail, string(e.To)+" by "+string(e.Actor))
	}
	require.Equal(t, []string{"pending by public", "approved by admin", "provisioning by system", "completed by system"}, trail)
	require.Nil(t, done.History[0].ActorCredential, "an anonymous buyer has no credential")
	require.NotNil(t, done.History[1].ActorCredential)
	require.True(t, strings.HasPrefix(*done.History[1].ActorCredential, "user:"), *done.History[1].ActorCredential)
	steps := map[string]string{}
	for _, st := range done.Steps {
		steps[string(st.Step)] = st.Detail
	}
	require.Contains(t, steps, "tenant_created")
	require.Equal(t, "production", steps["pricing_mode_set"])
	require.Contains(t, steps, "access_policies_set")

	// The orderer reads the password once, with the status token.
	bad, err := public.GetStorefrontOrderWithResponse(ctx, o.Id, &oapi.GetStorefrontOrderParams{Token: strings.Repeat("x", 32)})
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, bad.StatusCode())
	first, err := public.GetStorefrontOrderWithResponse(ctx, o.Id, &oapi.GetStorefrontOrderParams{Token: *o.StatusToken})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, first.StatusCode(), string(first.Body))
	require.NotNil(t, first.JSON200.Password)
	password := *first.JSON200.Password
	second, err := public.GetStorefrontOrderWithResponse(ctx, o.Id, &oapi.GetStorefrontOrderParams{Token: *o.StatusToken})
	require.NoError(t, err)
	require.Nil(t, second.JSON200.Password, "shown once")
	require.NotContains(t, s.env.Logs.String(), password)

	// The service, as the platform shows it.
	svc, err := s.admin.GetServiceWithResponse(ctx, o.ServiceId)
	require.NoError(t, err)
	v := svc.JSON200
	require.Equal(t, oapi.ServiceStatusActive, v.Status)
	require.Equal(t, login, v.Username)
	require.Equal(t, s.vendor.URL, v.PortalUrl)
	require.Equal(t, int64(200), *v.Quotas.StorageGb, "100 GB x 2")
	require.Equal(t, int64(20), *v.Quotas.OverageGb)
	require.Equal(t, int64(10), v.Quotas.OfferingItems["pw_base_workstations"])
	require.Equal(t, "2026-12-25", v.NextDueDate.Format(time.DateOnly), "a month after the order (the clock starts on apptest.Epoch)")
	require.NotContains(t, string(svc.Body), password)
	listed, err := s.admin.ListServicesWithResponse(ctx, &oapi.ListServicesParams{CustomerId: &v.CustomerId})
	require.NoError(t, err)
	require.Len(t, listed.JSON200.Data, 1)
	require.Equal(t, v.Quotas, listed.JSON200.Data[0].Quotas, "a list shows the same quotas")

	// The service, as the vendor shows it.
	tenant, err := s.vc.GetTenant(ctx, *v.VendorTenantId)
	require.NoError(t, err)
	require.Equal(t, acronis.KindCustomer, tenant.Kind)
	require.Equal(t, s.vendor.SPTenantID(), tenant.ParentID)
	require.True(t, tenant.Enabled)
	mode, err := s.vc.GetPricing(ctx, tenant.ID)
	require.NoError(t, err)
	require.Equal(t, "production", mode.Mode)
	items, err := s.vc.OfferingItems(ctx, tenant.ID)
	require.NoError(t, err)
	got := map[string]acronis.OfferingItem{}
	for _, it := range items {
		if it.Enabled() {
			got[it.Name] = it
		}
	}
	require.Len(t, got, 2, "the storage and the workstations, nothing else")
	require.Equal(t, int64(200)<<30, *got["pw_base_storage"].Quota.Value)
	require.Equal(t, int64(20)<<30, *got["pw_base_storage"].Quota.Overage)
	require.Equal(t, int64(10), *got["pw_base_workstations"].Quota.Value)
	u, found, err := s.vc.FindUser(ctx, tenant.ID, login)
	require.NoError(t, err)
	require.True(t, found)
	policies, err := s.vc.AccessPolicies(ctx, u.ID)
	require.NoError(t, err)
	require.Len(t, policies, 1)
	require.Equal(t, acronis.RoleCompanyAdmin, policies[0].RoleID)
	require.Equal(t, tenant.ID, policies[0].TenantID)
	requireVendorLogin(t, s.vendor.URL, login, password)

	// One-click login opens the portal as this user.
	link, err := s.admin.CreateServiceSsoLinkWithResponse(ctx, v.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, link.StatusCode(), string(link.Body))
	page := get(t, link.JSON200.Url)
	require.Contains(t, page, "Logged in as "+login)
	require.NotContains(t, get(t, link.JSON200.Url), "Logged in", "a link works once")

	// Credentials.
	reset, err := s.admin.ResetServiceCredentialsWithResponse(ctx, v.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reset.StatusCode(), string(reset.Body))
	requireVendorLogin(t, s.vendor.URL, login, reset.JSON200.Password)
	weak, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, v.Id, nil, oapi.CredentialsUpdate{Password: ptr("short")})
	require.NoError(t, err)
	requireProblem(t, weak.StatusCode(), weak.HTTPResponse.Header, weak.Body, http.StatusUnprocessableEntity, "password_too_weak")
	spAdmin, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, v.Id, nil, oapi.CredentialsUpdate{Username: ptr("sp-admin")})
	require.NoError(t, err)
	requireProblem(t, spAdmin.StatusCode(), spAdmin.HTTPResponse.Header, spAdmin.Body, http.StatusConflict, "username_taken")
	newLoginName := newLogin()
	renamed, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, v.Id, nil, oapi.CredentialsUpdate{Username: &newLoginName, Password: ptr("Another-Passw0rd-ok")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, renamed.StatusCode(), string(renamed.Body))
	require.Equal(t, newLoginName, renamed.JSON200.Username)
	requireVendorLogin(t, s.vendor.URL, newLoginName, "Another-Passw0rd-ok")
	stale, err := s.admin.UpdateServiceCredentialsWithResponse(ctx, v.Id, &oapi.UpdateServiceCredentialsParams{IfMatch: ptr(`"1"`)}, oapi.CredentialsUpdate{Password: ptr("Third-Passw0rd-ok")})
	require.NoError(t, err)
	require.Equal(t, http.StatusPreconditionFailed, stale.StatusCode())

	// Suspend, unsuspend, terminate: the vendor first, then the platform.
	susp, err := s.admin.SuspendServiceWithResponse(ctx, v.Id, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusSuspended, susp.JSON200.Status)
	tenant, err = s.vc.GetTenant(ctx, tenant.ID)
	require.NoError(t, err)
	require.False(t, tenant.Enabled)
	twice, err := s.admin.SuspendServiceWithResponse(ctx, v.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, twice.StatusCode(), "suspending again changes nothing")
	noSSO, err := s.admin.CreateServiceSsoLinkWithResponse(ctx, v.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, noSSO.StatusCode())
	un, err := s.admin.UnsuspendServiceWithResponse(ctx, v.Id, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusActive, un.JSON200.Status)
	tenant, err = s.vc.GetTenant(ctx, tenant.ID)
	require.NoError(t, err)
	require.True(t, tenant.Enabled)
	term, err := s.admin.TerminateServiceWithResponse(ctx, v.Id, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusTerminated, term.JSON200.Status)
	_, err = s.vc.GetTenant(ctx, tenant.ID)
	require.True(t, acronis.IsStatus(err, http.StatusNotFound), "%v", err)
	for name, call := range map[string]func() (int, []byte){
		"suspend": func() (int, []byte) {
			r, err := s.admin.SuspendServiceWithResponse(ctx, v.Id, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		},
		"terminate": func() (int, []byte) {
			r, err := s.admin.TerminateServiceWithResponse(ctx, v.Id, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		},
		"reset": func() (int, []byte) {
			r, err := s.admin.ResetServiceCredentialsWithResponse(ctx, v.Id)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		},
	} {
		status, b := call()
		require.Equal(t, http.StatusConflict, status, name)
		require.Contains(t, string(b), "service_terminated", name)
	}
	free, err := public.GetUsernameAvailabilityWithResponse(ctx, login)
	require.NoError(t, err)
	require.True(t, free.JSON200.Available, "a terminated service frees its old username")
}

// requireVendorLogin logs in at the vendor with a user's password.
func requireVendorLogin(t *testing.T, base, login, password string) {
	t.Helper()
	res, err := http.PostForm(base+"/api/2/idp/token", url.Values{"grant_type": {"password"}, "username": {login}, "password": {password}})
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, http.StatusOK, res.StatusCode, "vendor login as %s: %s", login, b)
}

func get(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return string(b)
}
