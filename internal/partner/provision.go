package partner

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// ProvisionArgs is the job that makes a partner's vendor account.
type ProvisionArgs struct {
	PartnerID uuid.UUID `json:"partner_id"`
}

// Kind names the job.
func (ProvisionArgs) Kind() string { return "partner_provision" }

// InsertOpts: a few tries, as the vendor client retries each call itself.
// Not unique by args: a retry is queued right after a failed run marks the
// partner failed, while River may still show that run as running. Runs
// cannot overlap on the vendor, as a job is only queued from a state no run
// is working on (new, or failed).
func (ProvisionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// ProvisionWorker runs ProvisionArgs.
type ProvisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
	svc *Service
}

// Worker returns the job's worker, to register with the queue.
func (s *Service) Worker() *ProvisionWorker { return &ProvisionWorker{svc: s} }

// NextRetry waits a little longer each time, at most a minute.
func (w *ProvisionWorker) NextRetry(job *river.Job[ProvisionArgs]) time.Time {
	d := time.Duration(1<<min(job.Attempt, 6)) * time.Second
	return clock.Wall().Add(d)
}

// Work provisions; a failure that another try cannot fix, or the last try,
// marks the partner failed with the vendor's reason.
func (w *ProvisionWorker) Work(ctx context.Context, job *river.Job[ProvisionArgs]) error {
	err := w.svc.Provision(ctx, job.Args.PartnerID)
	if err == nil {
		return nil
	}
	return jobs.Settle(ctx, job.Attempt, job.MaxAttempts, err, provisioning.Retryable(err), func(ctx context.Context) error {
		return w.svc.markFailed(ctx, job.Args.PartnerID, err)
	})
}

// Provision makes (or finds) the partner's vendor tenant and admin and
// marks the partner active. Running it again does nothing new.
func (s *Service) Provision(ctx context.Context, id uuid.UUID) error {
	p, err := take(s.db.WithContext(ctx), id, false)
	if err != nil {
		return err
	}
	if p.Status != StatusProvisioning {
		return nil
	}
	if s.vendor == nil {
		return vendorNotConfigured()
	}
	res, err := s.vendor.CreateReseller(ctx, provisioning.Reseller{Ref: p.ID.String(), Name: p.Name, Email: p.Email, Login: p.VendorLogin})
	if err != nil {
		return err
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r := tx.Model(&Partner{}).Where("id = ? AND status = ?", id, StatusProvisioning).Updates(map[string]any{
			"status": StatusActive, "vendor_tenant_id": res.TenantID, "vendor_user_id": res.UserID,
			"vendor_error": nil, "version": gorm.Expr("version + 1"), "updated_at": s.now(),
		})
		if r.Error != nil {
			return errs.Internal(r.Error)
		}
		if r.RowsAffected == 0 {
			return nil
		}
		if err := s.catalog.EnsurePartnerOrderURLs(tx, id); err != nil {
			return err
		}
		return fire(ctx, tx, s.hooks.active, id)
	})
	if err == nil {
		s.catalog.ForgetOffers()
	}
	return err
}

func (s *Service) markFailed(ctx context.Context, id uuid.UUID, cause error) error {
	reason := cause.Error()
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		r := tx.Model(&Partner{}).Where("id = ? AND status = ?", id, StatusProvisioning).Updates(map[string]any{
			"status": StatusFailed, "vendor_error": reason, "version": gorm.Expr("version + 1"), "updated_at": s.now(),
		})
		if r.Error != nil {
			return errs.Internal(r.Error)
		}
		if r.RowsAffected == 0 {
			return nil
		}
		return fire(ctx, tx, s.hooks.failed, id)
	})
}

// vendorErr is how a synchronous vendor check failing is answered.
func vendorErr(err error) error {
	e := errs.E(errs.KindBadGateway, "vendor_unreachable", "The vendor could not be reached; nothing was saved.")
	e.Err = err
	return e
}
