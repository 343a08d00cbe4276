// Package credit answers what a customer or a partner owes unpaid and
// whether that is above its credit limit.
//
// Entities: none of its own. A customer's balance is the unpaid rest of
// its invoices (whoever issued them: the SP or its partner); a partner's is
// the unpaid rest of the SP's bills to it (its sales at cost). A limit of
// nil is no limit; a balance equal to the limit is within it.
//
// Dunning alerts and suspends on these figures; orders are refused while a
// customer's or a selling partner's balance is above its limit.
package credit

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// CustomerBalance is what the customer owes on its unpaid invoices.
func CustomerBalance(ctx context.Context, db *gorm.DB, customerID uuid.UUID) (decimal.Decimal, error) {
	return sum(ctx, db, "customer_id", customerID)
}

// PartnerBalance is what the partner owes the SP on its unpaid bills.
func PartnerBalance(ctx context.Context, db *gorm.DB, partnerID uuid.UUID) (decimal.Decimal, error) {
	return sum(ctx, db, "partner_id", partnerID)
}

func sum(ctx context.Context, db *gorm.DB, column string, id uuid.UUID) (decimal.Decimal, error) {
	var total decimal.NullDecimal
	err := db.WithContext(ctx).Raw(`SELECT sum(total - amount_paid) FROM invoices WHERE status = 'unpaid' AND `+column+` = ?`, id).
		Scan(&total).Error
	if err != nil {
		return decimal.Zero, errs.Internal(err)
	}
	if !total.Valid {
		return decimal.Zero, nil
	}
	return total.Decimal, nil
}

// Over tells whether balance is above limit (nil: no limit).
func Over(balance decimal.Decimal, limit *decimal.Decimal) bool {
	return limit != nil && balance.GreaterThan(*limit)
}

// CustomerOver reads the customer's limit and balance and tells whether the
// balance is above the limit.
func CustomerOver(ctx context.Context, db *gorm.DB, customerID uuid.UUID) (bool, decimal.Decimal, error) {
	return over(ctx, db, "customers", customerID, CustomerBalance)
}

// PartnerOver reads the partner's limit and balance and tells whether the
// balance is above the limit.
func PartnerOver(ctx context.Context, db *gorm.DB, partnerID uuid.UUID) (bool, decimal.Decimal, error) {
	return over(ctx, db, "partners", partnerID, PartnerBalance)
}

func over(ctx context.Context, db *gorm.DB, table string, id uuid.UUID,
	balance func(context.Context, *gorm.DB, uuid.UUID) (decimal.Decimal, error)) (bool, decimal.Decimal, error) {
	var limit decimal.NullDecimal
	if err := db.WithContext(ctx).Raw(`SELECT credit_limit FROM `+table+` WHERE id = ?`, id).Scan(&limit).Error; err != nil {
		return false, decimal.Zero, errs.Internal(err)
	}
	if !limit.Valid {
		return false, decimal.Zero, nil
	}
	b, err := balance(ctx, db, id)
	if err != nil {
		return false, decimal.Zero, err
	}
	return Over(b, &limit.Decimal), b, nil
}
