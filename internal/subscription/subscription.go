// Package subscription manages services: what a completed order gave a
// customer (a vendor tenant, its admin user, quotas) and what is done with
// it afterwards: single sign-on, credentials, quantity and plan changes,
// suspension, termination and the end of free trials.
//
// Entities: Subscription (a row of services) and Operation (a row of
// service_operations), the vendor side of one change.
//
// Invariants:
//   - Every change with a vendor side changes the platform and records its
//     Operation and River job in one transaction: the platform never shows
//     an old state the vendor has left, and no vendor change is forgotten.
//   - An Operation's steps read the vendor's state first and are safe to
//     repeat; the job retries with backoff until the vendor agrees, or ends
//     the operation failed with a readable last_error and the class of its
//     failure (failed operations are how a divergence shows).
//   - A failed Operation runs again, by the periodic sweep when its failure
//     was transient (once per sweep period) or on request, only while no
//     newer operation of its service sets what it sets and the platform
//     still holds what it brings the vendor to.
//   - Operations of one service run one at a time, in the order recorded.
//   - A reset's password is kept only sealed, and shown once: in the
//     answer, or in the requester's first read of the succeeded operation.
//   - A terminated service never changes again; an expired trial changes
//     only by a move to a paid plan (or termination).
package subscription

import (
	"context"
	"crypto/rand"
	"math/big"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/memo"
	"github.com/acronis-platform/platform/internal/metadata"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Statuses of a service: pending -> active <-> suspended; a free trial
// active at its end -> expired (-> active when moved to a paid plan);
// active, suspended or expired -> terminated (final); pending -> cancelled.
const (
	StatusPending    = "pending"
	StatusActive     = "active"
	StatusSuspended  = "suspended"
	StatusExpired    = "expired"
	StatusTerminated = "terminated"
	StatusCancelled  = "cancelled"
)

// TrialDays is how long a free trial runs.
const TrialDays = 30

// Subscription is a service (the table is services).
type Subscription struct {
	ID             uuid.UUID `gorm:"primaryKey"`
	CustomerID     uuid.UUID
	PartnerID      *uuid.UUID
	PlanID         uuid.UUID
	Frequency      string
	Quantity       int
	Username       string
	Status         string
	FreeTrial      bool
	TrialEndsAt    *time.Time
	VendorTenantID *string
	VendorUserID   *string
	PortalURL      string
	PasswordEnc    []byte
	UnitPrice      decimal.Decimal
	SetupFee       decimal.Decimal
	UnitCost       *decimal.Decimal
	SetupFeeCost   *decimal.Decimal
	NextDueDate    *time.Time `gorm:"type:date"`
	StartDate      *time.Time `gorm:"type:date"`
	AnchorDay      *int
	EndDate        *time.Time `gorm:"type:date"`
	StorageItem    *string
	ActivatedAt    *time.Time
	SuspendedAt    *time.Time
	// SuspensionReason says why a suspended service is: ReasonManual,
	// ReasonOverdue or ReasonCreditLimit (nil when not suspended).
	SuspensionReason *string
	TerminatedAt     *time.Time
	ExpiredAt        *time.Time
	Metadata         metadata.Map // copied from the order when placed
	Version          int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName keeps GORM on the migration's table.
func (Subscription) TableName() string { return "services" }

// Sealer encrypts secrets at rest.
type Sealer interface {
	Seal(plain, context []byte) ([]byte, error)
	Open(sealed, context []byte) ([]byte, error)
}

// PasswordContext binds a sealed password to its service.
func PasswordContext(id uuid.UUID) []byte { return []byte("service-password:" + id.String()) }

// Service is the services' unit of work.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	catalog *catalog.Service
	pool    *provisioning.Pool
	today   func() time.Time // the SP's day, for end dates

	jobs       Enqueuer      // queues service operations in their transaction
	box        Sealer        // seals operation passwords
	wait       time.Duration // how long a change waits for its operation
	opAttempts int           // tries of an operation before it fails
	opBackoff  time.Duration // longest wait between two tries

	hooks hooks // told of changes in their transaction (hooks.go)
}

// OpConfig shapes service operations: how long a change waits for its
// operation before it answers with it pending, how many tries an
// operation gets and the longest wait between two (0 for the defaults).
type OpConfig struct {
	Wait       time.Duration
	Attempts   int
	MaxBackoff time.Duration
}

// UseOperations lets the service record vendor work as operations: jobs
// queues them, box seals their passwords, cfg times them.
func (s *Service) UseOperations(jobs Enqueuer, box Sealer, cfg OpConfig) {
	s.jobs, s.box, s.wait = jobs, box, cfg.Wait
	if cfg.Attempts > 0 {
		s.opAttempts = cfg.Attempts
	}
	if cfg.MaxBackoff > 0 {
		s.opBackoff = cfg.MaxBackoff
	}
}

// NewService wires the service; today is the SP's current day.
func NewService(db *gorm.DB, clk clock.Clock, cat *catalog.Service, pool *provisioning.Pool, today func() time.Time) *Service {
	return &Service{db: db, clk: clk, catalog: cat, pool: pool, today: today, opAttempts: OpMaxAttempts, opBackoff: OpMaxBackoff}
}

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Scoped limits a query on services to the caller's: all for an admin, its
// customers' for a partner, its own for a customer.
func Scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("services.partner_id = ?", *who.PartnerID)
	case who.Role == auth.RoleCustomer && who.CustomerID != nil:
		return q.Where("services.customer_id = ?", *who.CustomerID)
	default:
		return q.Where("false")
	}
}

// Get reads a service the caller may see.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Subscription, error) {
	return take(Scoped(s.db.WithContext(ctx), who), id, false)
}

func take(q *gorm.DB, id uuid.UUID, lock bool) (Subscription, error) {
	return page.Take[Subscription](q, "services", id, "service", lock)
}

// Filter narrows a list.
type Filter struct {
	Status     *string
	CustomerID *uuid.UUID
	PlanID     *uuid.UUID
	Metadata   map[string]string // every pair must match
}

// List pages through the services the caller may see.
func (s *Service) List(ctx context.Context, who auth.Principal, f Filter, r page.Request) ([]Subscription, string, error) {
	q := Scoped(s.db.WithContext(ctx).Model(&Subscription{}), who)
	if f.Status != nil {
		q = q.Where("services.status = ?", *f.Status)
	}
	if f.CustomerID != nil {
		q = q.Where("services.customer_id = ?", *f.CustomerID)
	}
	if f.PlanID != nil {
		q = q.Where("services.plan_id = ?", *f.PlanID)
	}
	if err := metadata.Check("metadata", f.Metadata); err != nil {
		return nil, "", err
	}
	q = metadata.Where(q, "services", f.Metadata)
	return page.Find(q, "services", r, func(v Subscription) page.Key { return page.Key{CreatedAt: v.CreatedAt, ID: v.ID} })
}

// Quotas are what a service may use: the plan's per-unit quotas times the
// quantity; nil is unlimited.
type Quotas struct {
	StorageGB, OverageGB *int64
	Unlimited            bool // the storage quota is unlimited
	Items                map[string]int64
}

// QuotasOf scales a plan's module settings by quantity (-1 stays unlimited).
func QuotasOf(m catalog.ModuleSettings, quantity int) Quotas {
	q := Quotas{Items: map[string]int64{}}
	scale := func(v *int) *int64 {
		if v == nil {
			return nil
		}
		n := int64(*v)
		if n >= 0 {
			n *= int64(quantity)
		}
		return &n
	}
	q.StorageGB, q.OverageGB = scale(m.StorageQuotaGB), scale(m.OverageQuotaGB)
	q.Unlimited = q.StorageGB != nil && *q.StorageGB == -1
	g := m.Items()
	for _, group := range []map[string]int64{g.Common, g.Independent} {
		for n, v := range group {
			if v >= 0 {
				v *= int64(quantity)
			}
			q.Items[n] = v
		}
	}
	return q
}

// VendorQuotas is Quotas as the provisioning module takes them.
func (q Quotas) VendorQuotas() (map[string]provisioning.Quota, *provisioning.Quota) {
	items := map[string]provisioning.Quota{}
	for n, v := range q.Items {
		items[n] = provisioning.Quota{Value: unlimitedNil(v)}
	}
	if q.StorageGB == nil {
		return items, nil
	}
	st := &provisioning.Quota{Value: bytesOf(*q.StorageGB)}
	if q.OverageGB != nil {
		st.Overage = bytesOf(*q.OverageGB)
	}
	return items, st
}

func unlimitedNil(v int64) *int64 {
	if v < 0 {
		return nil
	}
	return &v
}

func bytesOf(gb int64) *int64 {
	if gb < 0 {
		return nil
	}
	b := gb << 30
	return &b
}

// Quotas reads a service's current quotas.
func (s *Service) Quotas(ctx context.Context, v Subscription) (Quotas, error) {
	all, err := s.QuotasOfAll(ctx, []Subscription{v})
	return all[v.ID], err
}

// QuotasOfAll reads the quotas of several services with one query.
func (s *Service) QuotasOfAll(ctx context.Context, vs []Subscription) (map[uuid.UUID]Quotas, error) {
	return quotasIn(ctx, s.db, vs)
}

// QuotasTx reads a service's current quotas in tx.
func (s *Service) QuotasTx(ctx context.Context, tx *gorm.DB, v Subscription) (Quotas, error) {
	all, err := quotasIn(ctx, tx, []Subscription{v})
	return all[v.ID], err
}

func quotasIn(ctx context.Context, db *gorm.DB, vs []Subscription) (map[uuid.UUID]Quotas, error) {
	plans := map[uuid.UUID]bool{}
	ids := []uuid.UUID{}
	for _, v := range vs {
		if !plans[v.PlanID] {
			plans[v.PlanID] = true
			ids = append(ids, v.PlanID)
		}
	}
	out := make(map[uuid.UUID]Quotas, len(vs))
	if len(ids) == 0 {
		return out, nil
	}
	load := func() ([]catalog.ModuleSettings, error) {
		var ms []catalog.ModuleSettings
		if err := db.WithContext(ctx).Where("plan_id IN ?", ids).Find(&ms).Error; err != nil {
			return nil, errs.Internal(err)
		}
		return ms, nil
	}
	var ms []catalog.ModuleSettings
	var err error
	if len(ids) == 1 {
		// A service's own quotas (its events show them): once per plan in
		// a run that caches (memo).
		ms, err = memo.Get(ctx, quotaKey{ids[0]}, load)
	} else {
		ms, err = load()
	}
	if err != nil {
		return nil, err
	}
	byPlan := make(map[uuid.UUID]catalog.ModuleSettings, len(ms))
	for _, m := range ms {
		byPlan[m.PlanID] = m
	}
	for _, v := range vs {
		if m, ok := byPlan[v.PlanID]; ok {
			out[v.ID] = QuotasOf(m, v.Quantity)
		} else {
			out[v.ID] = Quotas{Items: map[string]int64{}}
		}
	}
	return out, nil
}

// module is the vendor module of a service's plan; nil for plans
// provisioned by no module.
func (s *Service) module(ctx context.Context, planID uuid.UUID) (provisioning.Module, error) {
	// A dunning run asks this for each service it changes: once per plan
	// and run is enough (memo).
	return memo.Get(ctx, moduleKey{planID}, func() (provisioning.Module, error) { return s.loadModule(ctx, planID) })
}

// Keys of what a run caches (memo).
type (
	moduleKey struct{ plan uuid.UUID }
	quotaKey  struct{ plan uuid.UUID }
)

func (s *Service) loadModule(ctx context.Context, planID uuid.UUID) (provisioning.Module, error) {
	_, cred, err := s.catalog.Credentials(ctx, planID)
	if errs.CodeOf(err) == "module_settings_not_set" {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m, err := s.pool.Module(cred)
	if err != nil {
		return nil, errs.Internal(err)
	}
	return m, nil
}

// vendorErr answers a failed vendor call: nothing changed on the platform.
func vendorErr(err error) error {
	if e := errs.As(err); e != nil && e.Kind != errs.KindInternal {
		return err
	}
	e := errs.E(errs.KindBadGateway, "vendor_unreachable", "The vendor could not be reached or refused the change; nothing was changed.")
	e.Err = err
	return e
}

const passwordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// NewPassword is 20 random characters with at least one lower, upper and digit.
func NewPassword() (string, error) {
	for {
		b := make([]byte, 20)
		for i := range b {
			n, err := rand.Int(rand.Reader, big.NewInt(int64(len(passwordAlphabet))))
			if err != nil {
				return "", err
			}
			b[i] = passwordAlphabet[n.Int64()]
		}
		if CheckPassword(string(b)) == nil {
			return string(b), nil
		}
	}
}

// CheckPassword enforces the vendor password rules the platform applies:
// 10 to 128 characters with a lower-case letter, an upper-case letter and a digit.
func CheckPassword(pw string) error {
	var lower, upper, digit bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		}
	}
	if n := len([]rune(pw)); n < 10 || n > 128 || !lower || !upper || !digit {
		return errs.Unprocessable("password_too_weak", "A password has 10 to 128 characters with a lower-case letter, an upper-case letter and a digit.").WithField("password")
	}
	return nil
}

// UsernameFree checks a vendor login on the platform (any live service) and
// at the vendor.
func (s *Service) UsernameFree(ctx context.Context, m provisioning.Module, login string) (bool, error) {
	var n int64
	err := s.db.WithContext(ctx).Model(&Subscription{}).
		Where("lower(username) = lower(?) AND status NOT IN ?", strings.TrimSpace(login), []string{StatusTerminated, StatusCancelled}).Count(&n).Error
	if err != nil {
		return false, errs.Internal(err)
	}
	if n > 0 {
		return false, nil
	}
	if m == nil {
		return true, nil
	}
	free, err := m.CheckUsername(ctx, login)
	if err != nil {
		return false, vendorErr(err)
	}
	return free, nil
}
