package httpapi

import (
	"context"

	openapi_types "github.com/oapi-codegen/runtime/types"
	"strconv"
	"strings"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/user"
)

// ListUsers pages through the users the caller may see.
func (s *Server) ListUsers(ctx context.Context, req oapi.ListUsersRequestObject) (oapi.ListUsersResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := user.ListFilter{PartnerID: req.Params.PartnerId}
	if req.Params.Role != nil {
		role := auth.Role(*req.Params.Role)
		f.Role = &role
	}
	users, next, err := s.users.List(ctx, principal(ctx), f, r)
	if err != nil {
		return nil, err
	}
	out := oapi.ListUsers200JSONResponse{Data: make([]oapi.User, len(users)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, u := range users {
		out.Data[i] = userOut(u)
	}
	return out, nil
}

// CreateUser adds a user.
func (s *Server) CreateUser(ctx context.Context, req oapi.CreateUserRequestObject) (oapi.CreateUserResponseObject, error) {
	b := req.Body
	in := user.CreateInput{
		Email: string(b.Email), Name: b.Name, Role: auth.Role(b.Role),
		PartnerID: b.PartnerId, CustomerID: b.CustomerId,
	}
	if b.Password != nil {
		in.Password = *b.Password
	}
	u, err := s.users.Create(ctx, principal(ctx), in)
	if err != nil {
		return nil, err
	}
	return oapi.CreateUser201JSONResponse(userOut(u)), nil
}

// GetUser returns one user.
func (s *Server) GetUser(ctx context.Context, req oapi.GetUserRequestObject) (oapi.GetUserResponseObject, error) {
	u, err := s.users.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetUser200JSONResponse{Body: userOut(u), Headers: oapi.GetUser200ResponseHeaders{ETag: etag(u.Version)}}, nil
}

// UpdateUser changes a user.
func (s *Server) UpdateUser(ctx context.Context, req oapi.UpdateUserRequestObject) (oapi.UpdateUserResponseObject, error) {
	ifVersion, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	in := user.UpdateInput{Name: req.Body.Name, Password: req.Body.Password}
	if req.Body.Email != nil {
		e := string(*req.Body.Email)
		in.Email = &e
	}
	u, err := s.users.Update(ctx, principal(ctx), req.Id, in, ifVersion)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateUser200JSONResponse{Body: userOut(u), Headers: oapi.UpdateUser200ResponseHeaders{ETag: etag(u.Version)}}, nil
}

// DeleteUser removes a user.
func (s *Server) DeleteUser(ctx context.Context, req oapi.DeleteUserRequestObject) (oapi.DeleteUserResponseObject, error) {
	ifVersion, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.users.Delete(ctx, principal(ctx), req.Id, ifVersion); err != nil {
		return nil, err
	}
	return oapi.DeleteUser204Response{}, nil
}

func userOut(u user.User) oapi.User {
	return oapi.User{
		Id: u.ID, Email: openapi_types.Email(u.Email), Name: u.Name, Role: oapi.Role(u.Role),
		PartnerId: u.PartnerID, CustomerId: u.CustomerID, Version: u.Version,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func etag(v int64) *string { s := strconv.Quote(strconv.FormatInt(v, 10)); return &s }

// parseIfMatch reads a version from If-Match: 3, "3" or W/"3".
func parseIfMatch(h *string) (*int64, error) {
	if h == nil || *h == "" {
		return nil, nil
	}
	raw := strings.Trim(strings.TrimPrefix(strings.TrimSpace(*h), "W/"), `"`)
	v, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || v < 1 {
		return nil, errs.Invalid("If-Match", "invalid_format", "If-Match must be a resource version such as \"3\"")
	}
	return &v, nil
}
