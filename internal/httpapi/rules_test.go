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
	"github.com/acronis-platform/platform/internal/acronis/sim"
)

// moduleSettings are valid settings on the shop's vendor account.
func (s *shop) moduleSettings(soft, hard *int) oapi.ModuleSettingsInput {
	return oapi.ModuleSettingsInput{DatacenterUrl: s.vendor.URL, ClientId: "sp-client", ClientSecret: ptr("sp-secret"),
		StorageQuotaGb: soft, OverageQuotaGb: hard, Edition: "pck_per_workload", BackupLocation: s.loc}
}

// Saving pricing with quantity on a plan whose soft quota is unlimited is
// refused, and changes nothing.
func TestPricingRefusesQuantityOnAnUnlimitedQuota(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	p, err := s.admin.CreatePlanWithResponse(ctx, nil, s.chain.plan(uniq("Unlimited"), false))
	require.NoError(t, err)
	id := p.JSON201.Id
	ms, err := s.admin.SetPlanModuleSettingsWithResponse(ctx, id, s.moduleSettings(ptr(-1), nil))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ms.StatusCode(), string(ms.Body))

	withQuantity := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10.00"))
	withQuantity.EnableQuantity = ptr(true)
	res, err := s.admin.SetPlanPricingWithResponse(ctx, id, withQuantity)
	require.NoError(t, err)
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, "quantity_requires_finite_quota")
	got, err := s.admin.GetPlanPricingWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, got.StatusCode(), "no pricing was stored")
	plan, err := s.admin.GetPlanWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, oapi.PlanStatusDraft, plan.JSON200.Status)

	withQuantity.EnableQuantity = ptr(false)
	ok, err := s.admin.SetPlanPricingWithResponse(ctx, id, withQuantity)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ok.StatusCode(), "the same pricing without quantity is fine: %s", ok.Body)
}

// Module settings that drop the hard quota of a plan priced with an overage
// price are refused, and the stored settings stay.
func TestModuleSettingsKeepTheHardQuotaAnOveragePriceNeeds(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	p, err := s.admin.CreatePlanWithResponse(ctx, nil, s.chain.plan(uniq("Overage"), false))
	require.NoError(t, err)
	id := p.JSON201.Id
	ms, err := s.admin.SetPlanModuleSettingsWithResponse(ctx, id, s.moduleSettings(ptr(100), ptr(10)))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, ms.StatusCode(), string(ms.Body))
	priced := pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10.00"))
	priced.OveragePricePerGb = &oapi.Money{Amount: "0.10", Currency: "USD"}
	pr, err := s.admin.SetPlanPricingWithResponse(ctx, id, priced)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, pr.StatusCode(), string(pr.Body))

	res, err := s.admin.SetPlanModuleSettingsWithResponse(ctx, id, s.moduleSettings(ptr(100), nil))
	require.NoError(t, err)
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, "overage_price_requires_hard_quota")
	got, err := s.admin.GetPlanModuleSettingsWithResponse(ctx, id)
	require.NoError(t, err)
	require.Equal(t, 10, *got.JSON200.OverageQuotaGb, "the stored hard quota stays")
	// Without a soft quota there is no hard one either.
	res, err = s.admin.SetPlanModuleSettingsWithResponse(ctx, id, s.moduleSettings(nil, nil))
	require.NoError(t, err)
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, "overage_price_requires_hard_quota")
}

// Orders racing for one username, all past the checks before any is
// stored: one wins, the others are 409 username_taken (the unique key at
// insert decides), never a 500.
func TestConcurrentOrdersForOneUsername(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{model: oapi.BillingModelPostpaidFixed})
	// Every order waits at the vendor's username check, so all of them
	// have passed it (and the platform's) before the first is stored.
	s.vendor.SetFault(sim.Fault{Method: "GET", PathPrefix: "/api/2/users/check_login", Rate: 1, Latency: 300 * time.Millisecond})
	public := s.env.Client(t, "")
	login := newLogin()
	const n = 6
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	codes := map[string]int{}
	for range n {
		wg.Go(func() {
			body := storefrontOrder(token, login)
			body.Customer.Email = oapiEmail(uuid.NewString() + "@fabrikam.example")
			res, err := public.PlaceStorefrontOrderWithResponse(ctx, &oapi.PlaceStorefrontOrderParams{IdempotencyKey: uuid.NewString()}, body)
			require.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			statuses[res.StatusCode()]++
			if res.ApplicationproblemJSON409 != nil {
				codes[res.ApplicationproblemJSON409.Code]++
			}
		})
	}
	wg.Wait()
	require.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusConflict: n - 1}, statuses)
	require.Equal(t, map[string]int{"username_taken": n - 1}, codes)
	require.Equal(t, int64(1), countRows(t, s.env, "services"))
	require.Equal(t, int64(1), countRows(t, s.env, "orders"))
	require.Equal(t, int64(1), countRows(t, s.env, "customers"), "the losers' customers were rolled back with them")
}
