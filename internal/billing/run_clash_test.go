package billing_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
)

func failuresOf(t *testing.T, r billing.Run) []billing.Failure {
	t.Helper()
	var fs []billing.Failure
	require.NoError(t, json.Unmarshal(r.Failures, &fs))
	return fs
}

// A bill found made by its key counts as skipped only when every service
// period it claims is billed: a key taken by a bill that leaves one of its
// services out would otherwise drop that service's month silently. Here a
// customer's November is billed with one service; a second service of the
// customer's November shows up after (under the same key): the rerun
// records a failure naming it instead of counting it skipped.
func TestAKeyClashLeavingAPeriodUnbilledIsARunFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBook(t, "2026-12-01T09:00:00Z", "")
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	cust := b.customer(t, nil)
	b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
	run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, date("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, 1, run.Invoices)
	require.Empty(t, failuresOf(t, run))

	late := b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-10"})
	again, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, date("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, 0, again.Invoices)
	require.Equal(t, 1, again.Skipped, "the first service's bill, found made; the clash is not")
	fs := failuresOf(t, again)
	require.Len(t, fs, 1)
	require.Contains(t, fs[0].Reason, "period_left_unbilled")
	require.Contains(t, fs[0].Reason, late.String())
	require.Contains(t, fs[0].Reason, "2026-11-01")
	require.Len(t, b.invoices(t, ""), 1, "nothing is stored for the clash")
}

// A bill refused because one of its periods was claimed meanwhile under
// another key counts as skipped only when all of its periods are claimed:
// here one service's November is claimed between the run reading and
// storing a customer's two-service bill; the other service's November is
// claimed by nothing, so the run records a failure naming it.
func TestABillRefusedWithAPeriodUnclaimedIsARunFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBook(t, "2026-12-01T09:00:00Z", "")
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), false)
	cust := b.customer(t, nil)
	one := b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
	two := b.service(t, svc{plan: p, customer: cust, frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})
	// Another service's first invoice lends its id to the claim.
	other := b.service(t, svc{plan: b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false), customer: b.customer(t, nil),
		frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, other)
	lent := b.invoices(t, "")
	require.Len(t, lent, 1)
	b.meanwhile(t, func() {
		require.NoError(t, b.env.App.DB.Gorm.Exec(`INSERT INTO billed_periods (service_id, party, period_start, invoice_id) VALUES (?, 'customer', '2026-11-01', ?)`,
			one, lent[0].ID).Error)
	})
	again, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, date("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, 0, again.Invoices)
	require.Equal(t, 0, again.Skipped)
	fs := failuresOf(t, again)
	require.Len(t, fs, 1, "two's month is not found made")
	require.Contains(t, fs[0].Reason, "period_left_unbilled")
	require.Contains(t, fs[0].Reason, two.String())
	require.NotContains(t, fs[0].Reason, one.String())
}
