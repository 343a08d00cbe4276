package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"strconv"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/reconcile"
)

func (s *Server) reconciliationSettingsOut(ctx context.Context, st reconcile.Settings) (oapi.ReconciliationSettings, error) {
	accs, err := s.reconcile.Accounts(ctx)
	if err != nil {
		return oapi.ReconciliationSettings{}, err
	}
	out := oapi.ReconciliationSettings{AllAccounts: st.Selected() == nil, Accounts: []oapi.ReconciliationAccount{},
		DefaultPeriod: oapi.ReconciliationPeriodKind(st.DefaultPeriod), UsageTolerancePercent: oapi.Percent(st.UsageTolerancePercent.String()),
		Version: st.Version, UpdatedAt: st.UpdatedAt}
	for _, a := range accs {
		out.Accounts = append(out.Accounts, oapi.ReconciliationAccount{Url: a.URL, ClientId: a.ClientID, Sp: a.SP, PlanIds: a.Plans, Selected: a.Selected})
	}
	return out, nil
}

func (s *Server) GetReconciliationSettings(ctx context.Context, _ oapi.GetReconciliationSettingsRequestObject) (oapi.GetReconciliationSettingsResponseObject, error) {
	st, err := s.reconcile.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	out, err := s.reconciliationSettingsOut(ctx, st)
	if err != nil {
		return nil, err
	}
	return oapi.GetReconciliationSettings200JSONResponse{Body: out, Headers: oapi.GetReconciliationSettings200ResponseHeaders{ETag: etag(st.Version)}}, nil
}

func (s *Server) PutReconciliationSettings(ctx context.Context, req oapi.PutReconciliationSettingsRequestObject) (oapi.PutReconciliationSettingsResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	tol, err := decimal.NewFromString(string(b.UsageTolerancePercent))
	if err != nil {
		return nil, errs.Invalid("usage_tolerance_percent", "invalid_decimal", "usage_tolerance_percent is a decimal string")
	}
	in := reconcile.SettingsInput{DefaultPeriod: string(b.DefaultPeriod), UsageTolerancePercent: tol, IfMatch: ifv}
	if b.Accounts != nil {
		refs := make([]reconcile.AccountRef, 0, len(*b.Accounts))
		for _, a := range *b.Accounts {
			refs = append(refs, reconcile.AccountRef{URL: a.Url, ClientID: a.ClientId})
		}
		in.Accounts = &refs
	}
	st, err := s.reconcile.PutSettings(ctx, in)
	if err != nil {
		return nil, err
	}
	out, err := s.reconciliationSettingsOut(ctx, st)
	if err != nil {
		return nil, err
	}
	return oapi.PutReconciliationSettings200JSONResponse{Body: out, Headers: oapi.PutReconciliationSettings200ResponseHeaders{ETag: etag(st.Version)}}, nil
}

func reconciliationReportOut(r reconcile.Report) oapi.ReconciliationReport {
	out := oapi.ReconciliationReport{Id: r.ID, From: openapi_types.Date{Time: r.PeriodFrom}, To: openapi_types.Date{Time: r.PeriodTo},
		Status: oapi.ReconciliationReportStatus(r.Status), Reason: r.Reason, UsageTolerancePercent: oapi.Percent(r.TolerancePercent.String()),
		Accounts: []oapi.ReconciliationAccountRef{}, RowsCompared: r.RowsCompared,
		Counts: oapi.ReconciliationCounts{Ok: r.OK, OrphanTenant: r.OrphanTenant, MissingTenant: r.MissingTenant, StatusMismatch: r.StatusMismatch,
			QuotaMismatch: r.QuotaMismatch, UsageMismatch: r.UsageMismatch, EditionMismatch: r.EditionMismatch},
		RequestedBy: r.RequestedBy, StartedAt: r.StartedAt, HeartbeatAt: r.HeartbeatAt, FinishedAt: r.FinishedAt, CreatedAt: r.CreatedAt}
	var refs []reconcile.AccountRef
	_ = json.Unmarshal(r.Accounts, &refs)
	for _, a := range refs {
		out.Accounts = append(out.Accounts, oapi.ReconciliationAccountRef{Url: a.URL, ClientId: a.ClientID})
	}
	return out
}

func reconciliationRowOut(r reconcile.Row) oapi.ReconciliationRow {
	out := oapi.ReconciliationRow{Position: r.Position, Account: r.Account, TenantId: r.TenantID, TenantName: r.TenantName,
		ServiceId: r.ServiceID, CustomerId: r.CustomerID, PartnerId: r.PartnerID, PlanId: r.PlanID, Item: r.Item,
		Flag: oapi.ReconciliationFlag(r.Flag), PlatformValue: r.PlatformValue, VendorValue: r.VendorValue, Detail: map[string]any{}}
	_ = json.Unmarshal(r.Detail, &out.Detail)
	return out
}

func (s *Server) ListReconciliationReports(ctx context.Context, req oapi.ListReconciliationReportsRequestObject) (oapi.ListReconciliationReportsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	var from, to *time.Time
	if req.Params.From != nil {
		from = &req.Params.From.Time
	}
	if req.Params.To != nil {
		to = &req.Params.To.Time
	}
	rows, next, err := s.reconcile.List(ctx, from, to, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListReconciliationReports200JSONResponse{Data: mapAll(rows, reconciliationReportOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateReconciliationReport(ctx context.Context, req oapi.CreateReconciliationReportRequestObject) (oapi.CreateReconciliationReportResponseObject, error) {
	var from, to *time.Time
	if req.Body != nil && req.Body.From != nil {
		from = &req.Body.From.Time
	}
	if req.Body != nil && req.Body.To != nil {
		to = &req.Body.To.Time
	}
	r, err := s.reconcile.Request(ctx, principal(ctx), from, to, func(tx *gorm.DB, id uuid.UUID) error {
		return s.jobs.InsertTx(ctx, tx, reconcile.ReportArgs{ReportID: id}, nil)
	})
	if err != nil {
		return nil, err
	}
	return oapi.CreateReconciliationReport202JSONResponse(reconciliationReportOut(r)), nil
}

// A rows cursor is the last position seen, opaque to callers.
func rowsCursor(c *string) (int, error) {
	if c == nil || *c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(*c)
	if err != nil {
		return 0, errs.Invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < 1 {
		return 0, errs.Invalid("cursor", "invalid_cursor", "cursor is not one this API returned")
	}
	return n, nil
}

func (s *Server) GetReconciliationReport(ctx context.Context, req oapi.GetReconciliationReportRequestObject) (oapi.GetReconciliationReportResponseObject, error) {
	limit := page.DefaultLimit
	if l := req.Params.Limit; l != nil {
		if *l < 1 || *l > page.MaxLimit {
			return nil, errs.Invalid("limit", "out_of_range", "limit must be between 1 and 200")
		}
		limit = *l
	}
	after, err := rowsCursor(req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	r, err := s.reconcile.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	rows, more, err := s.reconcile.Rows(ctx, req.Id, (*string)(req.Params.Flag), after, limit)
	if err != nil {
		return nil, err
	}
	list := oapi.ReconciliationRowList{Data: mapAll(rows, reconciliationRowOut), HasMore: more}
	if more {
		list.NextCursor = ptr(base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(rows[len(rows)-1].Position))))
	}
	return oapi.GetReconciliationReport200JSONResponse{Report: reconciliationReportOut(r), Rows: list}, nil
}

func (s *Server) DownloadReconciliationReport(ctx context.Context, req oapi.DownloadReconciliationReportRequestObject) (oapi.DownloadReconciliationReportResponseObject, error) {
	r, err := s.reconcile.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := s.reconcile.WriteXLSX(ctx, req.Id, &buf); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("reconciliation-%s-%s.xlsx", r.PeriodFrom.Format(time.DateOnly), r.PeriodTo.Format(time.DateOnly))
	return oapi.DownloadReconciliationReport200ApplicationvndOpenxmlformatsOfficedocumentSpreadsheetmlSheetResponse{Body: bytes.NewReader(buf.Bytes()),
		ContentLength: int64(buf.Len()), Headers: oapi.DownloadReconciliationReport200ResponseHeaders{
			ContentDisposition: ptr(mime.FormatMediaType("attachment", map[string]string{"filename": name}))}}, nil
}
