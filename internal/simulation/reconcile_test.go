package simulation

import (
	"fmt"
	"strings"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"

	"github.com/acronis-platform/platform/api/oapi"
)

// reconcileEvery is how often (in days) the SP reconciles with the vendor;
// it does on the last day too.
const reconcileEvery = 7

// reconcile: every reconcileEvery days and on the last day, with no vendor
// faults on, the SP asks for a reconciliation over the last week (the
// day's jobs, the usage sync included, have run). reconciled: the report
// completes and flags nothing but ok rows, since the platform and the
// simulator agree (vendor_agrees checks the same world directly), except
// the rows explained by what the harness did on purpose (expectedFlags).
func (s *sim) reconcile(svcs []oapi.Service) {
	if s.spell != nil || (s.day%reconcileEvery != 0 && s.day != s.cfg.days) {
		return
	}
	today := s.date()
	from := today.AddDate(0, 0, -6)
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
	expected := s.expectedFlags(svcs)
	live := map[string]bool{}
	for _, v := range svcs {
		if v.VendorTenantId != nil && (v.Status == oapi.ServiceStatusActive || v.Status == oapi.ServiceStatusSuspended) {
			live[*v.VendorTenantId] = true
		}
	}
	covered := map[string]bool{}
	for _, row := range rows {
		covered[row.TenantId] = true
		key := row.TenantId + "/" + row.Item + "/" + string(row.Flag)
		if row.Flag == oapi.ReconciliationFlagOk || expected[key] {
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

// expectedFlags are the rows (tenant/item/flag) other than ok that the
// harness caused on purpose; none so far.
func (s *sim) expectedFlags(_ []oapi.Service) map[string]bool {
	return map[string]bool{}
}

func findService(svcs []oapi.Service, id uuid.UUID) (oapi.Service, bool) {
	for _, v := range svcs {
		if v.Id == id {
			return v, true
		}
	}
	return oapi.Service{}, false
}
