package billing_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
)

// A partner's customer with two post-paid services gets one bill from the
// partner with both, as the partner gets one from the SP: the services of
// one customer, venture and issuer share a bill (and its billing key), so
// none may be left out of it.
func TestPostpaidPartnerCustomerWithTwoServices(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-12-01T09:00:00Z", "")
	pid := b.env.NewPartner(t)
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "20.00", "0.00"), true)
	c := b.customer(t, &pid)
	// cost 15.00 (25% off); end 18.00 (20% on)
	b.service(t, svc{plan: p, customer: c, partner: &pid, frequency: "monthly", quantity: 1,
		unit: "18.00", fee: "0.00", cost: ptr("15.00"), feeCost: ptr("0.00"), start: "2026-11-11"})
	b.service(t, svc{plan: p, customer: c, partner: &pid, frequency: "monthly", quantity: 2,
		unit: "18.00", fee: "0.00", cost: ptr("15.00"), feeCost: ptr("0.00"), start: "2026-11-21"})
	run, err := b.env.App.Billing.RunNow(context.Background(), "test", billing.RunAll, date("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, "[]", string(run.Failures))
	require.Equal(t, 2, run.Invoices)
	invs := b.invoices(t, "")
	require.Len(t, invs, 2)
	// The SP to the partner: 15.00 x 20/30 = 10.00; 2 x 15.00 x 10/30 = 10.00;
	// subtotal 20.00, VAT 21% 4.20, City 2.5% 0.50.
	requireInvoice(t, invs[0], want{lines: []line{{"proration", "1", "15.00", "10.00"}, {"proration", "2", "15.00", "10.00"}},
		taxes: map[string]string{"VAT": "4.20", "City": "0.50"}, subtotal: "20.00", taxTotal: "4.70", total: "24.70"})
	// The partner to its customer: 18.00 x 20/30 = 12.00; 2 x 18.00 x 10/30 = 12.00;
	// subtotal 24.00, VAT 5.04, City 0.60.
	requireInvoice(t, invs[1], want{lines: []line{{"proration", "1", "18.00", "12.00"}, {"proration", "2", "18.00", "12.00"}},
		taxes: map[string]string{"VAT": "5.04", "City": "0.60"}, subtotal: "24.00", taxTotal: "5.64", total: "29.64"})
	require.Equal(t, pid, *invs[1].IssuerPartnerID)
	require.Equal(t, c, *invs[1].CustomerID)
}
