// Package billing makes invoices: prepaid first periods and renewals,
// post-paid months (fixed and metered), the partner's bill at cost beside its
// customer's at end price, payments, and billing runs that are safe to repeat.
package billing

import (
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/internal/money"
)

// Day is the calendar day of t in loc, as midnight UTC: billing counts whole
// days in the SP's zone.
func Day(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// AddCycle moves a due date n months on, landing on the anchor day (the
// day the service started) clamped to the month's end: 31 Jan, 28 Feb, 31 Mar.
func AddCycle(date time.Time, months, anchor int) time.Time {
	y, m, _ := date.Date()
	first := time.Date(y, m+time.Month(months), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return time.Date(first.Year(), first.Month(), min(anchor, last), 0, 0, 0, 0, time.UTC)
}

// MonthStart is the first day of date's month; MonthEnd its last.
func MonthStart(date time.Time) time.Time {
	return time.Date(date.Year(), date.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// MonthEnd is the last day of date's month.
func MonthEnd(date time.Time) time.Time { return MonthStart(date).AddDate(0, 1, -1) }

// Days counts the days from a to b, both included.
func Days(a, b time.Time) int { return int(b.Sub(a).Hours()/24) + 1 }

// Line is an invoice line being built.
type Line struct {
	Kind        string
	ServiceID   *uuid.UUID
	Description string
	PeriodStart *time.Time
	PeriodEnd   *time.Time
	Quantity    decimal.Decimal
	UnitPrice   decimal.Decimal
	Amount      decimal.Decimal
	TaxIDs      []uuid.UUID
	Detail      map[string]any
}

// Line kinds.
const (
	KindRecurring = "recurring"
	KindSetup     = "setup"
	KindProration = "proration"
	KindUsage     = "usage"
	KindOverage   = "overage"
	KindCredit    = "credit"
)

// Tax is a rate in percent.
type Tax struct {
	ID   uuid.UUID
	Name string
	Rate decimal.Decimal
}

// TaxAmount is one tax of an invoice.
type TaxAmount struct {
	Tax
	Base, Amount decimal.Decimal
}

// Totals adds up lines: each tax once per invoice on the sum of the lines it
// applies to, rounded half away from zero.
func Totals(lines []Line, taxes map[uuid.UUID]Tax) (subtotal, taxTotal, total decimal.Decimal, perTax []TaxAmount) {
	bases := map[uuid.UUID]decimal.Decimal{}
	for _, l := range lines {
		subtotal = subtotal.Add(l.Amount)
		for _, id := range l.TaxIDs {
			bases[id] = bases[id].Add(l.Amount)
		}
	}
	for id, base := range bases {
		t := taxes[id]
		amt := money.Round2(base.Mul(t.Rate).Div(decimal.NewFromInt(100)))
		perTax = append(perTax, TaxAmount{Tax: t, Base: base, Amount: amt})
		taxTotal = taxTotal.Add(amt)
	}
	sort.Slice(perTax, func(i, j int) bool {
		return perTax[i].Name < perTax[j].Name || (perTax[i].Name == perTax[j].Name && perTax[i].ID.String() < perTax[j].ID.String())
	})
	return subtotal, taxTotal, subtotal.Add(taxTotal), perTax
}

// Prorate is amount x days / daysInPeriod, rounded.
func Prorate(amount decimal.Decimal, days, daysInPeriod int) decimal.Decimal {
	return money.Round2(amount.Mul(decimal.NewFromInt(int64(days))).Div(decimal.NewFromInt(int64(daysInPeriod))))
}

// Aggregations of a month's daily usage.
const (
	AggMax  = "max"
	AggLast = "last"
	AggAvg  = "avg"
)

// GB is bytes in whole GB, rounded up: metered storage is billed per GB.
func GB(bytes int64) int64 {
	if bytes <= 0 {
		return 0
	}
	const gib = int64(1) << 30
	return bytes/gib + min(bytes%gib, 1)
}

// Aggregate folds daily values (in day order): max, last, or the mean
// rounded to 2 places.
func Aggregate(agg string, values []decimal.Decimal) decimal.Decimal {
	if len(values) == 0 {
		return decimal.Zero
	}
	switch agg {
	case AggLast:
		return values[len(values)-1]
	case AggAvg:
		sum := decimal.Zero
		for _, v := range values {
			sum = sum.Add(v)
		}
		return money.Round2(sum.Div(decimal.NewFromInt(int64(len(values)))))
	default:
		m := values[0]
		for _, v := range values[1:] {
			if v.GreaterThan(m) {
				m = v
			}
		}
		return m
	}
}
