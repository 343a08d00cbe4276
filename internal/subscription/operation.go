package subscription

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Kinds of service operation.
const (
	OpSuspend           = "suspend"
	OpUnsuspend         = "unsuspend"
	OpTerminate         = "terminate"
	OpResetPassword     = "reset_password"
	OpUpdateCredentials = "update_credentials"
	OpQuantity          = "quantity"
	OpPlanChange        = "plan_change"
	OpExpireTrial       = "expire_trial"
)

// Statuses of a service operation: pending -> running -> succeeded | failed;
// a try that fails and may be retried goes back to pending.
const (
	OpPending   = "pending"
	OpRunning   = "running"
	OpSucceeded = "succeeded"
	OpFailed    = "failed"
)

// OpMaxAttempts is the default bound on the tries of an operation; with
// NextRetry's backoff (1 s doubling to 5 min) the vendor has about an hour
// and a half to come back before the operation fails (SERVICE_OP_ATTEMPTS
// and SERVICE_OP_BACKOFF_MAX change both).
const OpMaxAttempts = 25

// OpMaxBackoff is the default longest wait between two tries.
const OpMaxBackoff = 5 * time.Minute

// Classes of the failure that ended an operation: a transient one (the
// vendor unreachable, a timeout, 5xx, 429; the tries ran out) may pass and
// is queued again by the sweep; a permanent one waits for a retry on
// request.
const (
	ClassTransient = "transient"
	ClassPermanent = "permanent"
)

// Operation is a change of a service that the vendor carries out. It is
// recorded, with its River job, in the transaction that changes the
// platform side, so the two can never part: the platform shows the new
// state at once and the job brings the vendor there. Steps read the
// vendor's state first and are safe to repeat. A generated or given
// password is kept sealed (SecretEnc) until the vendor has it and, for a
// reset, until its requester has read it once.
type Operation struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	Seq        int64     `gorm:"->"`
	ServiceID  uuid.UUID
	Kind       string
	Status     string
	Params     []byte `gorm:"type:jsonb"`
	SecretEnc  []byte
	Attempts   int
	LastError  *string
	ErrorClass *string
	// Retries counts how often it was queued again after failing.
	Retries   int
	RetriedAt *time.Time
	RetriedBy *string
	// SweptPeriod is the last sweep period that queued it again.
	SweptPeriod *time.Time
	// SupersededBy is a newer operation that sets what this failed one set.
	SupersededBy *uuid.UUID
	RequestedBy  string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time

	// Password is a reset's new password, opened for the one read that
	// shows it; never stored in clear.
	Password string `gorm:"-"`
}

// TableName keeps GORM on the migration's table.
func (Operation) TableName() string { return "service_operations" }

// Done tells whether the operation has ended.
func (o Operation) Done() bool { return o.Status == OpSucceeded || o.Status == OpFailed }

// OpParams is what an operation sets at the vendor.
type OpParams struct {
	Quantity *int       `json:"quantity,omitempty"`
	PlanID   *uuid.UUID `json:"plan_id,omitempty"`
	Username *string    `json:"username,omitempty"`
	// Password: a new password is sealed in the operation's secret.
	Password bool `json:"password,omitempty"`
	// Production: a trial moved to a paid plan; the tenant leaves trial mode.
	Production bool `json:"production,omitempty"`
	// Enable: the tenant is enabled again (an expired trial moved to a paid plan).
	Enable bool `json:"enable,omitempty"`
}

// ParamsOf decodes an operation's params.
func (o Operation) ParamsOf() OpParams {
	var p OpParams
	_ = json.Unmarshal(o.Params, &p)
	return p
}

// secretContext binds a sealed operation secret to its operation.
func secretContext(id uuid.UUID) []byte { return []byte("service-operation-secret:" + id.String()) }

// intent is the vendor work a change asks for.
type intent struct {
	kind   string
	params OpParams
	secret string
	// hook is the change the hooks are told of (0: none); reset tells
	// the reset hooks with secret.
	hook  int
	reset bool
}

// OperationArgs is the job that carries out one operation.
type OperationArgs struct {
	OperationID uuid.UUID `json:"operation_id"`
}

// Kind names the job.
func (OperationArgs) Kind() string { return "service_operation" }

// InsertOpts: bounded tries; each runs the operation's steps from the top.
func (OperationArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: OpMaxAttempts}
}

// opInsertOpts carries the configured bound on tries.
func (s *Service) opInsertOpts() *river.InsertOpts {
	return &river.InsertOpts{MaxAttempts: s.opAttempts}
}

// OperationWorker runs OperationArgs.
type OperationWorker struct {
	river.WorkerDefaults[OperationArgs]
	svc *Service
}

// OperationWorker returns the operations' worker, to register with the queue.
func (s *Service) OperationWorker() *OperationWorker { return &OperationWorker{svc: s} }

// NextRetry backs off 1, 2, 4 ... s, at most SERVICE_OP_BACKOFF_MAX.
func (w *OperationWorker) NextRetry(job *river.Job[OperationArgs]) time.Time {
	return clock.Wall().Add(min(time.Duration(1<<min(job.Attempt-1, 12))*time.Second, w.svc.opBackoff))
}

// opSnooze is how long an operation waits for an earlier one of its service.
const opSnooze = 500 * time.Millisecond

// Work runs the operation once its service's earlier operations are done;
// a failure another try may fix is retried, others (or the last try) end
// the operation failed with the reason.
func (w *OperationWorker) Work(ctx context.Context, job *river.Job[OperationArgs]) error {
	s := w.svc
	var op Operation
	if err := s.db.WithContext(ctx).Take(&op, "id = ?", job.Args.OperationID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return river.JobCancel(err)
		}
		return err
	}
	if op.Done() {
		return nil
	}
	var earlier int64
	if err := s.db.WithContext(ctx).Model(&Operation{}).
		Where("service_id = ? AND seq < ? AND status IN ?", op.ServiceID, op.Seq, []string{OpPending, OpRunning}).
		Count(&earlier).Error; err != nil {
		return err
	}
	if earlier > 0 {
		return river.JobSnooze(opSnooze)
	}
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&Operation{}).Where("id = ?", op.ID).Updates(map[string]any{
		"status": OpRunning, "attempts": gorm.Expr("attempts + 1"), "started_at": gorm.Expr("coalesce(started_at, ?)", now), "updated_at": now,
	}).Error; err != nil {
		return err
	}
	err := s.carryOut(ctx, op)
	if err == nil {
		return s.succeed(context.WithoutCancel(ctx), op)
	}
	reason, retryable := opReason(err), provisioning.Retryable(err)
	// A worker stopping on the last try is no verdict on the vendor.
	class := ClassPermanent
	if retryable || ctx.Err() != nil {
		class = ClassTransient
	}
	_ = s.db.WithContext(context.WithoutCancel(ctx)).Model(&Operation{}).Where("id = ? AND status = ?", op.ID, OpRunning).
		Updates(map[string]any{"status": OpPending, "last_error": reason, "updated_at": s.now()}).Error
	return jobs.Settle(ctx, job.Attempt, job.MaxAttempts, err, retryable, func(ctx context.Context) error {
		return s.fail(ctx, op, reason, class)
	})
}

// succeed ends an operation that succeeded. A reset's password stays
// sealed for its requester's one read; any other secret is forgotten.
func (s *Service) succeed(ctx context.Context, op Operation) error {
	now := s.now()
	updates := map[string]any{"status": OpSucceeded, "finished_at": now, "updated_at": now}
	if op.Kind != OpResetPassword {
		updates["secret_enc"] = nil
	}
	return s.db.WithContext(ctx).Model(&Operation{}).Where("id = ?", op.ID).Updates(updates).Error
}

// fail ends an operation failed with its reason and class. Its password
// stays sealed, as the operation may run again, unless a newer operation
// of the service has replaced it (which it then names).
func (s *Service) fail(ctx context.Context, op Operation, reason, class string) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		now := s.now()
		updates := map[string]any{"status": OpFailed, "finished_at": now, "updated_at": now,
			"last_error": reason, "error_class": class}
		newer, err := supersededBy(tx, op)
		if err != nil {
			return err
		}
		if newer != nil {
			updates["superseded_by"], updates["secret_enc"] = *newer, nil
		}
		return tx.Model(&Operation{}).Where("id = ?", op.ID).Updates(updates).Error
	})
}

func opReason(err error) string {
	reason := err.Error()
	if e := errs.As(err); e != nil && e.Kind != errs.KindInternal {
		reason = e.Message
	}
	if len(reason) > 500 {
		reason = reason[:500]
	}
	return reason
}

// carryOut brings the vendor to what the operation asks; every step reads
// the vendor's state first, so a repeat after a lost answer does no harm.
func (s *Service) carryOut(ctx context.Context, op Operation) error {
	var v Subscription
	if err := s.db.WithContext(ctx).Take(&v, "id = ?", op.ServiceID).Error; err != nil {
		return errs.Internal(err)
	}
	p := op.ParamsOf()
	plan := v.PlanID
	if p.PlanID != nil {
		plan = *p.PlanID
	}
	m, err := s.module(ctx, plan)
	if err != nil || m == nil || v.VendorTenantID == nil {
		return err
	}
	tenant := *v.VendorTenantID
	secret := func() (string, error) {
		if op.SecretEnc == nil {
			return "", errs.Unprocessable("secret_gone", "The operation's password is no longer kept.")
		}
		b, err := s.box.Open(op.SecretEnc, secretContext(op.ID))
		return string(b), err
	}
	switch op.Kind {
	case OpSuspend, OpExpireTrial:
		return m.Suspend(ctx, tenant)
	case OpUnsuspend:
		return m.Unsuspend(ctx, tenant)
	case OpTerminate:
		if ro, err := s.partnerVendorUser(ctx, v); err != nil {
			return err
		} else if ro != "" {
			if err := m.RevokeReadOnly(ctx, ro, tenant); err != nil {
				return err
			}
		}
		return m.Terminate(ctx, tenant)
	case OpResetPassword, OpUpdateCredentials:
		if v.VendorUserID == nil {
			return nil
		}
		if p.Username != nil {
			if err := m.ChangeLogin(ctx, *v.VendorUserID, *p.Username); err != nil {
				return err
			}
		}
		if op.Kind == OpResetPassword || p.Password {
			pw, err := secret()
			if err != nil {
				return err
			}
			return m.ChangePassword(ctx, *v.VendorUserID, pw)
		}
		return nil
	case OpQuantity, OpPlanChange:
		qty := v.Quantity
		if p.Quantity != nil {
			qty = *p.Quantity
		}
		var settings catalog.ModuleSettings
		if err := s.db.WithContext(ctx).Take(&settings, "plan_id = ?", plan).Error; err != nil {
			return errs.Internal(err)
		}
		items, storage := QuotasOf(settings, qty).VendorQuotas()
		if storage != nil && v.StorageItem != nil {
			items[*v.StorageItem] = *storage
		}
		if err := m.ChangeQuotas(ctx, tenant, items); err != nil {
			return itemsErr(err)
		}
		if p.Production {
			if err := m.SetProduction(ctx, tenant); err != nil {
				return err
			}
		}
		if p.Enable {
			return m.Unsuspend(ctx, tenant)
		}
		return nil
	}
	return errs.Internal(errors.New("subscription: unknown operation kind " + op.Kind))
}

// partnerVendorUser is the vendor user of the partner selling the service,
// which holds a read-only grant on its tenant; "" for the SP's own sales.
func (s *Service) partnerVendorUser(ctx context.Context, v Subscription) (string, error) {
	if v.PartnerID == nil {
		return "", nil
	}
	var ids []*string
	if err := s.db.WithContext(ctx).Table("partners").Where("id = ?", *v.PartnerID).Pluck("vendor_user_id", &ids).Error; err != nil {
		return "", errs.Internal(err)
	}
	if len(ids) == 0 || ids[0] == nil {
		return "", nil
	}
	return *ids[0], nil
}

// vendorWork tells whether a service has a vendor side to change: a plan
// with a module and a provisioned tenant.
func (s *Service) vendorWork(ctx context.Context, v Subscription) (bool, error) {
	if v.VendorTenantID == nil {
		return false, nil
	}
	m, err := s.module(ctx, v.PlanID)
	return m != nil, err
}

var errNoQueue = errors.New("subscription: no job queue for service operations")

// record stores an operation and queues its job in tx; the failed
// operations of the service it replaces are marked superseded.
func (s *Service) record(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, by string, in intent) (*Operation, error) {
	if s.jobs == nil {
		return nil, errs.Internal(errNoQueue)
	}
	params, err := json.Marshal(in.params)
	if err != nil {
		return nil, errs.Internal(err)
	}
	now := s.now()
	op := &Operation{ID: uuid.New(), ServiceID: serviceID, Kind: in.kind, Status: OpPending, Params: params,
		RequestedBy: by, CreatedAt: now, UpdatedAt: now}
	if in.secret != "" {
		if op.SecretEnc, err = s.box.Seal([]byte(in.secret), secretContext(op.ID)); err != nil {
			return nil, errs.Internal(err)
		}
	}
	if err := tx.WithContext(ctx).Create(op).Error; err != nil {
		return nil, storeErr(err)
	}
	if err := markSuperseded(ctx, tx, *op); err != nil {
		return nil, err
	}
	if err := s.jobs.InsertTx(ctx, tx, OperationArgs{OperationID: op.ID}, s.opInsertOpts()); err != nil {
		return nil, errs.Internal(err)
	}
	return op, nil
}

// await polls an operation until it ends or the wait is over.
func (s *Service) await(ctx context.Context, id uuid.UUID) (Operation, error) {
	deadline := clock.Wall().Add(s.wait)
	for {
		var op Operation
		if err := s.db.WithContext(ctx).Take(&op, "id = ?", id).Error; err != nil {
			return op, errs.Internal(err)
		}
		if op.Done() || !clock.Wall().Before(deadline) {
			return op, nil
		}
		t := time.NewTimer(25 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return op, nil
		case <-t.C:
		}
	}
}

// Outcome is a service change as the caller sees it: the service and,
// when the vendor had work to do, its operation; Pending when the vendor
// had not confirmed within the wait (the API's 202).
type Outcome struct {
	Service Subscription
	Op      *Operation
	Pending bool
}

// settle waits for the operation of a change and reads the service again.
func (s *Service) settle(ctx context.Context, id uuid.UUID, op *Operation) (Outcome, error) {
	out := Outcome{Op: op}
	if op != nil {
		got, err := s.await(ctx, op.ID)
		if err != nil {
			return out, err
		}
		out.Op, out.Pending = &got, got.Status != OpSucceeded
	}
	v, err := take(s.db.WithContext(ctx), id, false)
	out.Service = v
	return out, err
}

// act runs one change of a service: in one transaction it locks the
// service, checks it, applies the platform side (and what it bills), and
// records the vendor work with its job; then it waits for the vendor.
func (s *Service) act(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64,
	check func(Subscription) error, apply func(tx *gorm.DB, v *Subscription) (*intent, error)) (Outcome, error) {
	var op *Operation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		if err := check(cur); err != nil {
			return err
		}
		in, err := apply(tx, &cur)
		if err != nil {
			return err
		}
		if err := tx.Model(&Subscription{}).Where("id = ?", id).
			Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error; err != nil {
			return storeErr(err)
		}
		if in == nil {
			return nil
		}
		pw := ""
		if in.reset {
			pw = in.secret
		}
		if err := s.fire(ctx, tx, in.hook, id, pw); err != nil {
			return err
		}
		work, err := s.vendorWork(ctx, cur)
		if err != nil || !work {
			return err
		}
		op, err = s.record(ctx, tx, id, who.Scope(), *in)
		return err
	})
	if err != nil {
		return Outcome{}, err
	}
	return s.settle(ctx, id, op)
}

// OpFilter narrows a list of operations.
type OpFilter struct {
	Status, Kind *string
	ServiceID    *uuid.UUID
}

// Operations pages through a service's operations, newest first.
func (s *Service) Operations(ctx context.Context, who auth.Principal, serviceID uuid.UUID, f OpFilter, r page.Request) ([]Operation, string, error) {
	if _, err := s.Get(ctx, who, serviceID); err != nil {
		return nil, "", err
	}
	f.ServiceID = &serviceID
	return listOps(s.db.WithContext(ctx).Model(&Operation{}), f, r)
}

// Operation reads one operation of a service. The first read of a
// succeeded reset by its requester opens its password and forgets it.
func (s *Service) Operation(ctx context.Context, who auth.Principal, serviceID, opID uuid.UUID) (Operation, error) {
	if _, err := s.Get(ctx, who, serviceID); err != nil {
		return Operation{}, err
	}
	var op Operation
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		op, err = page.Take[Operation](tx.Where("service_id = ?", serviceID), "service_operations", opID, "operation", true)
		if err != nil {
			return err
		}
		if op.Kind != OpResetPassword || op.Status != OpSucceeded || op.SecretEnc == nil || op.RequestedBy != who.Scope() {
			return nil
		}
		plain, err := s.box.Open(op.SecretEnc, secretContext(op.ID))
		if err != nil {
			return errs.Internal(err)
		}
		op.Password, op.SecretEnc = string(plain), nil
		return tx.Model(&Operation{}).Where("id = ?", op.ID).Update("secret_enc", nil).Error
	})
	return op, err
}

// takePassword opens a succeeded reset's password for the caller that is
// waiting on it, and forgets it.
func (s *Service) takePassword(ctx context.Context, op *Operation) (string, error) {
	var sealed []byte
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := page.Take[Operation](tx, "service_operations", op.ID, "operation", true)
		if err != nil {
			return err
		}
		sealed = cur.SecretEnc
		return tx.Model(&Operation{}).Where("id = ?", op.ID).Update("secret_enc", nil).Error
	})
	if err != nil || sealed == nil {
		return "", err
	}
	plain, err := s.box.Open(sealed, secretContext(op.ID))
	if err != nil {
		return "", errs.Internal(err)
	}
	return string(plain), nil
}
