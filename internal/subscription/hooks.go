package subscription

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Hook is told of a service after a change, inside the transaction that
// makes it (after the change and its billing, before the vendor
// operation runs); an error rolls the change back. v is the service as
// the transaction left it.
type Hook func(ctx context.Context, tx *gorm.DB, v Subscription) error

// ResetHook is told of a credentials reset with the new password, in the
// resetting transaction; the vendor operation that sets it may still be
// pending.
type ResetHook func(ctx context.Context, tx *gorm.DB, v Subscription, password string) error

// Changes a hook can be told of.
const (
	hookSuspended = iota + 1
	hookUnsuspended
	hookTerminated
	hookQuantity
	hookPlan
	hookReady
)

type hooks struct {
	on    map[int][]Hook
	reset []ResetHook
}

func (s *Service) add(kind int, f Hook) {
	if s.hooks.on == nil {
		s.hooks.on = map[int][]Hook{}
	}
	s.hooks.on[kind] = append(s.hooks.on[kind], f)
}

// OnSuspended adds a hook run when a service becomes suspended (Suspend).
func (s *Service) OnSuspended(f Hook) { s.add(hookSuspended, f) }

// OnUnsuspended adds a hook run when a suspended service becomes active
// (Unsuspend, or its last unpaid invoice paid).
func (s *Service) OnUnsuspended(f Hook) { s.add(hookUnsuspended, f) }

// OnTerminated adds a hook run when a service is terminated.
func (s *Service) OnTerminated(f Hook) { s.add(hookTerminated, f) }

// OnQuantityChanged adds a hook run after a quantity change and its billing.
func (s *Service) OnQuantityChanged(f Hook) { s.add(hookQuantity, f) }

// OnPlanChanged adds a hook run after a plan change and its billing (a
// trial moved to a paid plan included).
func (s *Service) OnPlanChanged(f Hook) { s.add(hookPlan, f) }

// OnReady adds a hook run when a service is provisioned and active, in
// its order's completing transaction (before the order's OnCompleted).
func (s *Service) OnReady(f Hook) { s.add(hookReady, f) }

// OnCredentialsReset adds a hook run in a credentials reset's transaction.
func (s *Service) OnCredentialsReset(f ResetHook) { s.hooks.reset = append(s.hooks.reset, f) }

// fire reads the service in tx and tells the hooks of kind; nothing is
// read when none is set.
func (s *Service) fire(ctx context.Context, tx *gorm.DB, kind int, id uuid.UUID, password string) error {
	hs := s.hooks.on[kind]
	if len(hs) == 0 && (password == "" || len(s.hooks.reset) == 0) {
		return nil
	}
	v, err := take(tx.WithContext(ctx), id, false)
	if err != nil {
		return err
	}
	return s.fireWith(ctx, tx, kind, v, password)
}

// fireWith tells the hooks of kind of v, the service as tx holds it.
func (s *Service) fireWith(ctx context.Context, tx *gorm.DB, kind int, v Subscription, password string) error {
	hs := s.hooks.on[kind]
	for _, h := range hs {
		if err := h(ctx, tx, v); err != nil {
			return err
		}
	}
	if password != "" {
		for _, h := range s.hooks.reset {
			if err := h(ctx, tx, v, password); err != nil {
				return err
			}
		}
	}
	return nil
}

// ReadyTx tells the OnReady hooks, in tx, that a service was provisioned
// and is active (the order package calls it as it completes an order).
func (s *Service) ReadyTx(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	return s.fire(ctx, tx, hookReady, id, "")
}
