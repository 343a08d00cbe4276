package subscription

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Vendor-first changes are dunning's: a service is suspended or terminated
// for non-payment only once the vendor has done it, so a vendor that fails
// leaves the platform as it was and the next run tries again; no
// suspension mail goes out for a tenant that still works. Every other
// change goes platform first (act) and brings the vendor there by an
// operation.
//
// Operations of a service run one at a time in their order, so an older
// unfinished one could undo a vendor-first change (an unsuspend that runs
// after the tenant was disabled). A vendor-first change therefore waits a
// little for them and otherwise gives up with operation_in_progress; one
// recorded while it talked to the vendor (which may even have run) makes
// its own operation run after it (pending, with a job) instead of being
// recorded as done.

// Reasons a service is suspended. A payment that leaves a service owing
// nothing lifts a suspension (credit_limit only once the customer is back
// within its limit).
const (
	ReasonManual      = "manual"       // by an admin or the selling partner
	ReasonOverdue     = "overdue"      // dunning: an invoice suspension_days past due
	ReasonCreditLimit = "credit_limit" // dunning: the customer's balance above its limit
)

// StillDue re-checks, in the transaction that applies a vendor-first change
// with the service locked, that the change is still wanted (the invoice is
// still unpaid, the customer not paused...).
type StillDue func(ctx context.Context, tx *gorm.DB, v Subscription) (bool, error)

// Outcomes of a vendor-first change.
const (
	OutcomeApplied = "applied"  // the vendor, then the platform, changed
	OutcomeAlready = "already"  // the service was already there
	OutcomeNotDue  = "not_due"  // StillDue said no; the vendor is left (or put back) as the platform is
	OutcomeNotLive = "not_live" // pending, cancelled or terminated: nothing to do
)

// VendorFirst is what a vendor-first change did.
type VendorFirst struct {
	Service Subscription
	Outcome string
}

// Then is told, in the transaction that applies a vendor-first change (or
// finds there, with the service locked, that there is nothing to apply),
// what it did: the service as the transaction leaves it and the outcome.
// An error rolls the change back. Dunning records its action there, so an
// action is done exactly when its change is. It is not called when the
// change stops before that transaction (an outcome found at the first
// read, a vendor failure).
type Then func(ctx context.Context, tx *gorm.DB, vf VendorFirst) error

func callThen(ctx context.Context, tx *gorm.DB, then []Then, vf VendorFirst) error {
	for _, f := range then {
		if err := f(ctx, tx, vf); err != nil {
			return err
		}
	}
	return nil
}

// busyWait bounds how long a vendor-first change waits for the service's
// unfinished operations before it answers operation_in_progress.
const busyWait = 2 * time.Second

// ErrOperationInProgress is the code of the conflict a vendor-first change
// answers while an earlier operation of the service is unfinished.
const ErrOperationInProgress = "operation_in_progress"

func validReason(reason string) error {
	switch reason {
	case ReasonManual, ReasonOverdue, ReasonCreditLimit:
		return nil
	}
	return errs.Internal(fmt.Errorf("subscription: unknown suspension reason %q", reason))
}

// SuspendVendorFirst disables the service's tenant at the vendor and only
// then marks it suspended on the platform (with reason), recording the
// operation as done and telling the hooks. A vendor failure returns its
// error and changes nothing on the platform.
//
// due is asked before the vendor is called (false: nothing is called) and
// again in the applying transaction; false there (paid meanwhile) records
// an unsuspend operation that enables the tenant again (OutcomeNotDue). A
// service suspended already stays so (OutcomeAlready); its reason becomes
// credit_limit when that is asked and it was overdue, so that a payment
// lifts it only once the customer is within its limit. Active services
// only; others are OutcomeNotLive. With then, the service is not read
// again after the change: the result is what the transaction left.
func (s *Service) SuspendVendorFirst(ctx context.Context, id uuid.UUID, reason, by string, due StillDue, then ...Then) (VendorFirst, error) {
	if err := validReason(reason); err != nil {
		return VendorFirst{}, err
	}
	pre := func(v Subscription) string {
		switch v.Status {
		case StatusActive:
			return ""
		case StatusSuspended:
			return OutcomeAlready
		}
		return OutcomeNotLive
	}
	st, out, err := s.vendorFirstStart(ctx, id, due, pre)
	if err != nil || out != "" {
		if out == OutcomeAlready && err == nil {
			return s.raiseReason(ctx, id, reason)
		}
		return VendorFirst{Service: st.v, Outcome: out}, err
	}
	v := st.v
	m, err := s.vendorOf(ctx, v)
	if err != nil {
		return VendorFirst{}, err
	}
	if m != nil {
		if err := m.Suspend(ctx, *v.VendorTenantID); err != nil {
			return VendorFirst{}, fmt.Errorf("subscription: disable tenant %s: %w", *v.VendorTenantID, err)
		}
	}
	out = OutcomeApplied
	var cur Subscription
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := func() error {
			var err error
			if cur, err = take(tx, id, true); err != nil {
				return err
			}
			if out = pre(cur); out != "" {
				// Changed meanwhile: suspended (the vendor agrees) or ended
				// (its own operation sees to the tenant).
				return nil
			}
			ok, err := due(ctx, tx, cur)
			if err != nil {
				return err
			}
			if !ok {
				out = OutcomeNotDue
				if m == nil {
					return nil
				}
				_, err := s.record(ctx, tx, id, by, intent{kind: OpUnsuspend})
				return err
			}
			out = OutcomeApplied
			now := s.now()
			if err := updateReturning(tx, &cur, map[string]any{
				"status": StatusSuspended, "suspended_at": now, "suspension_reason": reason,
				"version": gorm.Expr("version + 1"), "updated_at": now}); err != nil {
				return err
			}
			if err := s.fireWith(ctx, tx, hookSuspended, cur, ""); err != nil {
				return err
			}
			if m == nil {
				return nil
			}
			return s.recordDone(ctx, tx, id, st.since, by, OpSuspend)
		}(); err != nil {
			return err
		}
		return callThen(ctx, tx, then, VendorFirst{Service: cur, Outcome: out})
	})
	if err != nil {
		if m != nil {
			s.putBack(context.WithoutCancel(ctx), id, by)
		}
		return VendorFirst{}, err
	}
	if len(then) > 0 {
		return VendorFirst{Service: cur, Outcome: out}, nil
	}
	return s.vendorFirstEnd(ctx, id, out)
}

// TerminateVendorFirst disables then deletes the service's tenant at the
// vendor (revoking a partner's read-only grant first) and only then
// terminates it on the platform. A vendor failure returns its error and
// changes nothing on the platform.
//
// due is asked before the vendor is called (false: nothing is called) and
// again in the applying transaction; once the tenant is deleted the
// platform follows whatever due says then (a deleted tenant cannot come
// back). A terminated service is OutcomeAlready; pending and cancelled
// ones are OutcomeNotLive. then is as for SuspendVendorFirst.
func (s *Service) TerminateVendorFirst(ctx context.Context, id uuid.UUID, by string, due StillDue, then ...Then) (VendorFirst, error) {
	pre := func(v Subscription) string {
		switch v.Status {
		case StatusActive, StatusSuspended, StatusExpired:
			return ""
		case StatusTerminated:
			return OutcomeAlready
		}
		return OutcomeNotLive
	}
	st, out, err := s.vendorFirstStart(ctx, id, due, pre)
	if err != nil || out != "" {
		return VendorFirst{Service: st.v, Outcome: out}, err
	}
	v := st.v
	m, err := s.vendorOf(ctx, v)
	if err != nil {
		return VendorFirst{}, err
	}
	if m != nil {
		tenant := *v.VendorTenantID
		ro, err := s.partnerVendorUser(ctx, v)
		if err != nil {
			return VendorFirst{}, err
		}
		if ro != "" {
			if err := m.RevokeReadOnly(ctx, ro, tenant); err != nil {
				return VendorFirst{}, fmt.Errorf("subscription: revoke the partner's grant on tenant %s: %w", tenant, err)
			}
		}
		// The module disables the tenant, then deletes it; one gone is done.
		if err := m.Terminate(ctx, tenant); err != nil {
			return VendorFirst{}, fmt.Errorf("subscription: delete tenant %s: %w", tenant, err)
		}
	}
	var cur Subscription
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := func() error {
			var err error
			if cur, err = take(tx, id, true); err != nil {
				return err
			}
			if out = pre(cur); out != "" {
				return nil
			}
			if m == nil {
				ok, err := due(ctx, tx, cur)
				if err != nil || !ok {
					out = OutcomeNotDue
					return err
				}
			}
			out = OutcomeApplied
			if err := s.terminateTx(tx, &cur); err != nil {
				return err
			}
			if err := updateReturning(tx, &cur, map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}); err != nil {
				return err
			}
			if err := s.fireWith(ctx, tx, hookTerminated, cur, ""); err != nil {
				return err
			}
			if m == nil {
				return nil
			}
			return s.recordDone(ctx, tx, id, st.since, by, OpTerminate)
		}(); err != nil {
			return err
		}
		return callThen(ctx, tx, then, VendorFirst{Service: cur, Outcome: out})
	})
	if err != nil {
		return VendorFirst{}, err
	}
	if len(then) > 0 {
		return VendorFirst{Service: cur, Outcome: out}, nil
	}
	return s.vendorFirstEnd(ctx, id, out)
}

// UnsuspendFor makes a service suspended for reason active again (platform
// first, its operation enabling the tenant recorded with it), when due says
// so: dunning lifts a credit-limit suspension once the customer is within
// its limit. A service suspended for another reason is left
// (OutcomeNotDue); an active one is OutcomeAlready; others OutcomeNotLive.
// then is told in its transaction, whatever the outcome.
func (s *Service) UnsuspendFor(ctx context.Context, id uuid.UUID, reason, by string, due StillDue, then ...Then) (VendorFirst, error) {
	if err := validReason(reason); err != nil {
		return VendorFirst{}, err
	}
	var out string
	var cur Subscription
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := func() error {
			var err error
			if cur, err = take(tx.WithContext(ctx), id, true); err != nil {
				return err
			}
			switch {
			case cur.Status == StatusActive:
				out = OutcomeAlready
				return nil
			case cur.Status != StatusSuspended:
				out = OutcomeNotLive
				return nil
			case cur.SuspensionReason == nil || *cur.SuspensionReason != reason:
				out = OutcomeNotDue
				return nil
			}
			ok, err := due(ctx, tx, cur)
			if err != nil || !ok {
				out = OutcomeNotDue
				return err
			}
			out = OutcomeApplied
			in, err := s.unsuspendTx(tx, &cur)
			if err != nil {
				return err
			}
			if err := updateReturning(tx, &cur, map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}); err != nil {
				return err
			}
			if err := s.fireWith(ctx, tx, in.hook, cur, ""); err != nil {
				return err
			}
			work, err := s.vendorWork(ctx, cur)
			if err != nil || !work {
				return err
			}
			_, err = s.record(ctx, tx, id, by, *in)
			return err
		}(); err != nil {
			return err
		}
		return callThen(ctx, tx, then, VendorFirst{Service: cur, Outcome: out})
	})
	if err != nil {
		return VendorFirst{}, err
	}
	if len(then) > 0 {
		return VendorFirst{Service: cur, Outcome: out}, nil
	}
	return s.vendorFirstEnd(ctx, id, out)
}

// updateReturning updates the service v in tx and reads it back in the
// same statement, as the hooks are told of it.
func updateReturning(tx *gorm.DB, v *Subscription, set map[string]any) error {
	res := tx.Model(v).Clauses(clause.Returning{}).Updates(set)
	if res.Error != nil {
		return errs.Internal(res.Error)
	}
	if res.RowsAffected != 1 {
		return errs.Internal(fmt.Errorf("subscription: service %s not updated", v.ID))
	}
	return nil
}

// vendorFirstStart reads the service and tells what a vendor-first change
// does with it before the vendor is called: an outcome when there is
// nothing to do (pre's, or OutcomeNotDue), "" to go on once no earlier
// operation of the service is unfinished.
func (s *Service) vendorFirstStart(ctx context.Context, id uuid.UUID, due StillDue, pre func(Subscription) string) (vendorFirstStep, string, error) {
	db := s.db.WithContext(ctx)
	v, err := take(db, id, false)
	st := vendorFirstStep{v: v}
	if err != nil {
		return st, "", err
	}
	if out := pre(v); out != "" {
		return st, out, nil
	}
	ok, err := due(ctx, db, v)
	if err != nil {
		return st, "", err
	}
	if !ok {
		return st, OutcomeNotDue, nil
	}
	st.since, err = s.waitIdle(ctx, id)
	return st, "", err
}

// vendorFirstStep is a service about to change vendor first, and the last
// of its operations (all ended) before the vendor is called.
type vendorFirstStep struct {
	v     Subscription
	since int64
}

// vendorOf is the module to call for the service; nil when it has no
// vendor side (no module, or no tenant).
func (s *Service) vendorOf(ctx context.Context, v Subscription) (provisioning.Module, error) {
	if v.VendorTenantID == nil {
		return nil, nil
	}
	return s.module(ctx, v.PlanID)
}

// waitIdle waits up to busyWait for the service's unfinished operations
// to end, and tells the last of them then (its seq; 0 for none).
func (s *Service) waitIdle(ctx context.Context, id uuid.UUID) (int64, error) {
	deadline := clock.Wall().Add(busyWait)
	for {
		n, last, err := unfinishedOps(s.db.WithContext(ctx), id)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return last, nil
		}
		if !clock.Wall().Before(deadline) {
			return 0, errs.Conflict(ErrOperationInProgress,
				"An earlier operation of this service is not finished; try again once it is.")
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, errs.Internal(ctx.Err())
		case <-t.C:
		}
	}
}

// unfinishedOps counts the service's unfinished operations and tells the
// last seq of all of them, in one statement.
func unfinishedOps(q *gorm.DB, id uuid.UUID) (n, last int64, err error) {
	var row struct{ N, Last int64 }
	if err := q.Raw(`SELECT count(*) FILTER (WHERE status IN ?) AS n, coalesce(max(seq), 0) AS last
		FROM service_operations WHERE service_id = ?`, []string{OpPending, OpRunning}, id).Scan(&row).Error; err != nil {
		return 0, 0, errs.Internal(err)
	}
	return row.N, row.Last, nil
}

// recordDone records, in tx, the operation of a change the vendor has
// made already: succeeded, with no job. When an operation of the service
// was recorded while the vendor was called (after since), it is recorded
// pending with its job instead, to run after that one, which may have
// undone it (the vendor's steps are safe to repeat).
func (s *Service) recordDone(ctx context.Context, tx *gorm.DB, id uuid.UUID, since int64, by, kind string) error {
	// The last operation, and whether any failed one is left for the new
	// one to supersede, in one statement.
	var row struct {
		Last   int64
		Failed bool
	}
	if err := tx.WithContext(ctx).Raw(`SELECT coalesce(max(seq), 0) AS last,
			coalesce(bool_or(status = ? AND superseded_by IS NULL), false) AS failed
		FROM service_operations WHERE service_id = ?`, OpFailed, id).Scan(&row).Error; err != nil {
		return errs.Internal(err)
	}
	if row.Last > since {
		_, err := s.record(ctx, tx, id, by, intent{kind: kind})
		return err
	}
	now := s.now()
	op := &Operation{ID: uuid.New(), ServiceID: id, Kind: kind, Status: OpSucceeded, Params: []byte("{}"),
		Attempts: 1, RequestedBy: by, CreatedAt: now, UpdatedAt: now, StartedAt: &now, FinishedAt: &now}
	if err := tx.WithContext(ctx).Create(op).Error; err != nil {
		return errs.Internal(err)
	}
	if !row.Failed {
		return nil
	}
	return markSuperseded(ctx, tx, *op)
}

// putBack is the best effort after a vendor-first suspension whose
// platform side failed: the tenant is disabled while the platform still
// shows the service active, so an unsuspend operation is recorded to
// enable it again (the next dunning run starts over).
func (s *Service) putBack(ctx context.Context, id uuid.UUID, by string) {
	_ = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(tx, id, true)
		if err != nil || cur.Status != StatusActive {
			return err
		}
		_, err = s.record(ctx, tx, id, by, intent{kind: OpUnsuspend})
		return err
	})
}

// raiseReason makes an overdue suspension a credit-limit one when that is
// asked: the stricter of the two decides when a payment lifts it.
func (s *Service) raiseReason(ctx context.Context, id uuid.UUID, reason string) (VendorFirst, error) {
	if reason == ReasonCreditLimit {
		err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			cur, err := take(tx, id, true)
			if err != nil || cur.Status != StatusSuspended || cur.SuspensionReason == nil || *cur.SuspensionReason != ReasonOverdue {
				return err
			}
			if err := tx.Model(&Subscription{}).Where("id = ?", id).Updates(map[string]any{
				"suspension_reason": reason, "version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error; err != nil {
				return errs.Internal(err)
			}
			return nil
		})
		if err != nil {
			return VendorFirst{}, err
		}
	}
	return s.vendorFirstEnd(ctx, id, OutcomeAlready)
}

// vendorFirstEnd reads the service as the change left it.
func (s *Service) vendorFirstEnd(ctx context.Context, id uuid.UUID, out string) (VendorFirst, error) {
	v, err := take(s.db.WithContext(ctx), id, false)
	if err != nil {
		return VendorFirst{}, err
	}
	return VendorFirst{Service: v, Outcome: out}, nil
}
