package billing

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// StartPaidTx turns a free trial (running or expired) into a paid service
// on planID from today, in the plan-changing transaction: the service
// takes the plan's price for its cycle (a partner's sale at the partner's
// end price and cost), stops being a trial and is billed from today as a
// new order would be: a prepaid plan's first period and setup fee
// invoiced now (due at once), a post-paid plan from today on each 1st.
func (s *Service) StartPaidTx(ctx context.Context, tx *gorm.DB, serviceID, planID uuid.UUID) ([]Invoice, error) {
	tx = tx.WithContext(ctx)
	var b billable
	if err := tx.Raw(billableSelect+" WHERE s.id = ?", serviceID).Scan(&b).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if !b.FreeTrial {
		return nil, errs.Unprocessable("plan_change_prepaid_only", "Only a free trial starts a paid plan this way.")
	}
	var cycle catalog.Cycle
	if err := tx.Where("plan_id = ? AND frequency = ?", planID, b.Frequency).Take(&cycle).Error; err != nil {
		return nil, errs.Unprocessable("frequency_not_offered", "The new plan has no price for "+b.Frequency+".").WithField("plan_id")
	}
	var model string
	if err := tx.Table("plan_pricing").Where("plan_id = ?", planID).Pluck("billing_model", &model).Error; err != nil {
		return nil, errs.Internal(err)
	}
	unit, setup := cycle.Price, cycle.SetupFee
	updates := map[string]any{"plan_id": planID, "free_trial": false, "unit_price": unit, "setup_fee": setup}
	if b.PartnerID != nil {
		var t struct{ DiscountPercent, MarkupPercent decimal.Decimal }
		err := tx.Table("partner_plan_pricing").Where("partner_id = ? AND plan_id = ?", *b.PartnerID, planID).
			Select("discount_percent, markup_percent").Take(&t).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, errs.Internal(err)
		}
		uc, sc := money.PartnerCost(unit, t.DiscountPercent), money.PartnerCost(setup, t.DiscountPercent)
		updates["unit_price"], updates["setup_fee"] = money.EndPrice(uc, t.MarkupPercent), money.EndPrice(sc, t.MarkupPercent)
		updates["unit_cost"], updates["setup_fee_cost"] = uc, sc
	}
	if u, f := updates["unit_price"].(decimal.Decimal), updates["setup_fee"].(decimal.Decimal); !money.Fits(u.Mul(b.quantity()).Add(f)) {
		return nil, money.TooLarge("plan_id")
	}
	today := s.Today()
	if model != catalog.Prepaid {
		updates["start_date"], updates["anchor_day"] = today, today.Day()
		updates["next_due_date"] = time.Date(today.Year(), today.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	}
	if err := tx.Table("services").Where("id = ?", serviceID).Updates(updates).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if model != catalog.Prepaid {
		return []Invoice{}, nil
	}
	invs, err := s.firstInvoices(ctx, tx, serviceID)
	if err != nil {
		return nil, err
	}
	if invs == nil {
		invs = []Invoice{}
	}
	return invs, nil
}
