package simulation

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/margin"
	"github.com/acronis-platform/platform/internal/ratecard"
)

// checkMargin: on the first of a month the month before (its post-paid
// invoices issued), every 10th day and on the last day the month so far.
// The margin report, by product group, plan and partner, is checked
// against figures the harness computes on its own:
//   - margin_revenue: each row's revenue is the sum over the SP's own
//     invoices (issued, not void; a partner's invoices to its customers
//     left out) of each line's share of days in the month, rounded per
//     line, read through the invoices API (credit lines for the services
//     their credits came from, the rest unattributed);
//   - margin_cost: each product group's vendor cost is its services' items
//     priced from the month's current card (read through the API): the
//     month's peak daily value stored by the usage sync over the days each
//     service lived (whole GB for bytes), or for a quota-billed row the
//     plan's per-unit quota times the most units the service ended a day
//     with; flags no_rate / no_card exactly where an item with usage has no
//     price; margin = revenue - cost, margin % = margin / revenue;
//   - margin_totals: the three groupings have the same totals, their rows
//     add up to them (cost to within the rows' rounding);
//   - margin_formats: the CSV and the XLSX carry the JSON's figures.
func (s *sim) checkMargin(invs []oapi.Invoice, svcs []oapi.Service) {
	today := s.date()
	month := today
	switch {
	case today.Day() == 1:
		month = today.AddDate(0, -1, 0)
	case s.day%10 == 0 || s.day == s.cfg.days:
	default:
		return
	}
	y, m := month.Year(), int(month.Month())
	first := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1)
	subject := fmt.Sprintf("%d-%02d/%d", y, m, s.day)
	reports := map[oapi.GetMarginReportParamsGroupBy]oapi.MarginReport{}
	for _, by := range []oapi.GetMarginReportParamsGroupBy{oapi.GetMarginReportParamsGroupByProductGroup, oapi.GetMarginReportParamsGroupByPlan, oapi.GetMarginReportParamsGroupByPartner} {
		r, err := s.admin.c.GetMarginReportWithResponse(s.ctx, &oapi.GetMarginReportParams{Month: m, Year: y, GroupBy: &by})
		if !s.ok("get_margin_report", r, err) || r.JSON200 == nil {
			s.fail("margin_totals", subject+"/"+string(by), "the %d-%02d margin report by %s answered %d: %s", y, m, by, r.StatusCode(), r.Body)
			return
		}
		reports[by] = *r.JSON200
		s.checkMarginFormats(by, *r.JSON200, subject)
	}
	s.note("margin %d-%02d total revenue %s cost %s", y, m, reports[oapi.GetMarginReportParamsGroupByProductGroup].Totals.Revenue.Amount,
		reports[oapi.GetMarginReportParamsGroupByProductGroup].Totals.VendorCost.Amount)
	s.checkMarginTotals(reports, subject)

	plans := map[uuid.UUID]*plan{}
	for _, p := range s.plans {
		plans[p.id] = p
	}
	byID := map[uuid.UUID]oapi.Service{}
	for _, v := range svcs {
		byID[v.Id] = v
	}
	// the row key of a service under each grouping
	key := func(by oapi.GetMarginReportParamsGroupBy, id uuid.UUID) string {
		v, ok := byID[id]
		if !ok {
			return "unattributed"
		}
		switch by {
		case oapi.GetMarginReportParamsGroupByPlan:
			return v.PlanId.String()
		case oapi.GetMarginReportParamsGroupByPartner:
			if v.PartnerId == nil {
				return "direct"
			}
			return v.PartnerId.String()
		}
		if p := plans[v.PlanId]; p != nil {
			return s.groups[p.group].String()
		}
		return "?"
	}
	revenue, unattributed := marginRevenue(invs, first, last)
	cost := s.marginCost(y, m, first, last, plans, subject)
	for by, rep := range reports {
		wantRev := map[string]decimal.Decimal{}
		for id, a := range revenue {
			wantRev[key(by, id)] = wantRev[key(by, id)].Add(a)
		}
		if !unattributed.IsZero() {
			wantRev["unattributed"] = unattributed
		}
		got := map[string]oapi.MarginRow{}
		for _, row := range rep.Rows {
			got[rowKey(row.Group)] = row
		}
		for k, w := range wantRev {
			g, ok := got[k]
			if (!ok && !w.IsZero()) || (ok && !decEq(g.Revenue.Amount, w.StringFixed(2))) {
				s.fail("margin_revenue", fmt.Sprintf("%s/%s/%s", subject, by, k), "%d-%02d by %s row %s: revenue %s, the invoices' lines say %s",
					y, m, by, k, g.Revenue.Amount, w.StringFixed(2))
			}
		}
		for k, g := range got {
			if _, ok := wantRev[k]; !ok && !decEq(g.Revenue.Amount, "0") {
				s.fail("margin_revenue", fmt.Sprintf("%s/%s/%s/extra", subject, by, k), "%d-%02d by %s row %s: revenue %s, the invoices' lines say none",
					y, m, by, k, g.Revenue.Amount)
			}
			if rev, err := decimal.NewFromString(g.Revenue.Amount); err == nil {
				c, _ := decimal.NewFromString(g.VendorCost.Amount)
				if !decEq(g.Margin.Amount, rev.Sub(c).StringFixed(2)) {
					s.fail("margin_cost", fmt.Sprintf("%s/%s/%s/margin", subject, by, k), "row %s: margin %s is not revenue %s - cost %s", k, g.Margin.Amount, g.Revenue.Amount, g.VendorCost.Amount)
				}
				wantPct := ""
				if !rev.IsZero() {
					wantPct = rev.Sub(c).Mul(decimal.NewFromInt(100)).DivRound(rev, 2).StringFixed(2)
				}
				if derefStr(g.MarginPercent) != wantPct {
					s.fail("margin_cost", fmt.Sprintf("%s/%s/%s/percent", subject, by, k), "row %s: margin %% %q, want %q", k, derefStr(g.MarginPercent), wantPct)
				}
			}
		}
		if by != oapi.GetMarginReportParamsGroupByProductGroup {
			continue
		}
		for gid, w := range cost {
			g, ok := got[gid]
			if !ok {
				if !w.amount.IsZero() || len(w.flags) > 0 {
					s.fail("margin_cost", fmt.Sprintf("%s/%s/missing", subject, gid), "%d-%02d has no row for group %s, which costs %s (flags %v)", y, m, gid, w.amount.StringFixed(2), w.flags)
				}
				continue
			}
			if !decEq(g.VendorCost.Amount, w.amount.StringFixed(2)) {
				s.fail("margin_cost", fmt.Sprintf("%s/%s/cost", subject, gid), "%d-%02d group %s: vendor cost %s, the stored usage and the card say %s (%s)",
					y, m, gid, g.VendorCost.Amount, w.amount.StringFixed(2), strings.Join(w.detail, "; "))
			}
			var flags []string
			for _, f := range g.Flags {
				flags = append(flags, string(f))
			}
			slices.Sort(flags)
			if !slices.Equal(flags, w.flagList()) {
				s.fail("margin_cost", fmt.Sprintf("%s/%s/flags", subject, gid), "%d-%02d group %s: flags %v, want %v (unpriced %v; %s)",
					y, m, gid, flags, w.flagList(), g.Unpriced, strings.Join(w.detail, "; "))
			}
		}
	}
}

func rowKey(g oapi.MarginGroup) string {
	if g.Id != nil {
		return g.Id.String()
	}
	return string(g.Type)
}

// marginRevenue is the month's revenue per service from the SP's own
// issued invoices, and what no service is named for.
func marginRevenue(invs []oapi.Invoice, first, last time.Time) (map[uuid.UUID]decimal.Decimal, decimal.Decimal) {
	out := map[uuid.UUID]decimal.Decimal{}
	var rest decimal.Decimal
	for _, inv := range invs {
		if inv.IssuerPartnerId != nil || (inv.Status != oapi.InvoiceStatusUnpaid && inv.Status != oapi.InvoiceStatusPaid) || inv.Lines == nil {
			continue
		}
		for _, l := range *inv.Lines {
			overlap, total := int64(1), int64(1)
			if l.PeriodStart == nil {
				if inv.PeriodStart.Before(first) || inv.PeriodStart.After(last) {
					continue
				}
			} else {
				ps, pe := l.PeriodStart.Time, l.PeriodStart.Time
				if l.PeriodEnd != nil {
					pe = l.PeriodEnd.Time
				}
				lo, hi := maxTime(ps, first), minTime(pe, last)
				if hi.Before(lo) {
					continue
				}
				overlap, total = days(lo, hi), max(days(ps, pe), 1)
			}
			share := func(a decimal.Decimal) decimal.Decimal {
				return a.Mul(decimal.NewFromInt(overlap)).Div(decimal.NewFromInt(total)).Round(2)
			}
			amount := decimal.RequireFromString(l.Amount.Amount)
			if l.ServiceId != nil {
				out[*l.ServiceId] = out[*l.ServiceId].Add(share(amount))
				continue
			}
			left := amount
			if cs, ok := l.Detail["credits"].([]any); ok {
				for _, c := range cs {
					cm, _ := c.(map[string]any)
					sid, err := uuid.Parse(fmt.Sprint(cm["service_id"]))
					part, err2 := decimal.NewFromString(fmt.Sprint(cm["amount"]))
					if err != nil || err2 != nil {
						continue
					}
					out[sid] = out[sid].Add(share(part.Neg()))
					left = left.Add(part)
				}
			}
			rest = rest.Add(share(left))
		}
	}
	return out, rest
}

func days(a, b time.Time) int64 { return int64(math.Round(b.Sub(a).Hours()/24)) + 1 }
func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// groupCost is what the harness makes of a product group's vendor cost.
type groupCost struct {
	amount decimal.Decimal // full precision
	flags  map[string]bool
	detail []string
}

func (g *groupCost) flagList() []string {
	var out []string
	for f := range g.flags {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// marginCost prices each product group's services for the month.
func (s *sim) marginCost(y, m int, first, last time.Time, plans map[uuid.UUID]*plan, subject string) map[string]*groupCost {
	out := map[string]*groupCost{}
	cards := map[uuid.UUID]*oapi.RateCard{} // by group; nil: none
	for _, g := range s.groups {
		out[g.String()] = &groupCost{flags: map[string]bool{}}
		cur := oapi.RateCardStatusCurrent
		r, err := s.admin.c.ListProductGroupRateCardsWithResponse(s.ctx, g, &oapi.ListProductGroupRateCardsParams{Month: &m, Year: &y, Status: (*oapi.ListProductGroupRateCardsParamsStatus)(&cur)})
		if !s.ok("list_rate_cards", r, err) || r.JSON200 == nil {
			continue
		}
		if len(r.JSON200.Data) > 1 {
			s.fail("rate_cards_kept", subject+"/"+g.String(), "group %s has %d current cards for %d-%02d", g, len(r.JSON200.Data), y, m)
		}
		if len(r.JSON200.Data) == 1 {
			c, err := s.admin.c.GetRateCardWithResponse(s.ctx, r.JSON200.Data[0].Id, nil)
			if s.ok("get_rate_card", c, err) && c.JSON200 != nil {
				cards[g] = c.JSON200
			}
		}
	}
	type svc struct {
		id              uuid.UUID
		tenant, storage string
		plan            uuid.UUID
		quantity        int
		from, to        time.Time
	}
	var live []svc
	s.rows("margin_cost", `SELECT id::text, vendor_tenant_id, coalesce(storage_item, ''), plan_id::text, quantity,
	        greatest(start_date, (activated_at AT TIME ZONE $3)::date, $1::date)::text,
	        least(coalesce(end_date, (terminated_at AT TIME ZONE $3)::date, $2::date), $2::date)::text
	    FROM services WHERE vendor_tenant_id IS NOT NULL AND start_date IS NOT NULL AND activated_at IS NOT NULL
	     AND start_date <= $2::date AND coalesce(end_date, $2::date) >= $1::date ORDER BY id`, func(c []string) {
		f, _ := time.Parse(time.DateOnly, c[5])
		t, _ := time.Parse(time.DateOnly, c[6])
		q, _ := strconv.Atoi(c[4])
		if t.Before(f) {
			return
		}
		live = append(live, svc{uuid.MustParse(c[0]), c[1], c[2], uuid.MustParse(c[3]), q, f, t})
	}, ds(first), ds(last), s.env.Cfg.TimeZone)
	for _, v := range live {
		p := plans[v.plan]
		if p == nil {
			continue
		}
		gid := s.groups[p.group]
		gc := out[gid.String()]
		card := cards[gid]
		if card == nil {
			gc.flags["no_card"] = true
		}
		peakQty := v.quantity
		for d := v.from; !d.After(v.to); d = d.AddDate(0, 0, 1) {
			if q, ok := s.quantities[v.id][ds(d)]; ok {
				peakQty = max(peakQty, q)
			}
		}
		s.rows("margin_cost", `SELECT item, max(value)::text, bool_or(unit = 'bytes') FROM usage_daily
		    WHERE tenant_id = $1 AND day BETWEEN $2::date AND $3::date GROUP BY item ORDER BY item`, func(c []string) {
			item, bytes := c[0], c[2] == "true"
			peak := decimal.RequireFromString(c[1])
			if bytes {
				peak = peak.Div(decimal.NewFromInt(1 << 30)).Ceil()
			}
			if card == nil {
				return
			}
			var row *oapi.RateCardRow
			if card.Rows != nil {
				for i, r := range *card.Rows {
					if strings.EqualFold(r.Sku, item) {
						row = &(*card.Rows)[i]
					}
				}
			}
			qty := peak
			if row != nil && string(row.Basis) == ratecard.BasisQuota {
				per, set := p.items[item]
				if item == v.storage {
					per, set = 0, p.softGB != nil
					switch {
					case !set:
					case *p.softGB < 0 || (p.hardGB != nil && *p.hardGB < 0):
						per = -1
					default:
						per = *p.softGB
						if p.hardGB != nil {
							per += *p.hardGB
						}
					}
				}
				if set && per >= 0 {
					qty = decimal.NewFromInt(int64(per * peakQty))
				}
			}
			switch {
			case row == nil:
				if !qty.IsZero() {
					gc.flags["no_rate"] = true
				}
				return
			case bytes != (ratecard.SizeUnits[row.Unit] != 0):
				if !qty.IsZero() {
					gc.flags["unit_mismatch"] = true
				}
				return
			}
			factor := decimal.NewFromInt(max(ratecard.SizeUnits[row.Unit], 1))
			c1 := qty.Mul(decimal.RequireFromString(row.UnitCost)).Mul(decimal.RequireFromString(card.ExchangeRate)).Div(factor)
			gc.amount = gc.amount.Add(c1)
			gc.detail = append(gc.detail, fmt.Sprintf("%s %s %s x %s", v.id.String()[:8], item, qty, row.UnitCost))
		}, v.tenant, ds(v.from), ds(v.to))
	}
	return out
}

// checkMarginTotals: margin_totals.
func (s *sim) checkMarginTotals(reports map[oapi.GetMarginReportParamsGroupBy]oapi.MarginReport, subject string) {
	base := reports[oapi.GetMarginReportParamsGroupByProductGroup].Totals
	for by, rep := range reports {
		t := rep.Totals
		if t.Revenue.Amount != base.Revenue.Amount || t.VendorCost.Amount != base.VendorCost.Amount || t.Margin.Amount != base.Margin.Amount {
			s.fail("margin_totals", subject+"/"+string(by), "by %s the totals are %s / %s / %s, by product group %s / %s / %s", by,
				t.Revenue.Amount, t.VendorCost.Amount, t.Margin.Amount, base.Revenue.Amount, base.VendorCost.Amount, base.Margin.Amount)
		}
		var rev, cost decimal.Decimal
		for _, r := range rep.Rows {
			rev = rev.Add(decimal.RequireFromString(r.Revenue.Amount))
			cost = cost.Add(decimal.RequireFromString(r.VendorCost.Amount))
		}
		slack := decimal.New(5, -3).Mul(decimal.NewFromInt(int64(len(rep.Rows))))
		if !decEq(t.Revenue.Amount, rev.StringFixed(2)) || cost.Sub(decimal.RequireFromString(t.VendorCost.Amount)).Abs().GreaterThan(slack) {
			s.fail("margin_totals", subject+"/"+string(by)+"/sum", "by %s the rows add up to %s / %s, the totals say %s / %s", by,
				rev.StringFixed(2), cost.StringFixed(2), t.Revenue.Amount, t.VendorCost.Amount)
		}
	}
}

// sheetTable reads a sheet as displayed, rows padded to n cells.
func sheetTable(b []byte, sheet string, n int) ([][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	rows, err := f.GetRows(sheet)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		for len(rows[i]) < n {
			rows[i] = append(rows[i], "")
		}
	}
	return rows, nil
}

// checkMarginFormats: margin_formats.
func (s *sim) checkMarginFormats(by oapi.GetMarginReportParamsGroupBy, rep oapi.MarginReport, subject string) {
	want := [][]string{margin.Columns[:10]}
	for _, r := range append(slices.Clone(rep.Rows), rep.Totals) {
		id := ""
		if r.Group.Id != nil {
			id = r.Group.Id.String()
		}
		var flags []string
		for _, f := range r.Flags {
			flags = append(flags, string(f))
		}
		want = append(want, []string{string(r.Group.Type), id, r.Group.Name, r.Revenue.Amount, r.VendorCost.Amount, r.Margin.Amount,
			derefStr(r.MarginPercent), r.Revenue.Currency, strconv.Itoa(r.Services), strings.Join(flags, "; ")})
	}
	// the sheet shows margin % with its sign; the JSON has the number
	cut := func(t [][]string) [][]string {
		for i := range t {
			t[i] = t[i][:min(len(t[i]), 10)]
			if i > 0 && len(t[i]) > 6 {
				t[i][6] = strings.TrimSuffix(t[i][6], "%")
			}
		}
		return t
	}
	params := func(f oapi.GetMarginReportParamsFormat) *oapi.GetMarginReportParams {
		return &oapi.GetMarginReportParams{Month: rep.Month, Year: rep.Year, GroupBy: &by, Format: &f}
	}
	cr, err := s.admin.c.GetMarginReportWithResponse(s.ctx, params(oapi.GetMarginReportParamsFormatCsv))
	if s.ok("get_margin_report", cr, err) {
		got, err := csvTable(cr.Body)
		if err != nil {
			s.fail("margin_formats", subject+"/"+string(by)+"/csv", "the margin CSV does not parse: %v", err)
		} else if d := tableDiff(want, cut(got), false); d != "" {
			s.fail("margin_formats", subject+"/"+string(by)+"/csv", "the margin report by %s as CSV differs from JSON: %s", by, d)
		}
	}
	if s.rng.IntN(3) != 0 {
		return
	}
	xr, err := s.admin.c.GetMarginReportWithResponse(s.ctx, params(oapi.GetMarginReportParamsFormatXlsx))
	if s.ok("get_margin_report", xr, err) {
		got, err := sheetTable(xr.Body, margin.SheetMargin, 10)
		if err != nil {
			s.fail("margin_formats", subject+"/"+string(by)+"/xlsx", "the margin XLSX does not read: %v", err)
		} else if d := tableDiff(want, cut(got), true); d != "" {
			s.fail("margin_formats", subject+"/"+string(by)+"/xlsx", "the margin report by %s as XLSX differs from JSON: %s", by, d)
		}
	}
}
