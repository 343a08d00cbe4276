package billing

import (
	"context"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
)

// Hooks tell other packages (the event log, mail) of billing's changes.
// Each runs inside the transaction that makes the change, after it; an
// error rolls the change back. Invoices handed to them carry their lines
// and taxes.

// Issued is told of an invoice just stored and numbered; inv.Kind says
// which bill it is (prepaid order, renewal, postpaid, overage, adjustment).
type Issued func(ctx context.Context, tx *gorm.DB, inv Invoice) error

// Voided is told of an invoice just voided.
type Voided func(ctx context.Context, tx *gorm.DB, inv Invoice) error

// Recorded is told of a payment just recorded, with its invoice as the
// payment left it (paid when it settled it; the Paid hooks run after).
type Recorded func(ctx context.Context, tx *gorm.DB, p Payment, inv Invoice) error

// OnIssued adds a hook run in the storing transaction (run, overage,
// change, order, manual generate alike) for each invoice issued.
func (s *Service) OnIssued(f Issued) { s.onIssued = append(s.onIssued, f) }

// OnVoided adds a hook run in the voiding transaction (Void, or an
// order's cancellation) for each invoice voided.
func (s *Service) OnVoided(f Voided) { s.onVoided = append(s.onVoided, f) }

// OnPayment adds a hook run in the paying transaction for each payment.
func (s *Service) OnPayment(f Recorded) { s.onPayment = append(s.onPayment, f) }

func (s *Service) issued(ctx context.Context, tx *gorm.DB, invs []Invoice) error {
	for _, inv := range invs {
		for _, h := range s.onIssued {
			if err := h(ctx, tx, inv); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Service) voided(ctx context.Context, tx *gorm.DB, inv Invoice) error {
	if len(s.onVoided) == 0 {
		return nil
	}
	if err := loadTx(ctx, tx, &inv); err != nil {
		return err
	}
	for _, h := range s.onVoided {
		if err := h(ctx, tx, inv); err != nil {
			return err
		}
	}
	return nil
}

// loadTx reads an invoice's lines and taxes in tx, as load does.
func loadTx(ctx context.Context, tx *gorm.DB, inv *Invoice) error {
	db := tx.WithContext(ctx)
	inv.Lines, inv.Taxes = []InvoiceLine{}, []InvoiceTax{}
	if err := db.Where("invoice_id = ?", inv.ID).Order("position").Find(&inv.Lines).Error; err != nil {
		return errs.Internal(err)
	}
	if err := db.Where("invoice_id = ?", inv.ID).Order("name").Find(&inv.Taxes).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// VoidUnpaidOfServiceTx voids, in tx, the unpaid invoices that bill a
// service's periods (an order cancelled before it was paid), running the
// voided hooks for each. Their claims stay: the service never runs.
func (s *Service) VoidUnpaidOfServiceTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error {
	now := s.now()
	var invs []Invoice
	if err := tx.WithContext(ctx).Raw(`UPDATE invoices SET status = 'void', voided_at = ?, version = version + 1, updated_at = ?
		WHERE status = 'unpaid' AND id IN (SELECT invoice_id FROM billed_periods WHERE service_id = ?)
		RETURNING *`, now, now, serviceID).Scan(&invs).Error; err != nil {
		return errs.Internal(err)
	}
	for _, inv := range invs {
		if err := s.voided(ctx, tx, inv); err != nil {
			return err
		}
	}
	return nil
}
