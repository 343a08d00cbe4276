package httpapi

import (
	"context"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/webhook"
)

func webhookEndpointOut(e webhook.Endpoint) oapi.WebhookEndpoint {
	o := oapi.WebhookEndpoint{
		Id: e.ID, PartnerId: e.PartnerID, Url: e.URL, EventTypes: make([]oapi.EventType, 0, len(e.EventTypes)), Enabled: e.Enabled,
		Description: e.Description, FailingSince: e.FailingSince, PreviousSecretExpiresAt: e.PreviousSecretExpiresAt,
		Version: e.Version, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
	for _, t := range e.EventTypes {
		o.EventTypes = append(o.EventTypes, oapi.EventType(t))
	}
	if e.DisabledReason != nil {
		r := oapi.WebhookEndpointDisabledReason(*e.DisabledReason)
		o.DisabledReason = &r
	}
	return o
}

func webhookEndpointWithSecret(e webhook.Endpoint, secret string) oapi.WebhookEndpointWithSecret {
	o := webhookEndpointOut(e)
	return oapi.WebhookEndpointWithSecret{
		Id: o.Id, PartnerId: o.PartnerId, Url: o.Url, EventTypes: o.EventTypes, Enabled: o.Enabled, Description: o.Description,
		FailingSince: o.FailingSince, DisabledReason: o.DisabledReason, PreviousSecretExpiresAt: o.PreviousSecretExpiresAt,
		Version: o.Version, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt, Secret: secret,
	}
}

func webhookDeliveryOut(d webhook.Delivery) oapi.WebhookDelivery {
	return oapi.WebhookDelivery{
		Id: d.ID, EndpointId: d.EndpointID, EventId: d.EventID, EventType: d.EventType, Status: oapi.WebhookDeliveryStatus(d.Status),
		Attempts: d.Attempts, LastResponseCode: d.LastResponseCode, LatencyMs: d.LastLatencyMS, LastError: d.LastError,
		NextAttemptAt: d.NextAttemptAt, LastAttemptAt: d.LastAttemptAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
	}
}

func (s *Server) ListWebhookEndpoints(ctx context.Context, req oapi.ListWebhookEndpointsRequestObject) (oapi.ListWebhookEndpointsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.webhooks.List(ctx, principal(ctx), webhook.Filter{PartnerID: req.Params.PartnerId}, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListWebhookEndpoints200JSONResponse{Data: mapAll(rows, webhookEndpointOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) CreateWebhookEndpoint(ctx context.Context, req oapi.CreateWebhookEndpointRequestObject) (oapi.CreateWebhookEndpointResponseObject, error) {
	b := req.Body
	e, secret, err := s.webhooks.Create(ctx, principal(ctx), webhook.Input{
		URL: &b.Url, EventTypes: b.EventTypes, Enabled: b.Enabled, Description: b.Description, PartnerID: b.PartnerId,
	})
	if err != nil {
		return nil, err
	}
	return oapi.CreateWebhookEndpoint201JSONResponse{Body: webhookEndpointWithSecret(e, secret),
		Headers: oapi.CreateWebhookEndpoint201ResponseHeaders{ETag: etag(e.Version)}}, nil
}

func (s *Server) GetWebhookEndpoint(ctx context.Context, req oapi.GetWebhookEndpointRequestObject) (oapi.GetWebhookEndpointResponseObject, error) {
	e, err := s.webhooks.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetWebhookEndpoint200JSONResponse{Body: webhookEndpointOut(e), Headers: oapi.GetWebhookEndpoint200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

func (s *Server) UpdateWebhookEndpoint(ctx context.Context, req oapi.UpdateWebhookEndpointRequestObject) (oapi.UpdateWebhookEndpointResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	b := req.Body
	e, err := s.webhooks.Update(ctx, principal(ctx), req.Id, webhook.Input{
		URL: b.Url, EventTypes: b.EventTypes, Enabled: b.Enabled, Description: b.Description,
	}, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.UpdateWebhookEndpoint200JSONResponse{Body: webhookEndpointOut(e), Headers: oapi.UpdateWebhookEndpoint200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

func (s *Server) DeleteWebhookEndpoint(ctx context.Context, req oapi.DeleteWebhookEndpointRequestObject) (oapi.DeleteWebhookEndpointResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	if err := s.webhooks.Delete(ctx, principal(ctx), req.Id, ifv); err != nil {
		return nil, err
	}
	return oapi.DeleteWebhookEndpoint204Response{}, nil
}

func (s *Server) RotateWebhookEndpointSecret(ctx context.Context, req oapi.RotateWebhookEndpointSecretRequestObject) (oapi.RotateWebhookEndpointSecretResponseObject, error) {
	ifv, err := parseIfMatch(req.Params.IfMatch)
	if err != nil {
		return nil, err
	}
	e, secret, err := s.webhooks.RotateSecret(ctx, principal(ctx), req.Id, ifv)
	if err != nil {
		return nil, err
	}
	return oapi.RotateWebhookEndpointSecret200JSONResponse{Body: webhookEndpointWithSecret(e, secret),
		Headers: oapi.RotateWebhookEndpointSecret200ResponseHeaders{ETag: etag(e.Version)}}, nil
}

func (s *Server) ListWebhookDeliveries(ctx context.Context, req oapi.ListWebhookDeliveriesRequestObject) (oapi.ListWebhookDeliveriesResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	f := webhook.DeliveryFilter{EventType: req.Params.EventType}
	if req.Params.Status != nil {
		st := webhook.Status(*req.Params.Status)
		f.Status = &st
	}
	rows, next, err := s.webhooks.Deliveries(ctx, principal(ctx), req.Id, f, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListWebhookDeliveries200JSONResponse{Data: mapAll(rows, webhookDeliveryOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) RedeliverWebhookDelivery(ctx context.Context, req oapi.RedeliverWebhookDeliveryRequestObject) (oapi.RedeliverWebhookDeliveryResponseObject, error) {
	d, err := s.webhooks.Redeliver(ctx, principal(ctx), req.Id, req.DeliveryId)
	if err != nil {
		return nil, err
	}
	return oapi.RedeliverWebhookDelivery202JSONResponse(webhookDeliveryOut(d)), nil
}
