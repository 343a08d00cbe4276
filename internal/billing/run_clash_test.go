package billing_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

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

// A prepaid order whose first invoice is paid after its period began is
// activated past (or near) its due date; runs renew active services only,
// so activation issues the renewal the next run would, under its key: the
// service is never active past its due date with nothing owed. Ordered on
// a leap-year month end, 31 Jan 2028 (due 29 Feb), activated 5 Mar.
func TestAServiceActivatedPastItsDueDateIsRenewedAtOnce(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id)
	db := b.env.App.DB.Gorm
	require.NoError(t, db.Exec("UPDATE services SET status = 'pending' WHERE id = ?", id).Error)
	require.Equal(t, 0, b.renewals(t, "2028-02-22").Invoices, "a pending service is not renewed")
	activate := func() {
		require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("UPDATE services SET status = 'active' WHERE id = ?", id).Error; err != nil {
				return err
			}
			return b.env.App.Billing.RenewDueTx(context.Background(), tx, id)
		}))
	}
	b.env.Clock.Set(mustTime(t, "2028-03-05T10:00:00Z"))
	b.pay(t, b.invoices(t, "kind = 'prepaid'")[0])
	activate()
	renewal := b.invoices(t, "kind = 'renewal'")
	require.Len(t, renewal, 1)
	// 29 Feb to 30 Mar: 10.00; VAT 2.10; City 0.25
	requireInvoice(t, renewal[0], want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})
	require.Equal(t, "2028-02-29", renewal[0].PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2028-03-30", renewal[0].PeriodEnd.Format(time.DateOnly))
	require.Nil(t, renewal[0].BillingRunID)
	require.Equal(t, billing.StatusUnpaid, renewal[0].Status)

	activate()
	require.Len(t, b.invoices(t, "kind = 'renewal'"), 1, "activating again issues nothing more")
	run := b.renewals(t, "2028-03-05")
	require.Equal(t, 0, run.Invoices)
	require.Equal(t, 1, run.Skipped, "the run finds the renewal made")
	b.pay(t, renewal[0])
	require.Equal(t, "2028-03-31", b.dueDate(t, id))

	// A service activated with its due date beyond the horizon waits for
	// the run seven days ahead.
	later := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, later) // 5 Mar, due 5 Apr
	require.NoError(t, db.Transaction(func(tx *gorm.DB) error { return b.env.App.Billing.RenewDueTx(context.Background(), tx, later) }))
	require.Empty(t, b.invoices(t, "kind = 'renewal' AND id IN (SELECT invoice_id FROM billed_periods WHERE service_id = ?)", later))
}

// TestARenewalPaidLateIssuesTheNextAtOnce: paying a renewal after the next
// period has begun moves the due date to a day already past; that
// period's renewal is issued in the paying transaction, so the service is
// never active past its due date with nothing owed.
func TestARenewalPaidLateIssuesTheNextAtOnce(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id)
	b.pay(t, b.invoices(t, "kind = 'prepaid'")[0])
	require.Equal(t, 1, b.renewals(t, "2028-02-22").Invoices)
	b.env.Clock.Set(mustTime(t, "2028-04-10T10:00:00Z"))
	b.pay(t, b.invoices(t, "kind = 'renewal'")[0]) // 29 Feb to 30 Mar, paid on 10 Apr
	require.Equal(t, "2028-03-31", b.dueDate(t, id))
	renewals := b.invoices(t, "kind = 'renewal' AND status = 'unpaid'")
	require.Len(t, renewals, 1, "the period begun on 31 Mar is billed at once")
	require.Equal(t, "2028-03-31", renewals[0].PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2028-04-29", renewals[0].PeriodEnd.Format(time.DateOnly))
	requireInvoice(t, renewals[0], want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})
	run := b.renewals(t, "2028-04-10")
	require.Equal(t, 0, run.Invoices, "the day's run finds it made")

	b.pay(t, renewals[0]) // due 30 Apr: beyond the horizon, left to the run
	require.Equal(t, "2028-04-30", b.dueDate(t, id))
	require.Empty(t, b.invoices(t, "kind = 'renewal' AND status = 'unpaid'"))
}
