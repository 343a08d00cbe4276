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

// TestPartnerIsolation sends partner A at everything of partner B's: every
// answer is 404, as if it did not exist, and nothing of B's changes.
func TestPartnerIsolation(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	ctx := context.Background()
	aID, aTok := env.PartnerUser(t, nil)
	a := env.Client(t, aTok)
	bID, bTok := env.PartnerUser(t, nil)
	b := env.Client(t, bTok)
	planID := activePlan(t, admin, true, cycle(oapi.Monthly, "10.00"))

	bUser := env.NewUser(t, auth.RolePartner, &bID, nil)
	bKey, err := b.CreateApiKeyWithResponse(ctx, nil, oapi.ApiKeyCreate{Name: "b's key"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bKey.StatusCode(), string(bKey.Body))
	bCustomer, err := b.CreateCustomerWithResponse(ctx, nil, oapi.CustomerCreate{Name: "B's customer", Email: oapiEmail(uuid.NewString() + "@b.example")})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, bCustomer.StatusCode(), string(bCustomer.Body))
	custID := bCustomer.JSON201.Id
	_, bCustTok := env.CustomerUser(t, &custID)
	_, err = b.SetPartnerPlanPricingWithResponse(ctx, bID, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("10")})
	require.NoError(t, err)

	tests := []struct {
		name string
		call func() (int, []byte)
	}{
		{"read partner", func() (int, []byte) {
			r, err := a.GetPartnerWithResponse(ctx, bID)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"list partner's plans", func() (int, []byte) {
			r, err := a.ListPartnerPlansWithResponse(ctx, bID, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"set partner's pricing", func() (int, []byte) {
			r, err := a.SetPartnerPlanPricingWithResponse(ctx, bID, planID, nil, oapi.PartnerPlanPricing{MarkupPercent: ptr("99")})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"read customer", func() (int, []byte) {
			r, err := a.GetCustomerWithResponse(ctx, custID)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"change customer", func() (int, []byte) {
			r, err := a.UpdateCustomerWithResponse(ctx, custID, nil, oapi.CustomerUpdate{Name: ptr("taken over")})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"read user", func() (int, []byte) {
			r, err := a.GetUserWithResponse(ctx, bUser.ID)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"change user", func() (int, []byte) {
			r, err := a.UpdateUserWithResponse(ctx, bUser.ID, nil, oapi.UserUpdate{Name: ptr("taken over")})
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"delete user", func() (int, []byte) {
			r, err := a.DeleteUserWithResponse(ctx, bUser.ID, nil)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"revoke api key", func() (int, []byte) {
			r, err := a.RevokeApiKeyWithResponse(ctx, bKey.JSON201.Id)
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
		{"B's customer reads B", func() (int, []byte) {
			r, err := env.Client(t, bCustTok).GetCustomerWithResponse(ctx, env.NewCustomer(t, &aID))
			require.NoError(t, err)
			return r.StatusCode(), r.Body
		}},
	}
	t.Run("matrix", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				status, body := tt.call()
				require.Equal(t, http.StatusNotFound, status, string(body))
				require.Contains(t, string(body), `"not_found"`)
			})
		}
	})

	// Lists show A only its own.
	customers, err := a.ListCustomersWithResponse(ctx, nil)
	require.NoError(t, err)
	for _, c := range customers.JSON200.Data {
		require.Equal(t, aID, *c.PartnerId)
	}
	filtered, err := a.ListCustomersWithResponse(ctx, &oapi.ListCustomersParams{PartnerId: &bID})
	require.NoError(t, err)
	require.Empty(t, filtered.JSON200.Data, "a filter cannot widen the scope")
	users, err := a.ListUsersWithResponse(ctx, nil)
	require.NoError(t, err)
	for _, u := range users.JSON200.Data {
		require.Equal(t, aID, *u.PartnerId)
	}
	keys, err := a.ListApiKeysWithResponse(ctx, nil)
	require.NoError(t, err)
	for _, k := range keys.JSON200.Data {
		require.NotEqual(t, bKey.JSON201.Id, k.Id)
	}
	partners, err := a.ListPartnersWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, partners.JSON200.Data, 1)
	urls, err := a.ListPlanOrderUrlsWithResponse(ctx, planID)
	require.NoError(t, err)
	for _, u := range urls.JSON200.Data {
		require.Equal(t, aID, *u.PartnerId, "a partner sees only its own order URLs")
	}

	// B's things are as they were.
	still, err := b.GetCustomerWithResponse(ctx, custID)
	require.NoError(t, err)
	require.Equal(t, "B's customer", still.JSON200.Name)
	pp := partnerPlan(t, b, bID, planID)
	require.Equal(t, "10", pp.MarkupPercent)
	u, err := b.GetUserWithResponse(ctx, bUser.ID)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, u.StatusCode())
}
