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

// ensureOrderURLs gives every priced frequency of an active plan a token;
// existing tokens never change.
func (s *Service) ensureOrderURLs(tx *gorm.DB, planID uuid.UUID) error {
	var freqs []string
	if err := tx.Model(&Cycle{}).Where("plan_id = ?", planID).Pluck("frequency", &freqs).Error; err != nil {
		return errs.Internal(err)
	}
	for _, f := range freqs {
		tok, err := newToken()
		if err != nil {
			return errs.Internal(err)
		}
		u := OrderURL{Token: tok, PlanID: planID, Frequency: f, CreatedAt: s.now()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&u).Error; err != nil {
			return errs.Internal(err)
		}
	}
	return nil
}

// OrderURLs lists a plan's tokens, for the caller's view of the plan.
func (s *Service) OrderURLs(ctx context.Context, who auth.Principal, planID uuid.UUID) ([]OrderURL, error) {
	if _, err := s.GetPlan(ctx, who, planID); err != nil {
		return nil, err
	}
	var urls []OrderURL
	err := s.db.WithContext(ctx).Where("plan_id = ? AND partner_id IS NULL", planID).Find(&urls).Error
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
	if o.PlanStatus != PlanActive || !o.Priced {
		return Offer{}, errs.E(errs.KindGone, "offer_gone", "This offer is no longer available.")
	}
	return o, nil
}

func (s *Service) readOffer(ctx context.Context, token string) (Offer, error) {
	var o Offer
	err := s.db.WithContext(ctx).Raw(`
		SELECT u.token, p.id AS plan_id, p.name AS plan_name, g.name AS product_group_name, p.status AS plan_status,
		       pr.billing_model, u.frequency, c.price, c.setup_fee, pr.enable_quantity,
		       coalesce(m.free_trial, false) AS free_trial, c.plan_id IS NOT NULL AS priced
		FROM plan_order_urls u
		JOIN plans p ON p.id = u.plan_id
		JOIN product_groups g ON g.id = p.product_group_id
		JOIN plan_pricing pr ON pr.plan_id = p.id
		LEFT JOIN plan_cycles c ON c.plan_id = p.id AND c.frequency = u.frequency
		LEFT JOIN plan_module_settings m ON m.plan_id = p.id
		WHERE u.token = ?`, token).Take(&o).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Offer{}, errs.NotFound("offer")
	}
	if err != nil {
		return Offer{}, errs.Internal(err)
	}
	return o, nil
}
