package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

// activePartner creates a partner through the API and waits for its vendor
// account; it returns the partner and a client logged in as its admin.
func (s *shop) activePartner(t *testing.T) (oapi.Partner, *oapi.ClientWithResponses) {
	t.Helper()
	ctx := context.Background()
	body := newPartnerBody()
	res, err := s.admin.CreatePartnerWithResponse(ctx, nil, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	p := waitPartner(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.PartnerStatusActive, p.Status)
	tok, err := s.env.Client(t, "").CreateTokenWithResponse(ctx, oapi.CreateTokenJSONRequestBody{Email: body.Admin.Email, Password: ptr(partnerAdminPassword)})
	require.NoError(t, err)
	return p, s.env.Client(t, tok.JSON200.AccessToken)
}

func TestPartnerOrder(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, _ := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, partnerVisible: true, autoApprove: true})
	hiddenID, _ := s.plan(t, planOpts{})
	p, partner := s.activePartner(t)
	_, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("20")})
	require.NoError(t, err)
	_, err = partner.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("50")})
	require.NoError(t, err)

	login := newLogin()
	res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login,
		Customer: &oapi.NewCustomer{Name: "Partner's customer", Email: oapiEmail(login + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.OrderStatusApproved, res.JSON202.Status, "post-paid on an auto-approving plan is approved at once")
	require.Equal(t, "12.00", res.JSON202.UnitPrice.Amount, "10.00 less 20% plus 50%")
	require.Equal(t, p.Id, *res.JSON202.PartnerId)

	done := waitOrder(t, partner, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.NotNil(t, done.Password, "the partner placed it, so it reads the password once")
	svc, err := partner.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, svc.StatusCode())
	tenant, err := s.vc.GetTenant(ctx, *svc.JSON200.VendorTenantId)
	require.NoError(t, err)
	require.Equal(t, *p.VendorTenantId, tenant.ParentID, "a partner's customer lives under the partner's tenant")

	// The partner's own vendor user reads the customer's tenant, read-only.
	var steps []string
	for _, st := range done.Steps {
		steps = append(steps, string(st.Step))
	}
	require.Contains(t, steps, "partner_read_only_granted")
	pu, found, err := s.vc.FindUser(ctx, *p.VendorTenantId, p.VendorLogin)
	require.NoError(t, err)
	require.True(t, found)
	policies, err := s.vc.AccessPolicies(ctx, pu.ID)
	require.NoError(t, err)
	var roles []string
	for _, ap := range policies {
		roles = append(roles, ap.RoleID+"@"+ap.TenantID)
	}
	require.Contains(t, roles, acronis.RoleReadonlyAdmin+"@"+tenant.ID)

	// A partner sells partner-visible plans only.
	hidden, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: hiddenID, Frequency: oapi.Monthly, Username: newLogin(),
		Customer: &oapi.NewCustomer{Name: "X", Email: oapiEmail(uuid.NewString() + "@example.com")}})
	require.NoError(t, err)
	requireProblem(t, hidden.StatusCode(), hidden.HTTPResponse.Header, hidden.Body, http.StatusForbidden, "plan_not_available_to_partner")
	// So does an admin ordering for the partner's customer.
	forCust, err := s.admin.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: hiddenID, Frequency: oapi.Monthly, Username: newLogin(),
		CustomerId: &done.CustomerId})
	require.NoError(t, err)
	requireProblem(t, forCust.StatusCode(), forCust.HTTPResponse.Header, forCust.Body, http.StatusForbidden, "plan_not_available_to_partner")
	// Another partner sees none of it.
	_, other := s.activePartner(t)
	for _, status := range []int{
		func() int { r, _ := other.GetOrderWithResponse(ctx, done.Id); return r.StatusCode() }(),
		func() int { r, _ := other.GetServiceWithResponse(ctx, done.ServiceId); return r.StatusCode() }(),
		func() int { r, _ := other.SuspendServiceWithResponse(ctx, done.ServiceId, nil); return r.StatusCode() }(),
		func() int { r, _ := other.CreateServiceSsoLinkWithResponse(ctx, done.ServiceId); return r.StatusCode() }(),
	} {
		require.Equal(t, http.StatusNotFound, status)
	}
}

func TestConcurrentOrdersWithOneKeyMakeOneOrder(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	public := s.env.Client(t, "")
	body := storefrontOrder(token, newLogin())
	key := uuid.NewString()
	customersBefore := s.vendor.CountTenants("customer")

	var wg sync.WaitGroup
	var mu sync.Mutex
	bodies := map[string]int{}
	statuses := map[int]int{}
	for range 50 {
		wg.Go(func() {
			res, err := public.PlaceStorefrontOrderWithResponse(ctx, &oapi.PlaceStorefrontOrderParams{IdempotencyKey: key}, body)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			statuses[res.StatusCode()]++
			if res.StatusCode() == http.StatusAccepted {
				bodies[string(res.Body)]++
			}
		})
	}
	wg.Wait()
	require.Len(t, bodies, 1, "every accepted answer is the same order")
	for status := range statuses {
		require.Contains(t, []int{http.StatusAccepted, http.StatusConflict}, status, "202 or 409 while the first is in flight")
	}
	require.Equal(t, int64(1), countRows(t, s.env, "orders"))
	require.Equal(t, int64(1), countRows(t, s.env, "services"))
	var id string
	require.NoError(t, s.env.App.DB.Gorm.Table("orders").Select("id").Take(&id).Error)
	done := waitOrder(t, s.admin, uuid.MustParse(id))
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.Equal(t, customersBefore+1, s.vendor.CountTenants("customer"), "one tenant")
}

func TestOrderRefusals(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, token := s.plan(t, planOpts{})
	_, quantityToken := s.plan(t, planOpts{quantity: true})
	retiredID, retiredToken := s.plan(t, planOpts{})
	_, err := s.admin.UpdatePlanWithResponse(ctx, retiredID, nil, oapi.PlanUpdate{Status: ptr(oapi.PlanStatusRetired)})
	require.NoError(t, err)
	public := s.env.Client(t, "")
	held := newLogin()
	first := place(t, public, storefrontOrder(token, held))
	require.Equal(t, http.StatusAccepted, first.StatusCode(), string(first.Body))
	// An item the SP no longer has makes the plan's orders fail up front.
	_, itemsToken := s.plan(t, planOpts{})
	require.NoError(t, s.vendor.SetSPOfferingItems([]string{"pw_base_storage", "pw_base_servers"}))
	counts := func() [3]int64 {
		return [3]int64{countRows(t, s.env, "orders"), countRows(t, s.env, "services"), countRows(t, s.env, "customers")}
	}
	before := counts()
	tenantsBefore := s.vendor.CountTenants("customer")

	with := func(tok string, change func(*oapi.StorefrontOrderCreate)) oapi.StorefrontOrderCreate {
		b := storefrontOrder(tok, newLogin())
		change(&b)
		return b
	}
	none := func(*oapi.StorefrontOrderCreate) {}
	tests := []struct {
		name   string
		body   oapi.StorefrontOrderCreate
		key    bool
		status int
		code   string
	}{
		{"unknown token", with("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", none), true, http.StatusNotFound, "not_found"},
		{"retired plan", with(retiredToken, none), true, http.StatusGone, "offer_gone"},
		{"quantity on a plan without quantity", with(token, func(b *oapi.StorefrontOrderCreate) { b.Quantity = ptr(2) }), true, http.StatusUnprocessableEntity, "quantity_not_enabled"},
		{"quantity 0", with(quantityToken, func(b *oapi.StorefrontOrderCreate) { b.Quantity = ptr(0) }), true, http.StatusBadRequest, "validation_failed"},
		{"username taken here", with(token, func(b *oapi.StorefrontOrderCreate) { b.Username = held }), true, http.StatusConflict, "username_taken"},
		{"username taken at the vendor", with(token, func(b *oapi.StorefrontOrderCreate) { b.Username = "sp-admin" }), true, http.StatusConflict, "username_taken"},
		{"invalid username", with(token, func(b *oapi.StorefrontOrderCreate) { b.Username = "has spaces" }), true, http.StatusBadRequest, "validation_failed"},
		{"no customer", with(token, func(b *oapi.StorefrontOrderCreate) { b.Customer = nil }), true, http.StatusBadRequest, "validation_failed"},
		{"anonymous with a customer id", with(token, func(b *oapi.StorefrontOrderCreate) { b.Customer, b.CustomerId = nil, ptr(uuid.New()) }), true, http.StatusBadRequest, "validation_failed"},
		{"items the SP lacks", with(itemsToken, none), true, http.StatusUnprocessableEntity, "offering_items_not_available"},
		{"no Idempotency-Key", with(token, none), false, http.StatusBadRequest, "validation_failed"},
	}
	t.Run("refused", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				var res *oapi.PlaceStorefrontOrderResponse
				if tt.key {
					res = place(t, public, tt.body)
				} else {
					status, h, b := raw(t, "POST", s.env.Server.URL+"/v1/storefront/orders", "", "application/json",
						`{"token":"`+tt.body.Token+`","username":"`+tt.body.Username+`","customer":{"name":"N","email":"n@example.com"}}`)
					requireProblem(t, status, h, b, tt.status, tt.code)
					return
				}
				p := requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
				if tt.code == "offering_items_not_available" {
					require.Contains(t, p.Detail, "pw_base_workstations")
				}
			})
		}
	})
	require.Equal(t, before, counts(), "a refused order stores nothing")
	require.Equal(t, tenantsBefore, s.vendor.CountTenants("customer"), "and makes nothing at the vendor")

	// Cancelling: a pending order and its username are released, its first
	// invoice voided.
	cancel, err := s.admin.CancelOrderWithResponse(ctx, first.JSON202.Id, nil)
	require.NoError(t, err)
	require.Equal(t, oapi.OrderStatusCancelled, cancel.JSON200.Status)
	voided := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &first.JSON202.CustomerId})
	require.Len(t, voided, 1)
	require.Equal(t, oapi.InvoiceStatusVoid, voided[0].Status)
	again, err := s.admin.CancelOrderWithResponse(ctx, first.JSON202.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusConflict, again.StatusCode())
	avail, err := public.GetUsernameAvailabilityWithResponse(ctx, held)
	require.NoError(t, err)
	require.True(t, avail.JSON200.Available)

	// A plan that has services cannot be deleted; it can be retired.
	del, err := s.admin.DeletePlanWithResponse(ctx, planID, nil)
	require.NoError(t, err)
	requireProblem(t, del.StatusCode(), del.HTTPResponse.Header, del.Body, http.StatusConflict, "in_use")
}

func TestProvisioningFailsWithAReasonAndRetryResumes(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	// The vendor refuses to make the user: another try cannot fix that.
	s.vendor.SetFault(sim.Fault{Method: "POST", PathPrefix: "/api/2/users", Rate: 1, Status: http.StatusBadRequest})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	failed := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusFailed, failed.Status)
	require.Contains(t, *failed.FailureReason, "400")
	require.NotContains(t, *failed.FailureReason, "sp-secret")

	s.vendor.ClearFaults()
	retry, err := s.admin.RetryOrderWithResponse(ctx, failed.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, retry.StatusCode(), string(retry.Body))
	done := waitOrder(t, s.admin, failed.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.Equal(t, 1, s.vendor.CountTenants("customer"), "the retry used the tenant the failed run made")
}

func TestProvisioningThroughVendorFaults(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	usersBefore := s.vendor.CountUsers()
	for _, f := range []sim.Fault{
		{Rate: 0.08, Status: http.StatusInternalServerError},
		{Rate: 0.05, Status: http.StatusServiceUnavailable},
		{Rate: 0.04, Timeout: true},
		{Rate: 0.04, Drop: true},
		{Rate: 0.06, Status: http.StatusInternalServerError, AfterEffect: true},
	} {
		s.vendor.SetFault(f)
	}
	public := s.env.Client(t, "")
	var ids []uuid.UUID
	for range 3 {
		var res *oapi.PlaceStorefrontOrderResponse
		for range 10 { // placing checks at the vendor too; a storefront retries with its key
			res = place(t, public, storefrontOrder(token, newLogin()))
			if res.StatusCode() == http.StatusAccepted {
				break
			}
			require.Equal(t, http.StatusBadGateway, res.StatusCode(), string(res.Body))
		}
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		ids = append(ids, res.JSON202.Id)
	}
	for _, id := range ids {
		done := waitOrder(t, s.admin, id)
		require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	}
	require.Equal(t, 3, s.vendor.CountTenants("customer"), "one tenant per order")
	require.Equal(t, usersBefore+3, s.vendor.CountUsers(), "one user per order")
}

func TestCustomersSeeOnlyTheirOwnOrdersAndServices(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	custA, tokA := s.env.CustomerUser(t, nil)
	_, tokB := s.env.CustomerUser(t, nil)
	a, b := s.env.Client(t, tokA), s.env.Client(t, tokB)

	res := place(t, a, oapi.StorefrontOrderCreate{Token: token, Username: newLogin()})
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, custA, res.JSON202.CustomerId, "a customer orders for itself")
	done := waitOrder(t, a, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.NotNil(t, done.Password, "the ordering customer reads its password once")

	mine, err := a.CreateServiceSsoLinkWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, mine.StatusCode(), string(mine.Body))
	for name, status := range map[string]int{
		"order":    func() int { r, _ := b.GetOrderWithResponse(ctx, done.Id); return r.StatusCode() }(),
		"cancel":   func() int { r, _ := b.CancelOrderWithResponse(ctx, done.Id, nil); return r.StatusCode() }(),
		"service":  func() int { r, _ := b.GetServiceWithResponse(ctx, done.ServiceId); return r.StatusCode() }(),
		"sso link": func() int { r, _ := b.CreateServiceSsoLinkWithResponse(ctx, done.ServiceId); return r.StatusCode() }(),
		"reset":    func() int { r, _ := b.ResetServiceCredentialsWithResponse(ctx, done.ServiceId); return r.StatusCode() }(),
	} {
		require.Equal(t, http.StatusNotFound, status, name)
	}
	orders, err := b.ListOrdersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, orders.JSON200.Data)
	services, err := b.ListServicesWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, services.JSON200.Data)
	suspend, err := a.SuspendServiceWithResponse(ctx, done.ServiceId, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, suspend.StatusCode(), "customers do not suspend their own services")
	other, err := a.PlaceStorefrontOrderWithResponse(ctx, &oapi.PlaceStorefrontOrderParams{IdempotencyKey: uuid.NewString()},
		oapi.StorefrontOrderCreate{Token: token, Username: newLogin(), CustomerId: ptr(uuid.New())})
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, other.StatusCode(), "customers order only for themselves")
}

func TestTrialOrder(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{trial: true, autoApprove: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Equal(t, oapi.OrderStatusApproved, res.JSON202.Status, "a prepaid trial is approved at once")
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	svc, err := s.admin.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.True(t, svc.JSON200.FreeTrial)
	require.NotNil(t, svc.JSON200.TrialEndsAt)
	require.Nil(t, svc.JSON200.NextDueDate, "a trial has no due date")
	require.WithinDuration(t, s.env.Clock.Now().AddDate(0, 0, 30), *svc.JSON200.TrialEndsAt, time.Microsecond)
	mode, err := s.vc.GetPricing(ctx, *svc.JSON200.VendorTenantId)
	require.NoError(t, err)
	require.Equal(t, "trial", mode.Mode, "the tenant stays in trial mode")
}

var _ = apptest.Password

func TestProvisioningResumesAfterTheWorkerStops(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	usersBefore := s.vendor.CountUsers()
	// Making the user hangs, so the job is caught between steps.
	s.vendor.SetFault(sim.Fault{Method: "POST", PathPrefix: "/api/2/users", Rate: 1, Timeout: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	id := res.JSON202.Id
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, s.env.App.DB.Gorm.Table("order_steps").Where("order_id = ? AND step = 'offering_items_set'", id).Count(&n).Error)
		return n == 1
	}, 20*time.Second, 10*time.Millisecond)

	// The worker dies mid-job: its context is cancelled and it stops.
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	require.NoError(t, s.env.App.Jobs.Stop(stopped))
	o, err := s.admin.GetOrderWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapi.OrderStatusProvisioning, o.JSON200.Status)
	var tenantStep string
	for _, st := range o.JSON200.Steps {
		if st.Step == "tenant_created" {
			tenantStep = st.Detail
		}
	}
	require.NotEmpty(t, tenantStep)

	// Another instance takes the job up and finishes it.
	s.vendor.ClearFaults()
	other := apptest.Start(t, s.env.Cfg)
	jctx, stop := context.WithCancel(ctx)
	require.NoError(t, other.App.Jobs.Start(jctx))
	t.Cleanup(func() {
		stop()
		_ = other.App.Jobs.Stop(context.Background())
	})
	done := waitOrder(t, s.admin, id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	svc, err := s.admin.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, tenantStep, *svc.JSON200.VendorTenantId, "the tenant the first run made")
	require.Equal(t, 1, s.vendor.CountTenants("customer"))
	require.Equal(t, usersBefore+1, s.vendor.CountUsers())
}

func TestStorefrontOrderWithAnAPIKey(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	key, err := s.admin.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "storefront"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, key.StatusCode(), string(key.Body))
	shopKey := s.env.Client(t, key.JSON201.Secret)

	res := place(t, shopKey, storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	require.Nil(t, res.JSON202.StatusToken, "a key reads its orders with the key")
	done := waitOrder(t, shopKey, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)
	require.NotNil(t, done.Password, "the key placed it, so it reads the password once")
	svc, err := shopKey.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, svc.StatusCode())

	// The same customer orders again through the key, by id.
	again := place(t, shopKey, oapi.StorefrontOrderCreate{Token: token, Username: newLogin(), CustomerId: &done.CustomerId})
	require.Equal(t, http.StatusAccepted, again.StatusCode(), string(again.Body))
	require.Equal(t, done.CustomerId, again.JSON202.CustomerId)
	// A bad key is 401, not an anonymous order.
	bad := s.env.Client(t, "ak_bogus_key_value")
	refused := place(t, bad, storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusUnauthorized, refused.StatusCode())
}

func TestQuantityChangeReachesTheVendor(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, quantity: true})
	_, plainToken := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true})
	body := storefrontOrder(token, newLogin())
	body.Quantity = ptr(1)
	res := place(t, s.env.Client(t, ""), body)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	ch, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, nil, oapi.QuantityChange{Quantity: 3})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ch.StatusCode(), string(ch.Body))
	require.Equal(t, 3, ch.JSON200.Service.Quantity)
	require.Equal(t, int64(300), *ch.JSON200.Service.Quotas.StorageGb)
	require.Empty(t, ch.JSON200.Invoices, "post-paid: billed with the month")
	items, err := s.vc.OfferingItems(ctx, *ch.JSON200.Service.VendorTenantId)
	require.NoError(t, err)
	got := map[string]acronis.OfferingItem{}
	for _, it := range items {
		if it.Enabled() {
			got[it.Name] = it
		}
	}
	require.Equal(t, int64(300)<<30, *got["pw_base_storage"].Quota.Value, "1 x 100 GB -> 3 x 100 GB at the vendor")
	require.Equal(t, int64(30)<<30, *got["pw_base_storage"].Quota.Overage)
	require.Equal(t, int64(15), *got["pw_base_workstations"].Quota.Value)

	tests := []struct {
		name   string
		call   func() (int, http.Header, []byte)
		status int
		code   string
	}{
		{"the same quantity", func() (int, http.Header, []byte) {
			r, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, nil, oapi.QuantityChange{Quantity: 3})
			require.NoError(t, err)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}, http.StatusUnprocessableEntity, "quantity_unchanged"},
		{"a stale version", func() (int, http.Header, []byte) {
			r, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, &oapi.ChangeServiceQuantityParams{IfMatch: ptr(`"1"`)}, oapi.QuantityChange{Quantity: 2})
			require.NoError(t, err)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}, http.StatusPreconditionFailed, "version_mismatch"},
		{"zero", func() (int, http.Header, []byte) {
			r, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, nil, oapi.QuantityChange{Quantity: 0})
			require.NoError(t, err)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}, http.StatusBadRequest, "validation_failed"},
	}
	for _, tt := range tests {
		status, h, b := tt.call()
		requireProblem(t, status, h, b, tt.status, tt.code)
	}
	ops, err := s.admin.ListServiceOperationsWithResponse(ctx, done.ServiceId, nil)
	require.NoError(t, err)
	require.Len(t, ops.JSON200.Data, 1, "refused changes record no vendor work")
	require.Equal(t, oapi.ServiceOperationKindQuantity, ops.JSON200.Data[0].Kind)
	require.Equal(t, oapi.ServiceOperationStatusSucceeded, ops.JSON200.Data[0].Status)
	again, err := s.admin.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, 3, again.JSON200.Quantity, "and change nothing")

	plain := place(t, s.env.Client(t, ""), storefrontOrder(plainToken, newLogin()))
	require.Equal(t, http.StatusAccepted, plain.StatusCode(), string(plain.Body))
	pdone := waitOrder(t, s.admin, plain.JSON202.Id)
	no, err := s.admin.ChangeServiceQuantityWithResponse(ctx, pdone.ServiceId, nil, oapi.QuantityChange{Quantity: 2})
	require.NoError(t, err)
	requireProblem(t, no.StatusCode(), no.HTTPResponse.Header, no.Body, http.StatusUnprocessableEntity, "quantity_not_enabled")
}

func TestPlanChangeReachesTheVendor(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{autoApprove: true})
	bigger, _ := s.plan(t, planOpts{autoApprove: true, storageGB: 250})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})[0]
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first.Id, first.Total.Amount).StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	ch, err := s.admin.ChangeServicePlanWithResponse(ctx, done.ServiceId, nil, oapi.PlanChange{PlanId: bigger})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ch.StatusCode(), string(ch.Body))
	require.Equal(t, bigger, ch.JSON200.Service.PlanId)
	require.Equal(t, int64(250), *ch.JSON200.Service.Quotas.StorageGb)
	items, err := s.vc.OfferingItems(ctx, *ch.JSON200.Service.VendorTenantId)
	require.NoError(t, err)
	for _, it := range items {
		if it.Name == "pw_base_storage" {
			require.Equal(t, int64(250)<<30, *it.Quota.Value, "the new plan's quota at the vendor")
		}
	}
	same, err := s.admin.ChangeServicePlanWithResponse(ctx, done.ServiceId, nil, oapi.PlanChange{PlanId: bigger})
	require.NoError(t, err)
	requireProblem(t, same.StatusCode(), same.HTTPResponse.Header, same.Body, http.StatusUnprocessableEntity, "plan_unchanged")
}
