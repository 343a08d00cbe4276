package httpapi

import (
	"context"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/page"
)

// mailOut shows a mail without its body (it may carry a password).
func mailOut(n mail.Notification) oapi.Notification {
	atts := make([]oapi.NotificationAttachment, len(n.Attachments))
	for i, a := range n.Attachments {
		atts[i] = oapi.NotificationAttachment{Kind: oapi.NotificationAttachmentKind(a.Kind), Id: a.ID}
	}
	return oapi.Notification{
		Id: n.ID, Recipient: n.Recipient, RecipientName: n.RecipientName, TemplateId: n.TemplateID, Kind: n.TemplateKind,
		IssuerName: n.IssuerName, PartnerId: n.PartnerID, CustomerId: n.CustomerID, Subject: n.Subject, ReplyTo: n.ReplyTo,
		Attachments: atts, Status: oapi.NotificationStatus(n.Status), Attempts: n.Attempts, LastError: n.LastError,
		MessageId: n.MessageID, SentAt: n.SentAt, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt,
	}
}

func (s *Server) ListNotifications(ctx context.Context, req oapi.ListNotificationsRequestObject) (oapi.ListNotificationsResponseObject, error) {
	r, err := page.Parse(req.Params.Limit, req.Params.Cursor)
	if err != nil {
		return nil, err
	}
	p := req.Params
	rows, next, err := s.mail.List(ctx, principal(ctx), mail.Filter{Status: (*string)(p.Status), Recipient: p.Recipient,
		TemplateID: p.TemplateId, Kind: (*string)(p.Kind), CustomerID: p.CustomerId}, r)
	if err != nil {
		return nil, err
	}
	return oapi.ListNotifications200JSONResponse{Data: mapAll(rows, mailOut), NextCursor: nonEmpty(next), HasMore: next != ""}, nil
}

func (s *Server) GetNotification(ctx context.Context, req oapi.GetNotificationRequestObject) (oapi.GetNotificationResponseObject, error) {
	n, err := s.mail.Get(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.GetNotification200JSONResponse(mailOut(n)), nil
}

func (s *Server) ResendNotification(ctx context.Context, req oapi.ResendNotificationRequestObject) (oapi.ResendNotificationResponseObject, error) {
	n, err := s.mail.Resend(ctx, principal(ctx), req.Id)
	if err != nil {
		return nil, err
	}
	return oapi.ResendNotification202JSONResponse(mailOut(n)), nil
}
