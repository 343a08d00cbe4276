package httpapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
)

// activePlan makes an active plan (no module) priced per cycle.
func activePlan(t *testing.T, admin *oapi.ClientWithResponses, partnerVisible bool, cycles ...oapi.PlanCycle) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan(uniq("Plan"), partnerVisible))
	require.NoError(t, err)
	res, err := admin.SetPlanPricingWithResponse(ctx, plan.JSON201.Id, pricing(oapi.BillingModelPrepaid, cycles...))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return plan.JSON201.Id
}

func withFee(c oapi.PlanCycle, fee string) oapi.PlanCycle {
	c.SetupFee = &oapi.Money{Amount: fee, Currency: "USD"}
	return c
}

func partnerPlan(t *testing.T, c *oapi.ClientWithResponses, partnerID, planID uuid.UUID) oapi.PartnerPlan {
	t.Helper()
	res, err := c.ListPartnerPlansWithResponse(context.Background(), partnerID, &oapi.ListPartnerPlansParams{Limit: ptr(200)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	for _, p := range res.JSON200.Data {
		if p.PlanId == planID {
			return p
		}
	}
	require.Failf(t, "plan not listed", "%s", planID)
	return oapi.PartnerPlan{}
}

func TestPartnerPrices(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	partnerID, tok := env.PartnerUser(t, nil)
	partner := env.Client(t, tok)
	planID := activePlan(t, admin, true, withFee(cycle(oapi.Monthly, "9.99"), "5.00"), cycle(oapi.Annually, "100.00"))
	hidden := activePlan(t, admin, false, cycle(oapi.Monthly, "1.00"))

	// Before any terms the partner pays and charges the SP's price.
	p := partnerPlan(t, partner, partnerID, planID)
	require.Equal(t, int64(0), p.PricingVersion)
	require.Equal(t, "9.99", p.Prices[0].Cost.Amount)
	require.Equal(t, "9.99", p.Prices[0].EndPrice.Amount)
	require.NotNil(t, p.Prices[0].OrderUrl, "a partner-visible plan has the partner's order URL")
	list, err := partner.ListPartnerPlansWithResponse(ctx, partnerID, &oapi.ListPartnerPlansParams{Limit: ptr(200)})
	require.NoError(t, err)
	for _, pp := range list.JSON200.Data {
		require.NotEqual(t, hidden, pp.PlanId, "plans that are not partner-visible are not listed")
	}

	// The SP sets the discount, the partner its markup.
	d, err := admin.SetPartnerPlanPricingWithResponse(ctx, partnerID, planID, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("12.5")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, d.StatusCode(), string(d.Body))
	m, err := partner.SetPartnerPlanPricingWithResponse(ctx, partnerID, planID, &oapi.SetPartnerPlanPricingParams{IfMatch: ptr(`"1"`)},
		oapi.PartnerPlanPricing{MarkupPercent: ptr("33.3333")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, m.StatusCode(), string(m.Body))
	got := m.JSON200
	require.Equal(t, "12.5", got.DiscountPercent, "the partner's change keeps the SP's discount")
	require.Equal(t, int64(2), got.PricingVersion)
	monthly := got.Prices[0]
	require.Equal(t, oapi.Monthly, monthly.Frequency)
	require.Equal(t, "9.99", monthly.SpPrice.Amount)
	require.Equal(t, "8.74", monthly.Cost.Amount, "9.99 x 0.875 = 8.74125, rounded half away from zero")
	require.Equal(t, "11.65", monthly.EndPrice.Amount, "8.74 x 1.333333 = 11.6533")
	require.Equal(t, "4.38", monthly.SetupFeeCost.Amount, "5.00 x 0.875 = 4.375 -> 4.38")
	require.Equal(t, "5.84", monthly.EndSetupFee.Amount, "4.38 x 1.333333 = 5.8399986 -> 5.84")
	require.Equal(t, "87.50", got.Prices[1].Cost.Amount)
	require.Equal(t, "116.67", got.Prices[1].EndPrice.Amount)

	// The partner's order URL sells at its end price; the SP's at the SP's.
	offer, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, monthly.OrderUrl.Token)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, offer.StatusCode(), string(offer.Body))
	require.Equal(t, "11.65", offer.JSON200.Price.Amount)
	require.Equal(t, "5.84", offer.JSON200.SetupFee.Amount)
	require.Equal(t, partnerID, *offer.JSON200.PartnerId)
	sp := tokens(t, admin, planID)
	spOffer, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, sp[oapi.Monthly])
	require.NoError(t, err)
	require.Equal(t, "9.99", spOffer.JSON200.Price.Amount)
	require.Nil(t, spOffer.JSON200.PartnerId)

	// A plan that stops being partner-visible stops selling through partners.
	_, err = admin.UpdatePlanWithResponse(ctx, planID, nil, oapi.PlanUpdate{PartnerVisible: ptr(false)})
	require.NoError(t, err)
	gone, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, monthly.OrderUrl.Token)
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, gone.StatusCode())
	_, err = admin.UpdatePlanWithResponse(ctx, planID, nil, oapi.PlanUpdate{PartnerVisible: ptr(true)})
	require.NoError(t, err)
	back, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, monthly.OrderUrl.Token)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, back.StatusCode(), "the same token sells again")

	// A plan that turns partner-visible later gives the partner URLs then.
	late := activePlan(t, admin, false, cycle(oapi.Monthly, "3.00"))
	require.Empty(t, tokens(t, admin, late, partnerID))
	_, err = admin.UpdatePlanWithResponse(ctx, late, nil, oapi.PlanUpdate{PartnerVisible: ptr(true)})
	require.NoError(t, err)
	require.Len(t, tokens(t, admin, late, partnerID), 1)

	t.Run("rules", func(t *testing.T) {
		tests := []struct {
			name   string
			as     *oapi.ClientWithResponses
			plan   uuid.UUID
			body   oapi.PartnerPlanPricing
			status int
			code   string
		}{
			{"partner sets the discount", partner, planID, oapi.PartnerPlanPricing{DiscountPercent: ptr("50")}, http.StatusForbidden, "field_not_allowed"},
			{"admin sets the markup", admin, planID, oapi.PartnerPlanPricing{MarkupPercent: ptr("5")}, http.StatusForbidden, "field_not_allowed"},
			{"admin sets the overage price", admin, planID, oapi.PartnerPlanPricing{OveragePricePerGb: &oapi.Money{Amount: "1.00", Currency: "USD"}}, http.StatusForbidden, "field_not_allowed"},
			{"discount over 100", admin, planID, oapi.PartnerPlanPricing{DiscountPercent: ptr("100.5")}, http.StatusUnprocessableEntity, "percent_out_of_range"},
			{"markup over 1000", partner, planID, oapi.PartnerPlanPricing{MarkupPercent: ptr("1000.01")}, http.StatusUnprocessableEntity, "percent_out_of_range"},
			{"negative markup", partner, planID, oapi.PartnerPlanPricing{MarkupPercent: ptr("-5")}, http.StatusBadRequest, "validation_failed"},
			{"markup too precise", partner, planID, oapi.PartnerPlanPricing{MarkupPercent: ptr("1.23456")}, http.StatusBadRequest, "validation_failed"},
			{"overage without hard quota", partner, planID, oapi.PartnerPlanPricing{OveragePricePerGb: &oapi.Money{Amount: "0.10", Currency: "USD"}}, http.StatusUnprocessableEntity, "overage_price_requires_hard_quota"},
			{"overage too precise", partner, planID, oapi.PartnerPlanPricing{OveragePricePerGb: &oapi.Money{Amount: "0.105", Currency: "USD"}}, http.StatusUnprocessableEntity, "amount_too_precise"},
			{"overage in another currency", partner, planID, oapi.PartnerPlanPricing{OveragePricePerGb: &oapi.Money{Amount: "0.10", Currency: "EUR"}}, http.StatusUnprocessableEntity, "currency_mismatch"},
			{"partner prices a hidden plan", partner, hidden, oapi.PartnerPlanPricing{MarkupPercent: ptr("5")}, http.StatusNotFound, "not_found"},
			{"admin discounts a hidden plan", admin, hidden, oapi.PartnerPlanPricing{DiscountPercent: ptr("5")}, http.StatusUnprocessableEntity, "plan_not_partner_visible"},
			{"unknown plan", admin, uuid.New(), oapi.PartnerPlanPricing{DiscountPercent: ptr("5")}, http.StatusNotFound, "not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				res, err := tt.as.SetPartnerPlanPricingWithResponse(ctx, partnerID, tt.plan, nil, tt.body)
				require.NoError(t, err)
				requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, tt.status, tt.code)
			})
		}
	})
	after := partnerPlan(t, admin, partnerID, planID)
	require.Equal(t, int64(2), after.PricingVersion, "refused changes change nothing")
	require.Equal(t, "11.65", after.Prices[0].EndPrice.Amount)

	// Two admins with the same version: one wins, the other gets 412.
	var wg sync.WaitGroup
	codes := make(chan int, 2)
	for _, pct := range []string{"10", "20"} {
		wg.Go(func() {
			res, err := admin.SetPartnerPlanPricingWithResponse(ctx, partnerID, planID, &oapi.SetPartnerPlanPricingParams{IfMatch: ptr(`"2"`)},
				oapi.PartnerPlanPricing{DiscountPercent: ptr(pct)})
			require.NoError(t, err)
			codes <- res.StatusCode()
		})
	}
	wg.Wait()
	close(codes)
	var got2 []int
	for c := range codes {
		got2 = append(got2, c)
	}
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, got2)
}

func TestPartnerOveragePrice(t *testing.T) {
	t.Parallel()
	vendor := apptest.StartVendor(t)
	vc, err := acronis.New(acronis.Config{BaseURL: vendor.URL, ClientID: "sp-client", ClientSecret: "sp-secret"})
	require.NoError(t, err)
	locs, err := vc.TenantLocations(context.Background(), vendor.SPTenantID())
	require.NoError(t, err)
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	partnerID, tok := env.PartnerUser(t, nil)
	partner := env.Client(t, tok)

	c := newChain(t, admin, oapi.Acronis)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan(uniq("Overage"), true))
	require.NoError(t, err)
	id := plan.JSON201.Id
	ms, err := admin.SetPlanModuleSettingsWithResponse(ctx, id, oapi.ModuleSettingsInput{DatacenterUrl: vendor.URL, ClientId: "sp-client",
		ClientSecret: ptr("sp-secret"), StorageQuotaGb: ptr(100), OverageQuotaGb: ptr(10), Edition: "pck_per_workload", BackupLocation: locs[0].ID})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ms.StatusCode(), string(ms.Body))
	body := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10.00"))
	body.OveragePricePerGb = &oapi.Money{Amount: "0.20", Currency: "USD"}
	pr, err := admin.SetPlanPricingWithResponse(ctx, id, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, pr.StatusCode(), string(pr.Body))

	_, err = admin.SetPartnerPlanPricingWithResponse(ctx, partnerID, id, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("50")})
	require.NoError(t, err)
	p := partnerPlan(t, partner, partnerID, id)
	require.Equal(t, "0.20", p.SpOveragePricePerGb.Amount)
	require.Equal(t, "0.10", p.OveragePricePerGb.Amount, "without its own, the partner passes the SP's on through its terms")

	set, err := partner.SetPartnerPlanPricingWithResponse(ctx, partnerID, id, nil, oapi.PartnerPlanPricing{
		MarkupPercent: ptr("20"), OveragePricePerGb: &oapi.Money{Amount: "0.15", Currency: "USD"}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, set.StatusCode(), string(set.Body))
	require.Equal(t, "0.15", set.JSON200.OveragePricePerGb.Amount)
	offer, err := env.Client(t, "").GetStorefrontOfferWithResponse(ctx, *ptrURL(set.JSON200))
	require.NoError(t, err)
	require.Equal(t, "6.00", offer.JSON200.Price.Amount, "10.00 less 50% plus 20%")
	require.Equal(t, "0.15", offer.JSON200.OveragePricePerGb.Amount)
}

func ptrURL(p *oapi.PartnerPlan) *string { return &p.Prices[0].OrderUrl.Token }

// A partner-visible plan the SP has set up at the vendor but not priced yet
// has no billing model and no prices in the partner's view.
func TestPartnerPlanNotYetPriced(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	p, err := s.admin.CreatePlanWithResponse(ctx, nil, s.chain.plan(uniq("Unpriced"), true))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, p.StatusCode(), string(p.Body))
	ms, err := s.admin.SetPlanModuleSettingsWithResponse(ctx, p.JSON201.Id, oapi.ModuleSettingsInput{DatacenterUrl: s.vendor.URL, ClientId: "sp-client",
		ClientSecret: ptr("sp-secret"), Edition: "pck_per_workload", BackupLocation: s.loc})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ms.StatusCode(), string(ms.Body))
	partner, _ := s.activePartner(t)
	res, err := s.admin.SetPartnerPlanPricingWithResponse(ctx, partner.Id, p.JSON201.Id, nil, oapi.PartnerPlanPricing{DiscountPercent: ptr("10")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	require.Nil(t, res.JSON200.BillingModel)
	require.Empty(t, res.JSON200.Prices)
	require.NotContains(t, string(res.Body), "billing_model")
}
