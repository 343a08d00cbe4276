package subscription

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Adjuster bills a quantity change in the changing transaction.
type Adjuster interface {
	AdjustQuantityTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, old int) ([]billing.Invoice, []billing.Credit, error)
}

// Changed is a service after a quantity, term or plan change, with what
// was billed and, when the vendor had work to do, its operation (Pending
// when the vendor had not confirmed it within the wait).
type Changed struct {
	Service  Subscription
	Invoices []billing.Invoice
	Credits  []billing.Credit
	Op       *Operation
	Pending  bool
}

func (c *Changed) take(o Outcome) { c.Service, c.Op, c.Pending = o.Service, o.Op, o.Pending }

// ChangeQuantity sets a new quantity: the platform records it and bills
// the rest of a prepaid period (a raise invoiced, a cut credited; post-paid
// months are billed per stretch at each quantity) in one transaction with
// the operation that sets the per-unit quotas times it (-1 stays
// unlimited) at the vendor.
func (s *Service) ChangeQuantity(ctx context.Context, who auth.Principal, id uuid.UUID, quantity int, ifVersion *int64, bill Adjuster) (Changed, error) {
	var out Changed
	check := func(v Subscription) error {
		if err := liveProvisioned(v); err != nil {
			return err
		}
		var enabled bool
		if err := s.db.WithContext(ctx).Table("plan_pricing").Where("plan_id = ?", v.PlanID).Pluck("enable_quantity", &enabled).Error; err != nil {
			return errs.Internal(err)
		}
		if !enabled {
			return errs.Unprocessable("quantity_not_enabled", "This plan is sold without a quantity.").WithField("quantity")
		}
		if quantity == v.Quantity {
			return errs.Unprocessable("quantity_unchanged", "The service has this quantity already.").WithField("quantity")
		}
		// Every period is billed at price times quantity (post-paid ones
		// later, by a run), so the product must be storable now.
		if !money.Fits(v.UnitPrice.Mul(decimal.NewFromInt(int64(quantity)))) {
			return money.TooLarge("quantity")
		}
		return nil
	}
	o, err := s.act(ctx, who, id, ifVersion, check, func(tx *gorm.DB, v *Subscription) (*intent, error) {
		old := v.Quantity
		v.Quantity = quantity
		if err := tx.Model(&Subscription{}).Where("id = ?", id).Update("quantity", quantity).Error; err != nil {
			return nil, errs.Internal(err)
		}
		if bill != nil {
			var err error
			if out.Invoices, out.Credits, err = bill.AdjustQuantityTx(ctx, tx, id, old); err != nil {
				return nil, money.TooLargeAs(err, "quantity")
			}
		}
		return &intent{kind: OpQuantity, params: OpParams{Quantity: &quantity}, hook: hookQuantity}, nil
	})
	if err != nil {
		return Changed{}, err
	}
	out.take(o)
	return out, nil
}

// itemsErr names items the tenant lacks as the 422 it is.
func itemsErr(err error) error {
	if na, ok := err.(*provisioning.ItemsNotAvailableError); ok {
		return errs.Unprocessable("offering_items_not_available", na.Error())
	}
	return err
}

// Termer bills a term change in the changing transaction.
type Termer interface {
	ChangeTermTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, frequency string) ([]billing.Invoice, []billing.Credit, error)
}

// ChangeTerm moves a prepaid service to a longer billing cycle from today;
// the vendor account does not change.
func (s *Service) ChangeTerm(ctx context.Context, who auth.Principal, id uuid.UUID, frequency string, ifVersion *int64, bill Termer) (Changed, error) {
	var out Changed
	o, err := s.act(ctx, who, id, ifVersion, mustBeProvisioned, func(tx *gorm.DB, _ *Subscription) (*intent, error) {
		var err error
		out.Invoices, out.Credits, err = bill.ChangeTermTx(ctx, tx, id, frequency)
		return nil, money.TooLargeAs(err, "frequency") // nothing for the vendor to do
	})
	if err != nil {
		return Changed{}, err
	}
	out.take(o)
	return out, nil
}

// Planner bills a plan change in the changing transaction: a paid
// service's rest of period (ChangePlanTx), or a free trial's first paid
// period from today (StartPaidTx).
type Planner interface {
	ChangePlanTx(ctx context.Context, tx *gorm.DB, serviceID, planID uuid.UUID) ([]billing.Invoice, []billing.Credit, error)
	StartPaidTx(ctx context.Context, tx *gorm.DB, serviceID, planID uuid.UUID) ([]billing.Invoice, error)
}

// ChangePlan moves a service to another active plan on the same vendor
// account and edition. A paid prepaid service is billed the rest of its
// period at the new price less the old; a free trial, running or expired,
// becomes a paid service from today (its first period billed as a first
// order is) and is active again. The platform side and its billing are
// one transaction with the operation that sets the new plan's quotas times
// the quantity at the vendor (and, for a trial, production mode, the
// tenant enabled).
func (s *Service) ChangePlan(ctx context.Context, who auth.Principal, id, planID uuid.UUID, ifVersion *int64, bill Planner) (Changed, error) {
	v, err := s.Get(ctx, who, id)
	if err != nil {
		return Changed{}, err
	}
	if ifVersion != nil && *ifVersion != v.Version {
		return Changed{}, errs.VersionMismatch()
	}
	if err := mustBeProvisioned(v); err != nil {
		return Changed{}, err
	}
	if planID == v.PlanID {
		return Changed{}, errs.Unprocessable("plan_unchanged", "The service is on this plan already.").WithField("plan_id")
	}
	p, err := s.catalog.GetPlan(ctx, system, planID)
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound {
			return Changed{}, errs.Unprocessable("plan_not_found", "No plan has this id.").WithField("plan_id")
		}
		return Changed{}, err
	}
	if p.Status != catalog.PlanActive {
		return Changed{}, errs.Unprocessable("plan_not_active", "This plan takes no orders ("+p.Status+").").WithField("plan_id")
	}
	if v.PartnerID != nil && !p.PartnerVisible {
		return Changed{}, errs.Forbidden("plan_not_available_to_partner", "Partners cannot sell this plan.")
	}
	oldSet, _, err := s.settings(ctx, v.PlanID)
	if err != nil {
		return Changed{}, err
	}
	newSet, _, err := s.settings(ctx, planID)
	if err != nil {
		return Changed{}, err
	}
	if (oldSet == nil) != (newSet == nil) || (oldSet != nil && (oldSet.DatacenterURL != newSet.DatacenterURL ||
		oldSet.ClientID != newSet.ClientID || oldSet.Edition != newSet.Edition)) {
		return Changed{}, errs.Unprocessable("plan_not_compatible", "The new plan must use the same vendor account and edition.").WithField("plan_id")
	}
	if newSet != nil && newSet.FreeTrial && v.FreeTrial {
		return Changed{}, errs.Unprocessable("plan_not_paid", "A free trial moves to a paid plan.").WithField("plan_id")
	}
	var out Changed
	check := func(cur Subscription) error {
		if err := mustBeProvisioned(cur); err != nil {
			return err
		}
		if cur.PlanID != v.PlanID {
			return errs.VersionMismatch()
		}
		return nil
	}
	o, err := s.act(ctx, who, id, ifVersion, check, func(tx *gorm.DB, cur *Subscription) (*intent, error) {
		in := intent{kind: OpPlanChange, params: OpParams{PlanID: &planID, Quantity: &cur.Quantity}, hook: hookPlan}
		var err error
		if !cur.FreeTrial {
			out.Invoices, out.Credits, err = bill.ChangePlanTx(ctx, tx, id, planID)
			return &in, money.TooLargeAs(err, "plan_id")
		}
		if out.Invoices, err = bill.StartPaidTx(ctx, tx, id, planID); err != nil {
			return nil, money.TooLargeAs(err, "plan_id")
		}
		in.params.Production = true
		if cur.Status == StatusExpired {
			in.params.Enable = true
			if err := tx.Model(&Subscription{}).Where("id = ?", id).Updates(map[string]any{"status": StatusActive}).Error; err != nil {
				return nil, errs.Internal(err)
			}
		}
		return &in, nil
	})
	if err != nil {
		return Changed{}, err
	}
	out.take(o)
	return out, nil
}

// settings are a plan's module settings and module; nil for a plan
// provisioned by no module.
func (s *Service) settings(ctx context.Context, planID uuid.UUID) (*catalog.ModuleSettings, provisioning.Module, error) {
	m, cred, err := s.catalog.Credentials(ctx, planID)
	if errs.CodeOf(err) == "module_settings_not_set" {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	mod, err := s.pool.Module(cred)
	if err != nil {
		return nil, nil, errs.Internal(err)
	}
	return &m, mod, nil
}
