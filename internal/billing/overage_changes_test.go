package billing_test

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/money"
)

const gib = int64(1) << 30

// one is the single invoice matching where.
func (b *book) one(t *testing.T, where string, args ...any) billing.Invoice {
	t.Helper()
	invs := b.invoices(t, where, args...)
	require.Len(t, invs, 1, where)
	return invs[0]
}

// windows are a service's claimed overage windows: "party first..last",
// with "(no bill)" for a window claimed without an invoice.
func (b *book) windows(t *testing.T, id uuid.UUID) []string {
	t.Helper()
	var out []string
	require.NoError(t, b.env.App.DB.Gorm.Raw(`SELECT party || ' ' || first_day || '..' || last_day || CASE WHEN invoice_id IS NULL THEN ' (no bill)' ELSE '' END
		FROM overage_windows WHERE service_id = ? ORDER BY party, first_day`, id).Scan(&out).Error)
	return out
}

// changePlan moves a service to another plan as the service layer does,
// once the vendor has the new quotas.
func (b *book) changePlan(t *testing.T, id uuid.UUID, at string, plan uuid.UUID) ([]billing.Invoice, []billing.Credit) {
	t.Helper()
	b.env.Clock.Set(mustTime(t, at))
	var invs []billing.Invoice
	var credits []billing.Credit
	require.NoError(t, b.env.App.DB.Gorm.Transaction(func(tx *gorm.DB) error {
		var err error
		invs, credits, err = b.env.App.Billing.ChangePlanTx(context.Background(), tx, id, plan)
		return err
	}))
	return invs, credits
}

// On request, then at a quantity raise, then at the renewal: each bills
// the storage over quota of the days since the last bill, by the quota in
// force on those days, for the customer (at the partner's overage price)
// and the partner (at cost); no day is billed twice. Leap-year February,
// from its last day of January.
func TestOverageAtAQuantityChangeBetweenARequestAndTheRenewal(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	ctx := context.Background()
	db := b.env.App.DB.Gorm
	pid := b.env.NewPartner(t)
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), true)
	b.withStorage(t, p, 100, "0.10")
	// 20% off: cost 8.00, overage 0.08 a GB; 50% on: end 12.00; the partner's own overage price 0.15.
	require.NoError(t, db.Exec(`INSERT INTO partner_plan_pricing (partner_id, plan_id, discount_percent, markup_percent, overage_price_per_gb, updated_at)
		VALUES (?, ?, 20, 50, 0.15, now())`, pid, p.ID).Error)
	id := b.service(t, svc{plan: p, customer: b.customer(t, &pid), partner: &pid, frequency: "monthly", quantity: 2,
		unit: "12.00", fee: "0.00", cost: ptr("8.00"), feeCost: ptr("0.00"), tenant: "t-chg"})
	firstInvoice(t, b, id) // 31 Jan to 28 Feb (29 days), due again 29 Feb
	require.NoError(t, db.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-chg", "2028-02-05", 213*gib)   // 13 GB over 2 x 100
	b.storage(t, "t-chg", "2028-02-12", 230*gib)   // 30 GB over 2 x 100
	b.storage(t, "t-chg", "2028-02-15", 305*gib)   // 3 x 100 from the raise: 5 GB over
	b.storage(t, "t-chg", "2028-02-16", 310*gib+1) // 11 GB over 3 x 100

	// On request on 10 Feb: 31 Jan to 10 Feb, 13 GB.
	b.env.Clock.Set(mustTime(t, "2028-02-10T10:00:00Z"))
	made, err := b.env.App.Billing.BillOverage(ctx, admin, id, false)
	require.NoError(t, err)
	require.Len(t, made, 2)
	// 13 x 0.15 = 1.95; VAT 0.4095 -> 0.41; City 0.04875 -> 0.05
	requireInvoice(t, b.one(t, "kind = 'overage' AND customer_id IS NOT NULL AND issue_date = ?", date("2028-02-10")),
		want{lines: []line{{"overage", "13", "0.15", "1.95"}}, taxes: map[string]string{"VAT": "0.41", "City": "0.05"},
			subtotal: "1.95", taxTotal: "0.46", total: "2.41"})
	// 13 x 0.08 = 1.04; VAT 0.2184 -> 0.22; City 0.026 -> 0.03
	requireInvoice(t, b.one(t, "kind = 'overage' AND partner_id IS NOT NULL AND issue_date = ?", date("2028-02-10")),
		want{lines: []line{{"overage", "13", "0.08", "1.04"}}, taxes: map[string]string{"VAT": "0.22", "City": "0.03"},
			subtotal: "1.04", taxTotal: "0.25", total: "1.29"})

	// 2 -> 3 on 15 Feb: first 11-14 Feb by the old quota (30 GB over 200), then the 14 of 29 days left at the new quantity.
	invs, credits := b.changeQuantity(t, id, "2028-02-15T11:00:00Z", 3)
	require.Empty(t, credits)
	require.Len(t, invs, 4, "each party's overage and adjustment")
	require.Equal(t, []string{billing.InvoiceOverage, billing.InvoiceOverage, billing.InvoiceAdjustment, billing.InvoiceAdjustment},
		[]string{invs[0].Kind, invs[1].Kind, invs[2].Kind, invs[3].Kind}, "the overage first")
	// 30 x 0.15 = 4.50; VAT 0.945 -> 0.95; City 0.1125 -> 0.11
	custOver := b.one(t, "kind = 'overage' AND customer_id IS NOT NULL AND issue_date = ?", date("2028-02-15"))
	requireInvoice(t, custOver, want{lines: []line{{"overage", "30", "0.15", "4.50"}}, taxes: map[string]string{"VAT": "0.95", "City": "0.11"},
		subtotal: "4.50", taxTotal: "1.06", total: "5.56"})
	d := detailOf(t, custOver.Lines[0])
	require.Equal(t, []any{"2028-02-11", "2028-02-14"}, d["window"])
	require.EqualValues(t, 2, d["quantity"], "the old quantity")
	require.Equal(t, "2028-02-12", d["peak_day"])
	// 30 x 0.08 = 2.40; VAT 0.504 -> 0.50; City 0.06
	requireInvoice(t, b.one(t, "kind = 'overage' AND partner_id IS NOT NULL AND issue_date = ?", date("2028-02-15")),
		want{lines: []line{{"overage", "30", "0.08", "2.40"}}, taxes: map[string]string{"VAT": "0.50", "City": "0.06"},
			subtotal: "2.40", taxTotal: "0.56", total: "2.96"})
	// 12.00 x 14/29 = 5.79; VAT 1.2159 -> 1.22; City 0.14475 -> 0.14
	requireInvoice(t, b.one(t, "kind = 'adjustment' AND customer_id IS NOT NULL"),
		want{lines: []line{{"proration", "1", "12.00", "5.79"}}, taxes: map[string]string{"VAT": "1.22", "City": "0.14"},
			subtotal: "5.79", taxTotal: "1.36", total: "7.15"})
	// 8.00 x 14/29 = 3.86; VAT 0.8106 -> 0.81; City 0.0965 -> 0.10
	requireInvoice(t, b.one(t, "kind = 'adjustment' AND partner_id IS NOT NULL"),
		want{lines: []line{{"proration", "1", "8.00", "3.86"}}, taxes: map[string]string{"VAT": "0.81", "City": "0.10"},
			subtotal: "3.86", taxTotal: "0.91", total: "4.77"})

	// The renewal on 22 Feb: 15-22 Feb by the new quota, 11 GB over 300.
	run := b.renewals(t, "2028-02-22")
	require.Equal(t, 2, run.Invoices)
	require.Equal(t, 0, run.Skipped)
	// 36.00 + 11 x 0.15 = 37.65; VAT 7.9065 -> 7.91; City 0.94125 -> 0.94
	custRenewal := b.one(t, "kind = 'renewal' AND customer_id IS NOT NULL")
	requireInvoice(t, custRenewal, want{lines: []line{{"recurring", "3", "12.00", "36.00"}, {"overage", "11", "0.15", "1.65"}},
		taxes: map[string]string{"VAT": "7.91", "City": "0.94"}, subtotal: "37.65", taxTotal: "8.85", total: "46.50"})
	require.Equal(t, []any{"2028-02-15", "2028-02-22"}, detailOf(t, custRenewal.Lines[1])["window"])
	// 24.00 + 11 x 0.08 = 24.88; VAT 5.2248 -> 5.22; City 0.622 -> 0.62
	requireInvoice(t, b.one(t, "kind = 'renewal' AND partner_id IS NOT NULL"),
		want{lines: []line{{"recurring", "3", "8.00", "24.00"}, {"overage", "11", "0.08", "0.88"}},
			taxes: map[string]string{"VAT": "5.22", "City": "0.62"}, subtotal: "24.88", taxTotal: "5.84", total: "30.72"})

	require.Equal(t, []string{
		"customer 2028-01-31..2028-02-10", "customer 2028-02-11..2028-02-14", "customer 2028-02-15..2028-02-22",
		"partner 2028-01-31..2028-02-10", "partner 2028-02-11..2028-02-14", "partner 2028-02-15..2028-02-22",
	}, b.windows(t, id), "every day billed once per party")
	again, err := b.env.App.Billing.BillOverage(ctx, admin, id, true)
	require.NoError(t, err)
	require.Empty(t, again, "nothing left up to the run day")
}

// A plan change bills the overage before it by the old plan's quota and
// price; a term change the overage since, by the new plan's.
func TestOverageAtPlanAndTermChanges(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2027-02-28T09:00:00Z", "")
	ctx := context.Background()
	small := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, small, 100, "0.10")
	big := b.plan(t, catalog.Prepaid, []catalog.Cycle{{Frequency: "monthly", Price: dec("20.00"), SetupFee: dec("0.00")},
		{Frequency: "annually", Price: dec("200.00"), SetupFee: dec("0.00")}}, false)
	b.withStorage(t, big, 250, "0.05")
	id := b.service(t, svc{plan: small, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", tenant: "t-plan"})
	firstInvoice(t, b, id) // 28 Feb to 27 Mar, 28 days
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-plan", "2027-03-03", 130*gib) // 30 GB over 100
	b.storage(t, "t-plan", "2027-03-14", 240*gib) // under 250 from the plan change on
	b.storage(t, "t-plan", "2027-03-20", 260*gib) // 10 GB over 250

	// Up on 14 Mar: 28 Feb to 13 Mar at 0.10 over 100 GB, then 14 of 28 days at 20.00 less 10.00.
	invs, credits := b.changePlan(t, id, "2027-03-14T10:00:00Z", big.ID)
	require.Empty(t, credits)
	require.Len(t, invs, 2)
	require.Equal(t, billing.InvoiceOverage, invs[0].Kind)
	// 30 x 0.10 = 3.00; VAT 0.63; City 0.075 -> 0.08
	over := b.one(t, "kind = 'overage' AND issue_date = ?", date("2027-03-14"))
	requireInvoice(t, over, want{lines: []line{{"overage", "30", "0.10", "3.00"}}, taxes: map[string]string{"VAT": "0.63", "City": "0.08"},
		subtotal: "3.00", taxTotal: "0.71", total: "3.71"})
	require.Equal(t, []any{"2027-02-28", "2027-03-13"}, detailOf(t, over.Lines[0])["window"])
	require.EqualValues(t, 100, detailOf(t, over.Lines[0])["soft_quota_gb"], "the old plan's quota")
	// 10.00 - 5.00 = 5.00; VAT 1.05; City 0.125 -> 0.13
	requireInvoice(t, b.one(t, "kind = 'adjustment' AND issue_date = ?", date("2027-03-14")),
		want{lines: []line{{"proration", "1", "20.00", "10.00"}, {"credit", "1", "-5.00", "-5.00"}},
			taxes: map[string]string{"VAT": "1.05", "City": "0.13"}, subtotal: "5.00", taxTotal: "1.18", total: "6.18"})

	// Annual on 21 Mar: 14-20 Mar at 0.05 over 250 GB, then 200.00 less 7 of 28 unused days at 20.00.
	b.env.Clock.Set(mustTime(t, "2027-03-21T10:00:00Z"))
	ch, err := b.env.App.Services.ChangeTerm(ctx, admin, id, "annually", nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Len(t, ch.Invoices, 2)
	require.Empty(t, ch.Credits)
	// 10 x 0.05 = 0.50; VAT 0.105 -> 0.11; City 0.0125 -> 0.01
	requireInvoice(t, b.one(t, "kind = 'overage' AND issue_date = ?", date("2027-03-21")),
		want{lines: []line{{"overage", "10", "0.05", "0.50"}}, taxes: map[string]string{"VAT": "0.11", "City": "0.01"},
			subtotal: "0.50", taxTotal: "0.12", total: "0.62"})
	// 200.00 - 5.00 = 195.00; VAT 40.95; City 4.875 -> 4.88
	requireInvoice(t, b.one(t, "kind = 'adjustment' AND issue_date = ?", date("2027-03-21")),
		want{lines: []line{{"recurring", "1", "200.00", "200.00"}, {"credit", "1", "-5.00", "-5.00"}},
			taxes: map[string]string{"VAT": "40.95", "City": "4.88"}, subtotal: "195.00", taxTotal: "45.83", total: "240.83"})
	require.Equal(t, []string{"customer 2027-02-28..2027-03-13", "customer 2027-03-14..2027-03-20"}, b.windows(t, id))

	// A refused change bills no overage.
	b.storage(t, "t-plan", "2027-03-25", 300*gib)
	b.env.Clock.Set(mustTime(t, "2027-03-28T10:00:00Z"))
	_, err = b.env.App.Services.ChangeTerm(ctx, admin, id, "monthly", nil, b.env.App.Billing)
	require.Equal(t, "term_not_longer", errsCode(err))
	require.Len(t, b.invoices(t, "kind = 'overage'"), 2)
	require.Len(t, b.windows(t, id), 2)
}

// Days under the old quota are closed at a cut even with nothing to bill:
// the renewal judges only the days since by the smaller quota. 29 Feb of
// a leap year.
func TestAQuantityCutClosesTheWindowUnderTheOldQuota(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2028-02-29T10:00:00Z", "")
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 2, unit: "10.00", fee: "0.00", tenant: "t-cut"})
	firstInvoice(t, b, id) // 29 Feb to 28 Mar, 29 days
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-cut", "2028-03-05", 150*gib) // under 2 x 100, over 1 x 100
	b.storage(t, "t-cut", "2028-03-12", 120*gib) // 20 GB over 1 x 100

	invs, credits := b.changeQuantity(t, id, "2028-03-10T10:00:00Z", 1)
	require.Empty(t, invs, "nothing over the old quota")
	require.Len(t, credits, 1)
	require.Equal(t, "6.55", money.String(credits[0].Amount), "10.00 x 19 of 29 days")
	require.Equal(t, []string{"customer 2028-02-29..2028-03-09 (no bill)"}, b.windows(t, id))

	b.renewals(t, "2028-03-22")
	// 10.00 + 20 x 0.10 = 12.00 less 6.55 of credit = 5.45; VAT 1.1445 -> 1.14; City 0.13625 -> 0.14
	requireInvoice(t, b.one(t, "kind = 'renewal'"), want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"overage", "20", "0.10", "2.00"},
		{"credit", "1", "-6.55", "-6.55"}}, taxes: map[string]string{"VAT": "1.14", "City": "0.14"}, subtotal: "5.45", taxTotal: "1.28", total: "6.73"})
}

// A window claimed by another path between a run drafting a renewal and
// storing it does not hold the renewal up: the run leaves the claimed days
// out, bills the rest of the window and counts the renewal as its own.
func TestARunLeavesOutOverageDaysClaimedMeanwhile(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2026-11-01T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00", tenant: "t-race"})
	firstInvoice(t, b, id)
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage' WHERE id = ?", id).Error)
	b.storage(t, "t-race", "2026-11-05", 113*gib)   // 13 GB over
	b.storage(t, "t-race", "2026-11-20", 105*gib+1) // 6 GB over

	// The run drafts 1-24 Nov (13 GB); before it stores, 1-14 Nov is billed on request.
	var requested []billing.Invoice
	b.env.App.Billing.SetBeforeStore(func() {
		if requested != nil {
			return
		}
		b.env.Clock.Set(mustTime(t, "2026-11-14T10:00:00Z"))
		var err error
		requested, err = b.env.App.Billing.BillOverage(ctx, admin, id, false)
		require.NoError(t, err)
		b.env.Clock.Set(mustTime(t, "2026-11-24T10:00:00Z"))
	})
	t.Cleanup(func() { b.env.App.Billing.SetBeforeStore(nil) })
	b.env.Clock.Set(mustTime(t, "2026-11-24T10:00:00Z"))
	run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, date("2026-11-24"))
	require.NoError(t, err)
	require.JSONEq(t, "[]", string(run.Failures))
	require.Len(t, requested, 1)
	require.Equal(t, 1, run.Invoices, "the renewal is billed by this run")
	require.Equal(t, 0, run.Skipped)

	requireInvoice(t, b.one(t, "kind = 'overage'"), want{lines: []line{{"overage", "13", "0.10", "1.30"}},
		taxes: map[string]string{"VAT": "0.27", "City": "0.03"}, subtotal: "1.30", taxTotal: "0.30", total: "1.60"})
	// 10.00 + 6 x 0.10 = 10.60; VAT 2.226 -> 2.23; City 0.265 -> 0.27
	renewal := b.one(t, "kind = 'renewal'")
	requireInvoice(t, renewal, want{lines: []line{{"recurring", "1", "10.00", "10.00"}, {"overage", "6", "0.10", "0.60"}},
		taxes: map[string]string{"VAT": "2.23", "City": "0.27"}, subtotal: "10.60", taxTotal: "2.50", total: "13.10"})
	require.Equal(t, []any{"2026-11-15", "2026-11-24"}, detailOf(t, renewal.Lines[1])["window"])
	require.Equal(t, []string{"customer 2026-11-01..2026-11-14", "customer 2026-11-15..2026-11-24"}, b.windows(t, id))
	require.Equal(t, "2026-12-01", b.dueDate(t, id), "not moved: the renewal is unpaid")
}

// A change during a trial closes the trial's days without a bill: once the
// service is paid, only the days since are looked at.
func TestAChangeDuringATrialClosesItsDaysWithoutABill(t *testing.T) {
	t.Parallel()
	b := newBook(t, "2027-04-30T09:00:00Z", "")
	ctx := context.Background()
	p := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), false)
	b.withStorage(t, p, 100, "0.10")
	id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00",
		start: "2027-04-01", tenant: "t-trial"})
	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET storage_item = 'pw_base_storage', free_trial = true WHERE id = ?", id).Error)
	b.storage(t, "t-trial", "2027-04-10", 150*gib) // 50 GB over, free
	b.storage(t, "t-trial", "2027-05-03", 210*gib) // 10 GB over 2 x 100

	invs, credits := b.changeQuantity(t, id, "2027-04-30T10:00:00Z", 2)
	require.Empty(t, invs)
	require.Empty(t, credits)
	require.Equal(t, []string{"customer 2027-04-01..2027-04-29 (no bill)"}, b.windows(t, id))

	require.NoError(t, b.env.App.DB.Gorm.Exec("UPDATE services SET free_trial = false WHERE id = ?", id).Error)
	b.env.Clock.Set(mustTime(t, "2027-05-05T10:00:00Z"))
	preview, err := b.env.App.Billing.BillOverage(ctx, admin, id, true)
	require.NoError(t, err)
	require.Len(t, preview, 1)
	require.Len(t, preview[0].Lines, 1)
	require.Equal(t, "10", preview[0].Lines[0].Quantity.String(), "only 30 Apr to 5 May, by the new quota")
	require.Equal(t, "1.00", money.String(preview[0].Lines[0].Amount))
}
