package billing

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Config shapes billing dates.
type Config struct {
	Location      *time.Location // the SP's zone: days and the 1st are counted in it
	Currency      string
	DaysBeforeDue int // prepaid renewals are invoiced this many days ahead
	TermsDays     int // post-paid invoices are due this many days after issue
}

// Paid is told, in the paying transaction, that an invoice is paid in full.
type Paid func(ctx context.Context, tx *gorm.DB, inv Invoice, services []uuid.UUID) error

// Service is billing's unit of work.
type Service struct {
	db  *gorm.DB
	clk clock.Clock
	cfg Config

	currency  string
	onPaid    []Paid
	onIssued  []Issued
	onVoided  []Voided
	onPayment []Recorded
	// beforeStore, when set, runs before a run stores each chunk (tests
	// put another path's bill there).
	beforeStore func()
	// claimed: invoice prefix -> scope, for claims seen committed.
	claimed sync.Map
}

// NewService wires the service.
func NewService(db *gorm.DB, clk clock.Clock, cfg Config) *Service {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	return &Service{db: db, clk: clk, cfg: cfg, currency: cfg.Currency}
}

// OnPaid adds a hook run when an invoice is paid in full, in the settling
// transaction (a payment, credit or a zero total), after the invoice is
// marked paid.
func (s *Service) OnPaid(f Paid) { s.onPaid = append(s.onPaid, f) }

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Today is the SP's current day.
func (s *Service) Today() time.Time { return Day(s.clk.Now(), s.cfg.Location) }

// Location is the SP's zone.
func (s *Service) Location() *time.Location { return s.cfg.Location }

// billable is a service with what billing needs of its plan.
type billable struct {
	ID             uuid.UUID
	CustomerID     uuid.UUID
	PartnerID      *uuid.UUID
	PlanID         uuid.UUID
	PlanName       string
	VentureID      uuid.UUID
	ProductGroupID uuid.UUID
	BillingModel   string
	Frequency      string
	Quantity       int
	Status         string
	FreeTrial      bool
	UnitPrice      decimal.Decimal
	SetupFee       decimal.Decimal
	UnitCost       *decimal.Decimal
	SetupFeeCost   *decimal.Decimal
	StartDate      *time.Time
	AnchorDay      *int
	EndDate        *time.Time
	NextDueDate    *time.Time
	VendorTenantID *string
	Discount       decimal.Decimal
	Markup         decimal.Decimal
	// Overage: the storage item and soft quota per unit, how far it has
	// been billed, and the prices per GB over it.
	StorageItem *string
	// Last days billed for overage, per party (overage_windows), and the
	// days before them a void released and no bill claimed since
	// ("first/last,..."; see releasedSelect).
	OverageCustomerThrough  *time.Time
	OveragePartnerThrough   *time.Time
	OverageCustomerReleased *string
	OveragePartnerReleased  *string
	SoftGB                  *int
	SPOverage               *decimal.Decimal
	PartnerOverage          *decimal.Decimal
	// Version is the service row's version when it was read.
	Version int64
}

var billableSelect = `
	SELECT s.id, s.customer_id, s.partner_id, s.plan_id, p.name AS plan_name, p.venture_id, p.product_group_id,
	       pr.billing_model, s.frequency, s.quantity, s.status, s.free_trial, s.unit_price, s.setup_fee,
	       s.unit_cost, s.setup_fee_cost, s.start_date, s.anchor_day, s.end_date, s.next_due_date, s.vendor_tenant_id,
	       coalesce(pp.discount_percent, 0) AS discount, coalesce(pp.markup_percent, 0) AS markup,
	       s.storage_item, m.storage_quota_gb AS soft_gb,
	       (SELECT max(w.last_day) FROM overage_windows w WHERE w.service_id = s.id AND w.party = 'customer') AS overage_customer_through,
	       (SELECT max(w.last_day) FROM overage_windows w WHERE w.service_id = s.id AND w.party = 'partner') AS overage_partner_through,
	       ` + releasedCustomer + ` AS overage_customer_released,
	       ` + releasedPartner + ` AS overage_partner_released,
	       pr.overage_price_per_gb AS sp_overage, pp.overage_price_per_gb AS partner_overage, s.version
	FROM services s
	JOIN plans p ON p.id = s.plan_id
	JOIN plan_pricing pr ON pr.plan_id = s.plan_id
	LEFT JOIN plan_module_settings m ON m.plan_id = s.plan_id
	LEFT JOIN partner_plan_pricing pp ON pp.partner_id = s.partner_id AND pp.plan_id = s.plan_id`

// releasedSelect is, for a party of service s, the days a void released
// (overage_released) that no window claims since, as "first/last,..." in
// day order; NULL for the many services no void touched.
const releasedSelect = `CASE WHEN EXISTS (SELECT 1 FROM overage_released x WHERE x.service_id = s.id AND x.party = '%[1]s') THEN
	(SELECT string_agg(lower(r)::text || '/' || (upper(r) - 1)::text, ',' ORDER BY r) FROM unnest(
		(SELECT range_agg(daterange(x.first_day, x.last_day, '[]')) FROM overage_released x WHERE x.service_id = s.id AND x.party = '%[1]s')
		- coalesce((SELECT range_agg(daterange(w.first_day, w.last_day, '[]')) FROM overage_windows w
			WHERE w.service_id = s.id AND w.party = '%[1]s'), '{}'::datemultirange)) r) END`

var (
	releasedCustomer = fmt.Sprintf(releasedSelect, PartyCustomer)
	releasedPartner  = fmt.Sprintf(releasedSelect, PartyPartner)
)

func (b billable) months() int { return catalog.FrequencyMonths[b.Frequency] }

func (b billable) quantity() decimal.Decimal { return decimal.NewFromInt(int64(b.Quantity)) }

// taxesOf reads the taxes of product groups.
func (s *Service) taxesOf(ctx context.Context, tx *gorm.DB, groups []uuid.UUID) (map[uuid.UUID][]Tax, error) {
	out := map[uuid.UUID][]Tax{}
	if len(groups) == 0 {
		return out, nil
	}
	var rows []struct {
		ProductGroupID uuid.UUID
		ID             uuid.UUID
		Name           string
		Rate           decimal.Decimal
	}
	err := tx.WithContext(ctx).Raw(`SELECT gt.product_group_id, t.id, t.name, t.rate FROM product_group_taxes gt
		JOIN taxes t ON t.id = gt.tax_id WHERE gt.product_group_id IN ?`, groups).Scan(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.ProductGroupID] = append(out[r.ProductGroupID], Tax{ID: r.ID, Name: r.Name, Rate: r.Rate})
	}
	return out, nil
}

func taxIDs(ts []Tax) []uuid.UUID {
	ids := make([]uuid.UUID, len(ts))
	for i, t := range ts {
		ids[i] = t.ID
	}
	return ids
}

func taxMap(ts ...[]Tax) map[uuid.UUID]Tax {
	m := map[uuid.UUID]Tax{}
	for _, list := range ts {
		for _, t := range list {
			m[t.ID] = t
		}
	}
	return m
}

func day(t time.Time) *time.Time { return &t }

func dateStr(t time.Time) string { return t.Format(time.DateOnly) }

// cycleLines are a prepaid period's lines for one party: the recurring
// price times the quantity and, on the first period, the setup fee.
func cycleLines(b billable, party string, from, to time.Time, setup bool, taxes []Tax) []Line {
	unit, fee := b.UnitPrice, b.SetupFee
	if party == PartyPartner {
		unit, fee = *b.UnitCost, *b.SetupFeeCost
	}
	id := b.ID
	lines := []Line{{Kind: KindRecurring, ServiceID: &id, Description: fmt.Sprintf("%s (%s), %s to %s", b.PlanName, b.Frequency, dateStr(from), dateStr(to)),
		PeriodStart: day(from), PeriodEnd: day(to), Quantity: b.quantity(), UnitPrice: unit, Amount: money.Round2(unit.Mul(b.quantity())),
		TaxIDs: taxIDs(taxes), Detail: map[string]any{"service_id": id, "plan": b.PlanName, "frequency": b.Frequency,
			"unit_price": money.String(unit), "quantity": b.Quantity, "period": []string{dateStr(from), dateStr(to)}}}}
	if setup && fee.IsPositive() {
		lines = append(lines, Line{Kind: KindSetup, ServiceID: &id, Description: "Setup fee: " + b.PlanName,
			PeriodStart: day(from), PeriodEnd: day(from), Quantity: decimal.NewFromInt(1), UnitPrice: fee, Amount: fee,
			TaxIDs: taxIDs(taxes), Detail: map[string]any{"service_id": id, "setup_fee": money.String(fee)}})
	}
	return lines
}

// drafts are one period's invoices of a service: its customer's (in the
// partner's name for a partner sale) and, for a partner sale, the
// partner's at cost.
func drafts(b billable, kind, key string, from, to, issue, due time.Time, setup bool, taxes []Tax, runID *uuid.UUID) []Draft {
	cust := b.CustomerID
	out := []Draft{{Key: key + ":" + PartyCustomer, VentureID: b.VentureID, IssuerPartnerID: b.PartnerID, CustomerID: &cust,
		Kind: kind, PeriodStart: from, PeriodEnd: to, IssueDate: issue, DueDate: due, Party: PartyCustomer,
		Lines: cycleLines(b, PartyCustomer, from, to, setup, taxes), Taxes: taxMap(taxes), RunID: runID}}
	if b.PartnerID != nil && b.UnitCost != nil {
		out = append(out, Draft{Key: key + ":" + PartyPartner, VentureID: b.VentureID, PartnerID: b.PartnerID,
			Kind: kind, PeriodStart: from, PeriodEnd: to, IssueDate: issue, DueDate: due, Party: PartyPartner,
			Lines: cycleLines(b, PartyPartner, from, to, setup, taxes), Taxes: taxMap(taxes), RunID: runID})
	}
	return out
}

// FirstInvoiceTx bills a new prepaid service's first period (and setup
// fee) from today, in the ordering transaction, and sets its due dates.
// Trials and post-paid services get no invoice here.
func (s *Service) FirstInvoiceTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error {
	_, err := s.firstInvoices(ctx, tx, serviceID)
	return err
}

// firstInvoices is FirstInvoiceTx returning what it stored, with lines and
// taxes.
func (s *Service) firstInvoices(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) ([]Invoice, error) {
	var b billable
	if err := tx.WithContext(ctx).Raw(billableSelect+" WHERE s.id = ?", serviceID).Scan(&b).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if b.BillingModel != catalog.Prepaid || b.FreeTrial {
		return nil, nil
	}
	today := s.Today()
	anchor := today.Day()
	next := AddCycle(today, b.months(), anchor)
	if err := tx.WithContext(ctx).Table("services").Where("id = ?", serviceID).
		Updates(map[string]any{"start_date": today, "anchor_day": anchor, "next_due_date": next}).Error; err != nil {
		return nil, errs.Internal(err)
	}
	taxes, err := s.taxesOf(ctx, tx, []uuid.UUID{b.ProductGroupID})
	if err != nil {
		return nil, err
	}
	ds := drafts(b, InvoicePrepaid, "prepaid:"+b.ID.String(), today, next.AddDate(0, 0, -1), today, today, true, taxes[b.ProductGroupID], nil)
	invs := make([]Invoice, len(ds))
	for i, d := range ds {
		invs[i] = s.build(d)
	}
	return s.insert(ctx, tx, invs)
}

// overagePrice is the price per GB over the soft quota for a party: the
// SP's; for a partner's customer the partner's own (else the SP's through
// discount and markup); for the partner the SP's less its discount.
func overagePrice(b billable, party string) *decimal.Decimal {
	if b.SPOverage == nil {
		return nil
	}
	switch {
	case b.PartnerID == nil:
		return b.SPOverage
	case party == PartyPartner:
		v := money.PartnerCost(*b.SPOverage, b.Discount)
		return &v
	case b.PartnerOverage != nil:
		return b.PartnerOverage
	default:
		v := money.EndPrice(money.PartnerCost(*b.SPOverage, b.Discount), b.Markup)
		return &v
	}
}

// span is the days [from, to].
type span struct{ from, to time.Time }

// overageWindow is the days whose storage has not been billed for overage
// to a party, in day order: from since (or the service's start) up to
// through, and before those any days a void released that no bill has
// claimed since (owed still, whatever since says). None when there is
// nothing to look at. Every path that bills overage reads it here and
// claims it in overage_windows when it stores the bill.
func overageWindow(b billable, party string, since, through time.Time) []span {
	if !overageApplies(b) {
		return nil
	}
	from := *b.StartDate
	if since.After(from) {
		from = since
	}
	billed, released := b.OverageCustomerThrough, b.OverageCustomerReleased
	if party == PartyPartner {
		billed, released = b.OveragePartnerThrough, b.OveragePartnerReleased
	}
	if billed != nil && !billed.Before(from) {
		from = billed.AddDate(0, 0, 1)
	}
	to := through
	if b.EndDate != nil && b.EndDate.Before(to) {
		to = *b.EndDate
	}
	var out []span
	if released != nil {
		last := from.AddDate(0, 0, -1)
		if to.Before(last) {
			last = to
		}
		for _, r := range parseSpans(*released) {
			if r.from.Before(*b.StartDate) {
				r.from = *b.StartDate
			}
			if r.to.After(last) {
				r.to = last
			}
			if !r.from.After(r.to) {
				out = append(out, r)
			}
		}
	}
	if !from.After(to) {
		out = append(out, span{from, to})
	}
	return joinSpans(out)
}

// parseSpans reads "first/last,..." (releasedSelect).
func parseSpans(v string) []span {
	var out []span
	for _, p := range strings.Split(v, ",") {
		a, b, ok := strings.Cut(p, "/")
		if !ok {
			continue
		}
		from, err1 := time.Parse(time.DateOnly, a)
		to, err2 := time.Parse(time.DateOnly, b)
		if err1 == nil && err2 == nil {
			out = append(out, span{from, to})
		}
	}
	return out
}

// joinSpans merges spans in day order that touch.
func joinSpans(in []span) []span {
	var out []span
	for _, sp := range in {
		if n := len(out); n > 0 && !sp.from.After(out[n-1].to.AddDate(0, 0, 1)) {
			if sp.to.After(out[n-1].to) {
				out[n-1].to = sp.to
			}
			continue
		}
		out = append(out, sp)
	}
	return out
}

// cutSpans is spans less the days of claims (both in day order).
func cutSpans(spans, claims []span) []span {
	var out []span
	for _, sp := range spans {
		cur := sp.from
		for _, c := range claims {
			if c.to.Before(cur) || c.from.After(sp.to) {
				continue
			}
			if c.from.After(cur) {
				out = append(out, span{cur, c.from.AddDate(0, 0, -1)})
			}
			if next := c.to.AddDate(0, 0, 1); next.After(cur) {
				cur = next
			}
		}
		if !cur.After(sp.to) {
			out = append(out, span{cur, sp.to})
		}
	}
	return out
}

// spansText shows spans as "first to last, ...".
func spansText(spans []span) string {
	parts := make([]string, len(spans))
	for i, sp := range spans {
		parts[i] = dateStr(sp.from) + " to " + dateStr(sp.to)
	}
	return strings.Join(parts, ", ")
}

// overageApplies: the service has a storage item with a finite soft quota
// and the plan an overage price.
func overageApplies(b billable) bool {
	return b.StorageItem != nil && b.VendorTenantID != nil && b.SoftGB != nil && *b.SoftGB >= 0 && b.SPOverage != nil && b.StartDate != nil
}

// overageLine bills the GB by which the window's peak storage went over the
// soft quota times the quantity: ceil((peak - soft) / 2^30) when positive.
func overageLine(b billable, party string, spans []span, days []dayValue, taxes []Tax) (Line, bool) {
	price := overagePrice(b, party)
	if price == nil || len(spans) == 0 {
		return Line{}, false
	}
	from, to := spans[0].from, spans[len(spans)-1].to
	var peak int64
	var peakDay time.Time
	for _, d := range days {
		if d.Value > peak && inSpans(spans, d.Day) {
			peak, peakDay = d.Value, d.Day
		}
	}
	over := OverGB(peak, *b.SoftGB, b.Quantity)
	if over <= 0 {
		return Line{}, false
	}
	id := b.ID
	qty := decimal.NewFromInt(over)
	detail := map[string]any{"service_id": id, "storage_item": *b.StorageItem, "window": []string{dateStr(from), dateStr(to)},
		"peak_bytes": peak, "peak_day": dateStr(peakDay), "soft_quota_gb": *b.SoftGB, "quantity": b.Quantity, "over_gb": over,
		"price_per_gb": money.String(*price)}
	if len(spans) > 1 {
		// Days a void released before the window: the days looked at.
		ds := make([][2]string, len(spans))
		for i, sp := range spans {
			ds[i] = [2]string{dateStr(sp.from), dateStr(sp.to)}
		}
		detail["spans"] = ds
	}
	return Line{Kind: KindOverage, ServiceID: &id, Description: fmt.Sprintf("Storage over quota: %d GB, %s", over, spansText(spans)),
		PeriodStart: day(from), PeriodEnd: day(to), Quantity: qty, UnitPrice: *price, Amount: money.Round2(qty.Mul(*price)), TaxIDs: taxIDs(taxes),
		Detail: detail}, true
}

// inSpans: day is in one of spans.
func inSpans(spans []span, day time.Time) bool {
	for _, sp := range spans {
		if !day.Before(sp.from) && !day.After(sp.to) {
			return true
		}
	}
	return false
}

// Window is days of a service's storage looked at for overage: one span,
// or more when a void released days before it.
type Window struct {
	ServiceID uuid.UUID
	Spans     []span
	// The window's daily storage and the line's taxes, to compute the
	// line again if days of it are claimed before the bill is stored.
	days  []dayValue
	taxes []Tax
}

// overageClaim rows claim the days a bill looked at for overage, per
// service and party; the database refuses two that share a day.
type overageClaim struct {
	ServiceID uuid.UUID `gorm:"primaryKey"`
	Party     string    `gorm:"primaryKey"`
	FirstDay  time.Time `gorm:"primaryKey;type:date"`
	LastDay   time.Time `gorm:"type:date"`
	InvoiceID *uuid.UUID
}

func (overageClaim) TableName() string { return "overage_windows" }
