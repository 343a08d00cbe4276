package subscription

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// ExpireTrials ends every free trial whose end has come (trial_ends_at at
// or before now) and that is still active: the service is expired at once
// and an expire_trial operation, recorded with it, disables its tenant at
// the vendor. A trial expires once (the database allows one expire_trial
// per service); a trial moved to a paid plan before is no longer a trial
// and is left alone. It returns how many trials it ended.
func (s *Service) ExpireTrials(ctx context.Context, now time.Time) (int, error) {
	var ids []uuid.UUID
	if err := s.db.WithContext(ctx).Model(&Subscription{}).
		Where("free_trial AND status = ? AND trial_ends_at <= ?", StatusActive, now).
		Order("trial_ends_at").Pluck("id", &ids).Error; err != nil {
		return 0, errs.Internal(err)
	}
	n := 0
	for _, id := range ids {
		done, err := s.expireTrial(ctx, id, now)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

func (s *Service) expireTrial(ctx context.Context, id uuid.UUID, now time.Time) (bool, error) {
	done := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := take(tx, id, true)
		if err != nil {
			return err
		}
		if !v.FreeTrial || v.Status != StatusActive || v.TrialEndsAt == nil || v.TrialEndsAt.After(now) {
			return nil
		}
		at := s.now()
		if err := tx.Model(&Subscription{}).Where("id = ?", id).Updates(map[string]any{
			"status": StatusExpired, "expired_at": at, "version": gorm.Expr("version + 1"), "updated_at": at}).Error; err != nil {
			return errs.Internal(err)
		}
		done = true
		work, err := s.vendorWork(ctx, v)
		if err != nil || !work {
			return err
		}
		_, err = s.record(ctx, tx, id, "system:trial", intent{kind: OpExpireTrial})
		return err
	})
	return done, err
}
