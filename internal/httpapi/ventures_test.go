package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
)

// A venture's invoice prefix is frozen once it has issued an invoice, a
// prefix any invoice used is never given again, and no venture may take a
// partner's prefix: numbers stay unique and gap-free whatever is edited.
func TestInvoicePrefixRules(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	ctx := context.Background()
	_, token := s.plan(t, planOpts{})
	venture, err := s.admin.GetVentureWithResponse(ctx, s.chain.venture)
	require.NoError(t, err)
	prefix := venture.JSON200.InvoicePrefix

	// Before any invoice, the prefix may change (and the old one is free).
	renamed := "R" + strings.ToUpper(uuid.NewString()[:6])
	before, err := s.admin.UpdateVentureWithResponse(ctx, s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &renamed})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, before.StatusCode(), string(before.Body))
	back, err := s.admin.UpdateVentureWithResponse(ctx, s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &prefix})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, back.StatusCode(), string(back.Body))
	unused, err := s.admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "Takes an unused prefix", InvoicePrefix: renamed})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, unused.StatusCode(), "a prefix no invoice used is free again: %s", unused.Body)

	// A prepaid order issues the venture's first invoice.
	order := func() string {
		res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
		require.Equal(t, http.StatusAccepted, res.StatusCode(), string(res.Body))
		invs := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &res.JSON202.CustomerId})
		require.Len(t, invs, 1)
		require.NotNil(t, invs[0].Number)
		return *invs[0].Number
	}
	year := s.env.App.Billing.Today().Year()
	require.Equal(t, fmt.Sprintf("%s-%d-%06d", prefix, year, 1), order())

	// Now the prefix is frozen.
	other := "Z" + strings.ToUpper(uuid.NewString()[:6])
	locked, err := s.admin.UpdateVentureWithResponse(ctx, s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &other})
	require.NoError(t, err)
	requireProblem(t, locked.StatusCode(), locked.HTTPResponse.Header, locked.Body, http.StatusConflict, "invoice_prefix_locked")
	same, err := s.admin.UpdateVentureWithResponse(ctx, s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &prefix, Name: ptr("Renamed venture")})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, same.StatusCode(), "the same prefix and a new name are fine: %s", same.Body)
	require.Equal(t, prefix, same.JSON200.InvoicePrefix)
	require.Equal(t, fmt.Sprintf("%s-%d-%06d", prefix, year, 2), order(), "the series goes on")

	// A prefix printed on an invoice is never given to anyone else, even
	// when its venture no longer carries it (a rename made before the rule).
	require.NoError(t, s.env.App.DB.Gorm.Exec("UPDATE ventures SET invoice_prefix = ? WHERE id = ?", other, s.chain.venture).Error)
	taken, err := s.admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "Wants the old prefix", InvoicePrefix: prefix})
	require.NoError(t, err)
	requireProblem(t, taken.StatusCode(), taken.HTTPResponse.Header, taken.Body, http.StatusConflict, "invoice_prefix_taken")
	takeByRename, err := s.admin.UpdateVentureWithResponse(ctx, unused.JSON201.Id, nil, oapi.VentureUpdate{InvoicePrefix: &prefix})
	require.NoError(t, err)
	requireProblem(t, takeByRename.StatusCode(), takeByRename.HTTPResponse.Header, takeByRename.Body, http.StatusConflict, "invoice_prefix_taken")
	// The venture that printed it may not get it back either: its prefix is frozen.
	reclaim, err := s.admin.UpdateVentureWithResponse(ctx, s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &prefix})
	require.NoError(t, err)
	requireProblem(t, reclaim.StatusCode(), reclaim.HTTPResponse.Header, reclaim.Body, http.StatusConflict, "invoice_prefix_locked")
	// Partners' prefixes (P and 8 hex digits) are theirs.
	for _, p := range []string{"P1A2B3C4D", "P" + strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")[:8])} {
		res, err := s.admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "Looks like a partner", InvoicePrefix: p})
		require.NoError(t, err)
		requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusUnprocessableEntity, "invoice_prefix_reserved")
		upd, err := s.admin.UpdateVentureWithResponse(ctx, unused.JSON201.Id, nil, oapi.VentureUpdate{InvoicePrefix: &p})
		require.NoError(t, err)
		requireProblem(t, upd.StatusCode(), upd.HTTPResponse.Header, upd.Body, http.StatusUnprocessableEntity, "invoice_prefix_reserved")
	}
	fine, err := s.admin.CreateVentureWithResponse(ctx, nil, oapi.VentureCreate{Name: "P but not hex", InvoicePrefix: "PXYZ"})
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, fine.StatusCode(), string(fine.Body))
}

// Numbering itself refuses a prefix another issuer printed: a batch whose
// venture carries such a prefix is refused whole, no number is repeated.
func TestNumberingRefusesAPrefixAnotherIssuerUsed(t *testing.T) {
	t.Parallel()
	s := newShop(t)
	_, token := s.plan(t, planOpts{})
	venture, err := s.admin.GetVentureWithResponse(context.Background(), s.chain.venture)
	require.NoError(t, err)
	require.NoError(t, s.env.App.DB.Gorm.Exec(`INSERT INTO used_invoice_prefixes (prefix, scope, first_used_at) VALUES (?, 'venture:'||gen_random_uuid(), now())`,
		venture.JSON200.InvoicePrefix).Error)
	res := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusConflict, "invoice_prefix_taken")
	require.Zero(t, countRows(t, s.env, "invoices"))
	require.Zero(t, countRows(t, s.env, "orders"), "nothing is stored")

	// The refused batch gave its number back: under a fresh prefix the
	// venture's first invoice is number 1.
	fresh := strings.ToUpper(uuid.NewString()[:8])
	upd, err := s.admin.UpdateVentureWithResponse(context.Background(), s.chain.venture, nil, oapi.VentureUpdate{InvoicePrefix: &fresh})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, upd.StatusCode(), string(upd.Body))
	ok := place(t, s.env.Client(t, ""), storefrontOrder(token, newLogin()))
	require.Equal(t, http.StatusAccepted, ok.StatusCode(), string(ok.Body))
	first := invoicesOf(t, s.admin, &oapi.ListInvoicesParams{CustomerId: &ok.JSON202.CustomerId})
	require.Len(t, first, 1)
	require.Equal(t, fmt.Sprintf("%s-%d-000001", fresh, s.env.Clock.Now().Year()), *first[0].Number)
}
