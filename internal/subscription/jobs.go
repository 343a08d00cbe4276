package subscription

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
)

// UnsuspendArgs is the job that unsuspends a service once its last unpaid
// invoice is paid: the vendor call runs outside the paying transaction.
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
	v, err := w.svc.Get(ctx, system, job.Args.ServiceID)
	if err != nil || v.Status != StatusSuspended {
		return err
	}
	owes, err := w.svc.owes(ctx, w.svc.db, v.ID)
	if err != nil || owes {
		return err
	}
	_, err = w.svc.Unsuspend(ctx, system, v.ID, nil)
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
// transaction, queues the unsuspension of each suspended service of a paid
// customer invoice that now owes nothing.
func (s *Service) UnsuspendWhenPaid(jobs Enqueuer) func(ctx context.Context, tx *gorm.DB, customerSide bool, services []uuid.UUID) error {
	return func(ctx context.Context, tx *gorm.DB, customerSide bool, services []uuid.UUID) error {
		if !customerSide {
			return nil
		}
		for _, id := range services {
			var status string
			if err := tx.WithContext(ctx).Table("services").Where("id = ?", id).Pluck("status", &status).Error; err != nil {
				return errs.Internal(err)
			}
			if status != StatusSuspended {
				continue
			}
			owes, err := s.owes(ctx, tx, id)
			if err != nil || owes {
				return err
			}
			if err := jobs.InsertTx(ctx, tx, UnsuspendArgs{ServiceID: id}, nil); err != nil {
				return errs.Internal(err)
			}
		}
		return nil
	}
}
