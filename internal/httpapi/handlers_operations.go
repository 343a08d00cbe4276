package httpapi

import (
	"context"
	"encoding/json"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/subscription"
)

func operationOut(op subscription.Operation) oapi.ServiceOperation {
	params := map[string]any{}
	_ = json.Unmarshal(op.Params, &params)
	out := oapi.ServiceOperation{Id: op.ID, ServiceId: op.ServiceID, Kind: oapi.ServiceOperationKind(op.Kind),
		Status: oapi.ServiceOperationStatus(op.Status), Params: params, Attempts: op.Attempts, LastError: op.LastError,
		ErrorClass: (*oapi.ServiceOperationErrorClass)(op.ErrorClass), Retries: op.Retries, RetriedAt: op.RetriedAt,
		RetriedBy: op.RetriedBy, SupersededBy: op.SupersededBy,
		RequestedBy: op.RequestedBy, CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt, FinishedAt: op.FinishedAt}
	if op.Password != "" {
		out.Password = &op.Password
	}
	return out
}

func operationLocation(op subscription.Operation) string {
	return "/v1/services/" + op.ServiceID.String() + "/operations/" + op.ID.String()
}

// accepted is the 202 of a change the vendor has not confirmed yet.
func (s *Server) accepted(op subscription.Operation) oapi.OperationAcceptedJSONResponse {
	loc := operationLocation(op)
	return oapi.OperationAcceptedJSONResponse{Body: operationOut(op), Headers: oapi.OperationAcceptedResponseHeaders{Location: &loc}}
}

func opsOut(rows []subscription.Operation, next string) oapi.ServiceOperationList {
	out := oapi.ServiceOperationList{Data: make([]oapi.ServiceOperation, len(rows)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, op := range rows {
		out.Data[i] = operationOut(op)
	}
	return out
}

func (s *Server) ListServiceOperations(ctx context.Context, req oapi.ListServiceOperationsRequestObject) (oapi.ListServiceOperationsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.subs.Operations(ctx, principal(ctx), req.Id, subscription.OpFilter{Status: (*string)(req.Params.Status)}, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListServiceOperations200JSONResponse(opsOut(rows, next)), nil
}

func (s *Server) ListAllServiceOperations(ctx context.Context, req oapi.ListAllServiceOperationsRequestObject) (oapi.ListAllServiceOperationsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := subscription.OpFilter{Status: (*string)(req.Params.Status), Kind: (*string)(req.Params.Kind), ServiceID: req.Params.ServiceId}
	rows, next, err := s.subs.AllOperations(ctx, principal(ctx), f, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListAllServiceOperations200JSONResponse(opsOut(rows, next)), nil
}

func (s *Server) RetryServiceOperation(ctx context.Context, req oapi.RetryServiceOperationRequestObject) (oapi.RetryServiceOperationResponseObject, error) {
	op, err := s.subs.RetryOperation(ctx, principal(ctx), req.Id, req.OperationId)
	if err != nil {
		return nil, err
	}
	loc := operationLocation(op)
	return oapi.RetryServiceOperation202JSONResponse{Body: operationOut(op), Headers: oapi.RetryServiceOperation202ResponseHeaders{Location: &loc}}, nil
}

func (s *Server) GetServiceOperation(ctx context.Context, req oapi.GetServiceOperationRequestObject) (oapi.GetServiceOperationResponseObject, error) {
	op, err := s.subs.Operation(ctx, principal(ctx), req.Id, req.OperationId)
	if err != nil {
		return nil, err
	}
	return oapi.GetServiceOperation200JSONResponse(operationOut(op)), nil
}
