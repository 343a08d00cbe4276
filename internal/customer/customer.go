// Package customer manages end customers: the SP's own and each partner's.
package customer

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/metadata"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
)

// Statuses.
const (
	StatusActive = "active"
	StatusClosed = "closed"
)

// Customer buys services, from the SP (PartnerID nil) or from one partner.
type Customer struct {
	ID          uuid.UUID `gorm:"primaryKey"`
	PartnerID   *uuid.UUID
	Name        string
	Email       string
	Phone       string
	Address     string
	Country     string
	Currency    string
	CreditLimit *decimal.Decimal // nil: no limit
	// DunningPausedUntil stops every dunning action for the customer up to
	// and including that day (SP zone).
	DunningPausedUntil *time.Time `gorm:"type:date"`
	// CreditLimitExceededAt is when its unpaid balance last went above
	// the limit; nil while it is within (set and cleared by dunning).
	CreditLimitExceededAt *time.Time
	Status                string
	Metadata              metadata.Map
	Version               int64
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// TableName keeps GORM on the migration's table.
func (Customer) TableName() string { return "customers" }

// Service is the customers' unit of work.
type Service struct {
	db   *gorm.DB
	clk  clock.Clock
	base string
}

// NewService wires the service; base is the SP base currency.
func NewService(db *gorm.DB, clk clock.Clock, baseCurrency string) *Service {
	return &Service{db: db, clk: clk, base: baseCurrency}
}

// Scoped limits a query on customers to the caller's: all for an admin, its
// own for a partner, itself for a customer.
func Scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("customers.partner_id = ?", *who.PartnerID)
	case who.Role == auth.RoleCustomer && who.CustomerID != nil:
		return q.Where("customers.id = ?", *who.CustomerID)
	default:
		return q.Where("false")
	}
}

// CreateInput is a new customer.
type CreateInput struct {
	PartnerID                            *uuid.UUID
	Name, Email, Phone, Address, Country string
	Currency                             *string
	CreditLimit                          *money.Input
	Metadata                             map[string]string
}

// Create adds a customer: an admin's for the SP or a named partner, a
// partner's for itself.
func (s *Service) Create(ctx context.Context, who auth.Principal, in CreateInput) (Customer, error) {
	var c Customer
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		c, err = s.CreateTx(ctx, tx, who, in)
		return err
	})
	return c, err
}

// CreateTx is Create inside the caller's transaction.
func (s *Service) CreateTx(ctx context.Context, tx *gorm.DB, who auth.Principal, in CreateInput) (Customer, error) {
	switch {
	case who.IsAdmin():
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		if in.PartnerID != nil && *in.PartnerID != *who.PartnerID {
			return Customer{}, errs.Forbidden("partner_not_allowed", "Partners create customers only for themselves.").WithField("partner_id")
		}
		in.PartnerID = who.PartnerID
	default:
		return Customer{}, errs.Forbidden("forbidden", "Your role may not create customers.")
	}
	now := s.now()
	c := Customer{ID: uuid.New(), PartnerID: in.PartnerID, Name: strings.TrimSpace(in.Name), Email: strings.TrimSpace(in.Email),
		Phone: strings.TrimSpace(in.Phone), Address: strings.TrimSpace(in.Address), Country: in.Country,
		Currency: s.base, Status: StatusActive, Version: 1, CreatedAt: now, UpdatedAt: now}
	if c.Name == "" {
		return Customer{}, errs.Invalid("name", "required", "name must not be blank")
	}
	if err := metadata.Check("metadata", in.Metadata); err != nil {
		return Customer{}, err
	}
	c.Metadata = metadata.Map(in.Metadata).Clone()
	if in.Currency != nil && *in.Currency != s.base {
		return Customer{}, errs.Unprocessable("currency_not_supported", "Prices are in the base currency "+s.base+"; customers use it too.").WithField("currency")
	}
	if err := s.setCreditLimit(&c, in.CreditLimit); err != nil {
		return Customer{}, err
	}
	tx = tx.WithContext(ctx)
	if c.PartnerID != nil {
		var n int64
		if err := tx.Table("partners").Where("id = ?", *c.PartnerID).Count(&n).Error; err != nil {
			return Customer{}, errs.Internal(err)
		}
		if n == 0 {
			return Customer{}, errs.Unprocessable("partner_not_found", "No partner has this id.").WithField("partner_id")
		}
	}
	// A savepoint, so a taken email leaves the caller's transaction usable.
	if err := tx.SavePoint("customer").Error; err != nil {
		return Customer{}, errs.Internal(err)
	}
	if err := storeErr(tx.Create(&c).Error); err != nil {
		tx.RollbackTo("customer")
		return Customer{}, err
	}
	return c, nil
}

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

func (s *Service) setCreditLimit(c *Customer, in *money.Input) error {
	if in == nil {
		return nil
	}
	v, err := money.Parse("credit_limit", in.Amount, in.Currency, c.Currency)
	if err != nil {
		return err
	}
	c.CreditLimit = &v
	return nil
}

// Get reads a customer the caller may see.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Customer, error) {
	return take(Scoped(s.db.WithContext(ctx), who), id, false)
}

func take(q *gorm.DB, id uuid.UUID, lock bool) (Customer, error) {
	return page.Take[Customer](q, "customers", id, "customer", lock)
}

// Filter narrows a list.
type Filter struct {
	PartnerID *uuid.UUID
	Direct    *bool
	Status    *string
	Email     *string
	Metadata  map[string]string // every pair must match
}

// List pages through the customers the caller may see.
func (s *Service) List(ctx context.Context, who auth.Principal, f Filter, r page.Request) ([]Customer, string, error) {
	q := Scoped(s.db.WithContext(ctx).Model(&Customer{}), who)
	if f.PartnerID != nil {
		q = q.Where("customers.partner_id = ?", *f.PartnerID)
	}
	if f.Direct != nil {
		if *f.Direct {
			q = q.Where("customers.partner_id IS NULL")
		} else {
			q = q.Where("customers.partner_id IS NOT NULL")
		}
	}
	if f.Status != nil {
		q = q.Where("customers.status = ?", *f.Status)
	}
	if f.Email != nil {
		q = q.Where("lower(customers.email) = lower(?)", strings.TrimSpace(*f.Email))
	}
	if err := metadata.Check("metadata", f.Metadata); err != nil {
		return nil, "", err
	}
	q = metadata.Where(q, "customers", f.Metadata)
	return page.Find(q, "customers", r, func(c Customer) page.Key { return page.Key{CreatedAt: c.CreatedAt, ID: c.ID} })
}

// UpdateInput changes a customer; nil is unchanged.
type UpdateInput struct {
	Name, Email, Phone, Address, Country *string
	CreditLimit                          *money.Input
	RemoveCreditLimit                    bool
	// DunningPausedUntil pauses dunning up to and including that day;
	// RemoveDunningPause lifts the pause. Admins and the owning partner.
	DunningPausedUntil *time.Time
	RemoveDunningPause bool
	Status             *string
	Metadata           *map[string]string // replaces the whole map
}

// Update changes a customer. A customer edits its contact details only.
func (s *Service) Update(ctx context.Context, who auth.Principal, id uuid.UUID, in UpdateInput, ifVersion *int64) (Customer, error) {
	if who.Role == auth.RoleCustomer {
		deny := func(field string) error {
			return errs.Forbidden("field_not_allowed", "Your role may not set "+field+".").WithField(field)
		}
		switch {
		case in.CreditLimit != nil || in.RemoveCreditLimit:
			return Customer{}, deny("credit_limit")
		case in.DunningPausedUntil != nil:
			return Customer{}, deny("dunning_paused_until")
		case in.RemoveDunningPause:
			return Customer{}, deny("remove_dunning_pause")
		case in.Status != nil:
			return Customer{}, deny("status")
		case in.Metadata != nil: // the integrator's, not the customer's
			return Customer{}, deny("metadata")
		}
	}
	if in.CreditLimit != nil && in.RemoveCreditLimit {
		return Customer{}, errs.Invalid("remove_credit_limit", "conflict", "give credit_limit or remove_credit_limit, not both")
	}
	if in.DunningPausedUntil != nil && in.RemoveDunningPause {
		return Customer{}, errs.Invalid("remove_dunning_pause", "conflict", "give dunning_paused_until or remove_dunning_pause, not both")
	}
	if in.Metadata != nil {
		if err := metadata.Check("metadata", *in.Metadata); err != nil {
			return Customer{}, err
		}
	}
	var out Customer
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		c, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != c.Version {
			return errs.VersionMismatch()
		}
		set := func(dst *string, v *string) {
			if v != nil {
				*dst = strings.TrimSpace(*v)
			}
		}
		set(&c.Name, in.Name)
		set(&c.Email, in.Email)
		set(&c.Phone, in.Phone)
		set(&c.Address, in.Address)
		set(&c.Country, in.Country)
		if c.Name == "" {
			return errs.Invalid("name", "required", "name must not be blank")
		}
		if in.Status != nil {
			c.Status = *in.Status
		}
		if in.Metadata != nil {
			c.Metadata = metadata.Map(*in.Metadata).Clone()
		}
		if in.RemoveCreditLimit {
			c.CreditLimit = nil
		}
		if err := s.setCreditLimit(&c, in.CreditLimit); err != nil {
			return err
		}
		switch {
		case in.RemoveDunningPause:
			c.DunningPausedUntil = nil
		case in.DunningPausedUntil != nil:
			day := time.Date(in.DunningPausedUntil.Year(), in.DunningPausedUntil.Month(), in.DunningPausedUntil.Day(), 0, 0, 0, 0, time.UTC)
			c.DunningPausedUntil = &day
		}
		c.Version++
		c.UpdatedAt = s.now()
		if err := storeErr(tx.Save(&c).Error); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

func storeErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return errs.Conflict("customer_email_taken", "This seller already has a customer with this email.").WithField("email")
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return errs.Unprocessable("partner_not_found", "No partner has this id.").WithField("partner_id")
	}
	return errs.Internal(err)
}
