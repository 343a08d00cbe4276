package order

import (
	"context"

	"gorm.io/gorm"
)

// Hook is told of an order after a change, inside the transaction that
// makes it; an error rolls the change back.
type Hook func(ctx context.Context, tx *gorm.DB, o Order) error

type hooks struct{ created, completed, failed []Hook }

// OnCreated adds a hook run in the placing transaction once the order (and
// its customer and pending service) is stored, before it is billed.
func (s *Service) OnCreated(f Hook) { s.hooks.created = append(s.hooks.created, f) }

// OnCompleted adds a hook run in the completing transaction, after the
// service is active (and its OnReady hooks ran) and the order completed.
func (s *Service) OnCompleted(f Hook) { s.hooks.completed = append(s.hooks.completed, f) }

// OnFailed adds a hook run in the transaction that ends an order failed.
func (s *Service) OnFailed(f Hook) { s.hooks.failed = append(s.hooks.failed, f) }

func run(ctx context.Context, tx *gorm.DB, hs []Hook, o Order) error {
	for _, h := range hs {
		if err := h(ctx, tx, o); err != nil {
			return err
		}
	}
	return nil
}
