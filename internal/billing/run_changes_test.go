package billing_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
)

// billedDays counts, per day, how many times a service's customer pays for
// it: +1 for each recurring or proration line of a live invoice that covers
// the day, -1 for each credit line for unused days (quantity 1 services).
func (b *book) billedDays(t *testing.T, id uuid.UUID) map[string]int {
	t.Helper()
	var rows []struct {
		Kind                   string
		PeriodStart, PeriodEnd time.Time
	}
	require.NoError(t, b.env.App.DB.Gorm.Raw(`SELECT l.kind, l.period_start, l.period_end FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		WHERE l.service_id = ? AND i.customer_id IS NOT NULL AND i.status <> 'void' AND l.kind IN ('recurring', 'proration', 'credit')`, id).Scan(&rows).Error)
	out := map[string]int{}
	for _, r := range rows {
		step := 1
		if r.Kind == billing.KindCredit {
			step = -1
		}
		for d := r.PeriodStart; !d.After(r.PeriodEnd); d = d.AddDate(0, 0, 1) {
			out[d.Format(time.DateOnly)] += step
		}
	}
	return out
}

// requireBilledOnce: every day from..to is paid for once, no other day at all.
func requireBilledOnce(t *testing.T, days map[string]int, from, to string) {
	t.Helper()
	for d := date(from); !d.After(date(to)); d = d.AddDate(0, 0, 1) {
		require.Equal(t, 1, days[d.Format(time.DateOnly)], "times %s is billed", d.Format(time.DateOnly))
	}
	for d, n := range days {
		if d < from || d > to {
			require.Zero(t, n, "times %s is billed", d)
		}
	}
}

// meanwhile runs f once, the first time a run is about to store: after the
// run has read the services and drafted their bills, before it stores them.
func (b *book) meanwhile(t *testing.T, f func()) {
	t.Helper()
	var once sync.Once
	b.env.App.Billing.SetBeforeStore(func() { once.Do(f) })
	t.Cleanup(func() { b.env.App.Billing.SetBeforeStore(nil) })
}

// A change that lands between a run reading a service and storing its
// renewal is what the renewal bills: the run drafts it again in the
// storing transaction, from the service as it is then. Monthly 10.00 from
// 1 Nov 2026 (due 1 Dec); the run is on 24 Nov (invoices 7 days ahead).
func TestARunBillsTheServiceAsItIsWhenItStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup := func(t *testing.T) (*book, catalog.Plan, uuid.UUID) {
		b := newBook(t, "2026-11-01T09:00:00Z", "")
		p := b.plan(t, catalog.Prepaid, []catalog.Cycle{{Frequency: "monthly", Price: dec("10.00"), SetupFee: dec("0.00")},
			{Frequency: "annually", Price: dec("100.00"), SetupFee: dec("0.00")}}, false)
		id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
		firstInvoice(t, b, id)
		require.Equal(t, "2026-12-01", b.dueDate(t, id))
		return b, p, id
	}

	t.Run("a term change: the new term is billed once, no renewal of the old", func(t *testing.T) {
		t.Parallel()
		b, _, id := setup(t)
		b.meanwhile(t, func() {
			_, err := b.env.App.Services.ChangeTerm(ctx, admin, id, "annually", nil, b.env.App.Billing)
			require.NoError(t, err)
		})
		run := b.renewals(t, "2026-11-24")
		require.Equal(t, 0, run.Invoices, "nothing is due by 1 Dec any more")
		require.Equal(t, 0, run.Skipped, "nothing was found billed")
		require.Empty(t, b.invoices(t, "kind = 'renewal'"))
		require.Equal(t, "2027-11-24", b.dueDate(t, id))
		// The first month, then the year from 24 Nov less the unused 24-30 Nov.
		requireBilledOnce(t, b.billedDays(t, id), "2026-11-01", "2027-11-23")
	})

	t.Run("a quantity raise: the renewal is at the new quantity", func(t *testing.T) {
		t.Parallel()
		b, _, id := setup(t)
		b.meanwhile(t, func() { b.changeQuantity(t, id, "2026-11-24T12:00:00Z", 3) })
		run := b.renewals(t, "2026-11-24")
		require.Equal(t, 1, run.Invoices)
		require.Equal(t, 0, run.Skipped)
		// 3 x 10.00 = 30.00; VAT 6.30; City 0.75
		requireInvoice(t, b.one(t, "kind = 'renewal'"), want{lines: []line{{"recurring", "3", "10.00", "30.00"}},
			taxes: map[string]string{"VAT": "6.30", "City": "0.75"}, subtotal: "30.00", taxTotal: "7.05", total: "37.05"})
		// 2 more for 24-30 Nov, 7 of 30 days: 4.67
		requireInvoice(t, b.one(t, "kind = 'adjustment'"), want{lines: []line{{"proration", "2", "10.00", "4.67"}},
			taxes: map[string]string{"VAT": "0.98", "City": "0.12"}, subtotal: "4.67", taxTotal: "1.10", total: "5.77"})
	})

	t.Run("a plan change: the renewal is at the new plan's price", func(t *testing.T) {
		t.Parallel()
		b, _, id := setup(t)
		pro := b.plan(t, catalog.Prepaid, cycles("monthly", "20.00", "0.00"), false)
		b.meanwhile(t, func() {
			b.env.Clock.Set(mustTime(t, "2026-11-24T12:00:00Z"))
			_, err := b.env.App.Services.ChangePlan(ctx, admin, id, pro.ID, nil, b.env.App.Billing)
			require.NoError(t, err)
		})
		run := b.renewals(t, "2026-11-24")
		require.Equal(t, 1, run.Invoices)
		renewal := b.one(t, "kind = 'renewal'")
		// 20.00; VAT 4.20; City 0.50
		requireInvoice(t, renewal, want{lines: []line{{"recurring", "1", "20.00", "20.00"}},
			taxes: map[string]string{"VAT": "4.20", "City": "0.50"}, subtotal: "20.00", taxTotal: "4.70", total: "24.70"})
		require.Equal(t, pro.Name, detailOf(t, renewal.Lines[0])["plan"])
	})

	t.Run("a termination: nothing after the service's end is billed", func(t *testing.T) {
		t.Parallel()
		b, _, id := setup(t)
		b.meanwhile(t, func() {
			b.env.Clock.Set(mustTime(t, "2026-11-24T12:00:00Z"))
			_, err := b.env.App.Services.Terminate(ctx, admin, id, nil)
			require.NoError(t, err)
		})
		run := b.renewals(t, "2026-11-24")
		require.Equal(t, 0, run.Invoices)
		require.Equal(t, 0, run.Skipped)
		require.Empty(t, b.invoices(t, "kind = 'renewal'"))
		requireBilledOnce(t, b.billedDays(t, id), "2026-11-01", "2026-11-30")
	})

	t.Run("a payment that moves the due date: the run sees the new one", func(t *testing.T) {
		t.Parallel()
		b, _, id := setup(t)
		first := b.renewals(t, "2026-11-24")
		require.Equal(t, 1, first.Invoices)
		renewal := b.one(t, "kind = 'renewal'")
		b.meanwhile(t, func() { b.pay(t, renewal) })
		run := b.renewals(t, "2026-11-25")
		require.Equal(t, "2027-01-01", b.dueDate(t, id), "the paid renewal moved the service on")
		require.Equal(t, 0, run.Invoices, "nothing is due by 2 Dec")
		require.Equal(t, 0, run.Skipped, "as a run started after the payment would say")
		require.Len(t, b.invoices(t, "kind = 'renewal'"), 1)
		requireBilledOnce(t, b.billedDays(t, id), "2026-11-01", "2026-12-31")
	})
}

// A post-paid month is billed per customer and issuer: a partner's
// customer with two services gets one bill with both (and the partner one
// at cost), and a change landing between the run's read and its store
// leaves the month's bill whole, neither lost nor counted as found.
func TestAPostpaidMonthIsBilledWholeWhenItsServicesChangeMeanwhile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBook(t, "2026-12-01T09:00:00Z", "")
	pid := b.env.NewPartner(t)
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "10.00", "0.00"), true)
	theirs := b.customer(t, &pid)
	sale := func() uuid.UUID {
		return b.service(t, svc{plan: p, customer: theirs, partner: &pid, frequency: "monthly", quantity: 1,
			unit: "10.00", fee: "0.00", cost: ptr("8.00"), feeCost: ptr("0.00"), start: "2026-11-01"})
	}
	one, two := sale(), sale()
	direct := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", start: "2026-11-01"})

	b.meanwhile(t, func() {
		b.changeQuantity(t, one, "2026-12-01T10:00:00Z", 2)
		_, err := b.env.App.Services.Terminate(ctx, admin, direct, nil)
		require.NoError(t, err)
	})
	run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, date("2026-12-01"))
	require.NoError(t, err)
	require.JSONEq(t, "[]", string(run.Failures))
	require.Equal(t, 3, run.Invoices, "the partner's customer, the partner, the direct customer")
	require.Equal(t, 0, run.Skipped)

	// November at November's quantity: 2 x 10.00; VAT 4.20; City 0.50
	customerBill := b.one(t, "customer_id = ?", theirs)
	requireInvoice(t, customerBill, want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "4.20", "City": "0.50"}, subtotal: "20.00", taxTotal: "4.70", total: "24.70"})
	require.ElementsMatch(t, []uuid.UUID{one, two}, []uuid.UUID{*customerBill.Lines[0].ServiceID, *customerBill.Lines[1].ServiceID})
	// At cost: 2 x 8.00; VAT 3.36; City 0.40
	requireInvoice(t, b.one(t, "partner_id = ?", pid), want{lines: []line{{"recurring", "1", "8.00", "8.00"}, {"recurring", "1", "8.00", "8.00"}},
		taxes: map[string]string{"VAT": "3.36", "City": "0.40"}, subtotal: "16.00", taxTotal: "3.76", total: "19.76"})
	requireInvoice(t, b.one(t, "customer_id = (SELECT customer_id FROM services WHERE id = ?)", direct), want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})

	again, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunPostpaid, date("2026-12-01"))
	require.NoError(t, err)
	require.Equal(t, 0, again.Invoices)
	require.Equal(t, 3, again.Skipped, "each bill found made once")
}
