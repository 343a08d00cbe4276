package simulation

import (
	"time"

	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/billing"
)

// reconcileEvery is how often (in days) the SP reconciles with the vendor;
// it does on the last day too.
const reconcileEvery = 7

// reconcile: every reconcileEvery days and on the last day, with no vendor
// faults on, the SP asks for a reconciliation over the last week (the
// day's jobs, the usage sync included, have run). reconciled: the report
// completes and flags nothing but ok rows, since the platform and the
// simulator agree (vendor_agrees checks the same world directly), except
// the rows explained by what the harness did on purpose (pushAfterSync),
// which are flagged, and every usage row agrees with its flag computed
// here on its own (usageFlag): usage pushed at the simulator after a day's
// sync leaves that day stored as it was, and may be a usage_mismatch.
func (s *sim) reconcile(svcs []oapi.Service) {
	if s.spell != nil || (s.day%reconcileEvery != 0 && s.day != s.cfg.days) {
		return
	}
	today := s.date()
	from := today.AddDate(0, 0, -6)
	expected := map[string]bool{}
	if s.rng.IntN(2) == 0 {
		s.pushAfterSync(svcs, from, expected)
	}
	r, err := s.admin.c.CreateReconciliationReportWithResponse(s.ctx, &oapi.CreateReconciliationReportParams{IdempotencyKey: ptr(uuid.NewString())},
		oapi.ReconciliationReportCreate{From: &openapi_types.Date{Time: from}, To: &openapi_types.Date{Time: today}})
	if !s.ok("reconcile", r, err) { // ok waits for the report's job
		s.fail("reconciled", "request/"+ds(today), "requesting a reconciliation %s..%s answered %d: %s", ds(from), ds(today), r.StatusCode(), r.Body)
		return
	}
	id := r.JSON202.Id
	subject := "report/" + ds(today)
	var rep oapi.ReconciliationReport
	var rows []oapi.ReconciliationRow
	var cursor *string
	for {
		g, err := s.admin.c.GetReconciliationReportWithResponse(s.ctx, id, &oapi.GetReconciliationReportParams{Limit: ptr(pageSize), Cursor: cursor})
		if !s.ok("get_reconciliation_report", g, err) {
			s.fail("reconciled", subject, "reading reconciliation %s answered %d", id, g.StatusCode())
			return
		}
		rep = g.JSON200.Report
		rows = append(rows, g.JSON200.Rows.Data...)
		if g.JSON200.Rows.NextCursor == nil || *g.JSON200.Rows.NextCursor == "" {
			break
		}
		cursor = g.JSON200.Rows.NextCursor
	}
	s.note("reconcile %s %d rows", rep.Status, len(rows))
	if rep.Status != oapi.ReconciliationReportStatusCompleted {
		reason := ""
		if rep.Reason != nil {
			reason = *rep.Reason
		}
		s.fail("reconciled", subject, "reconciliation %s (%s..%s) is %s after the day's jobs: %s", id, ds(from), ds(today), rep.Status, reason)
		return
	}
	if rep.RowsCompared != len(rows) {
		s.fail("reconciled", subject+"/count", "reconciliation %s counts %d rows, %d listed", id, rep.RowsCompared, len(rows))
	}
	live := map[string]bool{}
	for _, v := range svcs {
		// A plan with no quotas (Bare) gives its tenant no item to compare:
		// a tenant found and in the right state has no row then.
		if v.VendorTenantId != nil && (v.Status == oapi.ServiceStatusActive || v.Status == oapi.ServiceStatusSuspended) && s.planByID(v.PlanId).softGB != nil {
			live[*v.VendorTenantId] = true
		}
	}
	covered := map[string]bool{}
	for _, row := range rows {
		covered[row.TenantId] = true
		key := row.TenantId + "/" + row.Item + "/" + string(row.Flag)
		if expected[key] {
			delete(expected, key)
			continue
		}
		// A usage mismatch the days stored and the simulator's figures
		// explain is no break; an ok row they call a mismatch is.
		explained := false
		if row.Flag == oapi.ReconciliationFlagOk || row.Flag == oapi.ReconciliationFlagUsageMismatch {
			want, ok := s.usageFlag(row, from, today)
			if ok && want != row.Flag {
				s.fail("reconciled", fmt.Sprintf("%s/%s/usage", row.TenantId, row.Item), "reconciliation %s..%s flags %s tenant %s item %q (here %q, vendor %q), the days stored and the simulator's say %s; detail %v",
					ds(from), ds(today), row.Flag, row.TenantId, row.Item, row.PlatformValue, row.VendorValue, want, row.Detail)
				continue
			}
			explained = ok && want == oapi.ReconciliationFlagUsageMismatch
		}
		if row.Flag == oapi.ReconciliationFlagOk || explained {
			delete(expected, key)
			continue
		}
		svc := "no service"
		if row.ServiceId != nil {
			svc = "service " + row.ServiceId.String()
			if v, ok := findService(svcs, *row.ServiceId); ok {
				svc += fmt.Sprintf(" (%s, %s, quantity %d)", s.planByID(v.PlanId).name, v.Status, v.Quantity)
			}
		}
		s.fail("reconciled", fmt.Sprintf("%s/%s/%s", row.TenantId, row.Item, row.Flag), "reconciliation %s..%s flags %s tenant %s %q (%s) item %q: here %q, vendor %q; detail %v",
			ds(from), ds(today), row.Flag, row.TenantId, row.TenantName, svc, row.Item, row.PlatformValue, row.VendorValue, row.Detail)
	}
	for key := range expected {
		s.fail("reconciled", "expected/"+key, "reconciliation %s..%s does not flag %s", ds(from), ds(today), key)
	}
	var uncovered []string
	for t := range live {
		if !covered[t] {
			uncovered = append(uncovered, t)
		}
	}
	if len(uncovered) > 0 {
		s.fail("reconciled", subject+"/uncovered", "reconciliation %s..%s has no row for the live tenants %s", ds(from), ds(today), strings.Join(uncovered, ", "))
	}
}

// pushAfterSync makes the platform and the vendor disagree on purpose:
// a live tenant's storage is moved at the simulator after the day's usage
// sync, above the most the sync stored in the report's period by 5% and
// 5 GB or more, so the vendor's peak of the stored days (its figure of the
// last day) is not the platform's (the next day's sync stores it). The tenant's
// storage row is then flagged usage_mismatch, and no other. Only plans
// without metered charges: no usage line is ever billed for them, so the
// platform's figure is the sync's.
func (s *sim) pushAfterSync(svcs []oapi.Service, from time.Time, expected map[string]bool) {
	v, p, ok := s.service(func(v oapi.Service, p *plan) bool {
		return v.VendorTenantId != nil && p.softGB != nil && *p.softGB >= 0 && p.model != oapi.BillingModelPostpaidPayg
	}, oapi.ServiceStatusActive, oapi.ServiceStatusSuspended)
	if !ok {
		return
	}
	var stored int64
	found := false
	s.rows("reconciled", `SELECT max(value) FROM usage_daily WHERE tenant_id = $1 AND item = 'pw_base_storage' AND day BETWEEN $2::date AND $3::date
		HAVING bool_or(day = $3::date)`, func(c []string) {
		stored, _ = strconv.ParseInt(c[0], 10, 64)
		found = true
	}, *v.VendorTenantId, ds(from), ds(s.date()))
	if !found {
		return
	}
	// Well beyond the 1% tolerance at any size.
	gb := billing.GB(stored)*105/100 + 5 + int64(s.rng.IntN(20))
	if s.simControl("POST", "/usage", map[string]any{"tenant_id": *v.VendorTenantId, "name": "pw_base_storage", "value": gb << 30}) {
		s.note("usage after sync %s %d GB (%s)", v.Username, gb, p.name)
		expected[*v.VendorTenantId+"/pw_base_storage/"+string(oapi.ReconciliationFlagUsageMismatch)] = true
	}
}

func findService(svcs []oapi.Service, id uuid.UUID) (oapi.Service, bool) {
	for _, v := range svcs {
		if v.Id == id {
			return v, true
		}
	}
	return oapi.Service{}, false
}

// usageFlag computes a usage row's flag on its own: the row's aggregation
// of what the daily sync stored in the period against the same
// aggregation of the simulator's figures of those days, 1 % apart (the
// default tolerance). False for a row that compares no usage.
func (s *sim) usageFlag(row oapi.ReconciliationRow, from, to time.Time) (oapi.ReconciliationFlag, bool) {
	if row.Detail == nil {
		return "", false
	}
	agg, _ := row.Detail["aggregation"].(string)
	if src, _ := row.Detail["source"].(string); src != "usage_sync" || agg == "" {
		return "", false
	}
	var here, there []decimal.Decimal
	s.rows("reconciled", `SELECT day::text, value, unit FROM usage_daily WHERE tenant_id = $1 AND item = $2 AND day BETWEEN $3::date AND $4::date ORDER BY day`,
		func(c []string) {
			day, _ := time.Parse(time.DateOnly, c[0])
			v, _ := strconv.ParseInt(c[1], 10, 64)
			vendor, _ := s.vendor.UsageOn(row.TenantId, row.Item, day)
			here = append(here, decimal.NewFromInt(billing.BilledValue(v, c[2])))
			there = append(there, decimal.NewFromInt(billing.BilledValue(vendor, c[2])))
		}, row.TenantId, row.Item, ds(from), ds(to))
	if len(here) == 0 {
		return "", false
	}
	p, v := billing.Aggregate(agg, here), billing.Aggregate(agg, there)
	if v.Sub(p).Abs().GreaterThan(p.Abs().Div(decimal.NewFromInt(100))) {
		return oapi.ReconciliationFlagUsageMismatch, true
	}
	return oapi.ReconciliationFlagOk, true
}
