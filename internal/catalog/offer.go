package catalog

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// OrderURL is a plan's public token for one billing frequency.
type OrderURL struct {
	Token     string `gorm:"primaryKey"`
	PlanID    uuid.UUID
	Frequency string
	PartnerID *uuid.UUID
	CreatedAt time.Time
}

// TableName keeps GORM on the migration's table.
func (OrderURL) TableName() string { return "plan_order_urls" }

// newToken is 192 random bits, URL-safe.
func newToken() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// ensureOrderURLs gives every priced frequency of an active plan a token,
// and, when the plan is partner-visible, one per active partner too.
// Existing tokens never change.
func (s *Service) ensureOrderURLs(tx *gorm.DB, planID uuid.UUID) error {
	return s.addOrderURLs(tx, `
		SELECT p.id AS plan_id, c.frequency, pa.id AS partner_id
		FROM plans p
		JOIN plan_cycles c ON c.plan_id = p.id
		LEFT JOIN partners pa ON p.partner_visible AND pa.status = 'active'
		WHERE p.id = ? AND p.status = 'active'`, planID)
}

// EnsurePartnerOrderURLs gives an active partner a token for every priced
// frequency of every active partner-visible plan.
func (s *Service) EnsurePartnerOrderURLs(tx *gorm.DB, partnerID uuid.UUID) error {
	if err := s.addOrderURLs(tx, `
		SELECT p.id AS plan_id, c.frequency, pa.id AS partner_id
		FROM partners pa
		JOIN plans p ON p.partner_visible AND p.status = 'active'
		JOIN plan_cycles c ON c.plan_id = p.id
		WHERE pa.id = ? AND pa.status = 'active'`, partnerID); err != nil {
		return err
	}
	return offersChanged(tx)
}

// addOrderURLs inserts a token for each (plan, frequency, partner) the
// query yields that has none yet.
func (s *Service) addOrderURLs(tx *gorm.DB, query string, arg any) error {
	var want []struct {
		PlanID    uuid.UUID
		Frequency string
		PartnerID *uuid.UUID
	}
	if err := tx.Raw(query, arg).Scan(&want).Error; err != nil {
		return errs.Internal(err)
	}
	for _, w := range want {
		tok, err := newToken()
		if err != nil {
			return errs.Internal(err)
		}
		u := OrderURL{Token: tok, PlanID: w.PlanID, Frequency: w.Frequency, PartnerID: w.PartnerID, CreatedAt: s.now()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
			return errs.Internal(err)
		}
		if w.PartnerID != nil { // the SP's own token too
			u = OrderURL{Token: "", PlanID: w.PlanID, Frequency: w.Frequency, CreatedAt: s.now()}
			if u.Token, err = newToken(); err != nil {
				return errs.Internal(err)
			}
			if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
				return errs.Internal(err)
			}
		}
	}
	return nil
}

// OrderURLs lists a plan's tokens: all of them for an admin, a partner's
// own for a partner.
func (s *Service) OrderURLs(ctx context.Context, who auth.Principal, planID uuid.UUID) ([]OrderURL, error) {
	if _, err := s.GetPlan(ctx, who, planID); err != nil {
		return nil, err
	}
	q := s.db.WithContext(ctx).Where("plan_id = ?", planID)
	if !who.IsAdmin() {
		if who.PartnerID == nil {
			return nil, nil
		}
		q = q.Where("partner_id = ?", *who.PartnerID)
	}
	var urls []OrderURL
	if err := q.Order("partner_id NULLS FIRST, frequency").Find(&urls).Error; err != nil {
		return nil, errs.Internal(err)
	}
	return urls, nil
}

// PartnerOrderURLs is a partner's tokens for the given plans.
func (s *Service) PartnerOrderURLs(ctx context.Context, partnerID uuid.UUID, planIDs []uuid.UUID) ([]OrderURL, error) {
	var urls []OrderURL
	err := s.db.WithContext(ctx).Where("partner_id = ? AND plan_id IN ?", partnerID, planIDs).Find(&urls).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	return urls, nil
}

// Offer is what an order URL shows a storefront.
type Offer struct {
	Token            string
	PlanID           uuid.UUID
	PlanName         string
	ProductGroupName string
	PlanStatus       string
	BillingModel     string
	Frequency        string
	Price            decimal.Decimal
	SetupFee         decimal.Decimal
	EnableQuantity   bool
	FreeTrial        bool
	Priced           bool // the frequency still has a price
	Overage          *decimal.Decimal
	PartnerID        *uuid.UUID
	// For a partner's token: whether it may still sell the plan, and its
	// pricing (the prices above are already its end prices).
	PartnerSells bool
}

// OfferByToken resolves a public token in one query. Unknown is 404; a
// retired plan or a dropped frequency is 410.
func (s *Service) OfferByToken(ctx context.Context, token string) (Offer, error) {
	now := s.clk.Now()
	o, gen, ok := s.offers.get(token, now)
	if !ok {
		var err error
		if o, err = s.readOffer(ctx, token); err != nil {
			return Offer{}, err
		}
		s.offers.put(token, o, gen, now)
	}
	if o.PlanStatus != PlanActive || !o.Priced || (o.PartnerID != nil && !o.PartnerSells) {
		return Offer{}, errs.E(errs.KindGone, "offer_gone", "This offer is no longer available.")
	}
	return o, nil
}

func (s *Service) readOffer(ctx context.Context, token string) (Offer, error) {
	var row struct {
		Offer
		Discount, Markup decimal.Decimal
		PartnerOverage   *decimal.Decimal
	}
	err := s.db.WithContext(ctx).Raw(`
		SELECT u.token, p.id AS plan_id, p.name AS plan_name, g.name AS product_group_name, p.status AS plan_status,
		       pr.billing_model, u.frequency, c.price, c.setup_fee, pr.enable_quantity,
		       coalesce(m.free_trial, false) AS free_trial, c.plan_id IS NOT NULL AS priced,
		       pr.overage_price_per_gb AS overage, u.partner_id,
		       coalesce(p.partner_visible AND pa.status = 'active', false) AS partner_sells,
		       coalesce(pp.discount_percent, 0) AS discount, coalesce(pp.markup_percent, 0) AS markup,
		       pp.overage_price_per_gb AS partner_overage
		FROM plan_order_urls u
		JOIN plans p ON p.id = u.plan_id
		JOIN product_groups g ON g.id = p.product_group_id
		JOIN plan_pricing pr ON pr.plan_id = p.id
		LEFT JOIN plan_cycles c ON c.plan_id = p.id AND c.frequency = u.frequency
		LEFT JOIN plan_module_settings m ON m.plan_id = p.id
		LEFT JOIN partners pa ON pa.id = u.partner_id
		LEFT JOIN partner_plan_pricing pp ON pp.partner_id = u.partner_id AND pp.plan_id = p.id
		WHERE u.token = ?`, token).Take(&row).Error
	o := row.Offer
	if err == nil && o.PartnerID != nil {
		end := func(v decimal.Decimal) decimal.Decimal {
			return money.EndPrice(money.PartnerCost(v, row.Discount), row.Markup)
		}
		o.Price, o.SetupFee = end(o.Price), end(o.SetupFee)
		switch {
		case row.PartnerOverage != nil:
			o.Overage = row.PartnerOverage
		case o.Overage != nil:
			v := end(*o.Overage)
			o.Overage = &v
		}
	}
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Offer{}, errs.NotFound("offer")
	}
	if err != nil {
		return Offer{}, errs.Internal(err)
	}
	return o, nil
}
