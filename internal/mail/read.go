package mail

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// scoped limits mails to the caller's: every mail for an admin; for a
// partner those that concern it (to its customers, or to itself);
// customers see none (the API refuses them before this).
func scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("notifications.partner_id = ?", *who.PartnerID)
	default:
		return q.Where("false")
	}
}

// Filter narrows a list.
type Filter struct {
	Status     *string
	Recipient  *string
	TemplateID *uuid.UUID
	Kind       *string
	CustomerID *uuid.UUID
}

// List pages through the mails the caller may see, oldest first.
func (o *Outbox) List(ctx context.Context, who auth.Principal, f Filter, r page.Request) ([]Notification, string, error) {
	q := scoped(o.db.WithContext(ctx).Model(&Notification{}), who)
	if f.Status != nil {
		q = q.Where("notifications.status = ?", *f.Status)
	}
	if f.Recipient != nil {
		q = q.Where("lower(notifications.recipient) = ?", strings.ToLower(strings.TrimSpace(*f.Recipient)))
	}
	if f.TemplateID != nil {
		q = q.Where("notifications.template_id = ?", *f.TemplateID)
	}
	if f.Kind != nil {
		q = q.Where("notifications.template_kind = ?", *f.Kind)
	}
	if f.CustomerID != nil {
		q = q.Where("notifications.customer_id = ?", *f.CustomerID)
	}
	return page.Find(q, "notifications", r, func(n Notification) page.Key { return page.Key{CreatedAt: n.CreatedAt, ID: n.ID} })
}

// Get reads one mail the caller may see.
func (o *Outbox) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Notification, error) {
	return page.Take[Notification](scoped(o.db.WithContext(ctx), who), "notifications", id, "notification", false)
}

// Resend queues a sent, failed or held mail again, unchanged (same body,
// same Message-ID). A queued mail is 409 notification_queued; without an
// SMTP server it is 409 mail_not_configured.
func (o *Outbox) Resend(ctx context.Context, who auth.Principal, id uuid.UUID) (Notification, error) {
	var out Notification
	err := o.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		n, err := page.Take[Notification](scoped(tx, who), "notifications", id, "notification", true)
		if err != nil {
			return err
		}
		if n.Status == StatusQueued {
			return errs.Conflict("notification_queued", "This mail is queued already; it is sent (or retried) by its job.")
		}
		if o.cfg.SMTP == nil || o.jobs == nil {
			return errs.Conflict("mail_not_configured", "No SMTP server is configured (SMTP_URL); the mail stays held until one is.")
		}
		n.Status, n.UpdatedAt = StatusQueued, o.clk.Now()
		if err := tx.Model(&n).Updates(map[string]any{"status": n.Status, "updated_at": n.UpdatedAt}).Error; err != nil {
			return errs.Internal(err)
		}
		if err := o.queue(ctx, tx, n.ID); err != nil {
			return err
		}
		out = n
		return nil
	})
	return out, err
}
