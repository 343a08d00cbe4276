// Package order takes orders from storefronts, partners and admins, approves
// them and provisions their services through a durable background job.
package order

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/metadata"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/subscription"
)

// Statuses of an order.
const (
	StatusPending      = "pending"
	StatusApproved     = "approved"
	StatusProvisioning = "provisioning"
	StatusCompleted    = "completed"
	StatusFailed       = "failed"
	StatusCancelled    = "cancelled"
)

// Order is a request for a service.
type Order struct {
	ID                 uuid.UUID `gorm:"primaryKey"`
	ServiceID          uuid.UUID
	CustomerID         uuid.UUID
	PartnerID          *uuid.UUID
	PlanID             uuid.UUID
	Frequency          string
	Quantity           int
	Username           string
	OrderURLToken      *string         `gorm:"column:order_url_token"`
	UnitPrice          decimal.Decimal // what the customer pays per unit and cycle
	SetupFee           decimal.Decimal
	Status             string
	FailureReason      *string
	PlacedBy           string
	StatusTokenHash    []byte
	PasswordRevealedAt *time.Time
	Metadata           metadata.Map // copied to the service when placed
	Version            int64
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// TableName keeps GORM on the migration's table.
func (Order) TableName() string { return "orders" }

// Event is one transition of an order.
type Event struct {
	ID         int64 `gorm:"primaryKey"`
	OrderID    uuid.UUID
	FromStatus *string
	ToStatus   string
	Actor      string
	Reason     *string
	At         time.Time
}

// TableName keeps GORM on the migration's table.
func (Event) TableName() string { return "order_events" }

// Step is a provisioning step done.
type Step struct {
	OrderID uuid.UUID `gorm:"primaryKey"`
	Step    string    `gorm:"primaryKey"`
	Detail  string
	DoneAt  time.Time
}

// TableName keeps GORM on the migration's table.
func (Step) TableName() string { return "order_steps" }

// Enqueuer puts a job in the caller's transaction.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// Sealer encrypts secrets at rest.
type Sealer = subscription.Sealer

// Biller bills a new order, renews one activated late and knows the SP's day.
type Biller interface {
	FirstInvoiceTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error
	RenewDueTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error
	VoidUnpaidOfServiceTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error
	Today() time.Time
}

// Service is the orders' unit of work.
type Service struct {
	db        *gorm.DB
	clk       clock.Clock
	catalog   *catalog.Service
	customers *customer.Service
	subs      *subscription.Service
	pool      *provisioning.Pool
	box       Sealer
	jobs      Enqueuer
	billing   Biller
	hooks     hooks
}

// NewService wires the service; call UseJobs before serving.
func NewService(db *gorm.DB, clk clock.Clock, cat *catalog.Service, customers *customer.Service, subs *subscription.Service,
	pool *provisioning.Pool, box Sealer, billing Biller) *Service {
	return &Service{db: db, clk: clk, catalog: cat, customers: customers, subs: subs, pool: pool, box: box, billing: billing}
}

// UseJobs sets the job queue.
func (s *Service) UseJobs(j Enqueuer) { s.jobs = j }

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// actor names who did something, for the history.
func actor(who *auth.Principal) string {
	if who == nil {
		return "public"
	}
	return string(who.Role) + ":" + who.Scope()
}

// scoped limits a query on orders to the caller's.
func scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("orders.partner_id = ?", *who.PartnerID)
	case who.Role == auth.RoleCustomer && who.CustomerID != nil:
		return q.Where("orders.customer_id = ?", *who.CustomerID)
	default:
		return q.Where("false")
	}
}

func take(q *gorm.DB, id uuid.UUID, lock bool) (Order, error) {
	return page.Take[Order](q, "orders", id, "order", lock)
}

// Detail is an order with its history and steps, and, once, its password.
type Detail struct {
	Order
	Events   []Event
	Steps    []Step
	Password string // set only on the orderer's first read of a completed order
	Login    *Login // set on a completed order whose service has a portal
}

// Login tells the buyer where and as whom to sign in to a completed order's
// service: the vendor portal (the plan's datacenter) and the login.
type Login struct {
	PortalURL    string
	Username     string
	Instructions string
}

func newLogin(portal, username string, passwordHere bool) *Login {
	text := fmt.Sprintf("Sign in at %s as %s with the password shown on the first read of this order. If it is lost, the service's credentials can be reset.", portal, username)
	if passwordHere {
		text = fmt.Sprintf("Sign in at %s as %s with the password in this answer. It is shown only once; keep it safe.", portal, username)
	}
	return &Login{PortalURL: portal, Username: username, Instructions: text}
}

// Get reads an order the caller may see. The orderer's first read of a
// completed order carries the service's password, which is then forgotten.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Detail, error) {
	o, err := take(scoped(s.db.WithContext(ctx), who), id, false)
	if err != nil {
		return Detail{}, err
	}
	return s.detail(ctx, o, who.Scope() == o.PlacedBy)
}

// GetByToken reads an order placed anonymously, with the status token its
// placing returned. A wrong token is 404, as for an unknown order.
func (s *Service) GetByToken(ctx context.Context, id uuid.UUID, token string) (Detail, error) {
	o, err := take(s.db.WithContext(ctx), id, false)
	if err != nil {
		return Detail{}, err
	}
	sum := sha256.Sum256([]byte(token))
	if o.StatusTokenHash == nil || subtle.ConstantTimeCompare(sum[:], o.StatusTokenHash) != 1 {
		return Detail{}, errs.NotFound("order")
	}
	return s.detail(ctx, o, true)
}

// DetailTx is an order as a third party reads it (never its password),
// read in tx.
func (s *Service) DetailTx(ctx context.Context, tx *gorm.DB, o Order) (Detail, error) {
	return s.detailIn(ctx, tx, o, false)
}

func (s *Service) detail(ctx context.Context, o Order, orderer bool) (Detail, error) {
	return s.detailIn(ctx, s.db, o, orderer)
}

func (s *Service) detailIn(ctx context.Context, db *gorm.DB, o Order, orderer bool) (Detail, error) {
	d := Detail{Order: o}
	db = db.WithContext(ctx)
	if err := db.Where("order_id = ?", o.ID).Order("id").Find(&d.Events).Error; err != nil {
		return Detail{}, errs.Internal(err)
	}
	if err := db.Where("order_id = ?", o.ID).Order("done_at, step").Find(&d.Steps).Error; err != nil {
		return Detail{}, errs.Internal(err)
	}
	if orderer && o.Status == StatusCompleted && o.PasswordRevealedAt == nil {
		pw, err := s.reveal(ctx, o)
		if err != nil {
			return Detail{}, err
		}
		d.Password = pw
	}
	if o.Status == StatusCompleted {
		var sub subscription.Subscription
		if err := db.Select("username", "portal_url").Take(&sub, "id = ?", o.ServiceID).Error; err != nil {
			return Detail{}, errs.Internal(err)
		}
		if sub.PortalURL != "" {
			d.Login = newLogin(sub.PortalURL, sub.Username, d.Password != "")
		}
	}
	return d, nil
}

// reveal hands out the sealed password once: the read that clears it wins.
func (s *Service) reveal(ctx context.Context, o Order) (string, error) {
	var pw string
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var sub subscription.Subscription
		if err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Take(&sub, "id = ?", o.ServiceID).Error; err != nil {
			return errs.Internal(err)
		}
		r := tx.Model(&Order{}).Where("id = ? AND password_revealed_at IS NULL", o.ID).UpdateColumn("password_revealed_at", s.now())
		if r.Error != nil {
			return errs.Internal(r.Error)
		}
		if r.RowsAffected == 0 || sub.PasswordEnc == nil {
			return nil
		}
		plain, err := s.box.Open(sub.PasswordEnc, subscription.PasswordContext(sub.ID))
		if err != nil {
			return errs.Internal(err)
		}
		pw = string(plain)
		return tx.Model(&sub).UpdateColumn("password_enc", nil).Error
	})
	return pw, err
}

// Filter narrows a list.
type Filter struct {
	Status     *string
	CustomerID *uuid.UUID
	Metadata   map[string]string // every pair must match
}

// List pages through the orders the caller may see.
func (s *Service) List(ctx context.Context, who auth.Principal, f Filter, r page.Request) ([]Order, string, error) {
	q := scoped(s.db.WithContext(ctx).Model(&Order{}), who)
	if f.Status != nil {
		q = q.Where("orders.status = ?", *f.Status)
	}
	if f.CustomerID != nil {
		q = q.Where("orders.customer_id = ?", *f.CustomerID)
	}
	if err := metadata.Check("metadata", f.Metadata); err != nil {
		return nil, "", err
	}
	q = metadata.Where(q, "orders", f.Metadata)
	return page.Find(q, "orders", r, func(o Order) page.Key { return page.Key{CreatedAt: o.CreatedAt, ID: o.ID} })
}

// transition moves an order, recording who and why.
func (s *Service) transition(tx *gorm.DB, o *Order, to, who string, reason *string) error {
	from := o.Status
	o.Status = to
	o.Version++
	o.UpdatedAt = s.now()
	updates := map[string]any{"status": to, "version": o.Version, "updated_at": o.UpdatedAt}
	if to == StatusFailed {
		o.FailureReason = reason
		updates["failure_reason"] = reason
	}
	if err := tx.Model(&Order{}).Where("id = ?", o.ID).Updates(updates).Error; err != nil {
		return errs.Internal(err)
	}
	ev := Event{OrderID: o.ID, FromStatus: &from, ToStatus: to, Actor: who, Reason: reason, At: o.UpdatedAt}
	if err := tx.Create(&ev).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// approveTx approves a pending (or failed, to retry) order and queues its
// provisioning in the same transaction.
func (s *Service) approveTx(ctx context.Context, tx *gorm.DB, o *Order, who string, reason *string) error {
	if err := s.transition(tx, o, StatusApproved, who, reason); err != nil {
		return err
	}
	if s.jobs == nil {
		return errs.Internal(errors.New("order: no job queue"))
	}
	if err := s.jobs.InsertTx(ctx, tx, ProvisionArgs{OrderID: o.ID}, nil); err != nil {
		return errs.Internal(err)
	}
	return nil
}

// act locks an order the caller may see and runs change on it.
func (s *Service) act(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64, change func(tx *gorm.DB, o *Order) error) (Detail, error) {
	var o Order
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if o, err = take(scoped(tx, who), id, true); err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != o.Version {
			return errs.VersionMismatch()
		}
		return change(tx, &o)
	})
	if err != nil {
		return Detail{}, err
	}
	return s.detail(ctx, o, false)
}

// Approve approves a pending order (admins).
func (s *Service) Approve(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Detail, error) {
	return s.act(ctx, who, id, ifVersion, func(tx *gorm.DB, o *Order) error {
		if o.Status != StatusPending {
			return errs.Conflict("order_not_pending", "Only a pending order can be approved; this one is "+o.Status+".")
		}
		return s.approveTx(ctx, tx, o, actor(&who), nil)
	})
}

// Retry runs a failed order's provisioning again (admins); it resumes
// where the failed run stopped.
func (s *Service) Retry(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Detail, error) {
	return s.act(ctx, who, id, ifVersion, func(tx *gorm.DB, o *Order) error {
		if o.Status != StatusFailed {
			return errs.Conflict("order_not_failed", "Only a failed order can be retried; this one is "+o.Status+".")
		}
		reason := "retry"
		return s.approveTx(ctx, tx, o, actor(&who), &reason)
	})
}

// Cancel cancels a pending order and its service (the orderer's scope).
func (s *Service) Cancel(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Detail, error) {
	return s.act(ctx, who, id, ifVersion, func(tx *gorm.DB, o *Order) error {
		if o.Status != StatusPending {
			return errs.Conflict("order_not_pending", "Only a pending order can be cancelled; this one is "+o.Status+".")
		}
		// Its first invoices go with it, unless money was received.
		var paid int64
		if err := tx.Raw(`SELECT count(*) FROM invoices WHERE amount_paid > 0
			AND id IN (SELECT invoice_id FROM billed_periods WHERE service_id = ?)`, o.ServiceID).Scan(&paid).Error; err != nil {
			return errs.Internal(err)
		}
		if paid > 0 {
			return errs.Conflict("order_has_payments", "Payments were received for this order; refund them and void its invoices first.")
		}
		if err := s.billing.VoidUnpaidOfServiceTx(ctx, tx, o.ServiceID); err != nil {
			return err
		}
		if err := tx.Model(&subscription.Subscription{}).Where("id = ?", o.ServiceID).Updates(map[string]any{
			"status": subscription.StatusCancelled, "password_enc": nil, "version": gorm.Expr("version + 1"), "updated_at": s.now(),
		}).Error; err != nil {
			return errs.Internal(err)
		}
		return s.transition(tx, o, StatusCancelled, actor(&who), nil)
	})
}

// ApproveOnPayment is the billing hook for a paid invoice: paying the first
// invoice of a prepaid order approves it when its plan approves
// automatically.
func (s *Service) ApproveOnPayment(ctx context.Context, tx *gorm.DB, inv billing.Invoice, services []uuid.UUID) error {
	if inv.Kind != billing.InvoicePrepaid || inv.CustomerID == nil {
		return nil
	}
	for _, sid := range services {
		var o Order
		err := tx.WithContext(ctx).Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).
			Where("service_id = ? AND status = ?", sid, StatusPending).Take(&o).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			continue
		}
		if err != nil {
			return errs.Internal(err)
		}
		var auto bool
		if err := tx.Table("plans").Where("id = ?", o.PlanID).Pluck("auto_approve", &auto).Error; err != nil {
			return errs.Internal(err)
		}
		if !auto {
			continue
		}
		reason := "first invoice paid"
		if err := s.approveTx(ctx, tx, &o, "system", &reason); err != nil {
			return err
		}
	}
	return nil
}
