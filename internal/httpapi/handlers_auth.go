package httpapi

import (
	"context"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/apikey"
	"github.com/acronis-platform/platform/internal/page"
)

// CreateToken exchanges email and password for a JWT.
func (s *Server) CreateToken(ctx context.Context, req oapi.CreateTokenRequestObject) (oapi.CreateTokenResponseObject, error) {
	password := ""
	if req.Body.Password != nil {
		password = *req.Body.Password
	}
	tok, err := s.users.Login(ctx, string(req.Body.Email), password, clientIP(ctx))
	if err != nil {
		return nil, err
	}
	return oapi.CreateToken200JSONResponse{Body: oapi.Token{
		AccessToken: tok.Value,
		TokenType:   oapi.Bearer,
		ExpiresAt:   tok.ExpiresAt,
		ExpiresIn:   int(tok.ExpiresAt.Sub(s.clk.Now()).Seconds()),
	}}, nil
}

// GetMe describes the caller.
func (s *Server) GetMe(ctx context.Context, _ oapi.GetMeRequestObject) (oapi.GetMeResponseObject, error) {
	p := principal(ctx)
	return oapi.GetMe200JSONResponse{
		Kind: oapi.PrincipalKind(p.Kind), Subject: p.Subject, Role: oapi.Role(p.Role),
		UserId: p.UserID, ApiKeyId: p.APIKeyID, PartnerId: p.PartnerID, CustomerId: p.CustomerID,
		Email: nonEmpty(p.Email), Name: nonEmpty(p.Name),
	}, nil
}

// ListApiKeys pages through the keys the caller may see.
func (s *Server) ListApiKeys(ctx context.Context, req oapi.ListApiKeysRequestObject) (oapi.ListApiKeysResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	keys, next, err := s.keys.List(ctx, principal(ctx), r)
	if err != nil {
		return nil, err
	}
	out := oapi.ListApiKeys200JSONResponse{Data: make([]oapi.ApiKey, len(keys)), NextCursor: nonEmpty(next), HasMore: next != ""}
	for i, k := range keys {
		out.Data[i] = apiKeyOut(k)
	}
	return out, nil
}

// CreateApiKey makes a key and shows its secret once.
func (s *Server) CreateApiKey(ctx context.Context, req oapi.CreateApiKeyRequestObject) (oapi.CreateApiKeyResponseObject, error) {
	k, secret, err := s.keys.Create(ctx, principal(ctx), req.Body.Name, req.Body.PartnerId)
	if err != nil {
		return nil, err
	}
	o := apiKeyOut(k)
	return oapi.CreateApiKey201JSONResponse{
		Id: o.Id, Name: o.Name, Prefix: o.Prefix, Role: o.Role, PartnerId: o.PartnerId,
		CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt, Secret: secret,
	}, nil
}

// RevokeApiKey stops a key.
func (s *Server) RevokeApiKey(ctx context.Context, req oapi.RevokeApiKeyRequestObject) (oapi.RevokeApiKeyResponseObject, error) {
	if err := s.keys.Revoke(ctx, principal(ctx), req.Id); err != nil {
		return nil, err
	}
	return oapi.RevokeApiKey204Response{}, nil
}

func apiKeyOut(k apikey.Key) oapi.ApiKey {
	return oapi.ApiKey{
		Id: k.ID, Name: k.Name, Prefix: k.Prefix, Role: oapi.KeyRole(k.Role), PartnerId: k.PartnerID,
		CreatedBy: k.CreatedBy, CreatedAt: k.CreatedAt, LastUsedAt: k.LastUsedAt, RevokedAt: k.RevokedAt,
	}
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
