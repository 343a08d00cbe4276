package httpapi

import (
	"context"

	"github.com/acronis-platform/platform/api/oapi"
)

// GetHealth answers while the process serves.
func (s *Server) GetHealth(context.Context, oapi.GetHealthRequestObject) (oapi.GetHealthResponseObject, error) {
	return oapi.GetHealth200JSONResponse{Status: "ok"}, nil
}

// GetReadiness checks the database and its migrations.
func (s *Server) GetReadiness(ctx context.Context, _ oapi.GetReadinessRequestObject) (oapi.GetReadinessResponseObject, error) {
	checks, ok := s.ready(ctx)
	if !ok {
		return oapi.GetReadiness503JSONResponse{Status: "unavailable", Checks: checks}, nil
	}
	return oapi.GetReadiness200JSONResponse{Status: "ready", Checks: checks}, nil
}
