package simulation

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/usagereport"
)

// usageReport: a random service's usage report (summary or daily, over a
// random period within what has passed) read by its customer, its partner
// or an admin, in JSON and CSV and now and then XLSX:
//   - report_formats: every format carries the same figures;
//   - report_billed: a summary's amount per row is the sum of the
//     customer's invoice lines (paid or unpaid) of the service of the row's
//     kinds whose period meets the report's, with their invoice numbers,
//     read through the invoices API; the plan row's quantity range is the
//     quantities the service had over the period (as the harness saw them
//     at the end of each day).
func (s *sim) usageReport() {
	all := []oapi.ServiceStatus{oapi.ServiceStatusActive, oapi.ServiceStatusSuspended, oapi.ServiceStatusExpired,
		oapi.ServiceStatusTerminated, oapi.ServiceStatusCancelled}
	v, _, ok := s.service(nil, all...)
	if !ok {
		return
	}
	kind := []oapi.GetServiceUsageReportParamsKind{oapi.GetServiceUsageReportParamsKindSummary, oapi.GetServiceUsageReportParamsKindDaily}[s.rng.IntN(2)]
	today := s.date()
	first := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	span := int(today.Sub(first).Hours() / 24)
	a, b := s.rng.IntN(span+1), s.rng.IntN(span+1)
	from, to := first.AddDate(0, 0, min(a, b)), first.AddDate(0, 0, max(a, b))
	if s.rng.IntN(3) == 0 { // often the days up to today
		to = today
	}
	if days := int(to.Sub(from).Hours()/24) + 1; days > usagereport.MaxDays {
		from = to.AddDate(0, 0, -(usagereport.MaxDays - 1))
	}
	who, role := s.admin, "admin"
	switch s.rng.IntN(3) {
	case 0:
		who, role = s.customerUser(v.CustomerId), "customer"
	case 1:
		if v.PartnerId != nil {
			who, role = s.partner(*v.PartnerId).user, "partner"
		}
	}
	xlsx := s.rng.IntN(4) == 0
	s.note("usage_report %s %s..%s as %s", kind, ds(from), ds(to), role)
	params := func(f oapi.GetServiceUsageReportParamsFormat) *oapi.GetServiceUsageReportParams {
		return &oapi.GetServiceUsageReportParams{Kind: &kind, From: &openapi_types.Date{Time: from}, To: &openapi_types.Date{Time: to}, Format: &f}
	}
	subject := fmt.Sprintf("%s/%s/%s/%s", v.Id, kind, ds(from), ds(to))
	jr, err := who.c.GetServiceUsageReportWithResponse(s.ctx, v.Id, params(oapi.GetServiceUsageReportParamsFormatJson))
	if !s.ok("get_usage_report", jr, err) {
		s.fail("report_formats", subject+"/json", "service %s: the %s report %s..%s as its %s answered %d: %s", v.Id, kind, ds(from), ds(to), role, jr.StatusCode(), jr.Body)
		return
	}
	rep := *jr.JSON200
	want := reportTable(rep)
	cr, err := who.c.GetServiceUsageReportWithResponse(s.ctx, v.Id, params(oapi.GetServiceUsageReportParamsFormatCsv))
	if s.ok("get_usage_report", cr, err) {
		got, err := csvTable(cr.Body)
		if err != nil {
			s.fail("report_formats", subject+"/csv", "service %s: the %s report's CSV does not parse: %v", v.Id, kind, err)
		} else if d := tableDiff(want, got, false); d != "" {
			s.fail("report_formats", subject+"/csv", "service %s: the %s report %s..%s as CSV differs from JSON: %s", v.Id, kind, ds(from), ds(to), d)
		}
	}
	if xlsx {
		xr, err := who.c.GetServiceUsageReportWithResponse(s.ctx, v.Id, params(oapi.GetServiceUsageReportParamsFormatXlsx))
		if s.ok("get_usage_report", xr, err) {
			got, err := xlsxTable(xr.Body, string(kind))
			if err != nil {
				s.fail("report_formats", subject+"/xlsx", "service %s: the %s report's XLSX does not read: %v", v.Id, kind, err)
			} else if d := tableDiff(want, got, true); d != "" {
				s.fail("report_formats", subject+"/xlsx", "service %s: the %s report %s..%s as XLSX differs from JSON: %s", v.Id, kind, ds(from), ds(to), d)
			}
		}
	}
	if kind == oapi.GetServiceUsageReportParamsKindSummary && rep.Summary != nil {
		s.checkReportBilled(v, rep, from, to)
	}
}

// customerUser is a user of the customer, made the first time it is needed.
func (s *sim) customerUser(id uuid.UUID) *actor {
	if a, ok := s.customerUsers[id]; ok {
		s.login(a)
		return a
	}
	u := s.env.NewUser(s.t, auth.RoleCustomer, nil, &id)
	a := s.newActor(u.Email, apptest.Password)
	s.customerUsers[id] = a
	return a
}

// reportTable is a JSON report as the rows of its CSV, header first.
func reportTable(r oapi.UsageReport) [][]string {
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	num := func(p *int64) string {
		if p == nil {
			return ""
		}
		return strconv.FormatInt(*p, 10)
	}
	if r.Kind == oapi.UsageReportKind(oapi.GetServiceUsageReportParamsKindDaily) {
		out := [][]string{usagereport.DailyColumns}
		if r.Daily != nil {
			for _, d := range *r.Daily {
				out = append(out, []string{ds(d.Day.Time), d.Item, str(d.Unit), num(d.Value), strconv.Itoa(d.Quantity),
					num(d.SoftQuota), num(d.HardQuota), strconv.FormatInt(d.OverageGb, 10)})
			}
		}
		return out
	}
	out := [][]string{usagereport.SummaryColumns}
	if r.Summary != nil {
		for _, x := range *r.Summary {
			agg := ""
			if x.Aggregation != nil {
				agg = string(*x.Aggregation)
			}
			out = append(out, []string{string(x.Type), x.Item, str(x.Unit), agg, str(x.Usage), strconv.Itoa(x.QuantityMin), strconv.Itoa(x.QuantityMax),
				num(x.SoftQuotaMin), num(x.SoftQuotaMax), num(x.HardQuotaMin), num(x.HardQuotaMax), strconv.FormatInt(x.OverageGb, 10),
				x.Amount.Amount, x.Amount.Currency, strings.Join(x.Invoices, " ")})
		}
	}
	return out
}

func csvTable(b []byte) ([][]string, error) {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = -1
	return r.ReadAll()
}

// xlsxTable reads the kind's sheet as displayed (dates and money by their
// formats), short rows padded.
func xlsxTable(b []byte, kind string) ([][]string, error) {
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sheet, cols := usagereport.SheetSummary, usagereport.SummaryColumns
	if kind == usagereport.KindDaily {
		sheet, cols = usagereport.SheetDaily, usagereport.DailyColumns
	}
	rows, err := f.GetRows(sheet)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		for len(rows[i]) < len(cols) {
			rows[i] = append(rows[i], "")
		}
	}
	return rows, nil
}

// tableDiff says where two tables part; numeric cells of a spreadsheet
// (its numbers are floats) are compared as numbers.
func tableDiff(want, got [][]string, numeric bool) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if len(want[i]) != len(got[i]) {
			return fmt.Sprintf("row %d has %d cells, want %d: %q", i, len(got[i]), len(want[i]), got[i])
		}
		for j := range want[i] {
			w, g := want[i][j], got[i][j]
			if w == g {
				continue
			}
			if numeric {
				wd, e1 := decimal.NewFromString(w)
				gd, e2 := decimal.NewFromString(g)
				if e1 == nil && e2 == nil && wd.Sub(gd).Abs().LessThan(decimal.New(1, -9).Mul(decimal.Max(wd.Abs(), decimal.NewFromInt(1)))) {
					continue
				}
			}
			return fmt.Sprintf("row %d column %s is %q, want %q", i, want[0][j], g, w)
		}
	}
	return ""
}

// checkReportBilled: report_billed for a summary.
func (s *sim) checkReportBilled(v oapi.Service, rep oapi.UsageReport, from, to time.Time) {
	type sum struct {
		amount  decimal.Decimal
		numbers []string
	}
	want := map[string]*sum{} // by row: "" for the plan, else the item
	add := func(row string, a decimal.Decimal, number string) {
		x := want[row]
		if x == nil {
			x = &sum{}
			want[row] = x
		}
		x.amount = x.amount.Add(a)
		if !slices.Contains(x.numbers, number) {
			x.numbers = append(x.numbers, number)
		}
	}
	for _, h := range s.invoices(oapi.ListInvoicesParams{ServiceId: &v.Id}) {
		// Draft invoices bill nothing yet; void ones are gone.
		if h.CustomerId == nil || (h.Status != oapi.InvoiceStatusPaid && h.Status != oapi.InvoiceStatusUnpaid) {
			continue
		}
		inv, ok := s.invoice(h)
		if !ok || inv.Lines == nil {
			continue
		}
		for _, l := range *inv.Lines {
			if l.ServiceId == nil || *l.ServiceId != v.Id {
				continue
			}
			ps, pe := inv.PeriodStart.Time, inv.PeriodEnd.Time
			if l.PeriodStart != nil {
				ps = l.PeriodStart.Time
			}
			if l.PeriodEnd != nil {
				pe = l.PeriodEnd.Time
			}
			if ps.After(to) || pe.Before(from) {
				continue
			}
			switch l.Kind {
			case oapi.InvoiceLineKindRecurring, oapi.InvoiceLineKindProration, oapi.InvoiceLineKindSetup:
				add("", dec(l.Amount), num(inv))
			case oapi.InvoiceLineKindUsage:
				add(fmt.Sprint(l.Detail["offering_item"]), dec(l.Amount), num(inv))
			case oapi.InvoiceLineKindOverage:
				add(fmt.Sprint(l.Detail["storage_item"]), dec(l.Amount), num(inv))
			}
		}
	}
	subject := fmt.Sprintf("%s/%s/%s", v.Id, ds(from), ds(to))
	seen := map[string]bool{}
	for _, r := range *rep.Summary {
		key := r.Item
		if r.Type == oapi.UsageSummaryRowTypePlan {
			key = ""
		}
		seen[key] = true
		w := want[key]
		if w == nil {
			w = &sum{}
		}
		got := dec(r.Amount)
		nums := slices.Clone(r.Invoices)
		slices.Sort(nums)
		slices.Sort(w.numbers)
		if !got.Equal(w.amount) || !slices.Equal(nums, w.numbers) {
			s.fail("report_billed", subject+"/"+key, "service %s (%s) %s..%s: the %s row %q shows %s on %v, its invoice lines sum to %s on %v",
				v.Id, s.planByID(v.PlanId).name, ds(from), ds(to), r.Type, r.Item, got, nums, w.amount, w.numbers)
		}
		if r.Type == oapi.UsageSummaryRowTypePlan {
			if lo, hi, ok := s.quantityRange(v, from, to); ok && (r.QuantityMin != lo || r.QuantityMax != hi) {
				s.fail("report_billed", subject+"/quantity", "service %s (%s) %s..%s: the plan row's quantity is %d..%d, the service had %d..%d",
					v.Id, s.planByID(v.PlanId).name, ds(from), ds(to), r.QuantityMin, r.QuantityMax, lo, hi)
			}
		}
	}
	for key, w := range want {
		if !seen[key] && !w.amount.IsZero() {
			s.fail("report_billed", subject+"/missing/"+key, "service %s %s..%s: %s billed for %q on %v has no row in the report",
				v.Id, ds(from), ds(to), w.amount, key, w.numbers)
		}
	}
}

// noteQuantities keeps each service's quantity at the end of the day.
func (s *sim) noteQuantities() {
	day := ds(s.date())
	for _, v := range s.services() {
		if s.quantities[v.Id] == nil {
			s.quantities[v.Id] = map[string]int{}
		}
		s.quantities[v.Id][day] = v.Quantity
	}
}

// quantityRange is the least and most quantity the service ended a day of
// [from, to] with (today: its quantity now); ok false when the harness saw
// none of those days.
func (s *sim) quantityRange(v oapi.Service, from, to time.Time) (lo, hi int, ok bool) {
	today := ds(s.date())
	for d := from; !d.After(to); d = d.AddDate(0, 0, 1) {
		q, seen := s.quantities[v.Id][ds(d)]
		if ds(d) == today {
			q, seen = v.Quantity, true
		}
		if !seen {
			continue
		}
		if !ok {
			lo, hi, ok = q, q, true
		}
		lo, hi = min(lo, q), max(hi, q)
	}
	return lo, hi, ok
}
