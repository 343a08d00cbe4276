package subscription

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// A failed operation leaves the vendor where the platform is not. It runs
// again, from the top and with a fresh set of tries, when the periodic
// sweep finds its failure transient (SweepOperations, at most once per
// sweep period) or when an admin or the service's partner asks
// (RetryOperation, whatever the class). Only while it still belongs:
// an operation is superseded once a newer one of its service sets any of
// what it sets (running the old one again would put back a stale value),
// and it must still match the platform (a suspend of a service that is
// active again never runs again).

// aspect is one thing an operation sets at the vendor.
type aspect uint8

const (
	aspectEnabled aspect = 1 << iota
	aspectQuotas
	aspectProduction
	aspectUsername
	aspectPassword
	// aspectAll: a terminate deletes the tenant and everything it holds.
	aspectAll aspect = 0xff
)

// aspects is what the operation sets at the vendor.
func (o Operation) aspects() aspect {
	p := o.ParamsOf()
	switch o.Kind {
	case OpSuspend, OpUnsuspend, OpExpireTrial:
		return aspectEnabled
	case OpTerminate:
		return aspectAll
	case OpQuantity:
		return aspectQuotas
	case OpPlanChange:
		a := aspectQuotas
		if p.Production {
			a |= aspectProduction
		}
		if p.Enable {
			a |= aspectEnabled
		}
		return a
	case OpResetPassword:
		return aspectPassword
	case OpUpdateCredentials:
		var a aspect
		if p.Username != nil {
			a |= aspectUsername
		}
		if p.Password {
			a |= aspectPassword
		}
		return a
	}
	return 0
}

// supersedes tells whether newer, recorded after old, replaces it.
func (o Operation) supersedes(old Operation) bool { return o.aspects()&old.aspects() != 0 }

// supersededBy finds the oldest operation of op's service recorded after
// it that replaces it, if any.
func supersededBy(tx *gorm.DB, op Operation) (*uuid.UUID, error) {
	var newer []Operation
	if err := tx.Select("id", "seq", "kind", "params").
		Where("service_id = ? AND seq > (SELECT seq FROM service_operations WHERE id = ?)", op.ServiceID, op.ID).
		Order("seq").Find(&newer).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, n := range newer {
		if n.supersedes(op) {
			return &n.ID, nil
		}
	}
	return nil, nil
}

// markSuperseded, in the transaction that records op, names op on the
// failed operations of its service that it replaces and forgets their
// passwords: they never run again.
func markSuperseded(ctx context.Context, tx *gorm.DB, op Operation) error {
	var failed []Operation
	if err := tx.WithContext(ctx).Select("id", "kind", "params").
		Where("service_id = ? AND status = ? AND superseded_by IS NULL AND id <> ?", op.ServiceID, OpFailed, op.ID).
		Find(&failed).Error; err != nil {
		return errs.Internal(err)
	}
	var ids []uuid.UUID
	for _, f := range failed {
		if op.supersedes(f) {
			ids = append(ids, f.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if err := tx.WithContext(ctx).Model(&Operation{}).Where("id IN ?", ids).
		Updates(map[string]any{"superseded_by": op.ID, "secret_enc": nil}).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// matches tells whether the platform still holds what op brings the
// vendor to.
func (o Operation) matches(v Subscription) bool {
	if v.Status == StatusTerminated {
		return o.Kind == OpTerminate
	}
	p := o.ParamsOf()
	switch o.Kind {
	case OpSuspend:
		return v.Status == StatusSuspended
	case OpExpireTrial:
		return v.Status == StatusExpired
	case OpUnsuspend:
		return v.Status == StatusActive
	case OpTerminate:
		return false
	case OpQuantity:
		return p.Quantity == nil || *p.Quantity == v.Quantity
	case OpPlanChange:
		return (p.PlanID == nil || *p.PlanID == v.PlanID) && (!p.Enable || v.Status == StatusActive)
	case OpUpdateCredentials:
		return p.Username == nil || strings.EqualFold(*p.Username, v.Username)
	}
	return true
}

// requeueable checks, in tx with the service and the operation locked,
// that a failed operation may run again. A newer operation that replaces
// it is named on it (newer is set).
func (s *Service) requeueable(tx *gorm.DB, op Operation, v Subscription) (newer *uuid.UUID, err error) {
	if op.Status != OpFailed {
		return nil, errs.Conflict("operation_not_failed", "Only a failed operation can be retried; this one is "+op.Status+".")
	}
	superseded := errs.Conflict("operation_superseded", "A newer operation of this service replaced this one; it must not run again.")
	if op.SupersededBy != nil {
		return nil, superseded
	}
	if newer, err = supersededBy(tx, op); err != nil {
		return nil, err
	}
	if newer != nil {
		return newer, superseded
	}
	if !op.matches(v) {
		return nil, errs.Conflict("operation_superseded", "The service has moved on from what this operation set; it must not run again.")
	}
	if op.Kind == OpUpdateCredentials && op.ParamsOf().Password && op.SecretEnc == nil {
		return nil, errs.Conflict("operation_secret_gone",
			"The password this operation was to set is no longer kept; set the credentials again.")
	}
	return nil, nil
}

// requeue puts a failed operation back to pending with a new job, in tx.
// A reset whose generated password is gone gets a new one (its requester
// reads it once, as before).
func (s *Service) requeue(ctx context.Context, tx *gorm.DB, op Operation, by string, period *time.Time) error {
	now := s.now()
	updates := map[string]any{"status": OpPending, "finished_at": nil, "error_class": nil,
		"retries": gorm.Expr("retries + 1"), "retried_at": now, "retried_by": by, "updated_at": now}
	if period != nil {
		updates["swept_period"] = *period
	}
	if op.Kind == OpResetPassword && op.SecretEnc == nil {
		pw, err := NewPassword()
		if err != nil {
			return errs.Internal(err)
		}
		if updates["secret_enc"], err = s.box.Seal([]byte(pw), secretContext(op.ID)); err != nil {
			return errs.Internal(err)
		}
	}
	if err := tx.WithContext(ctx).Model(&Operation{}).Where("id = ? AND status = ?", op.ID, OpFailed).Updates(updates).Error; err != nil {
		return errs.Internal(err)
	}
	if err := s.jobs.InsertTx(ctx, tx, OperationArgs{OperationID: op.ID}, s.opInsertOpts()); err != nil {
		return errs.Internal(err)
	}
	return nil
}

// RetryOperation queues a failed operation of a service the caller may
// see again, whatever its failure and the service's status (a terminated
// service's terminate included): 409 operation_not_failed,
// operation_superseded or operation_secret_gone when it may not.
func (s *Service) RetryOperation(ctx context.Context, who auth.Principal, serviceID, opID uuid.UUID) (Operation, error) {
	if s.jobs == nil {
		return Operation{}, errs.Internal(errNoQueue)
	}
	var op Operation
	var refusal error
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		v, err := take(Scoped(tx, who), serviceID, true)
		if err != nil {
			return err
		}
		op, err = page.Take[Operation](tx.Where("service_id = ?", serviceID), "service_operations", opID, "operation", true)
		if err != nil {
			return err
		}
		newer, err := s.requeueable(tx, op, v)
		if newer != nil {
			// Keep the finding; the refusal is answered after the commit.
			refusal = err
			return markOne(tx, op.ID, *newer)
		}
		if err != nil {
			return err
		}
		if err := s.requeue(ctx, tx, op, who.Scope(), nil); err != nil {
			return err
		}
		op, err = page.Take[Operation](tx, "service_operations", opID, "operation", false)
		return err
	})
	if err == nil {
		err = refusal
	}
	if err != nil {
		return Operation{}, err
	}
	return op, nil
}

// markOne names the newer operation that replaced a failed one.
func markOne(tx *gorm.DB, id, newer uuid.UUID) error {
	if err := tx.Model(&Operation{}).Where("id = ?", id).
		Updates(map[string]any{"superseded_by": newer, "secret_enc": nil}).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// SweepSystem is who the sweep acts as.
const SweepSystem = "system:sweep"

// sweepBatch is how many failed operations the sweep reads at a time.
const sweepBatch = 100

// SweepOperations queues again every failed operation whose failure was
// transient, that no newer operation replaced and that still matches the
// platform, unless this sweep period (its start) queued it already. It
// returns how many it queued.
func (s *Service) SweepOperations(ctx context.Context, period time.Time) (int, error) {
	if s.jobs == nil {
		return 0, nil
	}
	queued := 0
	var after int64
	for {
		var batch []Operation
		if err := s.db.WithContext(ctx).Select("id", "seq").
			Where("status = ? AND error_class = ? AND superseded_by IS NULL AND seq > ?", OpFailed, ClassTransient, after).
			Where("swept_period IS NULL OR swept_period < ?", period).
			Order("seq").Limit(sweepBatch).Find(&batch).Error; err != nil {
			return queued, errs.Internal(err)
		}
		for _, b := range batch {
			after = b.Seq
			ok, err := s.sweepOne(ctx, b.ID, period)
			if err != nil {
				return queued, err
			}
			if ok {
				queued++
			}
		}
		if len(batch) < sweepBatch {
			return queued, nil
		}
	}
}

// sweepOne queues one operation again if it still may run, in its own
// transaction with its service locked (as a change of the service locks it).
func (s *Service) sweepOne(ctx context.Context, id uuid.UUID, period time.Time) (bool, error) {
	queued := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var serviceIDs []uuid.UUID
		if err := tx.Model(&Operation{}).Where("id = ?", id).Pluck("service_id", &serviceIDs).Error; err != nil {
			return errs.Internal(err)
		}
		if len(serviceIDs) == 0 {
			return nil
		}
		v, err := take(tx, serviceIDs[0], true)
		if err != nil {
			return err
		}
		op, err := page.Take[Operation](tx, "service_operations", id, "operation", true)
		if err != nil {
			return err
		}
		if op.Status != OpFailed || op.ErrorClass == nil || *op.ErrorClass != ClassTransient ||
			(op.SweptPeriod != nil && !op.SweptPeriod.Before(period)) {
			return nil // changed since it was read
		}
		newer, err := s.requeueable(tx, op, v)
		switch {
		case newer != nil:
			return markOne(tx, op.ID, *newer)
		case errs.KindOf(err) == errs.KindConflict:
			// Not now (the service moved on): looked at once this period.
			if err := tx.Model(&Operation{}).Where("id = ?", op.ID).Update("swept_period", period).Error; err != nil {
				return errs.Internal(err)
			}
			return nil
		case err != nil:
			return err
		}
		queued = true
		return s.requeue(ctx, tx, op, SweepSystem, &period)
	})
	return queued, err
}

// AllOperations pages through the operations of every service the caller
// may see (admins all, a partner its customers'), newest first.
func (s *Service) AllOperations(ctx context.Context, who auth.Principal, f OpFilter, r page.Request) ([]Operation, string, error) {
	q := Scoped(s.db.WithContext(ctx).Model(&Operation{}).Select("service_operations.*").
		Joins("JOIN services ON services.id = service_operations.service_id"), who)
	return listOps(q, f, r)
}

// listOps applies f and the page to q (on service_operations), newest first.
func listOps(q *gorm.DB, f OpFilter, r page.Request) ([]Operation, string, error) {
	if f.Status != nil {
		q = q.Where("service_operations.status = ?", *f.Status)
	}
	if f.Kind != nil {
		q = q.Where("service_operations.kind = ?", *f.Kind)
	}
	if f.ServiceID != nil {
		q = q.Where("service_operations.service_id = ?", *f.ServiceID)
	}
	if r.After != nil {
		q = q.Where("(service_operations.created_at, service_operations.id) < (?, ?)", r.After.CreatedAt, r.After.ID)
	}
	var rows []Operation
	if err := q.Order("service_operations.created_at DESC, service_operations.id DESC").Limit(r.Limit + 1).Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := page.Trim(r, rows, func(o Operation) page.Key { return page.Key{CreatedAt: o.CreatedAt, ID: o.ID} })
	return rows, next, nil
}
