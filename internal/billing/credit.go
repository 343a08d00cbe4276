package billing

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
)

// Credit is money owed back to a bill-to party (a customer, or a partner
// billed at cost) by an issuer (the partner that bills the customer, else
// the SP's venture). It is taken off that party's next invoices from that
// issuer, whatever the service, so it outlives the service it came from.
type Credit struct {
	ID              uuid.UUID `gorm:"primaryKey"`
	CustomerID      *uuid.UUID
	PartnerID       *uuid.UUID
	VentureID       uuid.UUID
	IssuerPartnerID *uuid.UUID
	ServiceID       *uuid.UUID // where it came from
	Amount          decimal.Decimal
	Remaining       decimal.Decimal
	Reason          string
	CreatedAt       time.Time

	// Party is who is owed: PartyCustomer or PartyPartner.
	Party string `gorm:"-"`
}

// TableName keeps GORM on the migration's table.
func (Credit) TableName() string { return "credits" }

type creditApplication struct {
	CreditID  uuid.UUID `gorm:"primaryKey"`
	InvoiceID uuid.UUID `gorm:"primaryKey"`
	Amount    decimal.Decimal
}

func (creditApplication) TableName() string { return "credit_applications" }

// newCredit is a service's party's credit, owed by the issuer of that
// party's bills for the service.
func newCredit(b billable, party string, amount decimal.Decimal, reason string, now time.Time) Credit {
	id := b.ID
	c := Credit{ID: uuid.New(), VentureID: b.VentureID, ServiceID: &id, Amount: amount, Remaining: amount, Reason: reason, CreatedAt: now, Party: party}
	if party == PartyPartner {
		c.PartnerID = b.PartnerID
	} else {
		cust := b.CustomerID
		c.CustomerID, c.IssuerPartnerID = &cust, b.PartnerID
	}
	return c
}

// owes: the credit is owed to the invoice's bill-to party by its issuer.
func (c Credit) owes(inv Invoice) bool {
	switch {
	case inv.CustomerID != nil:
		if c.CustomerID == nil || *c.CustomerID != *inv.CustomerID {
			return false
		}
	case inv.PartnerID != nil:
		if c.PartnerID == nil || *c.PartnerID != *inv.PartnerID {
			return false
		}
	default:
		return false
	}
	if c.IssuerPartnerID != nil || inv.IssuerPartnerID != nil {
		return c.IssuerPartnerID != nil && inv.IssuerPartnerID != nil && *c.IssuerPartnerID == *inv.IssuerPartnerID
	}
	return c.VentureID == inv.VentureID
}

// applyCredits takes the open credits owed to the invoices' parties off
// them, in tx, before they are numbered: per set of taxes a credit line of
// up to the lines' sum (a bill never goes below zero), oldest credit
// first. The credit rows are locked, so two bills never take the same
// money; what each took is recorded so a void gives it back.
func (s *Service) applyCredits(tx *gorm.DB, invs []Invoice) ([]creditApplication, error) {
	var customers, partners []uuid.UUID
	for _, inv := range invs {
		if !inv.Total.IsPositive() || inv.draft == nil {
			continue
		}
		if inv.CustomerID != nil {
			customers = append(customers, *inv.CustomerID)
		} else if inv.PartnerID != nil {
			partners = append(partners, *inv.PartnerID)
		}
	}
	if len(customers)+len(partners) == 0 {
		return nil, nil
	}
	var open []Credit
	q := tx.Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Where("remaining > 0")
	switch {
	case len(customers) > 0 && len(partners) > 0:
		q = q.Where("(customer_id IN ? OR partner_id IN ?)", customers, partners)
	case len(customers) > 0:
		q = q.Where("customer_id IN ?", customers)
	default:
		q = q.Where("partner_id IN ?", partners)
	}
	if err := q.Order("id").Find(&open).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if len(open) == 0 {
		return nil, nil
	}
	sort.SliceStable(open, func(i, j int) bool { return open[i].CreatedAt.Before(open[j].CreatedAt) })
	var apps []creditApplication
	for i := range invs {
		inv := &invs[i]
		if !inv.Total.IsPositive() || inv.draft == nil {
			continue
		}
		var mine []*Credit
		for j := range open {
			if open[j].Remaining.IsPositive() && open[j].owes(*inv) {
				mine = append(mine, &open[j])
			}
		}
		if len(mine) == 0 {
			continue
		}
		d := *inv.draft
		lines, used := creditLines(d.Lines, mine)
		if len(lines) == 0 {
			continue
		}
		d.Lines = append(append([]Line(nil), d.Lines...), lines...)
		*inv = s.buildAs(inv.ID, d)
		for id, amt := range used {
			apps = append(apps, creditApplication{CreditID: id, InvoiceID: inv.ID, Amount: amt})
		}
	}
	for _, a := range apps {
		if err := tx.Model(&Credit{}).Where("id = ?", a.CreditID).Update("remaining", gorm.Expr("remaining - ?", a.Amount)).Error; err != nil {
			return nil, errs.Internal(err)
		}
	}
	return apps, nil
}

// creditLines are the credit lines of a bill: per set of taxes, in the
// order the lines name them, up to that set's sum. The credits' remaining
// amounts go down as they are used; used is what each gave.
func creditLines(lines []Line, credits []*Credit) ([]Line, map[uuid.UUID]decimal.Decimal) {
	type group struct {
		taxes []uuid.UUID
		sum   decimal.Decimal
	}
	var order []string
	groups := map[string]*group{}
	for _, l := range lines {
		ids := make([]string, len(l.TaxIDs))
		for i, id := range l.TaxIDs {
			ids[i] = id.String()
		}
		sort.Strings(ids)
		k := strings.Join(ids, ",")
		g, ok := groups[k]
		if !ok {
			g = &group{taxes: l.TaxIDs}
			groups[k] = g
			order = append(order, k)
		}
		g.sum = g.sum.Add(l.Amount)
	}
	used := map[uuid.UUID]decimal.Decimal{}
	var out []Line
	for _, k := range order {
		g := groups[k]
		take := decimal.Zero
		var from []map[string]any
		for _, c := range credits {
			want := g.sum.Sub(take)
			if !want.IsPositive() {
				break
			}
			n := decimal.Min(want, c.Remaining)
			if !n.IsPositive() {
				continue
			}
			c.Remaining = c.Remaining.Sub(n)
			used[c.ID] = used[c.ID].Add(n)
			take = take.Add(n)
			f := map[string]any{"credit_id": c.ID, "amount": money.String(n), "reason": c.Reason}
			if c.ServiceID != nil {
				f["service_id"] = *c.ServiceID
			}
			from = append(from, f)
		}
		if !take.IsPositive() {
			continue
		}
		out = append(out, Line{Kind: KindCredit, Description: "Credit", Quantity: decimal.NewFromInt(1), UnitPrice: take.Neg(), Amount: take.Neg(),
			TaxIDs: g.taxes, Detail: map[string]any{"credit": money.String(take), "credits": from}})
	}
	return out, used
}

// giveBack returns to their credits what a voided invoice took of them.
func giveBack(tx *gorm.DB, invoiceID uuid.UUID) error {
	err := tx.Exec(`UPDATE credits c SET remaining = c.remaining + a.amount FROM credit_applications a
		WHERE a.invoice_id = ? AND a.credit_id = c.id`, invoiceID).Error
	if err == nil {
		err = tx.Where("invoice_id = ?", invoiceID).Delete(&creditApplication{}).Error
	}
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// Balance is credit owed to a party by one issuer.
type Balance struct {
	VentureID       *uuid.UUID // the SP's venture that issues; nil when a partner does
	IssuerPartnerID *uuid.UUID
	Amount          decimal.Decimal
}

// CustomerCredit is the credit a customer holds, per issuer.
func (s *Service) CustomerCredit(ctx context.Context, customerID uuid.UUID) ([]Balance, error) {
	return s.balances(ctx, "customer_id", customerID)
}

// PartnerCredit is the credit a partner holds with the SP, per venture.
func (s *Service) PartnerCredit(ctx context.Context, partnerID uuid.UUID) ([]Balance, error) {
	return s.balances(ctx, "partner_id", partnerID)
}

// CustomerCreditTx is CustomerCredit read in tx.
func (s *Service) CustomerCreditTx(ctx context.Context, tx *gorm.DB, customerID uuid.UUID) ([]Balance, error) {
	return balancesIn(ctx, tx, "customer_id", customerID)
}

// PartnerCreditTx is PartnerCredit read in tx.
func (s *Service) PartnerCreditTx(ctx context.Context, tx *gorm.DB, partnerID uuid.UUID) ([]Balance, error) {
	return balancesIn(ctx, tx, "partner_id", partnerID)
}

func (s *Service) balances(ctx context.Context, col string, id uuid.UUID) ([]Balance, error) {
	return balancesIn(ctx, s.db, col, id)
}

func balancesIn(ctx context.Context, db *gorm.DB, col string, id uuid.UUID) ([]Balance, error) {
	var rows []Balance
	// A partner-issued credit is the partner's whatever the venture.
	err := db.WithContext(ctx).Raw(`SELECT CASE WHEN issuer_partner_id IS NULL THEN venture_id END AS venture_id, issuer_partner_id,
		sum(remaining) AS amount FROM credits WHERE `+col+` = ? AND remaining > 0 GROUP BY 1, 2 ORDER BY 2 NULLS FIRST, 1`, id).Scan(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	return rows, nil
}

// settledTx moves on whatever an invoice paid in full stands for, in the
// transaction that settles it: by a payment, by credit or by a zero total
// alike (a renewal's due date, a pending order's approval, a suspended
// service's unsuspension). A run drafting a renewal of these services
// meanwhile drafts it again when it stores (it sees the due date moved).
func (s *Service) settledTx(ctx context.Context, tx *gorm.DB, inv Invoice) error {
	var services []uuid.UUID
	if err := tx.Table("billed_periods").Where("invoice_id = ?", inv.ID).Order("service_id").Pluck("service_id", &services).Error; err != nil {
		return errs.Internal(err)
	}
	// The hooks update these services one after another (a due date, an
	// unsuspension), each in its own order: lock them all first, in id
	// order as a run's storing transaction does, so that neither waits on
	// the other in a cycle.
	if err := lockServices(ctx, tx, services); err != nil {
		return err
	}
	if inv.Lines == nil && len(s.onPaid) > 0 {
		if err := loadTx(ctx, tx, &inv); err != nil {
			return err
		}
	}
	for _, h := range s.onPaid {
		if err := h(ctx, tx, inv, services); err != nil {
			return err
		}
	}
	return nil
}
