// Package margin is the margin report: what the SP earned in a month after
// the vendor's cost, per product group, plan or partner, in the base
// currency, pre-tax.
//
// Entities read (nothing is stored): invoices and their lines (revenue),
// services with a vendor tenant, their plans' module settings and quantity
// changes, the usage stored by the daily sync (usage_daily) and the rate
// cards of the month (rate_cards, rate_card_rows; the current version of
// each product group's card).
//
// Invariants:
//   - Revenue is the SP's: lines of invoices it issued (issuer_partner_id
//     null: customers' invoices of direct sales and its invoices to
//     partners at cost), unpaid or paid, by service period (a line's share
//     of days in the month, rounded to the cent per line); credits count
//     signed; a line that names no service is on the unattributed row,
//     never dropped.
//   - Vendor cost is never priced at zero silently: an item whose price is
//     not known (no card, no card row, a unit that does not fit) is flagged
//     and listed unpriced with its quantity.
//   - Costs are summed at full precision and rounded to the cent per row.
//   - Every format carries the same figures; only admins read it.
//   - Everything is aggregated in SQL: one statement, whatever the number
//     of services.
package margin

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Groupings of the report.
const (
	ByProductGroup = "product_group"
	ByPlan         = "plan"
	ByPartner      = "partner"
)

// Group types of a row besides the grouping's own.
const (
	GroupDirect       = "direct"       // the SP's own customers (by partner)
	GroupUnattributed = "unattributed" // revenue lines that name no service
	GroupTotal        = "total"
)

// Flags of a row.
const (
	FlagNoRate       = "no_rate"
	FlagNoCard       = "no_card"
	FlagUnitMismatch = "unit_mismatch"
)

// Card is a rate card a row's cost comes from.
type Card struct {
	ProductGroupID uuid.UUID
	ID             uuid.UUID
	Version        int
	Currency       string
	ExchangeRate   decimal.Decimal
}

// Unpriced is an item whose cost is not known: the sum over its services
// of the quantity it would be priced at (GB for bytes), and why.
type Unpriced struct {
	Item     string
	Unit     string
	Quantity decimal.Decimal
	Services int
	Reason   string
}

// Group names a row.
type Group struct {
	Type string
	ID   *uuid.UUID
	Name string
}

// Row is one group's month, or the totals.
type Row struct {
	Group      Group
	Revenue    decimal.Decimal
	VendorCost decimal.Decimal // rounded to the cent
	Margin     decimal.Decimal
	// MarginPercent is nil when the revenue is zero.
	MarginPercent *decimal.Decimal
	Services      int
	Flags         []string
	Cards         []Card
	Unpriced      []Unpriced
	Notes         []string

	cost decimal.Decimal // full precision
}

// Report is a month's margin.
type Report struct {
	Year, Month int
	GroupBy     string
	Currency    string
	Rows        []Row
	Totals      Row
}

// Service builds reports.
type Service struct {
	db       *gorm.DB
	today    func() time.Time
	zone     *time.Location
	currency string
}

// New wires the service: today is the SP's current day (billing's
// Today), zone its time zone, currency the base currency.
func New(db *gorm.DB, today func() time.Time, zone *time.Location, currency string) *Service {
	if zone == nil {
		zone = time.UTC
	}
	return &Service{db: db, today: today, zone: zone, currency: currency}
}

// Params are what a caller asks for.
type Params struct {
	Year, Month int
	GroupBy     string // "" is ByProductGroup
}

// Check validates the month asked for against today.
func Check(today time.Time, year, month int) error {
	switch {
	case month < 1 || month > 12:
		return errs.Unprocessable("month_out_of_range", "The month is 1 to 12.").WithField("month")
	case year < 2000:
		return errs.Unprocessable("year_out_of_range", "The year is 2000 or later.").WithField("year")
	case year > today.Year() || (year == today.Year() && month > int(today.Month())):
		return errs.Unprocessable("period_in_future", "The month is after the current one.").WithField("month")
	}
	return nil
}

// keys are the SQL expressions a service's row key is (s: services, p: plans).
var keys = map[string]string{
	ByProductGroup: "p.product_group_id::text",
	ByPlan:         "s.plan_id::text",
	ByPartner:      "coalesce(s.partner_id::text, '" + GroupDirect + "')",
}

// Build reads a month's report; only admins may.
func (s *Service) Build(ctx context.Context, who auth.Principal, p Params) (Report, error) {
	if who.Role != auth.RoleAdmin {
		return Report{}, errs.Forbidden("forbidden", "Only admins read the margin report.")
	}
	if p.GroupBy == "" {
		p.GroupBy = ByProductGroup
	}
	key, ok := keys[p.GroupBy]
	if !ok {
		return Report{}, errs.Invalid("group_by", "invalid", "group_by is product_group, plan or partner")
	}
	if err := Check(s.today(), p.Year, p.Month); err != nil {
		return Report{}, err
	}
	from := time.Date(p.Year, time.Month(p.Month), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, -1)

	var out []figure
	q := strings.ReplaceAll(reportSQL, "$KEY", key)
	args := map[string]any{"from": from.Format(time.DateOnly), "to": to.Format(time.DateOnly), "year": p.Year, "month": p.Month, "zone": s.zone.String()}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// The statement's cost estimates are far above the real work (the
		// planner cannot see how services join usage), which would have
		// JIT compile it for longer than it runs; its hash aggregates over
		// the month's usage need more than the default work_mem.
		if err := tx.Exec("SET LOCAL jit = off").Error; err != nil {
			return err
		}
		if err := tx.Exec("SET LOCAL work_mem = '64MB'").Error; err != nil {
			return err
		}
		return tx.Raw(q, args).Scan(&out).Error
	}, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Report{}, errs.Internal(err)
	}
	r := Report{Year: p.Year, Month: p.Month, GroupBy: p.GroupBy, Currency: s.currency}
	rows, err := s.assemble(ctx, p.GroupBy, out)
	if err != nil {
		return Report{}, err
	}
	r.Rows = rows
	r.Totals = totals(rows)
	return r, nil
}

// figure is one line of the statement's answer; Kind says which fields
// it fills.
type figure struct {
	Kind     string
	Key      string
	A, B, C  *string
	Amount   decimal.Decimal
	Services int
	Version  int
}

// assemble folds the statement's figures into rows, named and sorted.
func (s *Service) assemble(ctx context.Context, groupBy string, figs []figure) ([]Row, error) {
	byKey := map[string]*Row{}
	row := func(k string) *Row {
		r, ok := byKey[k]
		if !ok {
			r = &Row{Flags: []string{}, Cards: []Card{}, Unpriced: []Unpriced{}, Notes: []string{}}
			byKey[k] = r
		}
		return r
	}
	text := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	for _, f := range figs {
		r := row(f.Key)
		switch f.Kind {
		case "revenue":
			r.Revenue = r.Revenue.Add(f.Amount)
		case "cost":
			r.cost = r.cost.Add(f.Amount)
			if f.C != nil { // a quota billed item priced at its usage peak
				r.Notes = append(r.Notes, note(text(f.A), *f.C, f.Services))
			}
		case "services":
			r.Services += f.Services
		case "card":
			c := Card{Version: f.Version, Currency: text(f.C), ExchangeRate: f.Amount}
			c.ProductGroupID, _ = uuid.Parse(text(f.A))
			c.ID, _ = uuid.Parse(text(f.B))
			r.Cards = append(r.Cards, c)
		case "nocard":
			addFlag(r, FlagNoCard)
		case "unpriced":
			reason := text(f.C)
			addFlag(r, reason)
			r.Unpriced = append(r.Unpriced, Unpriced{Item: text(f.A), Unit: text(f.B), Quantity: f.Amount, Services: f.Services, Reason: reason})
		}
	}
	names, err := s.names(ctx, groupBy, byKey)
	if err != nil {
		return nil, err
	}
	rows := make([]Row, 0, len(byKey))
	for k, r := range byKey {
		switch {
		case k == GroupUnattributed:
			r.Group = Group{Type: GroupUnattributed, Name: "Unattributed"}
		case k == GroupDirect:
			r.Group = Group{Type: GroupDirect, Name: "Direct"}
		default:
			id := uuid.MustParse(k)
			r.Group = Group{Type: groupBy, ID: &id, Name: names[id]}
		}
		finish(r)
		rows = append(rows, *r)
	}
	rank := func(r Row) int {
		switch r.Group.Type {
		case GroupDirect:
			return 0
		case GroupUnattributed:
			return 2
		}
		return 1
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		if a.Group.Name != b.Group.Name {
			return a.Group.Name < b.Group.Name
		}
		return a.Group.ID.String() < b.Group.ID.String()
	})
	return rows, nil
}

// note says how a quota billed item's quantity was taken.
func note(item, why string, n int) string {
	switch why {
	case "unlimited":
		return fmt.Sprintf("%s: quota unlimited on %d service(s), priced at the usage peak", item, n)
	default:
		return fmt.Sprintf("%s: no quota set on %d service(s), priced at the usage peak", item, n)
	}
}

func addFlag(r *Row, f string) {
	for _, g := range r.Flags {
		if g == f {
			return
		}
	}
	r.Flags = append(r.Flags, f)
}

var hundred = decimal.NewFromInt(100)

// finish rounds the cost, figures the margin and orders the lists.
func finish(r *Row) {
	r.VendorCost = money.Round2(r.cost)
	r.Margin = r.Revenue.Sub(r.VendorCost)
	r.MarginPercent = nil
	if !r.Revenue.IsZero() {
		p := r.Margin.Mul(hundred).DivRound(r.Revenue, 2)
		r.MarginPercent = &p
	}
	order := map[string]int{FlagNoRate: 0, FlagNoCard: 1, FlagUnitMismatch: 2}
	sort.Slice(r.Flags, func(i, j int) bool { return order[r.Flags[i]] < order[r.Flags[j]] })
	sort.Slice(r.Cards, func(i, j int) bool { return r.Cards[i].ProductGroupID.String() < r.Cards[j].ProductGroupID.String() })
	sort.Slice(r.Unpriced, func(i, j int) bool {
		a, b := r.Unpriced[i], r.Unpriced[j]
		if a.Item != b.Item {
			return a.Item < b.Item
		}
		if a.Reason != b.Reason {
			return a.Reason < b.Reason
		}
		return a.Unit < b.Unit
	})
	sort.Strings(r.Notes)
}

// totals is the totals row: the rows' figures added, its cost rounded
// from the full-precision sum (so it may differ by a cent from the sum of
// the rows' rounded costs), unpriced items and notes merged.
func totals(rows []Row) Row {
	t := Row{Group: Group{Type: GroupTotal, Name: "Total"}, Flags: []string{}, Cards: []Card{}, Unpriced: []Unpriced{}, Notes: []string{}}
	cards := map[uuid.UUID]bool{}
	type upKey struct{ item, unit, reason string }
	ups := map[upKey]*Unpriced{}
	notes := map[string]bool{}
	for _, r := range rows {
		t.Revenue = t.Revenue.Add(r.Revenue)
		t.cost = t.cost.Add(r.cost)
		t.Services += r.Services
		for _, f := range r.Flags {
			addFlag(&t, f)
		}
		for _, c := range r.Cards {
			if !cards[c.ID] {
				cards[c.ID] = true
				t.Cards = append(t.Cards, c)
			}
		}
		for _, u := range r.Unpriced {
			k := upKey{u.Item, u.Unit, u.Reason}
			if e, ok := ups[k]; ok {
				e.Quantity, e.Services = e.Quantity.Add(u.Quantity), e.Services+u.Services
				continue
			}
			c := u
			ups[k] = &c
		}
		for _, n := range r.Notes {
			notes[n] = true
		}
	}
	for _, u := range ups {
		t.Unpriced = append(t.Unpriced, *u)
	}
	for n := range notes {
		t.Notes = append(t.Notes, n)
	}
	finish(&t)
	return t
}

// names reads the rows' groups' names.
func (s *Service) names(ctx context.Context, groupBy string, byKey map[string]*Row) (map[uuid.UUID]string, error) {
	var ids []uuid.UUID
	for k := range byKey {
		if id, err := uuid.Parse(k); err == nil {
			ids = append(ids, id)
		}
	}
	out := map[uuid.UUID]string{}
	if len(ids) == 0 {
		return out, nil
	}
	table := map[string]string{ByProductGroup: "product_groups", ByPlan: "plans", ByPartner: "partners"}[groupBy]
	var rows []struct {
		ID   uuid.UUID
		Name string
	}
	if err := s.db.WithContext(ctx).Table(table).Select("id, name").Where("id IN ?", ids).Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Name
	}
	return out, nil
}
