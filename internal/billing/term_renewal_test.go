package billing_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
)

// A term change made while the next period's renewal is issued and unpaid
// (the due date moves only when it settles) credits the renewal's unused
// days too, so no day is billed twice: before the due date, the rest of the
// current period and the whole renewal; after it, the renewal from today.
func TestTermChangeWithARenewalIssued(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, at string
		lines    []line
		taxes    map[string]string
		subtotal string
		taxTotal string
		total    string
		credit   [2]string // the credit line's days
	}{
		{
			name: "before the due date", at: "2026-11-28T10:00:00Z",
			// 10.00 x 3 of 30 days (28-30 Nov) = 1.00, plus the renewal's 10.00 x 31 of 31 = 10.00: 11.00 off 100.00
			// VAT 21% of 89.00 = 18.69; City 2.5% = 2.225 -> 2.23
			lines: []line{{"recurring", "1", "100.00", "100.00"}, {"credit", "1", "-11.00", "-11.00"}},
			taxes: map[string]string{"VAT": "18.69", "City": "2.23"}, subtotal: "89.00", taxTotal: "20.92", total: "109.92",
			credit: [2]string{"2026-11-28", "2026-12-31"},
		},
		{
			name: "after the due date, the renewal unpaid", at: "2026-12-05T10:00:00Z",
			// the renewal's 10.00 x 27 of 31 days (5-31 Dec) = 8.709 -> 8.71 off 100.00
			// VAT 21% of 91.29 = 19.1709 -> 19.17; City 2.5% = 2.28225 -> 2.28
			lines: []line{{"recurring", "1", "100.00", "100.00"}, {"credit", "1", "-8.71", "-8.71"}},
			taxes: map[string]string{"VAT": "19.17", "City": "2.28"}, subtotal: "91.29", taxTotal: "21.45", total: "112.74",
			credit: [2]string{"2026-12-05", "2026-12-31"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBook(t, "2026-11-01T09:00:00Z", "")
			ctx := context.Background()
			p := b.plan(t, catalog.Prepaid, []catalog.Cycle{{Frequency: "monthly", Price: dec("10.00"), SetupFee: dec("0.00")},
				{Frequency: "annually", Price: dec("100.00"), SetupFee: dec("0.00")}}, false)
			id := b.service(t, svc{plan: p, customer: b.customer(t, nil), frequency: "monthly", quantity: 1, unit: "10.00", fee: "0.00"})
			firstInvoice(t, b, id)
			// The renewal of 1-31 Dec, issued seven days ahead and left unpaid.
			b.env.Clock.Set(mustTime(t, "2026-11-24T09:00:00Z"))
			run, err := b.env.App.Billing.RunNow(ctx, "test", billing.RunRenewals, date("2026-11-24"))
			require.NoError(t, err)
			require.Equal(t, 1, run.Invoices)
			b.env.Clock.Set(mustTime(t, tt.at))

			ch, err := b.env.App.Services.ChangeTerm(ctx, admin, id, "annually", nil, b.env.App.Billing)
			require.NoError(t, err)
			require.Len(t, ch.Invoices, 1)
			require.Empty(t, ch.Credits, "the credit fits in the new term's price")
			got := b.invoices(t, "kind = 'adjustment'")
			require.Len(t, got, 1)
			requireInvoice(t, got[0], want{lines: tt.lines, taxes: tt.taxes, subtotal: tt.subtotal, taxTotal: tt.taxTotal, total: tt.total})
			credit := got[0].Lines[1]
			require.Equal(t, tt.credit, [2]string{credit.PeriodStart.Format(time.DateOnly), credit.PeriodEnd.Format(time.DateOnly)})
			require.Len(t, b.invoices(t, "kind = 'renewal' AND status = 'unpaid'"), 1, "the renewal stands, owed")
		})
	}
}
