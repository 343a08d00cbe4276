package billing_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/money"
)

// dailyRates sums, per day, the price per period that a party's live
// invoice lines bill a service at: a recurring or proration line adds its
// quantity x unit price over its days, a change's credit line takes off the
// old price it gives back (its detail's old unit price x quantity). A day
// billed once at the price in force sums to that price.
func (b *book) dailyRates(t *testing.T, id uuid.UUID, party string) map[string]decimal.Decimal {
	t.Helper()
	who := "i.customer_id IS NOT NULL"
	if party == billing.PartyPartner {
		who = "i.partner_id IS NOT NULL"
	}
	var rows []struct {
		Kind                   string
		PeriodStart, PeriodEnd time.Time
		Quantity, UnitPrice    decimal.Decimal
		Detail                 string
	}
	require.NoError(t, b.env.App.DB.Gorm.Raw(`SELECT l.kind, l.period_start, l.period_end, l.quantity, l.unit_price, l.detail::text AS detail
		FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id
		WHERE l.service_id = ? AND i.status <> 'void' AND `+who+` AND l.kind IN ('recurring', 'proration', 'credit')`, id).Scan(&rows).Error)
	out := map[string]decimal.Decimal{}
	for _, r := range rows {
		rate := r.Quantity.Mul(r.UnitPrice)
		if r.Kind == billing.KindCredit {
			var d struct {
				OldUnitPrice string          `json:"old_unit_price"`
				Quantity     json.RawMessage `json:"quantity"`
			}
			require.NoError(t, json.Unmarshal([]byte(r.Detail), &d))
			require.NotEmpty(t, d.OldUnitPrice, "a change's credit line names the price it gives back: %s", r.Detail)
			require.NotEmpty(t, d.Quantity, "a change's credit line names the quantity it gives back: %s", r.Detail)
			rate = dec(d.OldUnitPrice).Mul(dec(string(d.Quantity))).Neg()
		}
		for d := r.PeriodStart; !d.After(r.PeriodEnd); d = d.AddDate(0, 0, 1) {
			k := d.Format(time.DateOnly)
			out[k] = out[k].Add(rate)
		}
	}
	return out
}

// requireRates: each day from..to is billed once, at old before the change
// day and at new from it on; no other day is billed at all.
func requireRates(t *testing.T, rates map[string]decimal.Decimal, from, change, to, old, new string) {
	t.Helper()
	for d := date(from); !d.After(date(to)); d = d.AddDate(0, 0, 1) {
		k := d.Format(time.DateOnly)
		want := old
		if k >= change {
			want = new
		}
		require.Equal(t, want, money.String(rates[k]), "price in force on %s", k)
	}
	for k, r := range rates {
		if k < from || k > to {
			require.True(t, r.IsZero(), "%s is billed at %s", k, r)
		}
	}
}

// Plan and quantity changes made while the next period's renewal is issued
// (invoiced 7 days ahead; the due date moves only when the customer's
// renewal settles) hold from the change day over the rest of the current
// period and over the renewal's days: the difference is billed, or
// credited, for both, whether the renewal is paid or not and whether the
// due date has passed or not. Monthly from 31 Jan 2028: the first period
// is 31 Jan to 28 Feb (29 days), the renewal 29 Feb to 30 Mar (31 days),
// issued on 22 Feb.
func TestChangesWithARenewalIssued(t *testing.T) {
	t.Parallel()
	// Before the due date (25 Feb): 4 of 29 days of the first period and
	// the renewal's 31 of 31. After it (10 Mar): the renewal's 21 of 31.
	type outcome struct {
		lines                     []line
		taxes                     map[string]string
		subtotal, taxTotal, total string
		credit                    string // credit kept for the next invoices, "" for none
	}
	type change struct {
		name          string
		early, late   outcome
		oldAt, newAt  string // price per period before and after the change
		lineRatesOnly bool   // a cut is a credit, not a line: the lines stay at the old price
	}
	changes := []change{
		{
			name: "plan upgrade 10.00 -> 20.00", oldAt: "10.00", newAt: "20.00",
			// 20.00 x 4/29 = 2.76 less 10.00 x 4/29 = 1.38; 20.00 less 10.00: 11.38; VAT 2.3898 -> 2.39; City 0.2845 -> 0.28
			early: outcome{lines: []line{{"proration", "1", "20.00", "2.76"}, {"credit", "1", "-1.38", "-1.38"},
				{"proration", "1", "20.00", "20.00"}, {"credit", "1", "-10.00", "-10.00"}},
				taxes: map[string]string{"VAT": "2.39", "City": "0.28"}, subtotal: "11.38", taxTotal: "2.67", total: "14.05"},
			// 20.00 x 21/31 = 13.55 less 10.00 x 21/31 = 6.77: 6.78; VAT 1.4238 -> 1.42; City 0.1695 -> 0.17
			late: outcome{lines: []line{{"proration", "1", "20.00", "13.55"}, {"credit", "1", "-6.77", "-6.77"}},
				taxes: map[string]string{"VAT": "1.42", "City": "0.17"}, subtotal: "6.78", taxTotal: "1.59", total: "8.37"},
		},
		{
			name: "plan downgrade 10.00 -> 5.00", oldAt: "10.00", newAt: "5.00",
			// 5.00 x 4/29 = 0.69 against 1.38 (0.69 kept); 5.00 against 10.00 (5.00 kept): a zero bill, 5.69 of credit
			early: outcome{lines: []line{{"proration", "1", "5.00", "0.69"}, {"credit", "1", "-0.69", "-0.69"},
				{"proration", "1", "5.00", "5.00"}, {"credit", "1", "-5.00", "-5.00"}},
				taxes: map[string]string{"VAT": "0.00", "City": "0.00"}, subtotal: "0.00", taxTotal: "0.00", total: "0.00", credit: "5.69"},
			// 5.00 x 21/31 = 3.39 against 6.77: 3.38 kept
			late: outcome{lines: []line{{"proration", "1", "5.00", "3.39"}, {"credit", "1", "-3.39", "-3.39"}},
				taxes: map[string]string{"VAT": "0.00", "City": "0.00"}, subtotal: "0.00", taxTotal: "0.00", total: "0.00", credit: "3.38"},
		},
		{
			name: "quantity raise 2 -> 3", oldAt: "20.00", newAt: "30.00",
			// 10.00 x 1 x 4/29 = 1.38 and 10.00 x 1 x 31/31 = 10.00: 11.38
			early: outcome{lines: []line{{"proration", "1", "10.00", "1.38"}, {"proration", "1", "10.00", "10.00"}},
				taxes: map[string]string{"VAT": "2.39", "City": "0.28"}, subtotal: "11.38", taxTotal: "2.67", total: "14.05"},
			// 10.00 x 21/31 = 6.77; VAT 1.4217 -> 1.42; City 0.16925 -> 0.17
			late: outcome{lines: []line{{"proration", "1", "10.00", "6.77"}},
				taxes: map[string]string{"VAT": "1.42", "City": "0.17"}, subtotal: "6.77", taxTotal: "1.59", total: "8.36"},
		},
		{
			name: "quantity cut 3 -> 1", oldAt: "30.00", newAt: "30.00", lineRatesOnly: true,
			// 10.00 x 2 x 4/29 = 2.76 and 10.00 x 2 x 31/31 = 20.00
			early: outcome{credit: "22.76"},
			// 10.00 x 2 x 21/31 = 13.55
			late: outcome{credit: "13.55"},
		},
	}
	scenarios := []struct {
		name, at string
		paid     bool
		late     bool
	}{
		{name: "before the due date, the renewal unpaid", at: "2028-02-25T10:00:00Z"},
		{name: "before the due date, the renewal paid", at: "2028-02-25T10:00:00Z", paid: true},
		{name: "after the due date, the renewal unpaid", at: "2028-03-10T10:00:00Z", late: true},
		{name: "after the due date, the renewal paid", at: "2028-03-10T10:00:00Z", paid: true, late: true},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := newBook(t, "2028-01-31T09:00:00Z", "")
			basic := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), true)
			plans := map[string]catalog.Plan{
				"20.00": b.plan(t, catalog.Prepaid, cycles("monthly", "20.00", "0.00"), true),
				"5.00":  b.plan(t, catalog.Prepaid, cycles("monthly", "5.00", "0.00"), true),
			}
			quantities := map[string][2]int{"quantity raise 2 -> 3": {2, 3}, "quantity cut 3 -> 1": {3, 1}}
			ids := make([]uuid.UUID, len(changes))
			for i, c := range changes {
				q := quantities[c.name]
				if q[0] == 0 {
					q[0] = 1
				}
				ids[i] = b.service(t, svc{plan: basic, customer: b.customer(t, nil), frequency: "monthly", quantity: q[0], unit: "10.00", fee: "0.00"})
				firstInvoice(t, b, ids[i])
			}
			require.Equal(t, len(changes), b.renewals(t, "2028-02-22").Invoices)
			due := "2028-02-29"
			if sc.paid {
				b.env.Clock.Set(mustTime(t, "2028-02-23T10:00:00Z"))
				for _, inv := range b.invoices(t, "kind = 'renewal'") {
					b.pay(t, inv)
				}
				due = "2028-03-31"
			}
			change := sc.at[:10]
			for i, c := range changes {
				t.Run(c.name, func(t *testing.T) {
					id := ids[i]
					var credits []billing.Credit
					if q, ok := quantities[c.name]; ok {
						_, credits = b.changeQuantity(t, id, sc.at, q[1])
					} else {
						b.env.Clock.Set(mustTime(t, sc.at))
						ch, err := b.env.App.Services.ChangePlan(ctx, admin, id, plans[c.newAt].ID, nil, b.env.App.Billing)
						require.NoError(t, err)
						credits = ch.Credits
					}
					w := c.early
					if sc.late {
						w = c.late
					}
					got := b.invoices(t, "kind = 'adjustment' AND id IN (SELECT invoice_id FROM invoice_lines WHERE service_id = ?)", id)
					if w.lines == nil {
						require.Empty(t, got)
					} else {
						require.Len(t, got, 1)
						requireInvoice(t, got[0], want{lines: w.lines, taxes: w.taxes, subtotal: w.subtotal, taxTotal: w.taxTotal, total: w.total})
						last := got[0].Lines[len(got[0].Lines)-1]
						require.Equal(t, "2028-03-30", last.PeriodEnd.Format(time.DateOnly), "the renewal's days are settled too")
					}
					if w.credit == "" {
						require.Empty(t, credits)
					} else {
						require.Len(t, credits, 1)
						require.Equal(t, w.credit, money.String(credits[0].Amount))
					}
					require.Equal(t, due, b.dueDate(t, id), "a change moves no due date")
					status := billing.StatusUnpaid
					if sc.paid {
						status = billing.StatusPaid
					}
					require.Len(t, b.invoices(t, "kind = 'renewal' AND status = ? AND id IN (SELECT invoice_id FROM invoice_lines WHERE service_id = ?)", status, id), 1,
						"the renewal stands")
					newAt := c.newAt
					if c.lineRatesOnly {
						newAt = c.oldAt
					}
					requireRates(t, b.dailyRates(t, id, billing.PartyCustomer), "2028-01-31", change, "2028-03-30", c.oldAt, newAt)
				})
			}
		})
	}
}

// A partner sale whose customer has not paid the renewal while the partner
// has paid the SP's at cost: the due date has not moved, and an upgrade
// settles the renewal's days for both parties, each at its own price.
func TestPartnerUpgradeWithARenewalHalfPaid(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := newBook(t, "2028-01-31T09:00:00Z", "")
	pid := b.env.NewPartner(t)
	basic := b.plan(t, catalog.Prepaid, cycles("monthly", "10.00", "0.00"), true)
	pro := b.plan(t, catalog.Prepaid, cycles("monthly", "20.00", "0.00"), true)
	// discount 20%, markup 25%: cost 16.00, end price 20.00
	require.NoError(t, b.env.App.DB.Gorm.Exec(`INSERT INTO partner_plan_pricing (partner_id, plan_id, discount_percent, markup_percent, updated_at)
		VALUES (?, ?, 20, 25, now())`, pid, pro.ID).Error)
	id := b.service(t, svc{plan: basic, customer: b.customer(t, &pid), partner: &pid, frequency: "monthly", quantity: 1,
		unit: "10.00", fee: "0.00", cost: ptr("8.00"), feeCost: ptr("0.00")})
	firstInvoice(t, b, id)
	require.Equal(t, 2, b.renewals(t, "2028-02-22").Invoices)
	b.env.Clock.Set(mustTime(t, "2028-02-23T10:00:00Z"))
	b.pay(t, b.invoices(t, "kind = 'renewal' AND partner_id IS NOT NULL")[0])
	require.Equal(t, "2028-02-29", b.dueDate(t, id), "the partner's payment moves nothing")

	b.env.Clock.Set(mustTime(t, "2028-02-25T10:00:00Z"))
	ch, err := b.env.App.Services.ChangePlan(ctx, admin, id, pro.ID, nil, b.env.App.Billing)
	require.NoError(t, err)
	require.Len(t, ch.Invoices, 2)
	require.Empty(t, ch.Credits)
	partner := b.invoices(t, "kind = 'adjustment' AND partner_id IS NOT NULL")
	require.Len(t, partner, 1)
	// 16.00 x 4/29 = 2.21 less 8.00 x 4/29 = 1.10; 16.00 less 8.00: 9.11; VAT 1.9131 -> 1.91; City 0.22775 -> 0.23
	requireInvoice(t, partner[0], want{lines: []line{{"proration", "1", "16.00", "2.21"}, {"credit", "1", "-1.10", "-1.10"},
		{"proration", "1", "16.00", "16.00"}, {"credit", "1", "-8.00", "-8.00"}},
		taxes: map[string]string{"VAT": "1.91", "City": "0.23"}, subtotal: "9.11", taxTotal: "2.14", total: "11.25"})
	cust := b.invoices(t, "kind = 'adjustment' AND customer_id IS NOT NULL")
	require.Len(t, cust, 1)
	require.Equal(t, "14.05", money.String(cust[0].Total), "20.00 x 4/29 - 10.00 x 4/29 + 20.00 - 10.00 = 11.38 plus taxes")
	requireRates(t, b.dailyRates(t, id, billing.PartyCustomer), "2028-01-31", "2028-02-25", "2028-03-30", "10.00", "20.00")
	requireRates(t, b.dailyRates(t, id, billing.PartyPartner), "2028-01-31", "2028-02-25", "2028-03-30", "8.00", "16.00")

	// Paying the customer's renewal now moves the due date on; the next
	// renewal is at the new plan's prices.
	b.pay(t, b.invoices(t, "kind = 'renewal' AND customer_id IS NOT NULL")[0])
	require.Equal(t, "2028-03-31", b.dueDate(t, id))
	require.Equal(t, 2, b.renewals(t, "2028-03-24").Invoices)
	next := b.invoices(t, "kind = 'renewal' AND period_start = ?", date("2028-03-31"))
	require.Len(t, next, 2)
	for _, inv := range next {
		require.Contains(t, []string{"16.00", "20.00"}, money.String(inv.Lines[0].UnitPrice), fmt.Sprintf("renewal %s", *inv.Number))
	}
	requireRates(t, b.dailyRates(t, id, billing.PartyCustomer), "2028-01-31", "2028-02-25", "2028-04-29", "10.00", "20.00")
}
