package credit

import (
	"context"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// CustomerBalances is CustomerBalance for a page of customers in one query;
// a customer without unpaid invoices owes zero (absent from the map).
func CustomerBalances(ctx context.Context, db *gorm.DB, ids []uuid.UUID) (map[uuid.UUID]decimal.Decimal, error) {
	return sums(ctx, db, "customer_id", ids)
}

// PartnerBalances is PartnerBalance for a page of partners in one query.
func PartnerBalances(ctx context.Context, db *gorm.DB, ids []uuid.UUID) (map[uuid.UUID]decimal.Decimal, error) {
	return sums(ctx, db, "partner_id", ids)
}

func sums(ctx context.Context, db *gorm.DB, column string, ids []uuid.UUID) (map[uuid.UUID]decimal.Decimal, error) {
	out := make(map[uuid.UUID]decimal.Decimal, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID      uuid.UUID
		Balance decimal.Decimal
	}
	err := db.WithContext(ctx).Raw(`SELECT `+column+` AS id, sum(total - amount_paid) AS balance FROM invoices
		WHERE status = 'unpaid' AND `+column+` IN ? GROUP BY `+column, ids).Scan(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		out[r.ID] = r.Balance
	}
	return out, nil
}
