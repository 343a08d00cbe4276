package subscription

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/credit"
	"github.com/acronis-platform/platform/internal/errs"
)

// UnsuspendArgs unsuspended a service once its last unpaid invoice was
// paid. Payments now record the unsuspend operation in the paying
// transaction (UnsuspendWhenPaid); the worker stays for jobs queued before,
// and takes the same path.
type UnsuspendArgs struct {
	ServiceID uuid.UUID `json:"service_id"`
}

// Kind names the job.
func (UnsuspendArgs) Kind() string { return "service_unsuspend_paid" }

// InsertOpts: the vendor may be down for a while; unsuspending twice is harmless.
func (UnsuspendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// UnsuspendWorker runs UnsuspendArgs.
type UnsuspendWorker struct {
	river.WorkerDefaults[UnsuspendArgs]
	svc *Service
}

// Worker returns the unsuspend job's worker.
func (s *Service) Worker() *UnsuspendWorker { return &UnsuspendWorker{svc: s} }

var system = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "system"}

// Work unsuspends the service if it is still suspended and owes nothing.
func (w *UnsuspendWorker) Work(ctx context.Context, job *river.Job[UnsuspendArgs]) error {
	return w.svc.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return w.svc.unsuspendPaidTx(ctx, tx, job.Args.ServiceID)
	})
}

// unsuspendPaidTx, in tx, makes a suspended service that owes nothing
// active and records the operation that enables its tenant. A service
// suspended for its customer's credit limit stays suspended while the
// customer is above the limit (dunning lifts it once back within).
func (s *Service) unsuspendPaidTx(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	v, err := take(tx.WithContext(ctx), id, true)
	if err != nil || v.Status != StatusSuspended {
		return err
	}
	owes, err := s.owes(ctx, tx, id)
	if err != nil || owes {
		return err
	}
	if v.SuspensionReason != nil && *v.SuspensionReason == ReasonCreditLimit {
		over, _, err := credit.CustomerOver(ctx, tx, v.CustomerID)
		if err != nil || over {
			return err
		}
	}
	in, err := s.unsuspendTx(tx, &v)
	if err != nil {
		return err
	}
	if err := tx.Model(&Subscription{}).Where("id = ?", id).
		Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error; err != nil {
		return errs.Internal(err)
	}
	if err := s.fire(ctx, tx, in.hook, id, ""); err != nil {
		return err
	}
	work, err := s.vendorWork(ctx, v)
	if err != nil || !work {
		return err
	}
	_, err = s.record(ctx, tx, id, "system:payment", *in)
	return err
}

// owes reports whether a customer-side invoice with a line of the service
// is still unpaid.
func (s *Service) owes(ctx context.Context, tx *gorm.DB, id uuid.UUID) (bool, error) {
	var n int64
	err := tx.WithContext(ctx).Raw(`SELECT count(*) FROM invoices i WHERE i.status = 'unpaid' AND i.customer_id IS NOT NULL
		AND EXISTS (SELECT 1 FROM invoice_lines l WHERE l.invoice_id = i.id AND l.service_id = ?)`, id).Scan(&n).Error
	if err != nil {
		return false, errs.Internal(err)
	}
	return n > 0, nil
}

// Enqueuer puts a job in the caller's transaction.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// UnsuspendWhenPaid returns the billing hook that, in the paying
// transaction, unsuspends each suspended service of a paid customer
// invoice that now owes nothing (one suspended for the credit limit only
// once its customer is within the limit): the service is active at once
// and the operation that enables its tenant is recorded with it.
func (s *Service) UnsuspendWhenPaid() func(ctx context.Context, tx *gorm.DB, customerSide bool, services []uuid.UUID) error {
	return func(ctx context.Context, tx *gorm.DB, customerSide bool, services []uuid.UUID) error {
		if !customerSide {
			return nil
		}
		for _, id := range services {
			if err := s.unsuspendPaidTx(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	}
}
