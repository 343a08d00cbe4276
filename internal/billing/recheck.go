package billing

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// unit is the invoices of one bill-to party that must be stored together,
// with the services they were computed from (as read) and how to compute
// them again from the services as they are.
type unit struct {
	what     string
	drafts   []Draft
	services []billable
	// redo drafts the party's bills again in tx, from the services as
	// they are then (nil: nothing to bill any more).
	redo func(ctx context.Context, tx *gorm.DB) ([]Draft, error)
}

// termsSelect reads what a bill depends on of services, locked in id order:
// the order every path that locks several services takes, so that none
// waits on another in a cycle.
const termsSelect = `SELECT id, version, status, plan_id, frequency, quantity, unit_price, unit_cost, setup_fee, setup_fee_cost,
	free_trial, start_date, anchor_day, end_date, next_due_date, storage_item
	FROM services WHERE id IN ? ORDER BY id FOR NO KEY UPDATE`

// lockServices locks services in id order (for the rest of tx).
func lockServices(ctx context.Context, tx *gorm.DB, ids []uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	var locked []uuid.UUID
	if err := tx.WithContext(ctx).Raw("SELECT id FROM services WHERE id IN ? ORDER BY id FOR NO KEY UPDATE", ids).Scan(&locked).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// current turns units into invoices in the storing transaction tx: it
// locks their services in id order, so nothing changes them until tx
// ends, and a party any of whose services changed since its bills were
// drafted (a quantity, plan or term change, a payment that moved the due
// date, a termination, a trial moved to paid) is drafted again from the
// services as they are now. So a run bills no period at a stale quantity
// or price, nor for a due date that has moved on.
func (s *Service) current(ctx context.Context, tx *gorm.DB, units []unit) ([]Invoice, error) {
	var ids []uuid.UUID
	seen := map[uuid.UUID]bool{}
	for _, u := range units {
		for _, b := range u.services {
			if !seen[b.ID] {
				seen[b.ID] = true
				ids = append(ids, b.ID)
			}
		}
	}
	now := map[uuid.UUID]billable{}
	if len(ids) > 0 {
		var rows []billable
		if err := tx.WithContext(ctx).Raw(termsSelect, ids).Scan(&rows).Error; err != nil {
			return nil, errs.Internal(err)
		}
		for _, r := range rows {
			now[r.ID] = r
		}
	}
	var invs []Invoice
	for _, u := range units {
		ds := u.drafts
		if u.redo != nil && changed(u.services, now) {
			var err error
			if ds, err = u.redo(ctx, tx); err != nil {
				return nil, err
			}
		}
		for _, d := range ds {
			invs = append(invs, s.build(d))
		}
	}
	return invs, nil
}

// changed: a service's billing terms differ from what was read of it.
func changed(read []billable, now map[uuid.UUID]billable) bool {
	for _, b := range read {
		n, ok := now[b.ID]
		if !ok || !sameTerms(b, n) {
			return true
		}
	}
	return false
}

func sameTerms(a, b billable) bool {
	return a.Version == b.Version && a.Status == b.Status && a.PlanID == b.PlanID && a.Frequency == b.Frequency &&
		a.Quantity == b.Quantity && a.FreeTrial == b.FreeTrial && a.UnitPrice.Equal(b.UnitPrice) && a.SetupFee.Equal(b.SetupFee) &&
		sameDec(a.UnitCost, b.UnitCost) && sameDec(a.SetupFeeCost, b.SetupFeeCost) && sameDay(a.StartDate, b.StartDate) &&
		sameDay(a.EndDate, b.EndDate) && sameDay(a.NextDueDate, b.NextDueDate) && samePtr(a.AnchorDay, b.AnchorDay) &&
		samePtr(a.StorageItem, b.StorageItem)
}

func sameDec(a, b *decimal.Decimal) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func sameDay(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
