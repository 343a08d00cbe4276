package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
)

// tokens is a plan's order URLs by frequency: the SP's own, or with
// partner set, that partner's.
func tokens(t *testing.T, c *oapi.ClientWithResponses, plan uuid.UUID, partner ...uuid.UUID) map[oapi.BillingFrequency]string {
	t.Helper()
	res, err := c.ListPlanOrderUrlsWithResponse(context.Background(), plan)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	m := map[oapi.BillingFrequency]string{}
	for _, u := range res.JSON200.Data {
		if (len(partner) == 0) != (u.PartnerId == nil) || (u.PartnerId != nil && *u.PartnerId != partner[0]) {
			continue
		}
		m[u.Frequency] = u.Token
		require.Equal(t, "/v1/storefront/offers/"+u.Token, u.Url)
	}
	return m
}

func TestOrderURLsAndOffers(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	public := env.Client(t, "")
	ctx := context.Background()
	c := newChain(t, admin, oapi.None)
	plan, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Sold", true))
	require.NoError(t, err)
	id := plan.JSON201.Id
	require.Empty(t, tokens(t, admin, id), "a draft has no order URLs")

	_, err = admin.SetPlanPricingWithResponse(ctx, id, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "10"), cycle(oapi.Annually, "100")))
	require.NoError(t, err)
	first := tokens(t, admin, id)
	require.Len(t, first, 2)
	require.NotEqual(t, first[oapi.Monthly], first[oapi.Annually])

	offer, err := public.GetStorefrontOfferWithResponse(ctx, first[oapi.Annually])
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, offer.StatusCode(), string(offer.Body))
	require.Equal(t, "100.00", offer.JSON200.Price.Amount)
	require.Equal(t, "USD", offer.JSON200.Price.Currency)
	require.Equal(t, "Sold", offer.JSON200.PlanName)

	// Editing the pricing keeps tokens, adds one for a new frequency and
	// retires the one of a dropped frequency.
	_, err = admin.SetPlanPricingWithResponse(ctx, id, pricing(oapi.BillingModelPrepaid, cycle(oapi.Monthly, "11"), cycle(oapi.Quarterly, "30")))
	require.NoError(t, err)
	second := tokens(t, admin, id)
	require.Equal(t, first[oapi.Monthly], second[oapi.Monthly], "tokens are stable across edits")
	require.NotEmpty(t, second[oapi.Quarterly])
	m, err := public.GetStorefrontOfferWithResponse(ctx, second[oapi.Monthly])
	require.NoError(t, err)
	require.Equal(t, "11.00", m.JSON200.Price.Amount, "offers show the current price")

	partnerID := env.NewPartner(t)
	partner := env.Client(t, env.Login(t, env.NewUser(t, auth.RolePartner, &partnerID, nil)))
	own := tokens(t, partner, id, partnerID)
	require.Len(t, own, 2, "a partner has its own URLs of a partner-visible plan")
	require.Equal(t, own, tokens(t, admin, id, partnerID), "admins see them too")
	require.Empty(t, tokens(t, partner, id), "partners do not see the SP's own URLs")
	require.NotEqual(t, second[oapi.Monthly], own[oapi.Monthly])
	hidden, err := admin.CreatePlanWithResponse(ctx, nil, c.plan("Hidden", false))
	require.NoError(t, err)
	hres, err := partner.ListPlanOrderUrlsWithResponse(ctx, hidden.JSON201.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, hres.StatusCode())

	retire := oapi.PlanStatusRetired
	_, err = admin.UpdatePlanWithResponse(ctx, id, nil, oapi.PlanUpdate{Status: &retire})
	require.NoError(t, err)

	tests := []struct {
		name, token string
		status      int
		code        string
	}{
		{"dropped frequency", first[oapi.Annually], http.StatusGone, "offer_gone"},
		{"retired plan", second[oapi.Monthly], http.StatusGone, "offer_gone"},
		{"unknown token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", http.StatusNotFound, "not_found"},
		{"malformed token", "not/a$token", http.StatusBadRequest, "validation_failed"},
		{"short token", "abc", http.StatusBadRequest, "validation_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, h, body := raw(t, "GET", env.Server.URL+"/v1/storefront/offers/"+tt.token, "", "", "")
			if tt.name == "malformed token" {
				// a slash makes it another path altogether
				require.Contains(t, []int{http.StatusBadRequest, http.StatusNotFound}, status)
				return
			}
			requireProblem(t, status, h, body, tt.status, tt.code)
		})
	}
}
