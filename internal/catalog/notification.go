package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// NotificationSettings say when an unpaid service is suspended and
// terminated, and which mails go out.
type NotificationSettings struct {
	PlanID                uuid.UUID `gorm:"primaryKey"`
	SuspensionDays        int
	SuspensionTemplateID  *uuid.UUID
	TerminationDays       int
	TerminationTemplateID *uuid.UUID
	CreditLimitTemplateID *uuid.UUID
	// ReminderDays are days relative to an unpaid invoice's due date
	// (negative: before it) on which a payment reminder is mailed.
	ReminderDays         pq.Int64Array `gorm:"type:integer[]"`
	ReminderTemplateID   *uuid.UUID
	SuspendOnCreditLimit bool
	UpdatedAt            time.Time
}

// TableName keeps GORM on the migration's table.
func (NotificationSettings) TableName() string { return "plan_notification_settings" }

// SetNotificationSettings replaces a plan's settings.
func (s *Service) SetNotificationSettings(ctx context.Context, planID uuid.UUID, n NotificationSettings) (NotificationSettings, error) {
	n.PlanID = planID
	n.UpdatedAt = s.now()
	if n.TerminationDays <= n.SuspensionDays {
		return NotificationSettings{}, errs.Unprocessable("termination_before_suspension", "termination_days must be more than suspension_days.")
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := get[Plan](ctx, tx, planID, "plan", true); err != nil {
			return err
		}
		for field, id := range map[string]*uuid.UUID{"suspension_template_id": n.SuspensionTemplateID,
			"termination_template_id": n.TerminationTemplateID, "credit_limit_template_id": n.CreditLimitTemplateID} {
			if id == nil {
				continue
			}
			if err := mustExist(tx, "email_templates", *id, field, "template_not_found", "No email template has this id."); err != nil {
				return err
			}
		}
		if err := tx.Save(&n).Error; err != nil {
			return errs.Internal(err)
		}
		return nil
	})
	return n, err
}

// GetNotificationSettings reads a plan's settings.
func (s *Service) GetNotificationSettings(ctx context.Context, planID uuid.UUID) (NotificationSettings, error) {
	if _, err := get[Plan](ctx, s.db, planID, "plan", false); err != nil {
		return NotificationSettings{}, err
	}
	var n NotificationSettings
	err := s.db.WithContext(ctx).Take(&n, "plan_id = ?", planID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return n, errs.E(errs.KindNotFound, "notification_settings_not_set", "This plan has no notification settings yet.")
	}
	if err != nil {
		return n, errs.Internal(err)
	}
	return n, nil
}
