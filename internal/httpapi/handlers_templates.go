package httpapi

import (
	"context"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/page"
)

func templateOut(t catalog.EmailTemplate) oapi.EmailTemplate {
	return oapi.EmailTemplate{Id: t.ID, Name: t.Name, Kind: t.Kind, Subject: t.Subject, Body: t.Body, ReplyTo: t.ReplyTo, Version: t.Version,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
}

func (s *Server) ListEmailTemplates(ctx context.Context, req oapi.ListEmailTemplatesRequestObject) (oapi.ListEmailTemplatesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.catalog.ListEmailTemplates(ctx, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListEmailTemplates200JSONResponse{Data: mapAll(rows, templateOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateEmailTemplate(ctx context.Context, req oapi.CreateEmailTemplateRequestObject) (oapi.CreateEmailTemplateResponseObject, error) {
	t, err := s.catalog.CreateEmailTemplate(ctx, req.Body.Name, req.Body.Subject, req.Body.Body, deref(req.Body.ReplyTo))
	if err != nil {
		return nil, err
	}
	return oapi.CreateEmailTemplate201JSONResponse{Body: templateOut(t), Headers: oapi.CreateEmailTemplate201ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) GetEmailTemplate(ctx context.Context, req oapi.GetEmailTemplateRequestObject) (oapi.GetEmailTemplateResponseObject, error) {
	t, err := s.catalog.GetEmailTemplate(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetEmailTemplate200JSONResponse{Body: templateOut(t), Headers: oapi.GetEmailTemplate200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) UpdateEmailTemplate(ctx context.Context, req oapi.UpdateEmailTemplateRequestObject) (oapi.UpdateEmailTemplateResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	t, err := s.catalog.UpdateEmailTemplate(ctx, req.Id, req.Body.Name, req.Body.Subject, req.Body.Body, req.Body.ReplyTo, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateEmailTemplate200JSONResponse{Body: templateOut(t), Headers: oapi.UpdateEmailTemplate200ResponseHeaders{ETag: etag(t.Version)}}, nil
}

func (s *Server) DeleteEmailTemplate(ctx context.Context, req oapi.DeleteEmailTemplateRequestObject) (oapi.DeleteEmailTemplateResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.catalog.DeleteEmailTemplate(ctx, req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteEmailTemplate204Response{}, nil
}
