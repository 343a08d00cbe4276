package httpapi

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/page"
)

func dunningRunOut(r dunning.Run) oapi.DunningRun {
	out := oapi.DunningRun{Id: r.ID, AsOf: openapi_types.Date{Time: r.AsOf}, Status: oapi.DunningRunStatus(r.Status),
		Checked: r.Checked, Reminders: r.Reminders, Suspended: r.Suspended, Terminated: r.Terminated, Unsuspended: r.Unsuspended,
		CreditAlerts: r.CreditAlerts, Skipped: r.Skipped, Failed: r.Failed, Failures: []oapi.BillingRunFailure{},
		RequestedBy: r.RequestedBy, StartedAt: r.StartedAt, HeartbeatAt: r.HeartbeatAt, FinishedAt: r.FinishedAt, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal(r.Failures, &out.Failures)
	return out
}

func dunningActionOut(a dunning.RunAction) oapi.DunningAction {
	return oapi.DunningAction{Id: a.ID, ActionId: a.ActionID, RunId: a.RunID, Key: a.Key, Kind: oapi.DunningActionKind(a.Kind),
		ServiceId: a.ServiceID, CustomerId: a.CustomerID, PartnerId: a.PartnerID, InvoiceId: a.InvoiceID,
		Result: oapi.DunningActionResult(a.Result), Outcome: a.Outcome, Error: a.Error, CreatedAt: a.CreatedAt}
}

func (s *Server) ListDunningRuns(ctx context.Context, req oapi.ListDunningRunsRequestObject) (oapi.ListDunningRunsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.dunning.ListRuns(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListDunningRuns200JSONResponse{Data: mapAll(rows, dunningRunOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateDunningRun(ctx context.Context, req oapi.CreateDunningRunRequestObject) (oapi.CreateDunningRunResponseObject, error) {
	var asOf *time.Time
	if req.Body != nil && req.Body.AsOf != nil {
		asOf = &req.Body.AsOf.Time
	}
	r, err := s.dunning.Request(ctx, principal(ctx), asOf, func(tx *gorm.DB, id uuid.UUID) error {
		return s.jobs.InsertTx(ctx, tx, dunning.RunArgs{RunID: id}, nil)
	})
	if err != nil {
		return nil, err
	}
	return oapi.CreateDunningRun202JSONResponse(dunningRunOut(r)), nil
}

func (s *Server) GetDunningRun(ctx context.Context, req oapi.GetDunningRunRequestObject) (oapi.GetDunningRunResponseObject, error) {
	r, err := s.dunning.GetRun(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetDunningRun200JSONResponse(dunningRunOut(r)), nil
}

func (s *Server) ListDunningRunActions(ctx context.Context, req oapi.ListDunningRunActionsRequestObject) (oapi.ListDunningRunActionsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := dunning.ActionFilter{Kind: (*string)(req.Params.Kind), Result: (*string)(req.Params.Result),
		ServiceID: req.Params.ServiceId, CustomerID: req.Params.CustomerId}
	rows, next, err := s.dunning.ListActions(ctx, req.Id, f, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListDunningRunActions200JSONResponse{Data: mapAll(rows, dunningActionOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}
