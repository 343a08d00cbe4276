package order

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/subscription"
)

// ProvisionArgs is the job that provisions an approved order.
type ProvisionArgs struct {
	OrderID uuid.UUID `json:"order_id"`
}

// Kind names the job.
func (ProvisionArgs) Kind() string { return "order_provision" }

// MaxAttempts bounds the tries of a provisioning job; each vendor call
// retries on its own within a try.
const MaxAttempts = 5

// InsertOpts: bounded tries. Not unique by args, for the reason partner
// provisioning gives: a retry may be queued while River still shows the
// failed run as running. Runs cannot overlap: an order is only queued from
// pending or failed.
func (ProvisionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: MaxAttempts} }

// ProvisionWorker runs ProvisionArgs.
type ProvisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
	svc *Service
}

// Worker returns the job's worker, to register with the queue.
func (s *Service) Worker() *ProvisionWorker { return &ProvisionWorker{svc: s} }

// NextRetry backs off 1, 2, 4, 8 s.
func (w *ProvisionWorker) NextRetry(job *river.Job[ProvisionArgs]) time.Time {
	return clock.Wall().Add(time.Duration(1<<min(job.Attempt-1, 5)) * time.Second)
}

// Work provisions; a failure another try cannot fix, or the last try,
// fails the order with the vendor's reason.
func (w *ProvisionWorker) Work(ctx context.Context, job *river.Job[ProvisionArgs]) error {
	err := w.svc.Provision(ctx, job.Args.OrderID)
	if err == nil {
		return nil
	}
	return jobs.Settle(ctx, job.Attempt, job.MaxAttempts, err, provisioning.Retryable(err), func(ctx context.Context) error {
		return w.svc.fail(ctx, job.Args.OrderID, err)
	})
}

// Provision runs an approved order's steps: the customer tenant (under the
// SP or the partner), pricing mode, items and quotas scaled by quantity,
// the admin user with its password and role, and the partner's read-only
// access. Each step done is recorded; a run after a crash or a failure
// finds what earlier runs made and never makes it twice.
func (s *Service) Provision(ctx context.Context, orderID uuid.UUID) error {
	o, err := take(s.db.WithContext(ctx), orderID, false)
	if err != nil {
		return err
	}
	switch o.Status {
	case StatusApproved:
		if err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			cur, err := take(tx, orderID, true)
			if err != nil || cur.Status != StatusApproved {
				return err
			}
			return s.transition(tx, &o, StatusProvisioning, "system", nil)
		}); err != nil {
			return err
		}
	case StatusProvisioning:
	default:
		return nil // done, cancelled or failed meanwhile
	}
	var sub subscription.Subscription
	if err := s.db.WithContext(ctx).Take(&sub, "id = ?", o.ServiceID).Error; err != nil {
		return errs.Internal(err)
	}
	settings, module, err := s.moduleOf(ctx, o.PlanID)
	if err != nil {
		return err
	}
	var res provisioning.Result
	if module != nil {
		if res, err = s.createAccount(ctx, o, sub, *settings, module); err != nil {
			return err
		}
	}
	return s.complete(ctx, o, sub, settings, res)
}

func (s *Service) createAccount(ctx context.Context, o Order, sub subscription.Subscription, settings catalog.ModuleSettings, m provisioning.Module) (provisioning.Result, error) {
	parent, readOnly, err := s.parentTenant(ctx, m, o.PartnerID)
	if err != nil {
		return provisioning.Result{}, err
	}
	var c customer.Customer
	if err := s.db.WithContext(ctx).Take(&c, "id = ?", o.CustomerID).Error; err != nil {
		return provisioning.Result{}, errs.Internal(err)
	}
	pw := ""
	if sub.PasswordEnc != nil {
		plain, err := s.box.Open(sub.PasswordEnc, subscription.PasswordContext(sub.ID))
		if err != nil {
			return provisioning.Result{}, errs.Internal(err)
		}
		pw = string(plain)
	}
	items, storage := subscription.QuotasOf(settings, sub.Quantity).VendorQuotas()
	acc := provisioning.Account{
		Ref: sub.ID.String(), ParentTenantID: parent, Name: c.Name, Email: c.Email, Login: sub.Username, Password: pw,
		Trial: settings.FreeTrial, Edition: settings.Edition, Items: items, Storage: storage, ReadOnlyUserID: readOnly,
		Progress: func(step, detail string) { s.recordStep(ctx, o.ID, step, detail) },
	}
	return m.CreateAccount(ctx, acc)
}

// recordStep notes a step done; a step done again keeps its first time.
func (s *Service) recordStep(ctx context.Context, orderID uuid.UUID, step, detail string) {
	_ = s.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).
		Create(&Step{OrderID: orderID, Step: step, Detail: detail, DoneAt: s.now()}).Error
}

// complete activates the service and completes the order.
func (s *Service) complete(ctx context.Context, o Order, sub subscription.Subscription, settings *catalog.ModuleSettings, res provisioning.Result) error {
	now := s.now()
	updates := map[string]any{"status": subscription.StatusActive, "activated_at": now, "version": gorm.Expr("version + 1"), "updated_at": now}
	if res.TenantID != "" {
		updates["vendor_tenant_id"], updates["vendor_user_id"], updates["username"] = res.TenantID, res.UserID, res.Login
	}
	if res.StorageItem != "" {
		updates["storage_item"] = res.StorageItem
	}
	if settings != nil {
		updates["portal_url"] = settings.DatacenterURL
	}
	today := s.billing.Today()
	switch {
	case sub.FreeTrial:
		updates["trial_ends_at"] = now.AddDate(0, 0, subscription.TrialDays)
	case sub.StartDate == nil:
		// Post-paid: billed from its first day, on each 1st for the month before.
		updates["start_date"], updates["anchor_day"] = today, today.Day()
		updates["next_due_date"] = time.Date(today.Year(), today.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(tx, o.ID, true)
		if err != nil {
			return err
		}
		if cur.Status != StatusProvisioning {
			return nil
		}
		if err := tx.Model(&subscription.Subscription{}).Where("id = ?", sub.ID).Updates(updates).Error; err != nil {
			return errs.Internal(err)
		}
		// A prepaid order paid late is due again already, or soon: its
		// renewal is issued as it becomes active, not at the next run.
		if err := s.billing.RenewDueTx(ctx, tx, sub.ID); err != nil {
			return err
		}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&Step{OrderID: o.ID, Step: "completed", DoneAt: now}).Error; err != nil {
			return errs.Internal(err)
		}
		if err := s.subs.ReadyTx(ctx, tx, sub.ID); err != nil {
			return err
		}
		if err := s.transition(tx, &cur, StatusCompleted, "system", nil); err != nil {
			return err
		}
		return run(ctx, tx, s.hooks.completed, cur)
	})
}

// fail ends an order with a readable reason.
func (s *Service) fail(ctx context.Context, orderID uuid.UUID, cause error) error {
	reason := cause.Error()
	var na *provisioning.ItemsNotAvailableError
	if errors.As(cause, &na) {
		reason = itemsErr(na.Items).(*errs.Error).Message
	} else if e := errs.As(cause); e != nil && e.Kind != errs.KindInternal {
		reason = e.Message
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		o, err := take(tx, orderID, true)
		if err != nil {
			return err
		}
		if o.Status != StatusProvisioning && o.Status != StatusApproved {
			return nil
		}
		if err := s.transition(tx, &o, StatusFailed, "system", &reason); err != nil {
			return err
		}
		return run(ctx, tx, s.hooks.failed, o)
	})
}
