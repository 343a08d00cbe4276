// Package partner manages tier-2 resellers: their records, their vendor
// accounts (made by a background job) and what they pay and charge per plan.
package partner

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/user"
)

// Statuses of a partner's vendor account.
const (
	StatusProvisioning = "provisioning"
	StatusActive       = "active"
	StatusFailed       = "failed"
)

// Partner is a reseller.
type Partner struct {
	ID             uuid.UUID `gorm:"primaryKey"`
	Name           string
	Email          string
	VendorLogin    string
	Status         string
	VendorTenantID *string
	VendorUserID   *string
	VendorError    *string
	AdminUserID    *uuid.UUID
	// CreditLimit bounds what the partner may owe the SP unpaid (nil: no
	// limit); CreditLimitExceededAt is when it last went above it.
	CreditLimit           *decimal.Decimal
	CreditLimitExceededAt *time.Time
	Version               int64
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// TableName keeps GORM on the migration's table.
func (Partner) TableName() string { return "partners" }

// Enqueuer puts a job in the caller's transaction.
type Enqueuer interface {
	InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error
}

// Service is the partners' unit of work.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	users   *user.Service
	catalog *catalog.Service
	vendor  provisioning.Module // nil when no vendor is configured
	jobs    Enqueuer
	base    string // the SP base currency
	hooks   hooks  // told of vendor account states (hooks.go)
}

// NewService wires the service; call UseJobs before serving.
func NewService(db *gorm.DB, clk clock.Clock, users *user.Service, cat *catalog.Service, vendor provisioning.Module, baseCurrency string) *Service {
	return &Service{db: db, clk: clk, users: users, catalog: cat, vendor: vendor, base: baseCurrency}
}

// UseJobs sets the job queue (it is built after the service, whose worker
// it runs).
func (s *Service) UseJobs(j Enqueuer) { s.jobs = j }

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Admin is a partner's first user.
type Admin struct{ Name, Email, Password string }

// CreateInput is a new partner.
type CreateInput struct {
	Name, Email, VendorLogin string
	Admin                    Admin
}

func vendorNotConfigured() error {
	return errs.E(errs.KindUnavailable, "vendor_not_configured", "No vendor account is configured (ACRONIS_URL).")
}

// Create stores the partner and its first user and queues the vendor job.
// The vendor login is checked at the vendor first, so a taken one fails now
// rather than in the job.
func (s *Service) Create(ctx context.Context, in CreateInput) (Partner, error) {
	in.Name, in.Email, in.VendorLogin = strings.TrimSpace(in.Name), strings.TrimSpace(in.Email), strings.TrimSpace(in.VendorLogin)
	if in.Name == "" {
		return Partner{}, errs.Invalid("name", "required", "name must not be blank")
	}
	if s.vendor == nil {
		return Partner{}, vendorNotConfigured()
	}
	if err := s.loginFree(ctx, in.VendorLogin, uuid.Nil); err != nil {
		return Partner{}, err
	}
	now := s.now()
	p := Partner{ID: uuid.New(), Name: in.Name, Email: in.Email, VendorLogin: in.VendorLogin,
		Status: StatusProvisioning, Version: 1, CreatedAt: now, UpdatedAt: now}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&p).Error; err != nil {
			return storeErr(err)
		}
		u, err := s.users.CreateTx(ctx, tx, auth.Principal{Role: auth.RoleAdmin}, user.CreateInput{
			Email: in.Admin.Email, Name: in.Admin.Name, Password: in.Admin.Password,
			Role: auth.RolePartner, PartnerID: &p.ID,
		})
		if err != nil {
			return prefixFields(err, "admin.")
		}
		p.AdminUserID = &u.ID
		if err := tx.Model(&p).UpdateColumn("admin_user_id", u.ID).Error; err != nil {
			return errs.Internal(err)
		}
		return s.enqueue(ctx, tx, p.ID)
	})
	return p, err
}

// loginFree checks a vendor login against other partners and the vendor.
func (s *Service) loginFree(ctx context.Context, login string, self uuid.UUID) error {
	taken := errs.Conflict("vendor_login_taken", "This vendor login is taken.").WithField("vendor_login")
	var n int64
	if err := s.db.WithContext(ctx).Model(&Partner{}).Where("lower(vendor_login) = lower(?) AND id <> ?", login, self).Count(&n).Error; err != nil {
		return errs.Internal(err)
	}
	if n > 0 {
		return taken
	}
	free, err := s.vendor.CheckUsername(ctx, login)
	if err != nil {
		return vendorErr(err)
	}
	if !free {
		return taken
	}
	return nil
}

func (s *Service) enqueue(ctx context.Context, tx *gorm.DB, id uuid.UUID) error {
	if s.jobs == nil {
		return errs.Internal(errors.New("partner: no job queue"))
	}
	if err := s.jobs.InsertTx(ctx, tx, ProvisionArgs{PartnerID: id}, nil); err != nil {
		return errs.Internal(err)
	}
	return nil
}

// scoped limits a query to what the caller may see: every partner for an
// admin, itself for a partner.
func scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("partners.id = ?", *who.PartnerID)
	default:
		return q.Where("false")
	}
}

// Get reads a partner the caller may see.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Partner, error) {
	return take(scoped(s.db.WithContext(ctx), who), id, false)
}

func take(q *gorm.DB, id uuid.UUID, lock bool) (Partner, error) {
	return page.Take[Partner](q, "partners", id, "partner", lock)
}

// List pages through the partners the caller may see.
func (s *Service) List(ctx context.Context, who auth.Principal, status *string, r page.Request) ([]Partner, string, error) {
	q := scoped(s.db.WithContext(ctx).Model(&Partner{}), who)
	if status != nil {
		q = q.Where("partners.status = ?", *status)
	}
	return page.Find(q, "partners", r, func(p Partner) page.Key { return page.Key{CreatedAt: p.CreatedAt, ID: p.ID} })
}

// UpdateInput changes a partner; nil is unchanged.
type UpdateInput struct {
	Name, Email, VendorLogin, Status *string
	CreditLimit                      *money.Input
	RemoveCreditLimit                bool
}

// Update changes a partner. Admins change anything; a partner its own name
// and email only (its limit and vendor account are the SP's). A failed
// partner set back to provisioning runs the vendor job again.
func (s *Service) Update(ctx context.Context, who auth.Principal, id uuid.UUID, in UpdateInput, ifVersion *int64) (Partner, error) {
	if !who.IsAdmin() {
		deny := func(field string) error {
			return errs.Forbidden("field_not_allowed", "Your role may not set "+field+".").WithField(field)
		}
		switch {
		case in.CreditLimit != nil:
			return Partner{}, deny("credit_limit")
		case in.RemoveCreditLimit:
			return Partner{}, deny("remove_credit_limit")
		case in.VendorLogin != nil:
			return Partner{}, deny("vendor_login")
		case in.Status != nil:
			return Partner{}, deny("status")
		}
	}
	if in.CreditLimit != nil && in.RemoveCreditLimit {
		return Partner{}, errs.Invalid("remove_credit_limit", "conflict", "give credit_limit or remove_credit_limit, not both")
	}
	var limit *decimal.Decimal
	if in.CreditLimit != nil {
		v, err := money.Parse("credit_limit", in.CreditLimit.Amount, in.CreditLimit.Currency, s.base)
		if err != nil {
			return Partner{}, err
		}
		limit = &v
	}
	var out Partner
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		p, err := take(scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != p.Version {
			return errs.VersionMismatch()
		}
		if in.Name != nil {
			if p.Name = strings.TrimSpace(*in.Name); p.Name == "" {
				return errs.Invalid("name", "required", "name must not be blank")
			}
		}
		if in.Email != nil {
			p.Email = strings.TrimSpace(*in.Email)
		}
		if in.VendorLogin != nil && !strings.EqualFold(*in.VendorLogin, p.VendorLogin) {
			if p.VendorTenantID != nil || p.Status == StatusActive {
				return errs.Unprocessable("vendor_login_fixed", "The vendor account exists; its login can no longer change here.").WithField("vendor_login")
			}
			if s.vendor == nil {
				return vendorNotConfigured()
			}
			if err := s.loginFree(ctx, *in.VendorLogin, p.ID); err != nil {
				return err
			}
			p.VendorLogin = strings.TrimSpace(*in.VendorLogin)
		}
		if in.Status != nil && *in.Status != p.Status {
			if p.Status != StatusFailed || *in.Status != StatusProvisioning {
				return errs.Unprocessable("invalid_status_change", "Only a failed partner can be set back to provisioning (to retry).").WithField("status")
			}
			p.Status, p.VendorError = StatusProvisioning, nil
			if err := s.enqueue(ctx, tx, p.ID); err != nil {
				return err
			}
		}
		switch {
		case in.RemoveCreditLimit:
			p.CreditLimit = nil
		case limit != nil:
			p.CreditLimit = limit
		}
		p.Version++
		p.UpdatedAt = s.now()
		if err := tx.Save(&p).Error; err != nil {
			return storeErr(err)
		}
		out = p
		return nil
	})
	return out, err
}

func storeErr(err error) error {
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return errs.Conflict("partner_taken", "Another partner has this name or vendor login.")
	}
	return errs.Internal(err)
}

// prefixFields names nested fields as the request has them (admin.email).
func prefixFields(err error, prefix string) error {
	e := errs.As(err)
	if e == nil || len(e.Fields) == 0 {
		if e != nil && e.Code == "email_taken" {
			return e.WithField(prefix + "email")
		}
		return err
	}
	for i := range e.Fields {
		e.Fields[i].Field = prefix + e.Fields[i].Field
	}
	return e
}
