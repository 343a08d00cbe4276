package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// completedOrder waits for an order and requires it completed.
func completedOrder(t *testing.T, c *oapi.ClientWithResponses, o *oapi.Order) oapi.Order {
	t.Helper()
	require.NotNil(t, o)
	done := waitOrder(t, c, o.Id)
	reason := ""
	if done.FailureReason != nil {
		reason = *done.FailureReason
	}
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %s", reason)
	return done
}

// A customer may hold any number of services, each with its own vendor
// tenant: the same plan twice, another plan, prepaid and post-paid, sold
// directly and by a partner.
func TestCustomerHoldsManyServices(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	postpaid, postToken := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, partnerVisible: true})
	prepaid, _ := s.plan(t, planOpts{autoApprove: true})

	// Direct: the first order makes the customer, the rest reuse it.
	first := place(t, s.env.Client(t, ""), storefrontOrder(postToken, newLogin()))
	require.Equal(t, http.StatusAccepted, first.StatusCode(), string(first.Body))
	direct := first.JSON202.CustomerId
	done := []oapi.Order{completedOrder(t, s.admin, first.JSON202)}
	for _, plan := range []oapi.OrderCreate{
		{PlanId: postpaid, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &direct},
		{PlanId: postpaid, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &direct},
		{PlanId: prepaid, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &direct},
	} {
		res, err := s.admin.CreateOrderWithResponse(ctx, nil, plan)
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		if res.JSON202.Status == oapi.OrderStatusPending { // prepaid: approved on payment
			invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &direct, Status: ptr(oapi.InvoiceStatusUnpaid)})
			require.Len(t, invs, 1)
			paid := pay(t, s.admin, invs[0].Id, invs[0].Total.Amount)
			require.Equal(t, http.StatusCreated, paid.StatusCode(), string(paid.Body))
		}
		done = append(done, completedOrder(t, s.admin, res.JSON202))
	}

	// Through a partner: one customer of the partner, two services.
	p, partner := s.activePartner(t)
	_, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, postpaid, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("10")})
	require.NoError(t, err)
	pres, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: postpaid, Frequency: oapi.Monthly, Username: newLogin(),
		Customer: &oapi.NewCustomer{Name: "Fabrikam Partner Customer", Email: oapiEmail(newLogin() + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, pres.StatusCode(), string(pres.Body))
	viaPartner := completedOrder(t, partner, pres.JSON202)
	again, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: postpaid, Frequency: oapi.Monthly, Username: newLogin(),
		CustomerId: &viaPartner.CustomerId})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, again.StatusCode(), string(again.Body))
	partnerOrders := []oapi.Order{viaPartner, completedOrder(t, partner, again.JSON202)}

	// Every service is active on a tenant of its own, named after its
	// customer and itself.
	tenants := map[string]bool{}
	check := func(orders []oapi.Order, parent, customerName string) {
		for _, o := range orders {
			svc, err := s.admin.GetServiceWithResponse(ctx, o.ServiceId)
			require.NoError(t, err)
			require.Equal(t, oapi.ServiceStatusActive, svc.JSON200.Status)
			tn, err := s.vc.GetTenant(ctx, *svc.JSON200.VendorTenantId)
			require.NoError(t, err)
			require.Equal(t, parent, tn.ParentID)
			require.Equal(t, provisioning.TenantName(customerName, "svc", o.ServiceId.String()), tn.Name)
			require.False(t, tenants[tn.ID], "a tenant per service")
			tenants[tn.ID] = true
		}
	}
	cust, err := s.admin.GetCustomerWithResponse(ctx, direct)
	require.NoError(t, err)
	check(done, s.vendor.SPTenantID(), cust.JSON200.Name)
	check(partnerOrders, *p.VendorTenantId, "Fabrikam Partner Customer")
	require.Equal(t, 6, s.vendor.CountTenants("customer"))
	listed, err := s.admin.ListServicesWithResponse(ctx, &oapi.ListServicesParams{CustomerId: &direct})
	require.NoError(t, err)
	require.Len(t, listed.JSON200.Data, 4)
}

// A tenant the platform did not make holding the service's name fails the
// order with a reason a person can act on; once it is gone, a retry ends
// the order completed.
func TestForeignTenantOfTheSameNameFailsReadably(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed}) // approved by hand
	body := storefrontOrder(token, newLogin())
	res := place(t, s.env.Client(t, ""), body)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	o := res.JSON202
	name := provisioning.TenantName(body.Customer.Name, "svc", o.ServiceId.String())
	foreign, err := s.vc.CreateTenant(ctx, acronis.NewTenant{Name: name, Kind: acronis.KindCustomer, ParentID: s.vendor.SPTenantID(), InternalTag: "made-by-hand"})
	require.NoError(t, err)

	ap, err := s.admin.ApproveOrderWithResponse(ctx, o.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ap.StatusCode(), string(ap.Body))
	failed := waitOrder(t, s.admin, o.Id)
	require.Equal(t, oapi.OrderStatusFailed, failed.Status)
	require.NotNil(t, failed.FailureReason)
	require.Contains(t, *failed.FailureReason, `the vendor already has a tenant named "`+name+`"`)
	require.Contains(t, *failed.FailureReason, "rename or remove that tenant at the vendor, then retry")

	require.NoError(t, s.vc.DeleteTenant(ctx, foreign.ID))
	retry, err := s.admin.RetryOrderWithResponse(ctx, o.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, retry.StatusCode(), string(retry.Body))
	completedOrder(t, s.admin, o)
	require.Equal(t, 1, s.vendor.CountTenants("customer"))
}

// The smallest plan the platform lets an admin activate (no storage quota,
// no offering items) provisions: the vendor gets an empty item list.
func TestSmallestPlanProvisions(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed, autoApprove: true, bare: true})
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	done := completedOrder(t, s.admin, res.JSON202)
	svc, err := s.admin.GetServiceWithResponse(ctx, done.ServiceId)
	require.NoError(t, err)
	require.Equal(t, oapi.ServiceStatusActive, svc.JSON200.Status)
	require.Nil(t, svc.JSON200.Quotas.StorageGb)
	items, err := s.vc.OfferingItems(ctx, *svc.JSON200.VendorTenantId)
	require.NoError(t, err)
	for _, it := range items {
		require.False(t, it.Enabled(), it.Name)
	}
}
