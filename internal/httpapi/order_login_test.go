package httpapi_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// The anonymous buyer's status read tells, once the order is done, where
// and as whom to sign in, not just the password.
func TestStorefrontOrderLogin(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{})
	public := s.env.Client(t, "")
	login := newLogin()
	placed := place(t, public, storefrontOrder(token, login))
	require.Equal(t, http.StatusAccepted, placed.StatusCode(), string(placed.Body))
	o := placed.JSON202
	require.Nil(t, o.Login, "nothing to sign in to before the order is done")

	read := func(t *testing.T) oapi.Order {
		t.Helper()
		res, err := public.GetStorefrontOrderWithResponse(ctx, o.Id, &oapi.GetStorefrontOrderParams{Token: *o.StatusToken})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
		return *res.JSON200
	}
	pending := read(t)
	require.Equal(t, oapi.OrderStatusPending, pending.Status)
	require.Nil(t, pending.Login, "a pending order has no login yet")

	approved, err := s.admin.ApproveOrderWithResponse(ctx, o.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, approved.StatusCode(), string(approved.Body))
	require.Equal(t, oapi.OrderStatusCompleted, waitOrder(t, s.admin, o.Id).Status)

	// Reads in this order: the admin's does not spend the password.
	tests := []struct {
		name         string
		read         func(t *testing.T) oapi.Order
		wantPassword bool
		wantText     string
	}{
		{"an admin's read", func(t *testing.T) oapi.Order {
			res, err := s.admin.GetOrderWithResponse(ctx, o.Id)
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
			return *res.JSON200
		}, false, "with the password shown on the first read of this order"},
		{"the buyer's first read", read, true, "with the password in this answer. It is shown only once"},
		{"the buyer's next read", read, false, "with the password shown on the first read of this order"},
	}
	for _, tt := range tests {
		// Sequential: each read depends on the one before.
		t.Run(tt.name, func(t *testing.T) {
			got := tt.read(t)
			require.NotNil(t, got.Login, "a completed order says how to sign in")
			require.Equal(t, s.vendor.URL, got.Login.PortalUrl, "the portal is the plan's datacenter")
			require.Equal(t, login, got.Login.Username)
			require.Contains(t, got.Login.Instructions, "Sign in at "+s.vendor.URL+" as "+login)
			require.Contains(t, got.Login.Instructions, tt.wantText)
			require.Equal(t, tt.wantPassword, got.Password != nil)
		})
	}
}
