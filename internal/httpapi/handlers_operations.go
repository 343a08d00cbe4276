package httpapi

import (
	"context"
	"encoding/json"

	"github.com/acronis-platform/platform/internal/httpapi/oapi"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/subscription"
)

func operationOut(op subscription.Operation) oapi.ServiceOperation {
	params := map[string]any{}
	_ = json.Unmarshal(op.Params, &params)
	out := oapi.ServiceOperation{Id: op.ID, ServiceId: op.ServiceID, Kind: oapi.ServiceOperationKind(op.Kind),
		Status: oapi.ServiceOperationStatus(op.Status), Params: params, Attempts: op.Attempts, LastError: op.LastError,
		RequestedBy: op.RequestedBy, CreatedAt: op.CreatedAt, UpdatedAt: op.UpdatedAt, FinishedAt: op.FinishedAt}
	if op.Password != "" {
		out.Password = &op.Password
	}
	return out
}

// accepted is the 202 of a change the vendor has not confirmed yet.
func (s *Server) accepted(op subscription.Operation) oapi.OperationAcceptedJSONResponse {
	loc := "/v1/services/" + op.ServiceID.String() + "/operations/" + op.ID.String()
	return oapi.OperationAcceptedJSONResponse{Body: operationOut(op), Headers: oapi.OperationAcceptedResponseHeaders{Location: &loc}}
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
	out := oapi.ListServiceOperations200JSONResponse{Data: make([]oapi.ServiceOperation, len(rows)), NextCursor: nonEmpty(next)}
	for i, op := range rows {
		out.Data[i] = operationOut(op)
	}
	return out, nil
}

func (s *Server) GetServiceOperation(ctx context.Context, req oapi.GetServiceOperationRequestObject) (oapi.GetServiceOperationResponseObject, error) {
	op, err := s.subs.Operation(ctx, principal(ctx), req.Id, req.OperationId)
	if err != nil {
		return nil, err
	}
	return oapi.GetServiceOperation200JSONResponse(operationOut(op)), nil
}
