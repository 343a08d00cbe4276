package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
	"github.com/xuri/excelize/v2"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/reconcile"
)

type problem struct {
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
		Code  string `json:"code"`
	} `json:"errors"`
}

// requireProblem checks an error answer's status, code and (when given)
// the field at fault.
func requireProblem(t *testing.T, status int, body []byte, gotStatus int, code, field string) {
	t.Helper()
	require.Equal(t, status, gotStatus, "%s", body)
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), "%s", body)
	require.Equal(t, code, p.Code, "%s", body)
	if field != "" {
		require.NotEmpty(t, p.Errors, "%s", body)
		require.Equal(t, field, p.Errors[0].Field, "%s", body)
	}
}

func date(t time.Time) *openapi_types.Date { return &openapi_types.Date{Time: t} }

// Only admins reach reconciliation: partners and customers are 403, no
// credentials 401.
func TestReconciliationIsForAdmins(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	_, partnerToken := w.env.PartnerUser(t, nil)
	_, customerToken := w.env.CustomerUser(t, nil)
	id := uuid.New()
	body := oapi.ReconciliationSettingsUpdate{DefaultPeriod: oapi.ReconciliationPeriodKind("previous_month"), UsageTolerancePercent: "1"}
	for _, who := range []struct {
		name, token string
		status      int
	}{{"partner", partnerToken, http.StatusForbidden}, {"customer", customerToken, http.StatusForbidden}, {"anonymous", "", http.StatusUnauthorized}} {
		c := w.env.Client(t, who.token)
		for _, op := range []struct {
			name string
			call func() (int, []byte)
		}{
			{"get settings", func() (int, []byte) {
				r, err := c.GetReconciliationSettingsWithResponse(ctx)
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
			{"put settings", func() (int, []byte) {
				r, err := c.PutReconciliationSettingsWithResponse(ctx, nil, body)
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
			{"list", func() (int, []byte) {
				r, err := c.ListReconciliationReportsWithResponse(ctx, nil)
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
			{"create", func() (int, []byte) {
				r, err := c.CreateReconciliationReportWithResponse(ctx, nil, oapi.ReconciliationReportCreate{})
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
			{"get", func() (int, []byte) {
				r, err := c.GetReconciliationReportWithResponse(ctx, id, nil)
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
			{"download", func() (int, []byte) {
				r, err := c.DownloadReconciliationReportWithResponse(ctx, id)
				require.NoError(t, err)
				return r.StatusCode(), r.Body
			}},
		} {
			status, _ := op.call()
			require.Equal(t, who.status, status, "%s: %s", who.name, op.name)
		}
	}
	var n int
	require.NoError(t, w.env.App.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM reconciliation_reports`).Scan(&n))
	require.Zero(t, n)
}

// Bad inputs are refused with their code and field, and change nothing.
func TestReconciliationBadInputs(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	admin, _ := w.env.Admin(t)
	today := w.env.App.Billing.Today()

	t.Run("reports", func(t *testing.T) {
		for _, c := range []struct {
			name        string
			body        string
			status      int
			code, field string
		}{
			{"to before from", `{"from":"` + day(today) + `","to":"` + day(today.AddDate(0, 0, -1)) + `"}`, 422, "invalid_period", "to"},
			{"to in the future", `{"from":"` + day(today) + `","to":"` + day(today.AddDate(0, 0, 1)) + `"}`, 422, "period_in_future", "to"},
			{"367 days", `{"from":"` + day(today.AddDate(0, 0, -366)) + `","to":"` + day(today) + `"}`, 422, "period_too_long", "to"},
			{"not a date", `{"from":"2026-13-01"}`, 400, "validation_failed", ""},
			{"unknown field", `{"since":"2026-11-01"}`, 400, "validation_failed", "since"},
		} {
			r, err := admin.CreateReconciliationReportWithBodyWithResponse(ctx, nil, "application/json", strings.NewReader(c.body))
			require.NoError(t, err)
			requireProblem(t, c.status, r.Body, r.StatusCode(), c.code, c.field)
		}
		// 366 days is the most: accepted.
		r, err := admin.CreateReconciliationReportWithResponse(ctx, nil, oapi.ReconciliationReportCreate{From: date(today.AddDate(0, 0, -365)), To: date(today)})
		require.NoError(t, err)
		require.Equal(t, http.StatusAccepted, r.StatusCode(), "%s", r.Body)
		var n int
		require.NoError(t, w.env.App.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM reconciliation_reports`).Scan(&n))
		require.Equal(t, 1, n, "only the good request made a report")

		g, err := admin.GetReconciliationReportWithResponse(ctx, uuid.New(), nil)
		require.NoError(t, err)
		requireProblem(t, 404, g.Body, g.StatusCode(), "not_found", "")
		bad := "bm90IGEgY3Vyc29y"
		g, err = admin.GetReconciliationReportWithResponse(ctx, r.JSON202.Id, &oapi.GetReconciliationReportParams{Cursor: &bad})
		require.NoError(t, err)
		requireProblem(t, 400, g.Body, g.StatusCode(), "validation_failed", "cursor")
		d, err := admin.DownloadReconciliationReportWithResponse(ctx, r.JSON202.Id)
		require.NoError(t, err)
		requireProblem(t, 409, d.Body, d.StatusCode(), "report_not_completed", "")
	})

	t.Run("settings", func(t *testing.T) {
		before, err := admin.GetReconciliationSettingsWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, before.StatusCode(), "%s", before.Body)
		for _, c := range []struct {
			name        string
			body        string
			ifMatch     string
			status      int
			code, field string
		}{
			{"tolerance above 100", `{"default_period":"previous_month","usage_tolerance_percent":"101"}`, "", 422, "tolerance_out_of_range", "usage_tolerance_percent"},
			{"three decimals", `{"default_period":"previous_month","usage_tolerance_percent":"1.234"}`, "", 422, "tolerance_out_of_range", "usage_tolerance_percent"},
			{"unknown account", `{"accounts":[{"url":"https://elsewhere.example","client_id":"x"}],"default_period":"previous_month","usage_tolerance_percent":"1"}`, "", 422, "unknown_account", "accounts[0]"},
			{"unknown period", `{"default_period":"last_week","usage_tolerance_percent":"1"}`, "", 400, "validation_failed", ""},
			{"no tolerance", `{"default_period":"previous_month"}`, "", 400, "validation_failed", ""},
			{"stale version", `{"default_period":"current_month","usage_tolerance_percent":"1"}`, `"99"`, 412, "version_mismatch", ""},
		} {
			var params *oapi.PutReconciliationSettingsParams
			if c.ifMatch != "" {
				params = &oapi.PutReconciliationSettingsParams{IfMatch: &c.ifMatch}
			}
			r, err := admin.PutReconciliationSettingsWithBodyWithResponse(ctx, params, "application/json", strings.NewReader(c.body))
			require.NoError(t, err)
			requireProblem(t, c.status, r.Body, r.StatusCode(), c.code, c.field)
		}
		after, err := admin.GetReconciliationSettingsWithResponse(ctx)
		require.NoError(t, err)
		require.Equal(t, before.JSON200, after.JSON200, "bad requests changed nothing")
		require.True(t, after.JSON200.AllAccounts)
		require.Len(t, after.JSON200.Accounts, 1, "the SP's account and the plan's are one")
		acc := after.JSON200.Accounts[0]
		require.True(t, acc.Sp)
		require.Equal(t, []uuid.UUID{w.plan.ID}, acc.PlanIds)
		require.NotContains(t, string(after.Body), "sp-secret")

		refs := []oapi.ReconciliationAccountRef{{Url: acc.Url, ClientId: acc.ClientId}}
		v := after.HTTPResponse.Header.Get("ETag")
		ok, err := admin.PutReconciliationSettingsWithResponse(ctx, &oapi.PutReconciliationSettingsParams{IfMatch: &v},
			oapi.ReconciliationSettingsUpdate{Accounts: &refs, DefaultPeriod: oapi.ReconciliationPeriodKind("last_30_days"), UsageTolerancePercent: "2.5"})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, ok.StatusCode(), "%s", ok.Body)
		require.False(t, ok.JSON200.AllAccounts)
		require.True(t, ok.JSON200.Accounts[0].Selected)
		require.Equal(t, oapi.Percent("2.5"), ok.JSON200.UsageTolerancePercent)
		require.Equal(t, after.JSON200.Version+1, ok.JSON200.Version)
	})
}

// Through the API: a report requested, done by its job, read page by
// page and flag by flag, and downloaded as a workbook with the same rows.
func TestReconciliationReportThroughTheAPI(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	admin, _ := w.env.Admin(t)
	tenants := w.tenants(t, "api", 2)
	w.services(t, tenants)
	_, err := w.vc.SetTenantEnabled(ctx, tenants[1], false)
	require.NoError(t, err)
	orphan := w.tenants(t, "api-orphan", 1)[0]
	today := w.env.App.Billing.Today()

	// Without from/to: the default period, the last 30 days here.
	_, err = w.env.App.Reconcile.PutSettings(ctx, reconcile.SettingsInput{DefaultPeriod: reconcile.PeriodLast30Days, UsageTolerancePercent: decimal.NewFromInt(1)})
	require.NoError(t, err)
	c, err := admin.CreateReconciliationReportWithResponse(ctx, nil, oapi.ReconciliationReportCreate{})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, c.StatusCode(), "%s", c.Body)
	require.Equal(t, oapi.ReconciliationReportStatusQueued, c.JSON202.Status)
	require.Equal(t, day(today.AddDate(0, 0, -29)), c.JSON202.From.Format(time.DateOnly))
	require.Equal(t, day(today), c.JSON202.To.Format(time.DateOnly))
	// The job's work, done here (this platform runs no job workers).
	require.NoError(t, w.env.App.Reconcile.Worker().Work(ctx, &river.Job[reconcile.ReportArgs]{
		JobRow: &rivertype.JobRow{Attempt: 1, MaxAttempts: 3}, Args: reconcile.ReportArgs{ReportID: c.JSON202.Id}}))

	g, err := admin.GetReconciliationReportWithResponse(ctx, c.JSON202.Id, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, g.StatusCode(), "%s", g.Body)
	rep := g.JSON200.Report
	require.Equal(t, oapi.ReconciliationReportStatusCompleted, rep.Status)
	require.Equal(t, oapi.ReconciliationCounts{Ok: 4, OrphanTenant: 1, StatusMismatch: 1}, rep.Counts)
	require.Equal(t, 6, rep.RowsCompared)
	require.Len(t, rep.Accounts, 1)
	all := g.JSON200.Rows.Data
	require.Len(t, all, 6)

	// Paged one row at a time, the same rows in the same order.
	var paged []oapi.ReconciliationRow
	var cursor *string
	for {
		one := 1
		p, err := admin.GetReconciliationReportWithResponse(ctx, rep.Id, &oapi.GetReconciliationReportParams{Limit: &one, Cursor: cursor})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, p.StatusCode(), "%s", p.Body)
		paged = append(paged, p.JSON200.Rows.Data...)
		if !p.JSON200.Rows.HasMore {
			break
		}
		cursor = p.JSON200.Rows.NextCursor
	}
	require.Equal(t, all, paged)
	flag := oapi.ReconciliationFlagOrphanTenant
	f, err := admin.GetReconciliationReportWithResponse(ctx, rep.Id, &oapi.GetReconciliationReportParams{Flag: &flag})
	require.NoError(t, err)
	require.Len(t, f.JSON200.Rows.Data, 1)
	require.Equal(t, orphan, f.JSON200.Rows.Data[0].TenantId)
	require.Nil(t, f.JSON200.Rows.Data[0].ServiceId)

	// Listed by period overlap.
	for _, l := range []struct {
		from, to time.Time
		n        int
	}{{today, today, 1}, {today.AddDate(0, 0, -29), today.AddDate(0, 0, -29), 1}, {today.AddDate(0, 0, -60), today.AddDate(0, 0, -30), 0}} {
		r, err := admin.ListReconciliationReportsWithResponse(ctx, &oapi.ListReconciliationReportsParams{From: date(l.from), To: date(l.to)})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, r.StatusCode(), "%s", r.Body)
		require.Len(t, r.JSON200.Data, l.n, "%s..%s", day(l.from), day(l.to))
	}

	// The workbook: totals on the summary sheet, each flag's rows on its sheet.
	d, err := admin.DownloadReconciliationReportWithResponse(ctx, rep.Id)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, d.StatusCode(), "%s", d.Body)
	require.Equal(t, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", d.HTTPResponse.Header.Get("Content-Type"))
	require.Contains(t, d.HTTPResponse.Header.Get("Content-Disposition"), "reconciliation-"+day(today.AddDate(0, 0, -29))+"-"+day(today)+".xlsx")
	x, err := excelize.OpenReader(bytes.NewReader(d.Body))
	require.NoError(t, err)
	defer x.Close()
	require.Equal(t, []string{"Summary", "OK", "Orphan tenants", "Missing tenants", "Status mismatches", "Quota mismatches",
		"Usage mismatches", "Edition mismatches"}, x.GetSheetList())
	summary, err := x.GetRows("Summary")
	require.NoError(t, err)
	totals := map[string]string{}
	for _, r := range summary {
		if len(r) == 2 {
			totals[r[0]] = r[1]
		}
	}
	require.Equal(t, "4", totals["ok"])
	require.Equal(t, "1", totals["orphan_tenant"])
	require.Equal(t, "1", totals["status_mismatch"])
	require.Equal(t, "0", totals["usage_mismatch"])
	for sheet, n := range map[string]int{"OK": 4, "Orphan tenants": 1, "Status mismatches": 1, "Usage mismatches": 0} {
		rows, err := x.GetRows(sheet)
		require.NoError(t, err)
		require.Len(t, rows, n+1, sheet)
	}
	rows, err := x.GetRows("Status mismatches")
	require.NoError(t, err)
	require.Equal(t, tenants[1], rows[1][3])
	require.Equal(t, "active", rows[1][10])
	require.Equal(t, "disabled", rows[1][11])
	style, err := x.GetCellStyle("Status mismatches", "D2")
	require.NoError(t, err)
	st, err := x.GetStyle(style)
	require.NoError(t, err)
	require.Equal(t, []string{"FFC7CE"}, st.Fill.Color, "exceptions are highlighted")
	panes, err := x.GetPanes("OK")
	require.NoError(t, err)
	require.True(t, panes.Freeze, "the header stays in view")
}

func day(t time.Time) string { return t.Format(time.DateOnly) }

// With job workers running, a requested report is done by its River job:
// here the simulator's one orphan tenant, and nothing else.
func TestReconciliationReportRunsAsAJob(t *testing.T) {
	t.Parallel()
	env, v := apptest.WithJobs(t)
	ctx := context.Background()
	admin, _ := env.Admin(t)
	vc, err := acronis.New(acronis.Config{BaseURL: v.URL, ClientID: "sp-client", ClientSecret: "sp-secret"})
	require.NoError(t, err)
	orphan, err := vc.CreateTenant(ctx, acronis.NewTenant{Name: "Made at the vendor", Kind: acronis.KindCustomer,
		ParentID: v.SPTenantID(), InternalTag: "orphan-job"})
	require.NoError(t, err)
	seats := int64(3)
	_, err = vc.SetOfferingItems(ctx, orphan.ID, []acronis.OfferingItem{{ApplicationID: acronis.AppBackup, Name: workstations, Status: 1,
		Quota: &acronis.Quota{Value: &seats}}})
	require.NoError(t, err)
	// The simulator dates its reports by the wall clock; the platform's
	// day is the test epoch, before it.
	today := env.App.Billing.Today()
	key := uuid.NewString()
	c, err := admin.CreateReconciliationReportWithResponse(ctx, &oapi.CreateReconciliationReportParams{IdempotencyKey: &key},
		oapi.ReconciliationReportCreate{From: date(today.AddDate(0, 0, -1)), To: date(today)})
	require.NoError(t, err)
	require.Equal(t, http.StatusAccepted, c.StatusCode(), "%s", c.Body)
	again, err := admin.CreateReconciliationReportWithResponse(ctx, &oapi.CreateReconciliationReportParams{IdempotencyKey: &key},
		oapi.ReconciliationReportCreate{From: date(today.AddDate(0, 0, -1)), To: date(today)})
	require.NoError(t, err)
	require.Equal(t, c.JSON202.Id, again.JSON202.Id, "the same key replays the first answer")

	var rep *oapi.ReconciliationReportDetail
	require.Eventually(t, func() bool {
		g, err := admin.GetReconciliationReportWithResponse(ctx, c.JSON202.Id, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, g.StatusCode(), "%s", g.Body)
		rep = g.JSON200
		return rep.Report.Status == oapi.ReconciliationReportStatusCompleted || rep.Report.Status == oapi.ReconciliationReportStatusFailed
	}, 60*time.Second, 100*time.Millisecond)
	require.Equal(t, oapi.ReconciliationReportStatusCompleted, rep.Report.Status, "reason: %v", rep.Report.Reason)
	require.Equal(t, oapi.ReconciliationCounts{OrphanTenant: 1}, rep.Report.Counts)
	require.Len(t, rep.Rows.Data, 1)
	require.Equal(t, orphan.ID, rep.Rows.Data[0].TenantId)
	l, err := admin.ListReconciliationReportsWithResponse(ctx, nil)
	require.NoError(t, err)
	require.Len(t, l.JSON200.Data, 1)
}
