package catalog

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
	if err := checkReminderDays(n.ReminderDays, n.TerminationDays); err != nil {
		return NotificationSettings{}, err
	}
	// Stored in order (the column is NOT NULL: none is an empty list).
	n.ReminderDays = append(pq.Int64Array{}, n.ReminderDays...)
	slices.Sort(n.ReminderDays)
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := get[Plan](ctx, tx, planID, "plan", true); err != nil {
			return err
		}
		for field, id := range map[string]*uuid.UUID{"suspension_template_id": n.SuspensionTemplateID,
			"termination_template_id": n.TerminationTemplateID, "credit_limit_template_id": n.CreditLimitTemplateID,
			"reminder_template_id": n.ReminderTemplateID} {
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

// Reminder days: a few, distinct, from two months before the due date to
// before termination (a reminder after it would remind of nothing).
const (
	MaxReminders        = 10
	EarliestReminderDay = -60
)

// checkReminderDays names the first entry at fault.
func checkReminderDays(days []int64, terminationDays int) error {
	if len(days) > MaxReminders {
		return errs.Unprocessable("too_many_reminders", fmt.Sprintf("At most %d reminder days.", MaxReminders)).WithField("reminder_days")
	}
	seen := make(map[int64]bool, len(days))
	for i, d := range days {
		field := fmt.Sprintf("reminder_days[%d]", i)
		if d < EarliestReminderDay || d >= int64(terminationDays) {
			return errs.Unprocessable("reminder_day_out_of_range",
				fmt.Sprintf("Reminder days are from %d to less than termination_days (%d).", EarliestReminderDay, terminationDays)).WithField(field)
		}
		if seen[d] {
			return errs.Unprocessable("duplicate_reminder_day", "Each reminder day is given once.").WithField(field)
		}
		seen[d] = true
	}
	return nil
}
