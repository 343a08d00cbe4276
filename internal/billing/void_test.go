package billing_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/money"
)

func (b *book) void(t *testing.T, inv billing.Invoice) billing.Invoice {
	t.Helper()
	v, err := b.env.App.Billing.Void(context.Background(), admin, inv.ID, nil)
	require.NoError(t, err)
	require.Equal(t, billing.StatusVoid, v.Status)
	return v
}

// claims are a service's billed periods: "party first-day (invoice number)".
func (b *book) claims(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	var out []string
	require.NoError(t, b.env.App.DB.Gorm.Raw(`SELECT p.party || ' ' || p.period_start || ' ' || i.number FROM billed_periods p
		JOIN invoices i ON i.id = p.invoice_id WHERE p.service_id = ? ORDER BY p.party, p.period_start`, id).Scan(&out).Error)
	return out
}

func (b *book) keyOf(t *testing.T, id uuid.UUID) string {
	t.Helper()
	var key string
	require.NoError(t, b.env.App.DB.Gorm.Raw(`SELECT billing_key FROM invoices WHERE id = ?`, id).Scan(&key).Error)
	return key
}

// Voiding the renewal of a live prepaid service releases its period: the
// next run issues it again (a new number, the same period, the price now
// in force), and paying that moves the due date on. Void and paid bills
// are refused. Leap-year February, from the last day of January.
func TestAVoidedRenewalIsBilledAgain(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
	firstInvoice(t, b, id) // 31 Jan to 28 Feb, due again 29 Feb
	b.pay(t, b.invoices(t, "kind = 'prepaid'")[0])

	require.Equal(t, 1, b.renewals(t, "2028-02-22").Invoices)
	old := b.one(t, "kind = 'renewal'")
	// 29 Feb to 30 Mar: 10.00; VAT 2.10; City 0.25
	requireInvoice(t, old, want{lines: []line{{"recurring", "1", "10.00", "10.00"}},
		taxes: map[string]string{"VAT": "2.10", "City": "0.25"}, subtotal: "10.00", taxTotal: "2.35", total: "12.35"})
	key := b.keyOf(t, old.ID)

	voided := b.void(t, old)
	require.NotNil(t, voided.VoidedAt)
	require.Equal(t, key+":void:"+old.ID.String(), b.keyOf(t, old.ID), "the key is freed")
	require.NotContains(t, strings.Join(b.claims(t, id), ";"), "2028-02-29", "the period is released")
	require.Equal(t, "2028-02-29", b.dueDate(t, id), "the due date stays")
	_, err := b.env.App.Billing.Void(ctx, admin, old.ID, nil)
	require.Equal(t, "invoice_not_voidable", errsCode(err), "a void invoice is not voided again")
	_, _, err = b.env.App.Billing.Pay(ctx, admin, old.ID, billing.PaymentInput{Amount: money.Input{Amount: "12.35", Currency: "USD"}, Method: "card"})
	require.Equal(t, "invoice_void", errsCode(err))

	// The price in force by the next run.
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET unit_price = 12.00, version = version + 1 WHERE id = ?", id).Error)
	run := b.renewals(t, "2028-02-23")
	require.Equal(t, 1, run.Invoices)
	require.Equal(t, 0, run.Skipped)
	again := b.one(t, "kind = 'renewal' AND status <> 'void'")
	require.NotEqual(t, *old.Number, *again.Number)
	require.Equal(t, key, b.keyOf(t, again.ID))
	require.Equal(t, "2028-02-29", again.PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2028-03-30", again.PeriodEnd.Format(time.DateOnly))
	// 12.00; VAT 2.52; City 0.30
	requireInvoice(t, again, want{lines: []line{{"recurring", "1", "12.00", "12.00"}},
		taxes: map[string]string{"VAT": "2.52", "City": "0.30"}, subtotal: "12.00", taxTotal: "2.82", total: "14.82"})
	require.Equal(t, 0, b.renewals(t, "2028-02-24").Invoices, "billed once")

	// A part paid is not voided; paying the rest moves the due date.
	_, _, err = b.env.App.Billing.Pay(ctx, admin, again.ID, billing.PaymentInput{Amount: money.Input{Amount: "4.82", Currency: "USD"}, Method: "card"})
	require.NoError(t, err)
	_, err = b.env.App.Billing.Void(ctx, admin, again.ID, nil)
	require.Equal(t, "invoice_not_voidable", errsCode(err))
	require.Equal(t, "2028-02-29", b.dueDate(t, id))
	b.pay(t, b.one(t, "id = ?", again.ID))
	require.Equal(t, "2028-03-31", b.dueDate(t, id))
	_, err = b.env.App.Billing.Void(ctx, admin, again.ID, nil)
	require.Equal(t, "invoice_not_voidable", errsCode(err), "a paid invoice is not voided")
	require.Equal(t, []string{"customer 2028-01-31 ACME-2028-000001", "customer 2028-02-29 " + *again.Number}, b.claims(t, id))
}

// Voiding an overage invoice releases its days: the next bill of that
// party covers them again, once, at the price then in force, even when a
// later window was claimed meanwhile (the bill then looks at both
// stretches).
func TestAVoidedOverageInvoiceIsBilledAgainOnce(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 2, unit: "10.00", fee: "0.00", tenant: "t-void"})
	firstInvoice(t, b, id) // 1 to 30 Nov, due again 1 Dec
	b.pay(t, b.invoices(t, "kind = 'prepaid'")[0])
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-void", "2026-11-10", 212*gib+1) // 13 GB over 2 x 100
	b.storage(t, "t-void", "2026-11-20", 207*gib)   // 7 GB over

	request := func(at string) []billing.Invoice {
		t.Helper()
		b.env.Clock.Set(mustTime(t, at))
		made, err := b.env.App.Billing.BillOverage(ctx, admin, id, false)
		require.NoError(t, err)
		return made
	}
	require.Len(t, request("2026-11-15T10:00:00Z"), 1)
	first := b.one(t, "kind = 'overage' AND issue_date = ?", date("2026-11-15"))
	// 13 x 0.10 = 1.30; VAT 0.273 -> 0.27; City 0.0325 -> 0.03
	requireInvoice(t, first, want{lines: []line{{"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "0.27", "City": "0.03"}, subtotal: "1.30", taxTotal: "0.30", total: "1.60"})
	require.Len(t, request("2026-11-22T10:00:00Z"), 1)
	// 7 x 0.10 = 0.70; VAT 0.147 -> 0.15; City 0.0175 -> 0.02
	requireInvoice(t, b.one(t, "kind = 'overage' AND issue_date = ?", date("2026-11-22")), want{lines: []line{{"overage", "7", "0.10", "0.70"}},
		taxes: map[string]string{"VAT": "0.15", "City": "0.02"}, subtotal: "0.70", taxTotal: "0.17", total: "0.87"})

	b.void(t, first)
	require.Equal(t, []string{"customer 2026-11-16..2026-11-22"}, b.windows(t, id), "the voided days are released")

	// The price in force by the next bill.
	pr, err := b.env.App.Catalog.GetPricing(ctx, p.ID)
	require.NoError(t, err)
	pr.OveragePricePerGB = ptr(dec("0.20"))
	_, err = b.env.App.Catalog.SetPricing(ctx, p.ID, pr)
	require.NoError(t, err)

	// The renewal on 24 Nov looks at 1-15 Nov again and 23-24 Nov: 13 GB x 0.20 = 2.60.
	require.Equal(t, 1, b.renewals(t, "2026-11-24").Invoices)
	renewal := b.one(t, "kind = 'renewal'")
	// 20.00 + 2.60 = 22.60; VAT 4.746 -> 4.75; City 0.565 -> 0.57
	requireInvoice(t, renewal, want{lines: []line{{"recurring", "2", "10.00", "20.00"}, {"overage", "13", "0.20", "2.60"}},
		taxes: map[string]string{"VAT": "4.75", "City": "0.57"}, subtotal: "22.60", taxTotal: "5.32", total: "27.92"})
	d := detailOf(t, renewal.Lines[1])
	require.Equal(t, []any{"2026-11-01", "2026-11-24"}, d["window"])
	require.Equal(t, []any{[]any{"2026-11-01", "2026-11-15"}, []any{"2026-11-23", "2026-11-24"}}, d["spans"])
	require.Equal(t, "2026-11-10", d["peak_day"])
	require.Equal(t, []string{"customer 2026-11-01..2026-11-15", "customer 2026-11-16..2026-11-22", "customer 2026-11-23..2026-11-24"},
		b.windows(t, id))

	// Once: nothing is left to bill on request, and the next renewal looks at its own days only.
	require.Empty(t, request("2026-11-26T10:00:00Z"))
	b.pay(t, renewal)
	require.Equal(t, 1, b.renewals(t, "2026-12-25").Invoices)
	requireInvoice(t, b.one(t, "kind = 'renewal' AND issue_date = ?", date("2026-12-25")), want{lines: []line{{"recurring", "2", "10.00", "20.00"}},
		taxes: map[string]string{"VAT": "4.20", "City": "0.50"}, subtotal: "20.00", taxTotal: "4.70", total: "24.70"})
}

// Voiding a post-paid month's bill releases the month: the next run bills
// it again (its overage included) at the terms in force, even with the
// month after billed already, and no month twice. Leap-year February.
func TestAVoidedPostpaidMonthIsBilledAgain(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-02-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.PostpaidFixed, cycles("monthly", "29.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "29.00", fee: "0.00",
		start: "2028-02-01", tenant: "t-pvoid"})
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-pvoid", "2028-02-05", 113*gib)   // 13 GB over
	b.storage(t, "t-pvoid", "2028-03-10", 106*gib+1) // 7 GB over

	runAll := func(asOf string) billing.Run {
		t.Helper()
		b.env.Clock.Set(date(asOf).Add(9 * time.Hour))
		run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunAll, date(asOf))
		require.NoError(t, err)
		require.JSONEq(t, "[]", string(run.Failures))
		return run
	}
	require.Equal(t, 1, runAll("2028-03-01").Invoices)
	feb := b.one(t, "kind = 'postpaid' AND period_start = ?", date("2028-02-01"))
	// 29.00 + 1.30 = 30.30; VAT 6.363 -> 6.36; City 0.7575 -> 0.76
	requireInvoice(t, feb, want{lines: []line{{"recurring", "1", "29.00", "29.00"}, {"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "6.36", "City": "0.76"}, subtotal: "30.30", taxTotal: "7.12", total: "37.42"})
	require.Equal(t, 1, runAll("2028-04-01").Invoices)
	// March: 29.00 + 0.70 = 29.70; VAT 6.237 -> 6.24; City 0.7425 -> 0.74
	requireInvoice(t, b.one(t, "kind = 'postpaid' AND period_start = ?", date("2028-03-01")),
		want{lines: []line{{"recurring", "1", "29.00", "29.00"}, {"overage", "7", "0.10", "0.70"}},
			taxes: map[string]string{"VAT": "6.24", "City": "0.74"}, subtotal: "29.70", taxTotal: "6.98", total: "36.68"})

	b.void(t, feb)
	require.Equal(t, []string{"customer 2028-03-01 ACME-2028-000002"}, b.claims(t, id))
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET unit_price = 31.00, version = version + 1 WHERE id = ?", id).Error)

	run := runAll("2028-04-02")
	require.Equal(t, 1, run.Invoices, "February again, March not")
	again := b.one(t, "kind = 'postpaid' AND period_start = ? AND status <> 'void'", date("2028-02-01"))
	require.Equal(t, "ACME-2028-000003", *again.Number)
	// 31.00 + 1.30 = 32.30; VAT 6.783 -> 6.78; City 0.8075 -> 0.81
	requireInvoice(t, again, want{lines: []line{{"recurring", "1", "31.00", "31.00"}, {"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "6.78", "City": "0.81"}, subtotal: "32.30", taxTotal: "7.59", total: "39.89"})
	require.Equal(t, []any{"2028-02-01", "2028-02-29"}, detailOf(t, again.Lines[1])["window"])
	require.Equal(t, []string{"customer 2028-02-01..2028-02-29", "customer 2028-03-01..2028-03-31"}, b.windows(t, id))
	require.Equal(t, 0, runAll("2028-04-03").Invoices, "billed once")
}

// A partner sale's two bills are released apart: voiding the customer's
// renewal bills only the customer's again; voiding the partner's after the
// customer's renewal moved the due date on bills only the partner's again
// (behind the due date), each once.
func TestAVoidedBillOfAPartnerSaleIsBilledAgainForItsPartyOnly(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	db := b.env.App.DB.Gorm
	pid := b.env.NewPartner(t)
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), true)
	require.NoError(t, db.Exec(`INSERT INTO partner_plan_pricing (partner_id, plan_id, discount_percent, markup_percent, updated_at)
		VALUES (?, ?, 20, 50, now())`, pid, p.ID).Error)
	id := b.service(t, svc{plan: p, customer: b.customer(t, &pid), partner: &pid, frequency: "monthly", quantity: 1,
		unit: "12.00", fee: "0.00", cost: ptr("8.00"), feeCost: ptr("0.00")})
	firstInvoice(t, b, id)
	for _, inv := range b.invoices(t, "kind = 'prepaid'") {
		b.pay(t, inv)
	}
	require.Equal(t, 2, b.renewals(t, "2028-02-22").Invoices)
	cust := b.one(t, "kind = 'renewal' AND customer_id IS NOT NULL")
	part := b.one(t, "kind = 'renewal' AND partner_id IS NOT NULL")

	b.void(t, cust)
	run := b.renewals(t, "2028-02-23")
	require.Equal(t, 1, run.Invoices, "the customer's only")
	require.Equal(t, 1, run.Skipped, "the partner's stands")
	cust2 := b.one(t, "kind = 'renewal' AND customer_id IS NOT NULL AND status <> 'void'")
	// 12.00; VAT 2.52; City 0.30
	requireInvoice(t, cust2, want{lines: []line{{"recurring", "1", "12.00", "12.00"}},
		taxes: map[string]string{"VAT": "2.52", "City": "0.30"}, subtotal: "12.00", taxTotal: "2.82", total: "14.82"})
	require.Equal(t, pid, *cust2.IssuerPartnerID)
	require.Equal(t, part.ID, b.one(t, "kind = 'renewal' AND partner_id IS NOT NULL").ID)
	b.pay(t, cust2)
	require.Equal(t, "2028-03-31", b.dueDate(t, id))

	// The SP voids its bill to the partner after the due date moved on: the
	// next run bills the partner's 29 Feb to 30 Mar again, at cost.
	b.void(t, part)
	run = b.renewals(t, "2028-02-24")
	require.Equal(t, 1, run.Invoices, "the partner's only")
	part2 := b.one(t, "kind = 'renewal' AND partner_id IS NOT NULL AND status <> 'void'")
	require.Equal(t, "2028-02-29", part2.PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2028-03-30", part2.PeriodEnd.Format(time.DateOnly))
	// 8.00; VAT 1.68; City 0.20
	requireInvoice(t, part2, want{lines: []line{{"recurring", "1", "8.00", "8.00"}},
		taxes: map[string]string{"VAT": "1.68", "City": "0.20"}, subtotal: "8.00", taxTotal: "1.88", total: "9.88"})
	require.Equal(t, 0, b.renewals(t, "2028-02-25").Invoices, "billed once")
	require.Equal(t, "2028-03-31", b.dueDate(t, id))
	require.Equal(t, []string{
		"customer 2028-01-31 P" + strings.ToUpper(pid.String()[:8]) + "-2028-000001",
		"customer 2028-02-29 " + *cust2.Number,
		"partner 2028-01-31 ACME-2028-000001",
		"partner 2028-02-29 " + *part2.Number,
	}, b.claims(t, id))
}

// The first invoice of a service already active (its order approved
// unpaid) voided: the next renewals run bills that first period again,
// setup fee included, though the due date is past its start.
func TestAVoidedFirstInvoiceOfAnActiveServiceIsBilledAgain(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "5.00"), false)
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "5.00"})
	firstInvoice(t, b, id)
	first := b.one(t, "kind = 'prepaid'")
	b.void(t, first)
	require.Equal(t, "2028-02-29", b.dueDate(t, id))

	run := b.renewals(t, "2028-02-01")
	require.Equal(t, 1, run.Invoices)
	again := b.one(t, "kind = 'prepaid' AND status <> 'void'")
	require.NotEqual(t, *first.Number, *again.Number)
	require.Equal(t, "2028-01-31", again.PeriodStart.Format(time.DateOnly))
	require.Equal(t, "2028-02-28", again.PeriodEnd.Format(time.DateOnly))
	// 10.00 + 5.00 = 15.00; VAT 3.15; City 0.375 -> 0.38
	requireInvoice(t, again, want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"setup", "1", "5.00", "5.00"}},
		taxes: map[string]string{"VAT": "3.15", "City": "0.38"}, subtotal: "15.00", taxTotal: "3.53", total: "18.53"})
	require.Equal(t, 0, b.renewals(t, "2028-02-02").Invoices, "billed once")
	b.pay(t, again)
	require.Equal(t, "2028-02-29", b.dueDate(t, id), "the first period's bill does not move the due date")
}
