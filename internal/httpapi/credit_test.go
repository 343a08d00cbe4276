package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// at moves the platform clock to a fixed time and logs the shop's admin in
// again (tokens are checked against the same clock).
func (s *shop) at(t *testing.T, when string) {
	t.Helper()
	v, err := time.Parse(time.RFC3339, when)
	require.NoError(t, err)
	s.env.Clock.Set(v)
	s.admin, _ = s.env.Admin(t)
}

func creditsOf(cs []oapi.ServiceCredit) map[string]string {
	out := map[string]string{}
	for _, c := range cs {
		out[string(c.Party)] = c.Amount.Amount
	}
	return out
}

func balancesOf(t *testing.T, bs *[]oapi.CreditBalance) map[string]string {
	t.Helper()
	require.NotNil(t, bs, "credit_balances is shown")
	out := map[string]string{}
	for _, b := range *bs {
		require.Equal(t, "USD", b.Balance.Currency)
		out[string(b.Issuer.Type)+" "+b.Issuer.Id.String()] = b.Balance.Amount
	}
	return out
}

// A partner sale moved to a cheaper plan, then to a longer term at a price
// below the unused days: both responses list the credit kept for the
// customer (at end price) and the partner (at cost), and the partner shows
// its credit with the SP's venture.
func TestPlanAndTermChangesListTheirCredits(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	s.at(t, "2027-01-31T10:00:00Z")
	planID, _ := s.plan(t, planOpts{partnerVisible: true, autoApprove: true})
	liteID, _ := s.plan(t, planOpts{partnerVisible: true, autoApprove: true})
	pr, err := s.admin.SetPlanPricingWithResponse(ctx, liteID, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "4.00"), cycle(oapi.Annually, "1.00")))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, pr.StatusCode(), string(pr.Body))
	p, partner := s.activePartner(t)
	for _, id := range []uuid.UUID{planID, liteID} {
		r, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, p.Id, id, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("20")})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
		r, err = partner.SetPartnerPlanPricingWithResponse(ctx, p.Id, id, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("50")})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), string(r.Body))
	}
	res, err := partner.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: planID, Frequency: oapi.Monthly, Username: newLogin(),
		Customer: &oapi.NewCustomer{Name: "C", Email: oapiEmail(uuid.NewString() + "@example.com")}})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
	require.Len(t, first, 1)
	require.Equal(t, "12.00", first[0].Total.Amount, "10.00 less 20% plus 50%")
	require.Equal(t, http.StatusCreated, pay(t, partner, first[0].Id, "12.00").StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	// 31 Jan to 27 Feb is 28 days; on 14 Feb 14 are left. Down to 4.00 (cost 3.20, end 4.80):
	// the customer 12.00 x 14/28 = 6.00 unused, 2.40 charged, 3.60 kept; the partner 4.00 unused, 1.60 charged, 2.40 kept.
	s.at(t, "2027-02-14T10:00:00Z")
	down, err := s.admin.ChangeServicePlanWithResponse(ctx, done.ServiceId, nil, oapi.PlanChange{PlanId: liteID})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, down.StatusCode(), string(down.Body))
	require.Equal(t, map[string]string{"customer": "3.60", "partner": "2.40"}, creditsOf(down.JSON200.Credits))
	for _, c := range down.JSON200.Credits {
		require.NotEmpty(t, c.Reason)
	}

	// To annually at 1.00 (cost 0.80, end 1.20), the same day: 4.80 x 14/28 = 2.40 unused pays 1.20 and 1.20 is kept;
	// the partner's 1.60 pays 0.80 and 0.80 is kept.
	term, err := s.admin.ChangeServiceTermWithResponse(ctx, done.ServiceId, nil, oapi.TermChange{Frequency: oapi.Annually})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, term.StatusCode(), string(term.Body))
	require.Equal(t, map[string]string{"customer": "1.20", "partner": "0.80"}, creditsOf(term.JSON200.Credits))
	for _, inv := range term.JSON200.Invoices {
		require.Equal(t, "0.00", inv.Total.Amount, "the unused days pay the new term")
	}

	c, err := s.admin.GetCustomerWithResponse(ctx, res.JSON202.CustomerId)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, c.StatusCode(), string(c.Body))
	require.Equal(t, map[string]string{"partner " + p.Id.String(): "4.80"}, balancesOf(t, c.JSON200.CreditBalances), "3.60 + 1.20, owed by the partner")
	got, err := s.admin.GetPartnerWithResponse(ctx, p.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
	require.Equal(t, map[string]string{"venture " + s.chain.venture.String(): "3.20"}, balancesOf(t, got.JSON200.CreditBalances), "2.40 + 0.80, owed by the SP")
	list, err := s.admin.ListPartnersWithResponse(ctx, nil)
	require.NoError(t, err)
	for _, lp := range list.JSON200.Data {
		require.Nil(t, lp.CreditBalances, "only on the single partner")
	}
}

// Credit from a quantity cut is the customer's: shown on the customer, kept
// when the service is terminated, and taken off the customer's next invoice
// from the same issuer for another service.
func TestCreditOfAQuantityCutOutlivesItsService(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	s.at(t, "2027-01-31T10:00:00Z")
	_, token := s.plan(t, planOpts{quantity: true, autoApprove: true})
	otherID, _ := s.plan(t, planOpts{})
	body := storefrontOrder(token, newLogin())
	body.Quantity = ptr(3)
	res := place(t, s.env.Client(t, ""), body)
	require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
	cust := res.JSON202.CustomerId
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &cust})
	require.Len(t, first, 1)
	require.Equal(t, "30.00", first[0].Total.Amount)
	require.Equal(t, http.StatusCreated, pay(t, s.admin, first[0].Id, "30.00").StatusCode())
	done := waitOrder(t, s.admin, res.JSON202.Id)
	require.Equal(t, oapi.OrderStatusCompleted, done.Status, "failure: %v", done.FailureReason)

	// 3 -> 1 on 14 Feb, 14 of 28 days left: 10.00 x 2 x 14/28 = 10.00.
	s.at(t, "2027-02-14T10:00:00Z")
	cut, err := s.admin.ChangeServiceQuantityWithResponse(ctx, done.ServiceId, nil, oapi.QuantityChange{Quantity: 1})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, cut.StatusCode(), string(cut.Body))
	require.Empty(t, cut.JSON200.Invoices)
	require.Equal(t, map[string]string{"customer": "10.00"}, creditsOf(cut.JSON200.Credits))
	venture := "venture " + s.chain.venture.String()
	balances := func() map[string]string {
		t.Helper()
		c, err := s.admin.GetCustomerWithResponse(ctx, cust)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, c.StatusCode(), string(c.Body))
		return balancesOf(t, c.JSON200.CreditBalances)
	}
	require.Equal(t, map[string]string{venture: "10.00"}, balances())

	term, err := s.admin.TerminateServiceWithResponse(ctx, done.ServiceId, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, term.StatusCode(), string(term.Body))
	require.Equal(t, oapi.ServiceStatusTerminated, term.JSON200.Status)
	require.Equal(t, map[string]string{venture: "10.00"}, balances(), "kept when its service ends")

	// Another service from the same venture: its first period (10.00) is paid by the credit.
	again, err := s.admin.CreateOrderWithResponse(ctx, nil, oapi.OrderCreate{PlanId: otherID, Frequency: oapi.Monthly, Username: newLogin(), CustomerId: &cust})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, again.StatusCode(), string(again.Body))
	var next *oapi.Invoice
	for _, inv := range invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &cust}) {
		if inv.Id != first[0].Id {
			require.Nil(t, next, "one new invoice")
			next = &inv
		}
	}
	require.NotNil(t, next)
	full, err := s.admin.GetInvoiceWithResponse(ctx, next.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, full.StatusCode(), string(full.Body))
	lines := *full.JSON200.Lines
	require.Len(t, lines, 2)
	require.Equal(t, oapi.InvoiceLineKindRecurring, lines[0].Kind)
	require.Equal(t, "10.00", lines[0].Amount.Amount)
	require.Equal(t, oapi.InvoiceLineKindCredit, lines[1].Kind)
	require.Equal(t, "-10.00", lines[1].Amount.Amount)
	require.Equal(t, "0.00", full.JSON200.Total.Amount)
	require.Equal(t, oapi.InvoiceStatusPaid, full.JSON200.Status, "settled by the credit")
	require.Empty(t, balances(), "used up")
}
