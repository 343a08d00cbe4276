package billing

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// InvoiceAdjustment bills a prepaid quantity raised mid-period.
const InvoiceAdjustment = "adjustment"

type quantityChange struct {
	ServiceID uuid.UUID `gorm:"primaryKey"`
	Day       time.Time `gorm:"primaryKey;type:date"`
	Quantity  int
	ChangedAt time.Time
}

func (quantityChange) TableName() string { return "service_quantity_changes" }

// AdjustQuantityTx bills a quantity change in the changing transaction,
// after the service row holds the new quantity. The overage of the days
// before today not billed yet is billed first, by the old quota. The
// change is recorded from today (post-paid months are billed per stretch
// of days at each quantity). A prepaid service's days billed already from
// today on (see billedAhead: the rest of the current period and a renewal
// issued for the next, before or after the due date) are settled now at
// the new quantity: a raise is invoiced (the customer's and, for a partner
// sale, the partner's at cost), a cut becomes a credit taken off the next
// invoices.
func (s *Service) AdjustQuantityTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, old int) ([]Invoice, []Credit, error) {
	tx = tx.WithContext(ctx)
	var b billable
	if err := tx.Raw(billableSelect+" WHERE s.id = ? FOR NO KEY UPDATE OF s", serviceID).Scan(&b).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	before := b
	before.Quantity = old
	over, err := s.overageAtChangeTx(ctx, tx, before)
	if err != nil {
		return nil, nil, err
	}
	today := s.Today()
	now := s.now()
	var n int64
	if err := tx.Model(&quantityChange{}).Where("service_id = ?", serviceID).Count(&n).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	rows := []quantityChange{{ServiceID: serviceID, Day: today, Quantity: b.Quantity, ChangedAt: now}}
	if n == 0 && b.StartDate != nil && b.StartDate.Before(today) {
		rows = append(rows, quantityChange{ServiceID: serviceID, Day: *b.StartDate, Quantity: old, ChangedAt: now})
	}
	if err := tx.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "service_id"}, {Name: "day"}},
		DoUpdates: clause.AssignmentColumns([]string{"quantity", "changed_at"})}).Create(&rows).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	if b.BillingModel != catalog.Prepaid || b.FreeTrial || b.NextDueDate == nil || b.AnchorDay == nil {
		return over, nil, nil
	}
	delta := b.Quantity - old
	abs := decimal.NewFromInt(int64(max(delta, -delta)))
	parties := []string{PartyCustomer}
	if b.PartnerID != nil && b.UnitCost != nil {
		parties = append(parties, PartyPartner)
	}
	taxes, err := s.taxesOf(ctx, tx, []uuid.UUID{b.ProductGroupID})
	if err != nil {
		return nil, nil, err
	}
	t := taxes[b.ProductGroupID]
	var invs []Invoice
	var credits []Credit
	id := b.ID
	for _, party := range parties {
		unit := b.UnitPrice
		if party == PartyPartner {
			unit = *b.UnitCost
		}
		// The change holds from today over every day billed already: the
		// rest of the current period and a renewal issued for the next.
		ahead, err := billedAhead(tx, b, party, today)
		if err != nil {
			return nil, nil, err
		}
		var lines []Line
		var parts []string
		total := decimal.Zero
		for _, st := range ahead {
			amount := Prorate(unit.Mul(abs), st.days, st.of)
			if !amount.IsPositive() {
				continue
			}
			total = total.Add(amount)
			parts = append(parts, fmt.Sprintf("%d of %d days", st.days, st.of))
			lines = append(lines, Line{Kind: KindProration, ServiceID: &id,
				Description: fmt.Sprintf("%s: quantity %d -> %d, %s to %s", b.PlanName, old, b.Quantity, dateStr(st.from), dateStr(st.to)),
				PeriodStart: day(st.from), PeriodEnd: day(st.to), Quantity: abs, UnitPrice: unit, Amount: amount, TaxIDs: taxIDs(t),
				Detail: map[string]any{"service_id": id, "from_quantity": old, "to_quantity": b.Quantity, "unit_price": money.String(unit),
					"days_left": st.days, "days_in_period": st.of}})
		}
		if len(lines) == 0 {
			continue
		}
		if delta < 0 {
			credits = append(credits, newCredit(b, party, total, fmt.Sprintf("quantity %d -> %d on %s: %s", old, b.Quantity, dateStr(today), strings.Join(parts, " and ")), now))
			continue
		}
		d := Draft{Key: fmt.Sprintf("adjust:%s:%d:%s", b.ID, now.UnixNano(), party), VentureID: b.VentureID, Kind: InvoiceAdjustment,
			PeriodStart: today, PeriodEnd: *lines[len(lines)-1].PeriodEnd, IssueDate: today, DueDate: today, Party: party, Unclaimed: true,
			Taxes: taxMap(t), Lines: lines}
		if party == PartyCustomer {
			cust := b.CustomerID
			d.CustomerID, d.IssuerPartnerID = &cust, b.PartnerID
		} else {
			d.PartnerID = b.PartnerID
		}
		invs = append(invs, s.build(d))
	}
	if len(credits) > 0 {
		if err := tx.Create(&credits).Error; err != nil {
			return nil, nil, errs.Internal(err)
		}
	}
	stored, err := s.insert(ctx, tx, invs)
	return append(over, stored...), credits, err
}

// segment is a stretch of days at one quantity.
type segment struct {
	from, to time.Time
	quantity int
}

// segments splits [from, to] at the service's quantity changes; without
// changes it is one stretch at the current quantity.
func segments(b billable, changes []quantityChange, from, to time.Time) []segment {
	if len(changes) == 0 {
		return []segment{{from, to, b.Quantity}}
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Day.Before(changes[j].Day) })
	qty := changes[0].Quantity
	for _, c := range changes {
		if !c.Day.After(from) {
			qty = c.Quantity
		}
	}
	var out []segment
	start := from
	for _, c := range changes {
		if !c.Day.After(from) || c.Day.After(to) {
			continue
		}
		out = append(out, segment{start, c.Day.AddDate(0, 0, -1), qty})
		start, qty = c.Day, c.Quantity
	}
	return append(out, segment{start, to, qty})
}

// changesOf reads the quantity changes of services through db.
func (s *Service) changesOf(ctx context.Context, db *gorm.DB, ids []uuid.UUID) (map[uuid.UUID][]quantityChange, error) {
	out := map[uuid.UUID][]quantityChange{}
	if len(ids) == 0 {
		return out, nil
	}
	var rows []quantityChange
	if err := db.WithContext(ctx).Where("service_id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.ServiceID] = append(out[r.ServiceID], r)
	}
	return out, nil
}

// ChangeTermTx moves a prepaid service to a longer billing cycle from
// today, in the changing transaction: the overage of the days before today
// not billed yet is billed first, then the new cycle is invoiced now
// (`adjustment`), less the days billed already from today on (see
// billedAhead: the rest of the current period and a renewal issued for the
// next) at the price in force, and the service's price, cycle, due date
// and anniversary day follow. A credit larger than the new cycle's price
// is kept for the next invoices and returned with the invoices.
func (s *Service) ChangeTermTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, frequency string) ([]Invoice, []Credit, error) {
	tx = tx.WithContext(ctx)
	var b billable
	if err := tx.Raw(billableSelect+" WHERE s.id = ? FOR NO KEY UPDATE OF s", serviceID).Scan(&b).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	switch {
	case b.BillingModel != catalog.Prepaid || b.FreeTrial:
		return nil, nil, errs.Unprocessable("term_change_prepaid_only", "Only a paid prepaid service changes its term: post-paid ones are billed by the month.")
	case frequency == b.Frequency:
		return nil, nil, errs.Unprocessable("frequency_unchanged", "The service has this billing frequency already.").WithField("frequency")
	case catalog.FrequencyMonths[frequency] < b.months():
		return nil, nil, errs.Unprocessable("term_not_longer", "A term change moves to a longer cycle; a shorter one starts at the next renewal.").WithField("frequency")
	case b.NextDueDate == nil || b.AnchorDay == nil:
		return nil, nil, errs.Conflict("service_not_billed", "This service has no current period.")
	}
	var cycle catalog.Cycle
	err := tx.Where("plan_id = ? AND frequency = ?", b.PlanID, frequency).Take(&cycle).Error
	if err != nil {
		return nil, nil, errs.Unprocessable("frequency_not_offered", "The plan has no price for "+frequency+".").WithField("frequency")
	}
	over, err := s.overageAtChangeTx(ctx, tx, b)
	if err != nil {
		return nil, nil, err
	}
	today := s.Today()
	newEnd := AddCycle(today, catalog.FrequencyMonths[frequency], today.Day()).AddDate(0, 0, -1)
	newUnit, newCost := cycle.Price, (*decimal.Decimal)(nil)
	if b.PartnerID != nil && b.UnitCost != nil {
		c := money.PartnerCost(cycle.Price, b.Discount)
		newUnit, newCost = money.EndPrice(c, b.Markup), &c
	}
	if !money.Fits(newUnit.Mul(b.quantity())) {
		return nil, nil, money.TooLarge("frequency")
	}
	taxes, err := s.taxesOf(ctx, tx, []uuid.UUID{b.ProductGroupID})
	if err != nil {
		return nil, nil, err
	}
	t := taxes[b.ProductGroupID]
	parties := []string{PartyCustomer}
	if newCost != nil {
		parties = append(parties, PartyPartner)
	}
	now := s.now()
	id := b.ID
	var invs []Invoice
	var credits []Credit
	for _, party := range parties {
		oldUnit, unit := b.UnitPrice, newUnit
		if party == PartyPartner {
			oldUnit, unit = *b.UnitCost, *newCost
		}
		charge := money.Round2(unit.Mul(b.quantity()))
		// The days billed already from today on (the rest of the current
		// period and a renewal issued for the next, paid or not) are
		// unused, at the price in force.
		ahead, err := billedAhead(tx, b, party, today)
		if err != nil {
			return nil, nil, err
		}
		unused, creditEnd, unusedDays, inPeriods := decimal.Zero, today, 0, 0
		for _, st := range ahead {
			unused = unused.Add(Prorate(oldUnit.Mul(b.quantity()), st.days, st.of))
			creditEnd, unusedDays, inPeriods = st.to, unusedDays+st.days, inPeriods+st.of
		}
		taken := decimal.Min(unused, charge)
		lines := []Line{{Kind: KindRecurring, ServiceID: &id, Description: fmt.Sprintf("%s (%s), %s to %s", b.PlanName, frequency, dateStr(today), dateStr(newEnd)),
			PeriodStart: day(today), PeriodEnd: day(newEnd), Quantity: b.quantity(), UnitPrice: unit, Amount: charge, TaxIDs: taxIDs(t),
			Detail: map[string]any{"service_id": id, "from_frequency": b.Frequency, "to_frequency": frequency, "unit_price": money.String(unit)}}}
		if taken.IsPositive() {
			lines = append(lines, Line{Kind: KindCredit, ServiceID: &id, Description: fmt.Sprintf("Unused %s period, %d of %d days", b.Frequency, unusedDays, inPeriods),
				PeriodStart: day(today), PeriodEnd: day(creditEnd), Quantity: decimal.NewFromInt(1), UnitPrice: taken.Neg(), Amount: taken.Neg(),
				TaxIDs: taxIDs(t), Detail: map[string]any{"service_id": id, "unused_days": unusedDays, "days_in_period": inPeriods, "old_unit_price": money.String(oldUnit)}})
		}
		if rest := unused.Sub(taken); rest.IsPositive() {
			credits = append(credits, newCredit(b, party, rest, fmt.Sprintf("term %s -> %s on %s: unused days beyond the new term's price", b.Frequency, frequency, dateStr(today)), now))
		}
		d := Draft{Key: fmt.Sprintf("term:%s:%d:%s", id, now.UnixNano(), party), VentureID: b.VentureID, Kind: InvoiceAdjustment,
			PeriodStart: today, PeriodEnd: newEnd, IssueDate: today, DueDate: today, Party: party, Unclaimed: true, Taxes: taxMap(t), Lines: lines}
		if party == PartyCustomer {
			cust := b.CustomerID
			d.CustomerID, d.IssuerPartnerID = &cust, b.PartnerID
		} else {
			d.PartnerID = b.PartnerID
		}
		invs = append(invs, s.build(d))
	}
	updates := map[string]any{"frequency": frequency, "unit_price": newUnit, "next_due_date": newEnd.AddDate(0, 0, 1), "anchor_day": today.Day()}
	if newCost != nil {
		updates["unit_cost"] = *newCost
	}
	if err := tx.Table("services").Where("id = ?", id).Updates(updates).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	if len(credits) > 0 {
		if err := tx.Create(&credits).Error; err != nil {
			return nil, nil, errs.Internal(err)
		}
	}
	stored, err := s.insert(ctx, tx, invs)
	if err != nil {
		return nil, nil, err
	}
	return append(over, stored...), credits, nil
}

// renewal is the period after the due date as a renewal billed it to a party.
type renewal struct {
	from, to time.Time
	ok       bool
}

// issuedRenewal reads the renewal of a service's period starting on its due
// date billed to a party, if one is issued and not void (paid or not: the
// due date moves on only when the customer's renewal settles).
func issuedRenewal(tx *gorm.DB, serviceID uuid.UUID, party string, due time.Time) (renewal, error) {
	var rows []struct{ PeriodStart, PeriodEnd time.Time }
	err := tx.Raw(`SELECT DISTINCT l.period_start, l.period_end FROM billed_periods b
		JOIN invoices i ON i.id = b.invoice_id AND i.kind = ? AND i.status <> ?
		JOIN invoice_lines l ON l.invoice_id = i.id AND l.service_id = b.service_id AND l.kind = ?
		WHERE b.service_id = ? AND b.party = ? AND b.period_start = ?`, InvoiceRenewal, StatusVoid, KindRecurring, serviceID, party, due).Scan(&rows).Error
	if err != nil {
		return renewal{}, errs.Internal(err)
	}
	if len(rows) != 1 {
		return renewal{}, nil
	}
	return renewal{from: rows[0].PeriodStart, to: rows[0].PeriodEnd, ok: true}, nil
}

// stretch is what is left from a change day of a period billed already.
type stretch struct {
	from, to time.Time
	days, of int // days from..to, days in the whole period
}

// billedAhead is what a party has been billed for already of a prepaid
// service from today on, period by period, each at the price in force (a
// change settles its days as it is made): the rest of the period today
// falls in; the period after it when the customer settled its renewal
// early (the due date moved on, today is still before the old one); and
// the renewal issued for the due date, paid or not, before or after that
// date (the due date moves only when the renewal settles). Every quantity,
// plan and term change bills or credits these days, so none is billed
// twice nor at a price no longer in force.
func billedAhead(tx *gorm.DB, b billable, party string, today time.Time) ([]stretch, error) {
	next, months, anchor := *b.NextDueDate, b.months(), *b.AnchorDay
	prev := AddCycle(next, -months, anchor)
	var out []stretch
	add := func(from, to time.Time) {
		if start := maxDay(today, from); !start.After(to) {
			out = append(out, stretch{from: start, to: to, days: Days(start, to), of: Days(from, to)})
		}
	}
	if today.Before(prev) {
		add(AddCycle(prev, -months, anchor), prev.AddDate(0, 0, -1))
	}
	add(prev, next.AddDate(0, 0, -1))
	r, err := issuedRenewal(tx, b.ID, party, next)
	if err != nil {
		return nil, err
	}
	if r.ok {
		add(r.from, r.to)
	}
	return out, nil
}

func maxDay(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// ChangePlanTx moves a prepaid service to another plan from today, in the
// changing transaction (the caller has checked the plans fit and pushed
// the new quotas): the overage of the days before today not billed yet is
// billed first, by the old plan; the days billed already from today on
// (see billedAhead: the rest of the current period and a renewal issued
// for the next, before or after the due date) are invoiced at the new
// plan's price less the old one's (`adjustment`: per period a proration
// line and a credit line), a net credit kept for the next invoices and
// returned with the invoices.
func (s *Service) ChangePlanTx(ctx context.Context, tx *gorm.DB, serviceID, planID uuid.UUID) ([]Invoice, []Credit, error) {
	tx = tx.WithContext(ctx)
	var b billable
	if err := tx.Raw(billableSelect+" WHERE s.id = ? FOR NO KEY UPDATE OF s", serviceID).Scan(&b).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	if b.BillingModel != catalog.Prepaid || b.FreeTrial || b.NextDueDate == nil || b.AnchorDay == nil {
		return nil, nil, errs.Unprocessable("plan_change_prepaid_only", "Only a paid prepaid service changes plan mid-period.")
	}
	var cycle catalog.Cycle
	if err := tx.Where("plan_id = ? AND frequency = ?", planID, b.Frequency).Take(&cycle).Error; err != nil {
		return nil, nil, errs.Unprocessable("frequency_not_offered", "The new plan has no price for "+b.Frequency+".").WithField("plan_id")
	}
	var model string
	if err := tx.Table("plan_pricing").Where("plan_id = ?", planID).Pluck("billing_model", &model).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	if model != catalog.Prepaid {
		return nil, nil, errs.Unprocessable("billing_model_mismatch", "A prepaid service moves to a prepaid plan.").WithField("plan_id")
	}
	// The old plan's quota and overage price judge the days before today.
	over, err := s.overageAtChangeTx(ctx, tx, b)
	if err != nil {
		return nil, nil, err
	}
	newUnit, newCost := cycle.Price, (*decimal.Decimal)(nil)
	if b.PartnerID != nil && b.UnitCost != nil {
		var terms struct{ DiscountPercent, MarkupPercent decimal.Decimal }
		if err := tx.Table("partner_plan_pricing").Where("partner_id = ? AND plan_id = ?", *b.PartnerID, planID).
			Select("discount_percent, markup_percent").Scan(&terms).Error; err != nil {
			return nil, nil, errs.Internal(err)
		}
		c := money.PartnerCost(cycle.Price, terms.DiscountPercent)
		newUnit, newCost = money.EndPrice(c, terms.MarkupPercent), &c
	}
	if !money.Fits(newUnit.Mul(b.quantity())) {
		return nil, nil, money.TooLarge("plan_id")
	}
	today := s.Today()
	var plan struct {
		Name           string
		ProductGroupID uuid.UUID
	}
	if err := tx.Table("plans").Where("id = ?", planID).Select("name, product_group_id").Take(&plan).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	planName, groupID := plan.Name, plan.ProductGroupID
	taxes, err := s.taxesOf(ctx, tx, []uuid.UUID{groupID})
	if err != nil {
		return nil, nil, err
	}
	t := taxes[groupID]
	parties := []string{PartyCustomer}
	if newCost != nil {
		parties = append(parties, PartyPartner)
	}
	now := s.now()
	id := b.ID
	var invs []Invoice
	var credits []Credit
	for _, party := range parties {
		oldUnit, unit := b.UnitPrice, newUnit
		if party == PartyPartner {
			oldUnit, unit = *b.UnitCost, *newCost
		}
		// The new plan holds from today over every day billed already: the
		// rest of the current period and a renewal issued for the next.
		ahead, err := billedAhead(tx, b, party, today)
		if err != nil {
			return nil, nil, err
		}
		var lines []Line
		rest := decimal.Zero
		for _, st := range ahead {
			charge := Prorate(unit.Mul(b.quantity()), st.days, st.of)
			unused := Prorate(oldUnit.Mul(b.quantity()), st.days, st.of)
			taken := decimal.Min(unused, charge)
			rest = rest.Add(unused.Sub(taken))
			lines = append(lines, Line{Kind: KindProration, ServiceID: &id, Description: fmt.Sprintf("%s, %s to %s", planName, dateStr(st.from), dateStr(st.to)),
				PeriodStart: day(st.from), PeriodEnd: day(st.to), Quantity: b.quantity(), UnitPrice: unit, Amount: charge, TaxIDs: taxIDs(t),
				Detail: map[string]any{"service_id": id, "from_plan": b.PlanName, "to_plan": planName, "days_left": st.days, "days_in_period": st.of}})
			if taken.IsPositive() {
				lines = append(lines, Line{Kind: KindCredit, ServiceID: &id, Description: fmt.Sprintf("Unused %s, %d of %d days", b.PlanName, st.days, st.of),
					PeriodStart: day(st.from), PeriodEnd: day(st.to), Quantity: decimal.NewFromInt(1), UnitPrice: taken.Neg(), Amount: taken.Neg(), TaxIDs: taxIDs(t),
					Detail: map[string]any{"service_id": id, "old_unit_price": money.String(oldUnit), "quantity": b.Quantity,
						"days_left": st.days, "days_in_period": st.of}})
			}
		}
		if len(lines) == 0 {
			continue
		}
		if rest.IsPositive() {
			credits = append(credits, newCredit(b, party, rest, fmt.Sprintf("plan %s -> %s on %s", b.PlanName, planName, dateStr(today)), now))
		}
		d := Draft{Key: fmt.Sprintf("plan:%s:%d:%s", id, now.UnixNano(), party), VentureID: b.VentureID, Kind: InvoiceAdjustment,
			PeriodStart: today, PeriodEnd: *lines[len(lines)-1].PeriodEnd, IssueDate: today, DueDate: today, Party: party, Unclaimed: true,
			Taxes: taxMap(t), Lines: lines}
		if party == PartyCustomer {
			cust := b.CustomerID
			d.CustomerID, d.IssuerPartnerID = &cust, b.PartnerID
		} else {
			d.PartnerID = b.PartnerID
		}
		invs = append(invs, s.build(d))
	}
	updates := map[string]any{"plan_id": planID, "unit_price": newUnit}
	if newCost != nil {
		updates["unit_cost"] = *newCost
	}
	if err := tx.Table("services").Where("id = ?", id).Updates(updates).Error; err != nil {
		return nil, nil, errs.Internal(err)
	}
	if len(credits) > 0 {
		if err := tx.Create(&credits).Error; err != nil {
			return nil, nil, errs.Internal(err)
		}
	}
	stored, err := s.insert(ctx, tx, invs)
	if err != nil {
		return nil, nil, err
	}
	return append(over, stored...), credits, nil
}
