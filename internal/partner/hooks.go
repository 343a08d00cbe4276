package partner

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Hook is told of a partner after its vendor account changed state,
// inside the transaction that changes it; an error rolls it back.
type Hook func(ctx context.Context, tx *gorm.DB, p Partner) error

type hooks struct{ active, failed []Hook }

// OnActive adds a hook run in the transaction that marks a partner active
// (its vendor account made).
func (s *Service) OnActive(f Hook) { s.hooks.active = append(s.hooks.active, f) }

// OnFailed adds a hook run in the transaction that marks a partner's
// vendor account failed.
func (s *Service) OnFailed(f Hook) { s.hooks.failed = append(s.hooks.failed, f) }

// fire reads the partner in tx and tells hs; nothing is read when hs is empty.
func fire(ctx context.Context, tx *gorm.DB, hs []Hook, id uuid.UUID) error {
	if len(hs) == 0 {
		return nil
	}
	p, err := take(tx.WithContext(ctx), id, false)
	if err != nil {
		return err
	}
	for _, h := range hs {
		if err := h(ctx, tx, p); err != nil {
			return err
		}
	}
	return nil
}
