package partner

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
)

// PlanPricing is a partner's terms for one plan. No row means no discount,
// no markup and the SP's overage price.
type PlanPricing struct {
	PartnerID         uuid.UUID `gorm:"primaryKey"`
	PlanID            uuid.UUID `gorm:"primaryKey"`
	DiscountPercent   decimal.Decimal
	MarkupPercent     decimal.Decimal
	OveragePricePerGB *decimal.Decimal `gorm:"column:overage_price_per_gb"`
	Version           int64
	UpdatedAt         time.Time
}

// TableName keeps GORM on the migration's table.
func (PlanPricing) TableName() string { return "partner_plan_pricing" }

// Price is one billing frequency as the partner sees it.
type Price struct {
	Frequency                             string
	SPPrice, Cost, EndPrice               decimal.Decimal
	SPSetupFee, SetupFeeCost, EndSetupFee decimal.Decimal
	OrderURL                              *catalog.OrderURL
}

// Plan is a plan the partner may sell, with its prices at each tier.
type Plan struct {
	Plan       catalog.Plan
	Pricing    PlanPricing
	SPPricing  catalog.Pricing
	SPOverage  *decimal.Decimal
	EndOverage *decimal.Decimal // what the partner's customers pay per GB
	Prices     []Price
}

// view computes a partner's prices from the SP's pricing and its terms.
func view(p catalog.Plan, sp catalog.Pricing, pp PlanPricing, urls []catalog.OrderURL) Plan {
	v := Plan{Plan: p, Pricing: pp, SPPricing: sp, SPOverage: sp.OveragePricePerGB}
	end := func(x decimal.Decimal) (decimal.Decimal, decimal.Decimal) {
		cost := money.PartnerCost(x, pp.DiscountPercent)
		return cost, money.EndPrice(cost, pp.MarkupPercent)
	}
	switch {
	case pp.OveragePricePerGB != nil:
		v.EndOverage = pp.OveragePricePerGB
	case sp.OveragePricePerGB != nil:
		_, e := end(*sp.OveragePricePerGB)
		v.EndOverage = &e
	}
	for _, c := range sp.Cycles {
		pr := Price{Frequency: c.Frequency, SPPrice: c.Price, SPSetupFee: c.SetupFee}
		pr.Cost, pr.EndPrice = end(c.Price)
		pr.SetupFeeCost, pr.EndSetupFee = end(c.SetupFee)
		for i := range urls {
			if urls[i].PlanID == p.ID && urls[i].Frequency == c.Frequency {
				pr.OrderURL = &urls[i]
			}
		}
		v.Prices = append(v.Prices, pr)
	}
	return v
}

// asPartner is how the catalog scopes plans for a partner.
func asPartner(id uuid.UUID) auth.Principal {
	return auth.Principal{Role: auth.RolePartner, PartnerID: &id}
}

// Plans pages through the active partner-visible plans with the partner's prices.
func (s *Service) Plans(ctx context.Context, who auth.Principal, partnerID uuid.UUID, r page.Request) ([]Plan, string, error) {
	if _, err := s.Get(ctx, who, partnerID); err != nil {
		return nil, "", err
	}
	active := catalog.PlanActive
	plans, next, err := s.catalog.ListPlans(ctx, asPartner(partnerID), &active, nil, r)
	if err != nil {
		return nil, "", err
	}
	ids := make([]uuid.UUID, len(plans))
	for i, p := range plans {
		ids[i] = p.ID
	}
	sp, err := s.catalog.PricingOf(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	var terms []PlanPricing
	if len(ids) > 0 {
		if err := s.db.WithContext(ctx).Where("partner_id = ? AND plan_id IN ?", partnerID, ids).Find(&terms).Error; err != nil {
			return nil, "", errs.Internal(err)
		}
	}
	byPlan := map[uuid.UUID]PlanPricing{}
	for _, t := range terms {
		byPlan[t.PlanID] = t
	}
	urls, err := s.catalog.PartnerOrderURLs(ctx, partnerID, ids)
	if err != nil {
		return nil, "", err
	}
	out := make([]Plan, len(plans))
	for i, p := range plans {
		out[i] = view(p, sp[p.ID], termsOr(byPlan[p.ID], partnerID, p.ID), urls)
	}
	return out, next, nil
}

func termsOr(t PlanPricing, partnerID, planID uuid.UUID) PlanPricing {
	if t.Version == 0 {
		t.PartnerID, t.PlanID = partnerID, planID
	}
	return t
}

// PricingInput is what the caller sends; nil fields are absent.
type PricingInput struct {
	DiscountPercent, MarkupPercent *string
	OveragePricePerGB              *money.Input
}

// SetPlanPricing replaces the fields the caller's role owns: the SP's
// discount (admins), the partner's markup and overage price (the partner).
func (s *Service) SetPlanPricing(ctx context.Context, who auth.Principal, partnerID, planID uuid.UUID, in PricingInput, ifVersion *int64) (Plan, error) {
	if _, err := s.Get(ctx, who, partnerID); err != nil {
		return Plan{}, err
	}
	plan, err := s.catalog.GetPlan(ctx, asPartner(partnerID), planID)
	if err != nil {
		if errs.KindOf(err) == errs.KindNotFound && who.IsAdmin() {
			if _, aerr := s.catalog.GetPlan(ctx, who, planID); aerr == nil {
				return Plan{}, errs.Unprocessable("plan_not_partner_visible", "Partners cannot sell this plan; make it partner-visible first.")
			}
		}
		return Plan{}, err
	}
	if err := ownFields(who, in); err != nil {
		return Plan{}, err
	}
	var discount, markup decimal.Decimal
	var overage *decimal.Decimal
	if who.IsAdmin() {
		if discount, err = percent("discount_percent", in.DiscountPercent, decimal.NewFromInt(100)); err != nil {
			return Plan{}, err
		}
	} else {
		if markup, err = percent("markup_percent", in.MarkupPercent, decimal.NewFromInt(1000)); err != nil {
			return Plan{}, err
		}
		// The end price is stored with every sale: it must fit.
		pr, err := s.catalog.GetPricing(ctx, planID)
		if err != nil {
			return Plan{}, err
		}
		for _, c := range pr.Cycles {
			if !money.Fits(money.EndPrice(c.Price, markup).Add(money.EndPrice(c.SetupFee, markup))) {
				return Plan{}, money.TooLarge("markup_percent")
			}
		}
		if in.OveragePricePerGB != nil {
			v, err := money.Parse("overage_price_per_gb", in.OveragePricePerGB.Amount, in.OveragePricePerGB.Currency, s.base)
			if err != nil {
				return Plan{}, err
			}
			overage = &v
		}
	}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if overage != nil {
			hard, err := s.catalog.HasHardQuota(ctx, tx, planID)
			if err != nil {
				return err
			}
			if !hard {
				return errs.Unprocessable("overage_price_requires_hard_quota", "An overage price needs a hard quota (overage) in the plan's module settings.").WithField("overage_price_per_gb")
			}
		}
		var cur PlanPricing
		err := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Take(&cur, "partner_id = ? AND plan_id = ?", partnerID, planID).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return errs.Internal(err)
		}
		if ifVersion != nil && *ifVersion != cur.Version {
			return errs.VersionMismatch()
		}
		cur.PartnerID, cur.PlanID = partnerID, planID
		if who.IsAdmin() {
			cur.DiscountPercent = discount
		} else {
			cur.MarkupPercent, cur.OveragePricePerGB = markup, overage
		}
		cur.Version++
		cur.UpdatedAt = s.now()
		// The primary key makes concurrent first writes collide, not duplicate.
		if err := tx.Save(&cur).Error; err != nil {
			if errors.Is(err, gorm.ErrDuplicatedKey) {
				return errs.VersionMismatch()
			}
			return errs.Internal(err)
		}
		return catalog.OffersChanged(tx)
	})
	if err != nil {
		return Plan{}, err
	}
	s.catalog.ForgetOffers()
	plans, err := s.planViews(ctx, partnerID, plan)
	if err != nil {
		return Plan{}, err
	}
	return plans, nil
}

// planViews reads one plan as the partner sees it.
func (s *Service) planViews(ctx context.Context, partnerID uuid.UUID, p catalog.Plan) (Plan, error) {
	sp, err := s.catalog.PricingOf(ctx, []uuid.UUID{p.ID})
	if err != nil {
		return Plan{}, err
	}
	var t PlanPricing
	err = s.db.WithContext(ctx).Take(&t, "partner_id = ? AND plan_id = ?", partnerID, p.ID).Error
	if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
		return Plan{}, errs.Internal(err)
	}
	urls, err := s.catalog.PartnerOrderURLs(ctx, partnerID, []uuid.UUID{p.ID})
	if err != nil {
		return Plan{}, err
	}
	return view(p, sp[p.ID], termsOr(t, partnerID, p.ID), urls), nil
}

// ownFields refuses a field that belongs to the other role.
func ownFields(who auth.Principal, in PricingInput) error {
	deny := func(field string) error {
		return errs.Forbidden("field_not_allowed", "Your role may not set "+field+".").WithField(field)
	}
	if who.IsAdmin() {
		if in.MarkupPercent != nil {
			return deny("markup_percent")
		}
		if in.OveragePricePerGB != nil {
			return deny("overage_price_per_gb")
		}
		return nil
	}
	if in.DiscountPercent != nil {
		return deny("discount_percent")
	}
	return nil
}

// percent parses a percentage in [0, max] with up to 4 places; absent is 0.
func percent(field string, v *string, max decimal.Decimal) (decimal.Decimal, error) {
	if v == nil {
		return decimal.Zero, nil
	}
	d, err := decimal.NewFromString(*v)
	if err != nil {
		return decimal.Zero, errs.Invalid(field, "invalid_format", "a decimal string such as 12.5")
	}
	if d.IsNegative() || d.GreaterThan(max) {
		return decimal.Zero, errs.Unprocessable("percent_out_of_range", field+" must be between 0 and "+max.String()+".").WithField(field)
	}
	if !d.Equal(d.Round(4)) {
		return decimal.Zero, errs.Unprocessable("percent_too_precise", field+" has at most 4 decimal places.").WithField(field)
	}
	return d, nil
}
