// Package usagereport is the billing and usage report of one service over a
// period of days in the SP's zone: per offering item (summary) or per day
// and item (daily), as JSON, CSV or XLSX.
//
// Entities: a service, its plan's offering items (the storage item, the
// metered charges' items and any other item with usage stored by the daily
// sync in usage_daily), its quantity changes and the invoice lines that
// billed it. Nothing is stored: a report is read afresh on each request.
//
// Invariants: figures follow billing's own rules (internal/billing's
// BilledValue, Aggregate, OverGB and QuantityStretches), so a report shows
// what the invoices bill; every format carries the same figures; a caller
// sees only the services it may see (the owner customer, its partner,
// admins), anyone else is told the service does not exist.
package usagereport

import (
	"context"
	"encoding/json"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Kinds of report.
const (
	KindSummary = "summary"
	KindDaily   = "daily"
)

// Summary row types: the plan's own charges, or an offering item's.
const (
	RowPlan = "plan"
	RowItem = "item"
)

// MaxDays is the longest period a report covers.
const MaxDays = 366

// Service builds reports.
type Service struct {
	db       *gorm.DB
	billing  *billing.Service
	currency string
}

// New wires the service; currency is the platform's, for a service never billed.
func New(db *gorm.DB, b *billing.Service, currency string) *Service {
	return &Service{db: db, billing: b, currency: currency}
}

// Report is one service's report over [From, To].
type Report struct {
	ServiceID uuid.UUID
	PlanID    uuid.UUID
	PlanName  string
	Kind      string
	From, To  time.Time
	Currency  string
	// StorageItem is the item the storage quota is on ("" when none).
	StorageItem string
	Summary     []SummaryRow
	Daily       []DailyRow
}

// SummaryRow is the plan's charges (Type plan: recurring, proration and
// setup lines) or one offering item over the period (Type item).
type SummaryRow struct {
	Type        string
	Item        string // the offering item; the plan's name for the plan row
	Unit        string // GB for storage (billed in whole GB), else the vendor's unit
	Aggregation string // how the period's daily values fold: max, last or avg
	Usage       *decimal.Decimal
	// The quantity in force over the period (Min < Max when it changed),
	// and the quotas it gives (nil: unlimited or none).
	QuantityMin, QuantityMax int
	SoftMin, SoftMax         *int64
	HardMin, HardMax         *int64
	// OverageGB is the most GB over the soft quota on any day, each day
	// against that day's quota.
	OverageGB int64
	Amount    decimal.Decimal
	Invoices  []string
}

// DailyRow is one item on one day.
type DailyRow struct {
	Day       time.Time
	Item      string
	Unit      string
	Value     *int64 // nil: nothing reported that day
	Quantity  int
	Soft      *int64
	Hard      *int64
	OverageGB int64
}

// Params are what a caller asks for; nil dates take the defaults (the
// current month so far; from the start of to's month when only to is given).
type Params struct {
	Kind     string
	From, To *time.Time
	// Both fills Summary and Daily whatever the kind (a workbook has a
	// sheet of each).
	Both bool
}

// Period checks and completes a requested period against today.
func Period(today time.Time, from, to *time.Time) (time.Time, time.Time, error) {
	t := today
	if to != nil {
		t = *to
	}
	f := billing.MonthStart(t)
	if from != nil {
		f = *from
	}
	switch {
	case t.Before(f):
		return f, t, errs.Unprocessable("invalid_period", "The period ends before it starts.").WithField("to")
	case t.After(today):
		return f, t, errs.Unprocessable("period_in_future", "The period ends after today; usage is known up to today.").WithField("to")
	case billing.Days(f, t) > MaxDays:
		return f, t, errs.Unprocessable("period_too_long", "A report covers at most 366 days.").WithField("to")
	}
	return f, t, nil
}

// target is the service and what its plan says about usage.
type target struct {
	ID             uuid.UUID
	PlanID         uuid.UUID
	PlanName       string
	Quantity       int
	VendorTenantID *string
	StorageItem    *string
	HasModule      bool
	StorageQuotaGB *int
	OverageQuotaGB *int
	OfferingItems  []byte
}

// Build reads a service's report for a caller who may see the service.
func (s *Service) Build(ctx context.Context, who auth.Principal, id uuid.UUID, p Params) (Report, error) {
	kind := p.Kind
	if kind == "" {
		kind = KindSummary
	}
	if kind != KindSummary && kind != KindDaily {
		return Report{}, errs.Invalid("kind", "invalid", "kind is summary or daily")
	}
	from, to, err := Period(s.billing.Today(), p.From, p.To)
	if err != nil {
		return Report{}, err
	}
	db := s.db.WithContext(ctx)
	var tg target
	q := subscription.Scoped(db.Table("services"), who).
		Select(`services.id, services.plan_id, p.name AS plan_name, services.quantity, services.vendor_tenant_id, services.storage_item,
			m.plan_id IS NOT NULL AS has_module, m.storage_quota_gb, m.overage_quota_gb, m.offering_items`).
		Joins("JOIN plans p ON p.id = services.plan_id").
		Joins("LEFT JOIN plan_module_settings m ON m.plan_id = services.plan_id").
		Where("services.id = ?", id).Limit(1)
	if err := q.Scan(&tg).Error; err != nil {
		return Report{}, errs.Internal(err)
	}
	if tg.ID == uuid.Nil {
		return Report{}, errs.NotFound("service")
	}
	r := Report{ServiceID: tg.ID, PlanID: tg.PlanID, PlanName: tg.PlanName, Kind: kind, From: from, To: to, Currency: s.currency}
	if tg.StorageItem != nil {
		r.StorageItem = *tg.StorageItem
	}

	stretches, err := s.billing.QuantityStretches(ctx, db, tg.ID, tg.Quantity, from, to)
	if err != nil {
		return Report{}, err
	}
	var charges []catalog.MeteredCharge
	if err := db.Where("plan_id = ?", tg.PlanID).Order("offering_item").Find(&charges).Error; err != nil {
		return Report{}, errs.Internal(err)
	}
	agg := map[string]string{}
	for _, c := range charges {
		agg[c.OfferingItem] = c.Aggregation
	}
	usage, err := s.usage(ctx, tg, from, to)
	if err != nil {
		return Report{}, err
	}
	items := itemNames(tg, charges, usage)
	settings := catalog.ModuleSettings{StorageQuotaGB: tg.StorageQuotaGB, OverageQuotaGB: tg.OverageQuotaGB, OfferingItems: tg.OfferingItems}
	qt := quotas{settings: settings, module: tg.HasModule, storage: tg.StorageItem}

	if kind == KindDaily || p.Both {
		r.Daily = daily(from, to, items, usage, stretches, qt)
	}
	if kind == KindDaily && !p.Both {
		return r, nil
	}
	billed, currency, err := s.billed(ctx, tg.ID, from, to)
	if err != nil {
		return Report{}, err
	}
	if currency != "" {
		r.Currency = currency
	}
	plan := SummaryRow{Type: RowPlan, Item: tg.PlanName, Amount: decimal.Zero}
	plan.QuantityMin, plan.QuantityMax = quantityRange(stretches)
	if b, ok := billed[""]; ok {
		plan.Amount, plan.Invoices = b.amount, b.invoices
	}
	r.Summary = append(r.Summary, plan)
	for _, it := range items {
		row := summarize(it, agg[it], usage[it], stretches, qt)
		if b, ok := billed[it]; ok {
			row.Amount, row.Invoices = b.amount, b.invoices
		}
		r.Summary = append(r.Summary, row)
	}
	return r, nil
}

type dayValue struct {
	Day   time.Time
	Value int64
	Unit  string
}

// usage reads the tenant's daily usage in [from, to] by item, in day order.
func (s *Service) usage(ctx context.Context, tg target, from, to time.Time) (map[string][]dayValue, error) {
	out := map[string][]dayValue{}
	if tg.VendorTenantID == nil {
		return out, nil
	}
	var rows []struct {
		Item, Unit string
		Day        time.Time
		Value      int64
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT item, day, value, unit FROM usage_daily WHERE tenant_id = ? AND day BETWEEN ? AND ?
		ORDER BY item, day`, *tg.VendorTenantID, from, to).Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.Item] = append(out[r.Item], dayValue{Day: r.Day, Value: r.Value, Unit: r.Unit})
	}
	return out, nil
}

// itemNames: the storage item, the metered items and any item with usage,
// in name order.
func itemNames(tg target, charges []catalog.MeteredCharge, usage map[string][]dayValue) []string {
	seen := map[string]bool{}
	if tg.StorageItem != nil {
		seen[*tg.StorageItem] = true
	}
	for _, c := range charges {
		seen[c.OfferingItem] = true
	}
	for it := range usage {
		seen[it] = true
	}
	out := make([]string, 0, len(seen))
	for it := range seen {
		out = append(out, it)
	}
	sort.Strings(out)
	return out
}

// quotas gives an item's soft and hard quota at a quantity, as the service
// is provisioned (subscription.QuotasOf): the storage item in GB, the hard
// quota being the soft one plus the overage allowance; other items by count
// with no hard quota. Nil is unlimited, or no quota set.
type quotas struct {
	settings catalog.ModuleSettings
	module   bool
	storage  *string
}

func (q quotas) at(item string, quantity int) (soft, hard *int64) {
	if !q.module {
		return nil, nil
	}
	all := subscription.QuotasOf(q.settings, quantity)
	if q.storage != nil && item == *q.storage {
		if all.StorageGB == nil || *all.StorageGB < 0 {
			return nil, nil
		}
		s := *all.StorageGB
		if all.OverageGB != nil && *all.OverageGB >= 0 {
			h := s + *all.OverageGB
			hard = &h
		}
		return &s, hard
	}
	if v, ok := all.Items[item]; ok && v >= 0 {
		return &v, nil
	}
	return nil, nil
}

// overGB is the GB a day's storage goes over its soft quota (billing.OverGB).
func (q quotas) overGB(item string, dv dayValue, quantity int) int64 {
	if !q.module || q.storage == nil || item != *q.storage || q.settings.StorageQuotaGB == nil || *q.settings.StorageQuotaGB < 0 || dv.Unit != "bytes" {
		return 0
	}
	return billing.OverGB(dv.Value, *q.settings.StorageQuotaGB, quantity)
}

func quantityOn(stretches []billing.Stretch, day time.Time) int {
	for _, st := range stretches {
		if !day.Before(st.From) && !day.After(st.To) {
			return st.Quantity
		}
	}
	return stretches[len(stretches)-1].Quantity
}

func quantityRange(stretches []billing.Stretch) (lo, hi int) {
	lo, hi = stretches[0].Quantity, stretches[0].Quantity
	for _, st := range stretches[1:] {
		lo, hi = min(lo, st.Quantity), max(hi, st.Quantity)
	}
	return lo, hi
}

func unitOf(item string, days []dayValue, storage *string) string {
	if len(days) > 0 {
		if days[0].Unit == "bytes" {
			return "GB"
		}
		return days[0].Unit
	}
	if storage != nil && item == *storage {
		return "GB"
	}
	return ""
}

// summarize folds an item's days as the plan bills them: a metered
// charge's aggregation, else the peak.
func summarize(item, aggregation string, days []dayValue, stretches []billing.Stretch, q quotas) SummaryRow {
	if aggregation == "" {
		aggregation = billing.AggMax
	}
	row := SummaryRow{Type: RowItem, Item: item, Unit: unitOf(item, days, q.storage), Aggregation: aggregation, Amount: decimal.Zero}
	values := make([]decimal.Decimal, len(days))
	for i, dv := range days {
		values[i] = decimal.NewFromInt(billing.BilledValue(dv.Value, dv.Unit))
		row.OverageGB = max(row.OverageGB, q.overGB(item, dv, quantityOn(stretches, dv.Day)))
	}
	if len(days) > 0 {
		u := billing.Aggregate(aggregation, values)
		row.Usage = &u
	}
	row.QuantityMin, row.QuantityMax = quantityRange(stretches)
	for i, st := range stretches {
		soft, hard := q.at(item, st.Quantity)
		if i == 0 {
			row.SoftMin, row.SoftMax, row.HardMin, row.HardMax = soft, soft, hard, hard
			continue
		}
		row.SoftMin, row.SoftMax = lower(row.SoftMin, soft), higher(row.SoftMax, soft)
		row.HardMin, row.HardMax = lower(row.HardMin, hard), higher(row.HardMax, hard)
	}
	return row
}

// lower and higher compare quotas where nil is unlimited.
func lower(a, b *int64) *int64 {
	if a == nil || (b != nil && *b < *a) {
		return b
	}
	return a
}

func higher(a, b *int64) *int64 {
	if a == nil || b == nil {
		return nil
	}
	if *b > *a {
		return b
	}
	return a
}

// daily is a row per item and day (items in name order, each day by day),
// so each item's days sit together for the XLSX chart.
func daily(from, to time.Time, items []string, usage map[string][]dayValue, stretches []billing.Stretch, q quotas) []DailyRow {
	n := billing.Days(from, to)
	out := make([]DailyRow, 0, n*len(items))
	for _, it := range items {
		days := usage[it]
		unit := unitOf(it, days, q.storage)
		next := 0
		for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
			qty := quantityOn(stretches, d)
			soft, hard := q.at(it, qty)
			row := DailyRow{Day: d, Item: it, Unit: unit, Quantity: qty, Soft: soft, Hard: hard}
			if next < len(days) && days[next].Day.Equal(d) {
				v := billing.BilledValue(days[next].Value, days[next].Unit)
				row.Value = &v
				row.OverageGB = q.overGB(it, days[next], qty)
				next++
			}
			out = append(out, row)
		}
	}
	return out
}

type billedItem struct {
	amount   decimal.Decimal
	invoices []string
}

// billed is what the customer's invoices (not void) billed for the service
// in lines whose period meets [from, to], by item ("" for the plan's own
// recurring, proration and setup lines), with their invoice numbers.
func (s *Service) billed(ctx context.Context, id uuid.UUID, from, to time.Time) (map[string]billedItem, string, error) {
	var rows []struct {
		Kind     string
		Detail   []byte
		Amount   decimal.Decimal
		Number   *string
		Currency string
	}
	err := s.db.WithContext(ctx).Raw(`SELECT l.kind, l.detail, l.amount, i.number, i.currency FROM invoice_lines l
		JOIN invoices i ON i.id = l.invoice_id
		WHERE l.service_id = ? AND i.customer_id IS NOT NULL AND i.status IN ('unpaid', 'paid')
		  AND l.kind IN ?
		  AND coalesce(l.period_start, i.period_start) <= ? AND coalesce(l.period_end, i.period_end) >= ?
		ORDER BY i.number, l.position`, id,
		[]string{billing.KindUsage, billing.KindOverage, billing.KindRecurring, billing.KindProration, billing.KindSetup}, to, from).Scan(&rows).Error
	if err != nil {
		return nil, "", errs.Internal(err)
	}
	out := map[string]billedItem{}
	currency := ""
	for _, r := range rows {
		var d struct {
			OfferingItem string `json:"offering_item"`
			StorageItem  string `json:"storage_item"`
		}
		_ = json.Unmarshal(r.Detail, &d)
		item := ""
		switch r.Kind {
		case billing.KindUsage:
			item = d.OfferingItem
		case billing.KindOverage:
			item = d.StorageItem
		}
		b := out[item]
		b.amount = b.amount.Add(r.Amount)
		if r.Number != nil && (len(b.invoices) == 0 || b.invoices[len(b.invoices)-1] != *r.Number) {
			b.invoices = append(b.invoices, *r.Number)
		}
		out[item] = b
		currency = r.Currency
	}
	return out, currency, nil
}
