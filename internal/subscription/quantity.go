package subscription

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Adjuster bills a quantity change in the changing transaction.
type Adjuster interface {
	AdjustQuantityTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID, old int) ([]billing.Invoice, []billing.Credit, error)
}

// Changed is a service after a quantity change, with what was billed.
type Changed struct {
	Service  Subscription
	Invoices []billing.Invoice
	Credits  []billing.Credit
}

// ChangeQuantity sets a new quantity: the per-unit quotas times it (-1
// stays unlimited) are pushed to the vendor first, then the platform
// records it and bills the rest of a prepaid period (a raise invoiced, a
// cut credited); post-paid months are billed per stretch at each quantity.
func (s *Service) ChangeQuantity(ctx context.Context, who auth.Principal, id uuid.UUID, quantity int, ifVersion *int64, bill Adjuster) (Changed, error) {
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
	var enabled bool
	if err := s.db.WithContext(ctx).Table("plan_pricing").Where("plan_id = ?", v.PlanID).Pluck("enable_quantity", &enabled).Error; err != nil {
		return Changed{}, errs.Internal(err)
	}
	if !enabled {
		return Changed{}, errs.Unprocessable("quantity_not_enabled", "This plan is sold without a quantity.").WithField("quantity")
	}
	if quantity == v.Quantity {
		return Changed{}, errs.Unprocessable("quantity_unchanged", "The service has this quantity already.").WithField("quantity")
	}
	m, err := s.module(ctx, v.PlanID)
	if err != nil {
		return Changed{}, err
	}
	if m != nil && v.VendorTenantID != nil {
		var settings catalog.ModuleSettings
		if err := s.db.WithContext(ctx).Take(&settings, "plan_id = ?", v.PlanID).Error; err != nil {
			return Changed{}, errs.Internal(err)
		}
		items, storage := QuotasOf(settings, quantity).VendorQuotas()
		if storage != nil && v.StorageItem != nil {
			items[*v.StorageItem] = *storage
		}
		if err := m.ChangeQuotas(ctx, *v.VendorTenantID, items); err != nil {
			return Changed{}, vendorErr(itemsErr(err))
		}
	}
	var out Changed
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		if err := notTerminated(cur); err != nil {
			return err
		}
		old := cur.Quantity
		cur.Quantity, cur.Version, cur.UpdatedAt = quantity, cur.Version+1, s.now()
		if err := tx.Save(&cur).Error; err != nil {
			return errs.Internal(err)
		}
		out.Service = cur
		if bill != nil {
			out.Invoices, out.Credits, err = bill.AdjustQuantityTx(ctx, tx, id, old)
		}
		return err
	})
	return out, err
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
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		if err := mustBeProvisioned(cur); err != nil {
			return err
		}
		if out.Invoices, out.Credits, err = bill.ChangeTermTx(ctx, tx, id, frequency); err != nil {
			return err
		}
		if err := tx.Model(&Subscription{}).Where("id = ?", id).Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error; err != nil {
			return errs.Internal(err)
		}
		out.Service, err = take(tx, id, false)
		return err
	})
	return out, err
}

// Planner bills a plan change in the changing transaction.
type Planner interface {
	ChangePlanTx(ctx context.Context, tx *gorm.DB, serviceID, planID uuid.UUID) ([]billing.Invoice, []billing.Credit, error)
}

// ChangePlan moves a prepaid service to another active plan on the same
// vendor account and edition: the new plan's quotas times the quantity go
// to the vendor first, then the rest of the period is billed at the new
// price less the old.
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
	oldSet, oldMod, err := s.settings(ctx, v.PlanID)
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
	if oldMod != nil && v.VendorTenantID != nil {
		items, storage := QuotasOf(*newSet, v.Quantity).VendorQuotas()
		if storage != nil && v.StorageItem != nil {
			items[*v.StorageItem] = *storage
		}
		if err := oldMod.ChangeQuotas(ctx, *v.VendorTenantID, items); err != nil {
			return Changed{}, vendorErr(itemsErr(err))
		}
	}
	var out Changed
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cur, err := take(Scoped(tx, who), id, true)
		if err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		if out.Invoices, out.Credits, err = bill.ChangePlanTx(ctx, tx, id, planID); err != nil {
			return err
		}
		if err := tx.Model(&Subscription{}).Where("id = ?", id).Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": s.now()}).Error; err != nil {
			return errs.Internal(err)
		}
		out.Service, err = take(tx, id, false)
		return err
	})
	return out, err
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
