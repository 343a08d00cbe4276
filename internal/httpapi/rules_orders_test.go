package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
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

// Partner prices are rounded per unit, half away from zero, before the
// quantity: cost = round2(price x (1 - discount)), end price = round2(cost
// x (1 + markup)). Each case lands on half a cent where half-to-even would
// round down, and a partner's order of two units bills the rounded unit
// prices times two on both bills.
func TestPartnerPriceRounding(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	p, partner := s.activePartner(t)
	tests := []struct {
		name, price, cost, end    string
		customerLine, partnerLine string
	}{
		// 10.05 x 0.5 = 5.025 -> 5.03; 5.03 x 1.5 = 7.545 -> 7.55
		{"half a cent in the cost and the end price", "10.05", "5.03", "7.55", "15.10", "10.06"},
		// 2.06 x 0.5 = 1.03; 1.03 x 1.5 = 1.545 -> 1.55
		{"half a cent in the end price", "2.06", "1.03", "1.55", "3.10", "2.06"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			planID, _ := s.plan(t, planOpts{partnerVisible: true, quantity: true, cycles: []oapi.PlanCycle{cycle(oapi.Monthly, tt.price)}})
			d, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("50")})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, d.StatusCode(), string(d.Body))
			m, err := partner.SetPartnerPlanPricingWithResponse(ctx, p.Id, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("50")})
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, m.StatusCode(), string(m.Body))

			listed := partnerPlan(t, s.admin, p.Id, planID).Prices[0]
			require.Equal(t, tt.cost, listed.Cost.Amount)
			require.Equal(t, tt.end, listed.EndPrice.Amount)
			offer, err := s.env.Client(t, "").GetStorefrontOfferWithResponse(ctx, tokens(t, s.admin, planID, p.Id)[oapi.Monthly])
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, offer.StatusCode(), string(offer.Body))
			require.Equal(t, tt.end, offer.JSON200.Price.Amount)

			login := newLogin()
			o, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: login, Quantity: ptr(2),
				Customer: &oapi.NewCustomer{Name: "Rounding " + login, Email: oapiEmail(login + "@example.com")}})
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, o.StatusCode(), string(o.Body))
			require.Equal(t, tt.end, o.JSON202.UnitPrice.Amount)
			bills := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{ServiceId: &o.JSON202.ServiceId})
			require.Len(t, bills, 2, "the customer's bill and the partner's")
			lines := map[string]string{}
			for _, b := range bills {
				inv, err := s.admin.GetInvoiceWithResponse(ctx, b.Id)
				require.NoError(t, err)
				require.Len(t, *inv.JSON200.Lines, 1)
				line := (*inv.JSON200.Lines)[0]
				who := "partner"
				if inv.JSON200.CustomerId != nil {
					who = "customer"
				}
				lines[who] = line.UnitPrice.Amount + " x " + line.Quantity + " = " + line.Amount.Amount
			}
			require.Equal(t, map[string]string{
				"customer": tt.end + " x 2 = " + tt.customerLine,
				"partner":  tt.cost + " x 2 = " + tt.partnerLine,
			}, lines)
		})
	}
}
