package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"mime"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/invoicepdf"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/usage"
)

// Enqueuer puts a job in the caller's transaction.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// Advanced is what moving the sandbox clock did.
type Advanced struct {
	From, To            time.Time
	Days                int
	UsageRows, Invoices int
	Runs                []uuid.UUID
	DunningRuns         []uuid.UUID
}

// SandboxClock is the sandbox clock as it stands.
type SandboxClock struct {
	Now      time.Time
	Today    time.Time // the SP day, at midnight UTC
	TimeZone string
	Offset   time.Duration
}

func date(t *time.Time) *openapi_types.Date {
	if t == nil {
		return nil
	}
	return &openapi_types.Date{Time: *t}
}

func (s *Server) invoiceOut(inv billing.Invoice, payments []billing.Payment) oapi.Invoice {
	out := oapi.Invoice{Id: inv.ID, Number: inv.Number, Status: oapi.InvoiceStatus(inv.Status), Kind: oapi.InvoiceKind(inv.Kind),
		VentureId: inv.VentureID, IssuerPartnerId: inv.IssuerPartnerID, CustomerId: inv.CustomerID, PartnerId: inv.PartnerID,
		Currency: inv.Currency, Subtotal: s.money(inv.Subtotal), TaxTotal: s.money(inv.TaxTotal), Total: s.money(inv.Total),
		AmountPaid: s.money(inv.AmountPaid), Balance: s.money(inv.Balance()), IssueDate: date(inv.IssueDate), DueDate: date(inv.DueDate),
		PeriodStart: openapi_types.Date{Time: inv.PeriodStart}, PeriodEnd: openapi_types.Date{Time: inv.PeriodEnd},
		BillingRunId: inv.BillingRunID, PaidAt: inv.PaidAt, VoidedAt: inv.VoidedAt, Version: inv.Version,
		CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt}
	if inv.Lines != nil {
		lines := make([]oapi.InvoiceLine, len(inv.Lines))
		for i, l := range inv.Lines {
			var detail map[string]any
			_ = json.Unmarshal(l.Detail, &detail)
			ids := make([]openapi_types.UUID, 0, len(l.TaxIDs))
			for _, t := range l.TaxIDs {
				if id, err := uuid.Parse(t); err == nil {
					ids = append(ids, id)
				}
			}
			lines[i] = oapi.InvoiceLine{Position: l.Position, Kind: oapi.InvoiceLineKind(l.Kind), ServiceId: l.ServiceID, Description: l.Description,
				PeriodStart: date(l.PeriodStart), PeriodEnd: date(l.PeriodEnd), Quantity: l.Quantity.String(), UnitPrice: s.money(l.UnitPrice),
				Amount: s.money(l.Amount), TaxIds: ids, Detail: detail}
		}
		taxes := make([]oapi.InvoiceTax, len(inv.Taxes))
		for i, t := range inv.Taxes {
			taxes[i] = oapi.InvoiceTax{TaxId: t.TaxID, Name: t.Name, Rate: t.Rate.String(), Base: s.money(t.Base), Amount: s.money(t.Amount)}
		}
		out.Lines, out.Taxes = &lines, &taxes
	}
	if payments != nil {
		ps := mapAll(payments, s.paymentOut)
		out.Payments = &ps
	}
	return out
}

func (s *Server) paymentOut(p billing.Payment) oapi.Payment {
	return oapi.Payment{Id: p.ID, InvoiceId: p.InvoiceID, Amount: s.money(p.Amount), Method: oapi.PaymentMethod(p.Method),
		Reference: p.Reference, PaidAt: p.PaidAt, RecordedBy: p.RecordedBy, CreatedAt: p.CreatedAt}
}

func (s *Server) ListInvoices(ctx context.Context, req oapi.ListInvoicesRequestObject) (oapi.ListInvoicesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := billing.Filter{Status: (*string)(req.Params.Status), CustomerID: req.Params.CustomerId, PartnerID: req.Params.PartnerId, ServiceID: req.Params.ServiceId}
	rows, next, err := s.billing.List(ctx, principal(ctx), f, r)
	if err != nil {
		return nil, err
	}
	out := oapi.ListInvoices200JSONResponse{Data: make([]oapi.Invoice, len(rows)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, inv := range rows {
		out.Data[i] = s.invoiceOut(inv, nil)
	}
	return out, nil
}

func (s *Server) GetInvoice(ctx context.Context, req oapi.GetInvoiceRequestObject) (oapi.GetInvoiceResponseObject, error) {
	inv, err := s.billing.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	ps, err := s.billing.Payments(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	headers := oapi.GetInvoice200ResponseHeaders{ETag: etag(inv.Version)}
	if negotiated(ctx) == invoicepdf.ContentType {
		d, err := invoicepdf.Gather(ctx, s.db, inv, ps)
		if err != nil {
			return nil, err
		}
		f, err := d.File()
		if err != nil {
			return nil, err
		}
		headers.ContentDisposition = ptr(mime.FormatMediaType("inline", map[string]string{"filename": f.Name}))
		return oapi.GetInvoice200ApplicationpdfResponse{Body: bytes.NewReader(f.Data), ContentLength: int64(len(f.Data)), Headers: headers}, nil
	}
	return oapi.GetInvoice200JSONResponse{Body: s.invoiceOut(inv, ps), Headers: headers}, nil
}

func (s *Server) CreateInvoicePayment(ctx context.Context, req oapi.CreateInvoicePaymentRequestObject) (oapi.CreateInvoicePaymentResponseObject, error) {
	b := req.Body
	p, inv, err := s.billing.Pay(ctx, principal(ctx), req.Id, billing.PaymentInput{Amount: *moneyIn(&b.Amount), Method: string(b.Method),
		Reference: deref(b.Reference), PaidAt: b.PaidAt})
	if err != nil {
		return nil, err
	}
	ps, err := s.billing.Payments(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	return oapi.CreateInvoicePayment201JSONResponse{Payment: s.paymentOut(p), Invoice: s.invoiceOut(inv, ps)}, nil
}

func (s *Server) VoidInvoice(ctx context.Context, req oapi.VoidInvoiceRequestObject) (oapi.VoidInvoiceResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	inv, err := s.billing.Void(ctx, principal(ctx), req.Id, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.VoidInvoice200JSONResponse{Body: s.invoiceOut(inv, []billing.Payment{}), Headers: oapi.VoidInvoice200ResponseHeaders{ETag: etag(inv.Version)}}, nil
}

func (s *Server) runOut(r billing.Run) oapi.BillingRun {
	out := oapi.BillingRun{Id: r.ID, Kind: oapi.BillingRunKind(r.Kind), AsOf: openapi_types.Date{Time: r.AsOf}, Status: oapi.BillingRunStatus(r.Status),
		Invoices: r.Invoices, Skipped: r.Skipped, Total: s.money(r.Total), Failures: []oapi.BillingRunFailure{}, RequestedBy: r.RequestedBy,
		StartedAt: r.StartedAt, HeartbeatAt: r.HeartbeatAt, FinishedAt: r.FinishedAt, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal(r.Failures, &out.Failures)
	return out
}

func (s *Server) ListBillingRuns(ctx context.Context, req oapi.ListBillingRunsRequestObject) (oapi.ListBillingRunsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.billing.ListRuns(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListBillingRuns200JSONResponse{Data: mapAll(rows, s.runOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateBillingRun(ctx context.Context, req oapi.CreateBillingRunRequestObject) (oapi.CreateBillingRunResponseObject, error) {
	var asOf *time.Time
	if req.Body.AsOf != nil {
		asOf = &req.Body.AsOf.Time
	}
	r, err := s.billing.Request(ctx, principal(ctx), string(req.Body.Kind), asOf, func(tx *gorm.DB, id uuid.UUID) error {
		return s.jobs.InsertTx(ctx, tx, billing.RunArgs{RunID: id}, nil)
	})
	if err != nil {
		return nil, err
	}
	return oapi.CreateBillingRun202JSONResponse(s.runOut(r)), nil
}

func (s *Server) GetBillingRun(ctx context.Context, req oapi.GetBillingRunRequestObject) (oapi.GetBillingRunResponseObject, error) {
	r, err := s.billing.GetRun(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetBillingRun200JSONResponse(s.runOut(r)), nil
}

func syncOut(v usage.Sync) oapi.UsageSync {
	out := oapi.UsageSync{Id: v.ID, Day: openapi_types.Date{Time: v.Day}, Status: oapi.UsageSyncStatus(v.Status), Tenants: v.Tenants,
		Rows: v.Rows, Failures: []oapi.UsageSyncFailure{}, RequestedBy: v.RequestedBy, StartedAt: v.StartedAt, HeartbeatAt: v.HeartbeatAt, FinishedAt: v.FinishedAt,
		CreatedAt: v.CreatedAt}
	_ = json.Unmarshal(v.Failures, &out.Failures)
	return out
}

func (s *Server) CreateUsageSync(ctx context.Context, _ oapi.CreateUsageSyncRequestObject) (oapi.CreateUsageSyncResponseObject, error) {
	p := principal(ctx)
	var v usage.Sync
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if v, err = s.usage.New(ctx, tx, string(p.Role)+":"+p.Scope()); err != nil {
			return err
		}
		return s.jobs.InsertTx(ctx, tx, usage.SyncArgs{SyncID: v.ID}, nil)
	})
	if err != nil {
		return nil, err
	}
	return oapi.CreateUsageSync202JSONResponse(syncOut(v)), nil
}

func (s *Server) GetUsageSync(ctx context.Context, req oapi.GetUsageSyncRequestObject) (oapi.GetUsageSyncResponseObject, error) {
	v, err := s.usage.Get(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetUsageSync200JSONResponse(syncOut(v)), nil
}

func (s *Server) GetSandboxClock(ctx context.Context, _ oapi.GetSandboxClockRequestObject) (oapi.GetSandboxClockResponseObject, error) {
	c, err := s.sandboxClock(ctx)
	if err != nil {
		return nil, err
	}
	return oapi.GetSandboxClock200JSONResponse{Now: c.Now, Today: openapi_types.Date{Time: c.Today}, TimeZone: c.TimeZone,
		OffsetSeconds: int64(c.Offset / time.Second)}, nil
}

func (s *Server) AdvanceSandboxClock(ctx context.Context, req oapi.AdvanceSandboxClockRequestObject) (oapi.AdvanceSandboxClockResponseObject, error) {
	d := time.Duration(deref(req.Body.Days))*24*time.Hour + time.Duration(deref(req.Body.Hours))*time.Hour
	a, err := s.sandbox(ctx, d)
	if err != nil {
		return nil, err
	}
	runs := a.Runs
	if runs == nil {
		runs = []uuid.UUID{}
	}
	dunningRuns := a.DunningRuns
	if dunningRuns == nil {
		dunningRuns = []uuid.UUID{}
	}
	return oapi.AdvanceSandboxClock200JSONResponse{From: a.From, To: a.To, Days: a.Days, UsageRows: a.UsageRows, Invoices: a.Invoices, BillingRuns: runs,
		DunningRuns: &dunningRuns}, nil
}

func (s *Server) CreateServiceInvoice(ctx context.Context, req oapi.CreateServiceInvoiceRequestObject) (oapi.CreateServiceInvoiceResponseObject, error) {
	preview := deref(req.Params.Preview)
	invs, err := s.billing.BillOverage(ctx, principal(ctx), req.Id, preview)
	if err != nil {
		return nil, err
	}
	out := oapi.CreateServiceInvoice200JSONResponse{Preview: preview, Data: make([]oapi.Invoice, len(invs))}
	for i, inv := range invs {
		out.Data[i] = s.invoiceOut(inv, nil)
	}
	return out, nil
}

// creditsOut are the credits a service change created.
func (s *Server) creditsOut(cs []billing.Credit) []oapi.ServiceCredit {
	out := make([]oapi.ServiceCredit, len(cs))
	for i, c := range cs {
		out[i] = oapi.ServiceCredit{Party: oapi.ServiceCreditParty(c.Party), Amount: s.money(c.Amount), Reason: c.Reason}
	}
	return out
}

// creditBalances is a customer's credit per issuer.
func (s *Server) creditBalances(ctx context.Context, customerID uuid.UUID, currency string) (*[]oapi.CreditBalance, error) {
	bs, err := s.billing.CustomerCredit(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return balancesOut(bs, currency), nil
}

// partnerCreditBalances is a partner's credit with the SP, per venture.
func (s *Server) partnerCreditBalances(ctx context.Context, partnerID uuid.UUID) (*[]oapi.CreditBalance, error) {
	bs, err := s.billing.PartnerCredit(ctx, partnerID)
	if err != nil {
		return nil, err
	}
	return balancesOut(bs, s.currency), nil
}

func balancesOut(bs []billing.Balance, currency string) *[]oapi.CreditBalance {
	out := make([]oapi.CreditBalance, len(bs))
	for i, b := range bs {
		out[i].Balance = oapi.Money{Amount: b.Amount.StringFixed(2), Currency: currency}
		if b.IssuerPartnerID != nil {
			out[i].Issuer = oapi.CreditIssuer{Type: oapi.CreditIssuerTypePartner, Id: *b.IssuerPartnerID}
		} else {
			out[i].Issuer = oapi.CreditIssuer{Type: oapi.CreditIssuerTypeVenture, Id: *b.VentureID}
		}
	}
	return &out
}
