package billing

import (
	"context"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Payment is money received against an invoice.
type Payment struct {
	ID         uuid.UUID `gorm:"primaryKey"`
	InvoiceID  uuid.UUID
	Amount     decimal.Decimal
	Method     string
	Reference  string
	PaidAt     time.Time
	RecordedBy string
	CreatedAt  time.Time
}

// TableName keeps GORM on the migration's table.
func (Payment) TableName() string { return "payments" }

// PaymentInput is a payment to record.
type PaymentInput struct {
	Amount    money.Input
	Method    string
	Reference string
	PaidAt    *time.Time
}

// payable limits which invoices the caller may record payments on: every
// one for an admin; for a partner those it issued to its customers.
func payable(q *gorm.DB, who auth.Principal) *gorm.DB {
	if who.IsAdmin() {
		return q
	}
	if who.Role == auth.RolePartner && who.PartnerID != nil {
		return q.Where("invoices.issuer_partner_id = ?", *who.PartnerID)
	}
	return q.Where("false")
}

// Pay records a payment. A partial payment leaves the invoice unpaid with a
// balance; the one that settles it marks it paid and runs the paid hooks
// (approving a prepaid order, advancing a renewal's due date) in the same
// transaction.
func (s *Service) Pay(ctx context.Context, who auth.Principal, invoiceID uuid.UUID, in PaymentInput) (Payment, Invoice, error) {
	amount, err := money.Parse("amount", in.Amount.Amount, in.Amount.Currency, s.currency)
	if err != nil {
		return Payment{}, Invoice{}, err
	}
	if !amount.IsPositive() {
		return Payment{}, Invoice{}, errs.Unprocessable("amount_not_positive", "A payment is more than zero.").WithField("amount.amount")
	}
	now := s.now()
	p := Payment{ID: uuid.New(), InvoiceID: invoiceID, Amount: amount, Method: in.Method, Reference: strings.TrimSpace(in.Reference),
		PaidAt: now, RecordedBy: string(who.Role) + ":" + who.Scope(), CreatedAt: now}
	if in.PaidAt != nil {
		if in.PaidAt.After(now) {
			return Payment{}, Invoice{}, errs.Unprocessable("paid_at_in_future", "A payment cannot be dated in the future.").WithField("paid_at")
		}
		p.PaidAt = in.PaidAt.Truncate(time.Microsecond)
	}
	var inv Invoice
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if inv, err = lockInvoice(scoped(tx, who), who, invoiceID); err != nil {
			return err
		}
		if _, err := lockInvoice(payable(tx, who), who, invoiceID); err != nil {
			return errs.Forbidden("payment_not_allowed", "Only the SP records payments of invoices billed to partners.")
		}
		switch inv.Status {
		case StatusPaid:
			return errs.Conflict("invoice_paid", "This invoice is paid.")
		case StatusVoid:
			return errs.Conflict("invoice_void", "This invoice is void.")
		case StatusDraft:
			return errs.Conflict("invoice_not_issued", "This invoice is not issued yet.")
		}
		if amount.GreaterThan(inv.Balance()) {
			return errs.Unprocessable("overpayment", "The payment is more than the balance of "+money.String(inv.Balance())+".").WithField("amount.amount")
		}
		if err := tx.Create(&p).Error; err != nil {
			return errs.Internal(err)
		}
		inv.AmountPaid = inv.AmountPaid.Add(amount)
		inv.Version++
		inv.UpdatedAt = now
		updates := map[string]any{"amount_paid": inv.AmountPaid, "version": inv.Version, "updated_at": now}
		if inv.AmountPaid.Equal(inv.Total) {
			inv.Status, inv.PaidAt = StatusPaid, &p.PaidAt
			updates["status"], updates["paid_at"] = StatusPaid, p.PaidAt
		}
		if err := tx.Model(&Invoice{}).Where("id = ?", inv.ID).Updates(updates).Error; err != nil {
			return errs.Internal(err)
		}
		if len(s.onPayment) > 0 {
			if err := loadTx(ctx, tx, &inv); err != nil {
				return err
			}
			for _, h := range s.onPayment {
				if err := h(ctx, tx, p, inv); err != nil {
					return err
				}
			}
		}
		if inv.Status != StatusPaid {
			return nil
		}
		return s.settledTx(ctx, tx, inv)
	})
	if err != nil {
		return Payment{}, Invoice{}, err
	}
	return p, inv, s.load(ctx, &inv)
}

// Payments lists an invoice's payments.
func (s *Service) Payments(ctx context.Context, invoiceID uuid.UUID) ([]Payment, error) {
	return s.PaymentsTx(ctx, s.db, invoiceID)
}

// PaymentsTx lists an invoice's payments in tx.
func (s *Service) PaymentsTx(ctx context.Context, tx *gorm.DB, invoiceID uuid.UUID) ([]Payment, error) {
	var ps []Payment
	if err := tx.WithContext(ctx).Where("invoice_id = ?", invoiceID).Order("created_at").Find(&ps).Error; err != nil {
		return nil, errs.Internal(err)
	}
	return ps, nil
}

// Void cancels an unpaid invoice that has no payments: the bill should
// not exist as issued, but what it billed is owed still. It releases what
// the invoice claimed, in the voiding transaction: its service periods
// (billed_periods) and overage days (overage_windows, kept as released in
// overage_released so a later bill of that party looks at them again),
// and frees its billing key (kept as "<key>:void:<id>"). So the next run
// bills those periods again, at the terms then in force; a prepaid
// renewal's due date moves when that bill settles. Only this invoice's
// party is released: a partner sale's twin bill stands. To forgive a
// period, record a payment (method waiver) rather than void.
func (s *Service) Void(ctx context.Context, who auth.Principal, id uuid.UUID, ifVersion *int64) (Invoice, error) {
	var inv Invoice
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if inv, err = lockInvoice(payable(tx, who), who, id); err != nil {
			return err
		}
		if ifVersion != nil && *ifVersion != inv.Version {
			return errs.VersionMismatch()
		}
		if inv.Status != StatusUnpaid || inv.AmountPaid.IsPositive() {
			return errs.Conflict("invoice_not_voidable", "Only an unpaid invoice without payments can be voided.")
		}
		if err := release(ctx, tx, inv.ID); err != nil {
			return err
		}
		now := s.now()
		inv.Status, inv.VoidedAt, inv.Version, inv.UpdatedAt = StatusVoid, &now, inv.Version+1, now
		inv.BillingKey = voidKey(inv.BillingKey, inv.ID)
		if err := tx.Model(&Invoice{}).Where("id = ?", id).Updates(map[string]any{
			"status": StatusVoid, "voided_at": now, "version": inv.Version, "updated_at": now, "billing_key": inv.BillingKey}).Error; err != nil {
			return errs.Internal(err)
		}
		// Credit it took is owed again.
		if err := giveBack(tx, id); err != nil {
			return err
		}
		return s.voided(ctx, tx, inv)
	})
	if err != nil {
		return Invoice{}, err
	}
	return inv, s.load(ctx, &inv)
}

// voidKey is the key a void invoice keeps: its own, freed for the bill
// that replaces it.
func voidKey(key string, id uuid.UUID) string { return key + ":void:" + id.String() }

// release drops what a voided invoice claimed: its service periods and its
// overage windows (each recorded as released), under a lock on its services
// taken in id order after the invoice's, as settling takes them, so a
// bill being stored for them waits and reads the claims as they end up.
func release(ctx context.Context, tx *gorm.DB, invoiceID uuid.UUID) error {
	var services []uuid.UUID
	if err := tx.Raw(`SELECT service_id FROM billed_periods WHERE invoice_id = ?
		UNION SELECT service_id FROM overage_windows WHERE invoice_id = ? ORDER BY 1`, invoiceID, invoiceID).Scan(&services).Error; err != nil {
		return errs.Internal(err)
	}
	if err := lockServices(ctx, tx, services); err != nil {
		return err
	}
	for _, q := range []string{
		`INSERT INTO released_periods (service_id, party, period_start, invoice_id)
			SELECT service_id, party, period_start, invoice_id FROM billed_periods WHERE invoice_id = ?`,
		`INSERT INTO overage_released (service_id, party, first_day, last_day, invoice_id)
			SELECT service_id, party, first_day, last_day, invoice_id FROM overage_windows WHERE invoice_id = ?`,
		`DELETE FROM overage_windows WHERE invoice_id = ?`,
		`DELETE FROM billed_periods WHERE invoice_id = ?`,
	} {
		if err := tx.Exec(q, invoiceID).Error; err != nil {
			return errs.Internal(err)
		}
	}
	return nil
}

// AdvanceOnRenewal is the paid hook that moves a prepaid service's due date
// one cycle on when its customer pays the renewal of the period that starts
// on it.
func (s *Service) AdvanceOnRenewal(ctx context.Context, tx *gorm.DB, inv Invoice, services []uuid.UUID) error {
	if inv.Kind != InvoiceRenewal || inv.CustomerID == nil {
		return nil
	}
	for _, id := range services {
		var b billable
		if err := tx.WithContext(ctx).Raw(billableSelect+" WHERE s.id = ?", id).Scan(&b).Error; err != nil {
			return errs.Internal(err)
		}
		if b.NextDueDate == nil || b.AnchorDay == nil || !b.NextDueDate.Equal(inv.PeriodStart) {
			continue
		}
		next := AddCycle(inv.PeriodStart, b.months(), *b.AnchorDay)
		if err := tx.Table("services").Where("id = ?", id).Updates(map[string]any{"next_due_date": next, "version": gorm.Expr("version + 1")}).Error; err != nil {
			return errs.Internal(err)
		}
		// A renewal paid late (or settled by credit) can move the due date
		// to a day already past or inside the renewal horizon: its renewal
		// is issued now, as the day's run would have, so the service is
		// never active past its due date with nothing owed. One settled by
		// credit again moves on the same way.
		if err := s.RenewDueTx(ctx, tx, id); err != nil {
			return err
		}
	}
	return nil
}
