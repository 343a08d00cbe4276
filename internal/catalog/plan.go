package catalog

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
)

// Plan statuses.
const (
	PlanDraft   = "draft"
	PlanActive  = "active"
	PlanRetired = "retired"
)

// Plan is what a customer buys: a product group's offer in a venture.
type Plan struct {
	Meta
	VentureID      uuid.UUID
	ProductTypeID  uuid.UUID
	ProductID      uuid.UUID
	ProductGroupID uuid.UUID
	Name           string
	PartnerVisible bool
	// AutoApprove approves trial and post-paid orders at once (prepaid
	// ones once paid); otherwise an admin approves each order.
	AutoApprove bool
	Status      string
}

// TableName keeps GORM on the migration's table.
func (Plan) TableName() string { return "plans" }

// PlanInput is a plan's fields; nil means unchanged on update.
type PlanInput struct {
	VentureID, ProductTypeID, ProductID, ProductGroupID *uuid.UUID
	Name                                                *string
	PartnerVisible, AutoApprove                         *bool
	Status                                              *string
}

// checkChain enforces: the venture exists, and type, product and group
// form one chain.
func checkChain(tx *gorm.DB, p Plan) error {
	if err := mustExist(tx, "ventures", p.VentureID, "venture_id", "venture_not_found", "No venture has this id."); err != nil {
		return err
	}
	if err := mustExist(tx, "product_types", p.ProductTypeID, "product_type_id", "product_type_not_found", "No product type has this id."); err != nil {
		return err
	}
	var prod Product
	if err := tx.Take(&prod, "id = ?", p.ProductID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.Unprocessable("product_not_found", "No product has this id.").WithField("product_id")
		}
		return errs.Internal(err)
	}
	var g ProductGroup
	if err := tx.Take(&g, "id = ?", p.ProductGroupID).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.Unprocessable("product_group_not_found", "No product group has this id.").WithField("product_group_id")
		}
		return errs.Internal(err)
	}
	if prod.ProductTypeID != p.ProductTypeID || g.ProductID != p.ProductID {
		return errs.Unprocessable("plan_chain_broken", "The product must be of the product type and the group of the product.")
	}
	return nil
}

func applyPlan(p *Plan, in PlanInput) error {
	set := func(dst *uuid.UUID, v *uuid.UUID) {
		if v != nil {
			*dst = *v
		}
	}
	set(&p.VentureID, in.VentureID)
	set(&p.ProductTypeID, in.ProductTypeID)
	set(&p.ProductID, in.ProductID)
	set(&p.ProductGroupID, in.ProductGroupID)
	if in.Name != nil {
		p.Name = clean(*in.Name)
	}
	if in.PartnerVisible != nil {
		p.PartnerVisible = *in.PartnerVisible
	}
	if in.AutoApprove != nil {
		p.AutoApprove = *in.AutoApprove
	}
	if in.Status != nil && *in.Status != p.Status {
		// Drafts become active by their settings, never by request; a
		// retired plan stays retired.
		if *in.Status != PlanRetired {
			return errs.Unprocessable("invalid_status_change", "A plan can only be retired by request.")
		}
		p.Status = PlanRetired
	}
	return required("name", p.Name)
}

// CreatePlan adds a draft plan.
func (s *Service) CreatePlan(ctx context.Context, in PlanInput) (Plan, error) {
	p := Plan{Meta: s.newMeta(ctx), Status: PlanDraft}
	if in.Status != nil {
		return Plan{}, errs.Invalid("status", "not_allowed", "a new plan is always a draft")
	}
	if err := applyPlan(&p, in); err != nil {
		return Plan{}, err
	}
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkChain(tx, p); err != nil {
			return err
		}
		return storeErrOrNil(tx.Create(&p).Error, "plan")
	})
	return p, err
}

// visiblePlans scopes plans to the caller: partners see partner-visible ones.
func visiblePlans(q *gorm.DB, p auth.Principal) *gorm.DB {
	if p.IsAdmin() {
		return q
	}
	return q.Where("plans.partner_visible")
}

// GetPlan reads a plan the caller may see.
func (s *Service) GetPlan(ctx context.Context, who auth.Principal, id uuid.UUID) (Plan, error) {
	var p Plan
	err := visiblePlans(s.db.WithContext(ctx), who).Take(&p, "plans.id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Plan{}, errs.NotFound("plan")
	}
	if err != nil {
		return Plan{}, errs.Internal(err)
	}
	return p, nil
}

// ListPlans pages through the plans the caller may see.
func (s *Service) ListPlans(ctx context.Context, who auth.Principal, status *string, groupID *uuid.UUID, r page.Request) ([]Plan, string, error) {
	q := visiblePlans(s.db.WithContext(ctx).Model(&Plan{}), who)
	if status != nil {
		q = q.Where("plans.status = ?", *status)
	}
	if groupID != nil {
		q = q.Where("plans.product_group_id = ?", *groupID)
	}
	var rows []Plan
	if err := r.Apply(q, "plans").Find(&rows).Error; err != nil {
		return nil, "", errs.Internal(err)
	}
	rows, next := page.Trim(r, rows, func(p Plan) page.Key { return page.Key{CreatedAt: p.CreatedAt, ID: p.ID} })
	return rows, next, nil
}

// UpdatePlan changes a plan; the chain is checked again.
func (s *Service) UpdatePlan(ctx context.Context, id uuid.UUID, in PlanInput, ifVersion *int64) (Plan, error) {
	return update(ctx, s, id, "plan", ifVersion, func(p *Plan) *Meta { return &p.Meta }, func(tx *gorm.DB, p *Plan) error {
		if err := applyPlan(p, in); err != nil {
			return err
		}
		if err := checkChain(tx, *p); err != nil {
			return err
		}
		if p.Status == PlanActive && p.PartnerVisible && in.PartnerVisible != nil {
			// Saved first so the URLs see the plan as partner-visible.
			if err := tx.Model(p).Update("partner_visible", true).Error; err != nil {
				return errs.Internal(err)
			}
			return s.ensureOrderURLs(tx, p.ID)
		}
		return nil
	})
}

// DeletePlan removes a plan that no service uses.
func (s *Service) DeletePlan(ctx context.Context, id uuid.UUID, ifVersion *int64) error {
	return remove(ctx, s, id, "plan", ifVersion, func(p *Plan) *Meta { return &p.Meta })
}

// Billing models.
const (
	Prepaid       = "prepaid"
	PostpaidFixed = "postpaid_fixed"
	PostpaidPAYG  = "postpaid_payg"
)

// FrequencyMonths is the length of each billing frequency in months.
var FrequencyMonths = map[string]int{
	"monthly": 1, "quarterly": 3, "semiannually": 6, "annually": 12, "biennially": 24, "triennially": 36,
}

// Cycle is a price per billing frequency, given, never derived.
type Cycle struct {
	PlanID    uuid.UUID `gorm:"primaryKey"`
	Frequency string    `gorm:"primaryKey"`
	Price     decimal.Decimal
	SetupFee  decimal.Decimal
}

// MeteredCharge bills an offering item's monthly usage (PAYG plans).
type MeteredCharge struct {
	PlanID       uuid.UUID `gorm:"primaryKey"`
	OfferingItem string    `gorm:"primaryKey"`
	UnitPrice    decimal.Decimal
	Aggregation  string
}

// Pricing is a plan's pricing, amounts in the base currency.
type Pricing struct {
	PlanID            uuid.UUID `gorm:"primaryKey"`
	BillingModel      string
	OveragePricePerGB *decimal.Decimal `gorm:"column:overage_price_per_gb"`
	EnableQuantity    bool
	UpdatedAt         time.Time
	Cycles            []Cycle         `gorm:"-"`
	MeteredCharges    []MeteredCharge `gorm:"-"`
}

func (Cycle) TableName() string         { return "plan_cycles" }
func (MeteredCharge) TableName() string { return "plan_metered_charges" }
func (Pricing) TableName() string       { return "plan_pricing" }

// checkPricing enforces the rules of a plan's pricing (amounts are parsed
// and checked by the caller).
func checkPricing(p Pricing, hardQuota bool) error {
	if len(p.Cycles) == 0 {
		return errs.Unprocessable("cycles_required", "A plan needs a price for at least one billing frequency.")
	}
	seen := map[string]bool{}
	for _, c := range p.Cycles {
		if seen[c.Frequency] {
			return errs.Unprocessable("duplicate_frequency", "Each billing frequency has one price: "+c.Frequency+" is given twice.")
		}
		seen[c.Frequency] = true
	}
	if len(p.MeteredCharges) > 0 && p.BillingModel != PostpaidPAYG {
		return errs.Unprocessable("metered_charges_require_payg", "Metered charges belong to postpaid_payg plans.")
	}
	items := map[string]bool{}
	for _, m := range p.MeteredCharges {
		if items[m.OfferingItem] {
			return errs.Unprocessable("duplicate_metered_charge", "Each offering item has one metered charge: "+m.OfferingItem+" is given twice.")
		}
		items[m.OfferingItem] = true
	}
	if p.OveragePricePerGB != nil && !hardQuota {
		return errs.Unprocessable("overage_price_requires_hard_quota", "An overage price needs a hard quota (overage) in the module settings.")
	}
	return nil
}

// SetPricing replaces a plan's pricing. A plan whose group has no module
// becomes active with valid pricing; one provisioned through a module also
// needs its module settings.
func (s *Service) SetPricing(ctx context.Context, planID uuid.UUID, p Pricing) (Pricing, error) {
	p.PlanID = planID
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		plan, err := get[Plan](ctx, tx, planID, "plan", true)
		if err != nil {
			return err
		}
		mod, err := s.moduleSettings(ctx, tx, planID)
		if err != nil && errs.CodeOf(err) != "module_settings_not_set" {
			return err
		}
		if err := checkPricing(p, hasHardQuota(mod)); err != nil {
			return err
		}
		if p.EnableQuantity && unlimitedSoft(mod) {
			return errs.Unprocessable("quantity_requires_finite_quota", "Quantity needs a finite storage quota (the plan's soft quota is unlimited).")
		}
		p.UpdatedAt = s.now()
		for _, del := range []any{&Cycle{}, &MeteredCharge{}, &Pricing{}} {
			if err := tx.Where("plan_id = ?", planID).Delete(del).Error; err != nil {
				return errs.Internal(err)
			}
		}
		if err := tx.Create(&p).Error; err != nil {
			return errs.Internal(err)
		}
		for i := range p.Cycles {
			p.Cycles[i].PlanID = planID
			if err := tx.Create(&p.Cycles[i]).Error; err != nil {
				return errs.Internal(err)
			}
		}
		for i := range p.MeteredCharges {
			p.MeteredCharges[i].PlanID = planID
			if err := tx.Create(&p.MeteredCharges[i]).Error; err != nil {
				return errs.Internal(err)
			}
		}
		var g ProductGroup
		if err := tx.Take(&g, "id = ?", plan.ProductGroupID).Error; err != nil {
			return errs.Internal(err)
		}
		if plan.Status == PlanDraft && (g.Module == ModuleNone || mod != nil) {
			if err := s.activate(tx, planID); err != nil {
				return err
			}
			return offersChanged(tx)
		}
		if plan.Status == PlanActive {
			if err := s.ensureOrderURLs(tx, planID); err != nil { // a new frequency gets its URL
				return err
			}
		}
		return offersChanged(tx)
	})
	if err == nil {
		s.offers.clear()
	}
	return p, err
}

// GetPricing reads a plan's pricing.
func (s *Service) GetPricing(ctx context.Context, planID uuid.UUID) (Pricing, error) {
	if _, err := get[Plan](ctx, s.db, planID, "plan", false); err != nil {
		return Pricing{}, err
	}
	var p Pricing
	err := s.db.WithContext(ctx).Take(&p, "plan_id = ?", planID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Pricing{}, errs.E(errs.KindNotFound, "pricing_not_set", "This plan has no pricing yet.")
	}
	if err != nil {
		return Pricing{}, errs.Internal(err)
	}
	if err := s.db.WithContext(ctx).Where("plan_id = ?", planID).Find(&p.Cycles).Error; err != nil {
		return Pricing{}, errs.Internal(err)
	}
	if err := s.db.WithContext(ctx).Where("plan_id = ?", planID).Order("offering_item").Find(&p.MeteredCharges).Error; err != nil {
		return Pricing{}, errs.Internal(err)
	}
	return p, nil
}

// PricingOf reads the pricing of several plans at once; plans without
// pricing are absent from the map.
func (s *Service) PricingOf(ctx context.Context, planIDs []uuid.UUID) (map[uuid.UUID]Pricing, error) {
	out := map[uuid.UUID]Pricing{}
	if len(planIDs) == 0 {
		return out, nil
	}
	db := s.db.WithContext(ctx)
	var ps []Pricing
	if err := db.Where("plan_id IN ?", planIDs).Find(&ps).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, p := range ps {
		out[p.PlanID] = p
	}
	var cs []Cycle
	if err := db.Where("plan_id IN ?", planIDs).Find(&cs).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, c := range cs {
		p := out[c.PlanID]
		p.Cycles = append(p.Cycles, c)
		out[c.PlanID] = p
	}
	for id, p := range out {
		slices.SortFunc(p.Cycles, func(a, b Cycle) int { return FrequencyMonths[a.Frequency] - FrequencyMonths[b.Frequency] })
		out[id] = p
	}
	return out, nil
}

// HasHardQuota reports whether a plan's module settings have a hard quota,
// which an overage price needs.
func (s *Service) HasHardQuota(ctx context.Context, db *gorm.DB, planID uuid.UUID) (bool, error) {
	m, err := s.moduleSettings(ctx, db, planID)
	if err != nil && errs.CodeOf(err) != "module_settings_not_set" {
		return false, err
	}
	return hasHardQuota(m), nil
}
