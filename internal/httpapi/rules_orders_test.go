package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/httpapi/oapi"
	"github.com/acronis-platform/platform/internal/partner"
)

// Each order below breaks one rule about who the order is for and nothing
// else: it is refused with its status, code and field, and nothing is
// stored (orders, services, customers, invoices) or made at the vendor.
func TestOrderCustomerRules(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	planID, token := s.plan(t, planOpts{autoApprove: true, partnerVisible: true, model: oapi.BillingModelPostpaidFixed})

	direct := s.env.NewCustomer(t, nil)
	directCustomer, err := s.admin.GetCustomerWithResponse(ctx, direct)
	require.NoError(t, err)
	_, directToken := s.env.CustomerUser(t, &direct)
	closed := s.env.NewCustomer(t, nil)
	cl, err := s.admin.UpdateCustomerWithResponse(ctx, closed, nil, oapi.CustomerUpdate{Status: ptr(oapi.CustomerStatusClosed)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, cl.StatusCode(), string(cl.Body))
	reseller, _ := s.activePartner(t)
	partnerCustomer := s.env.NewCustomer(t, &reseller.Id)
	_, partnerCustomerToken := s.env.CustomerUser(t, &partnerCustomer)
	// Partners whose vendor accounts are still being made: one has no
	// tenant yet, the other its tenant but not its vendor admin.
	provisioning := func(tenant *string) uuid.UUID {
		id := uuid.New()
		now := s.env.Clock.Now()
		require.NoError(t, s.env.App.DB.Gorm.Create(&partner.Partner{ID: id, Name: "Partner " + id.String()[:8], Email: id.String() + "@partner.example",
			VendorLogin: "p-" + id.String(), Status: partner.StatusProvisioning, VendorTenantID: tenant, Version: 1, CreatedAt: now, UpdatedAt: now}).Error)
		return s.env.NewCustomer(t, &id)
	}
	noTenantCustomer := provisioning(nil)
	halfMadeCustomer := provisioning(ptr("tenant-" + uuid.NewString()))

	storefront := func(c *oapi.ClientWithResponses, body oapi.StorefrontOrderCreate) func() (int, http.Header, []byte) {
		return func() (int, http.Header, []byte) {
			r := place(t, c, body)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}
	}
	order := func(customer uuid.UUID) func() (int, http.Header, []byte) {
		return func() (int, http.Header, []byte) {
			r, err := s.admin.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &customer})
			require.NoError(t, err)
			return r.StatusCode(), r.HTTPResponse.Header, r.Body
		}
	}
	existing := storefrontOrder(token, newLogin())
	existing.Customer.Email = directCustomer.JSON200.Email
	forSomeoneElse := storefrontOrder(token, newLogin())
	asItself := oapi.StorefrontOrderCreate{Token: token, Username: newLogin()}

	tests := []struct {
		name   string
		do     func() (int, http.Header, []byte)
		status int
		code   string
		field  string
	}{
		{"a closed customer", order(closed), http.StatusUnprocessableEntity, "customer_closed", "customer_id"},
		{"new customer details with a customer's email", storefront(s.env.Client(t, ""), existing), http.StatusConflict, "customer_exists", "customer.email"},
		{"a customer ordering for a new customer", storefront(s.env.Client(t, directToken), forSomeoneElse), http.StatusForbidden, "customer_not_allowed", ""},
		{"a partner's customer on the SP's offer", storefront(s.env.Client(t, partnerCustomerToken), asItself), http.StatusUnprocessableEntity, "offer_of_another_seller", ""},
		{"a partner without its vendor tenant yet", order(noTenantCustomer), http.StatusConflict, "partner_not_active", ""},
		{"a partner with its tenant, not yet active", order(halfMadeCustomer), http.StatusConflict, "partner_not_active", ""},
	}
	counts := func() [4]int64 {
		return [4]int64{countRows(t, s.env, "orders"), countRows(t, s.env, "services"), countRows(t, s.env, "customers"), countRows(t, s.env, "invoices")}
	}
	before, tenants := counts(), s.vendor.CountTenants("customer")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, header, body := tt.do()
			p := requireProblem(t, status, header, body, tt.status, tt.code)
			requireField(t, p, tt.field)
			require.Equal(t, before, counts(), "nothing stored")
		})
	}
	require.Equal(t, tenants, s.vendor.CountTenants("customer"), "nothing made at the vendor")

	// Without the fault each order goes through.
	status, _, body := storefront(s.env.Client(t, directToken), asItself)()
	require.Equal(t, http.StatusAccepted, status, "the customer orders for itself: %s", body)
	status, _, body = order(partnerCustomer)()
	require.Equal(t, http.StatusAccepted, status, "an active partner's customer: %s", body)
	reopen, err := s.admin.UpdateCustomerWithResponse(ctx, closed, nil, oapi.CustomerUpdate{Status: ptr(oapi.CustomerStatusActive)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, reopen.StatusCode(), string(reopen.Body))
	status, _, body = order(closed)()
	require.Equal(t, http.StatusAccepted, status, "the customer reopened: %s", body)
}
