package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
)

// Invoice statuses.
const (
	StatusDraft  = "draft"
	StatusUnpaid = "unpaid"
	StatusPaid   = "paid"
	StatusVoid   = "void"
)

// Invoice kinds.
const (
	InvoicePrepaid  = "prepaid"
	InvoiceRenewal  = "renewal"
	InvoicePostpaid = "postpaid"
)

// Parties billed for a service: its customer, or the selling partner at cost.
const (
	PartyCustomer = "customer"
	PartyPartner  = "partner"
)

// Invoice is a bill to a customer (by the SP or, for a partner sale, in the
// partner's name) or to a partner (by the SP, at cost).
type Invoice struct {
	ID              uuid.UUID `gorm:"primaryKey"`
	Number          *string
	BillingKey      string
	VentureID       uuid.UUID
	IssuerPartnerID *uuid.UUID
	CustomerID      *uuid.UUID
	PartnerID       *uuid.UUID
	Kind            string
	Status          string
	Currency        string
	Subtotal        decimal.Decimal
	TaxTotal        decimal.Decimal
	Total           decimal.Decimal
	AmountPaid      decimal.Decimal
	IssueDate       *time.Time `gorm:"type:date"`
	DueDate         *time.Time `gorm:"type:date"`
	PeriodStart     time.Time  `gorm:"type:date"`
	PeriodEnd       time.Time  `gorm:"type:date"`
	BillingRunID    *uuid.UUID
	PaidAt          *time.Time
	VoidedAt        *time.Time
	Version         int64
	CreatedAt       time.Time
	UpdatedAt       time.Time

	Lines   []InvoiceLine             `gorm:"-"`
	Taxes   []InvoiceTax              `gorm:"-"`
	bills   []billedPeriod            `gorm:"-"`
	windows []overageClaim            `gorm:"-"`
	then    []func(tx *gorm.DB) error `gorm:"-"`
	draft   *Draft                    `gorm:"-"`
}

// Balance is what is left to pay.
func (i Invoice) Balance() decimal.Decimal { return i.Total.Sub(i.AmountPaid) }

// InvoiceLine is a stored line.
type InvoiceLine struct {
	ID          uuid.UUID `gorm:"primaryKey"`
	InvoiceID   uuid.UUID
	Position    int
	Kind        string
	ServiceID   *uuid.UUID
	Description string
	PeriodStart *time.Time `gorm:"type:date"`
	PeriodEnd   *time.Time `gorm:"type:date"`
	Quantity    decimal.Decimal
	UnitPrice   decimal.Decimal
	Amount      decimal.Decimal
	TaxIDs      pq.StringArray `gorm:"type:uuid[]"`
	Detail      []byte         `gorm:"type:jsonb"`
}

// InvoiceTax is one tax of an invoice.
type InvoiceTax struct {
	InvoiceID uuid.UUID `gorm:"primaryKey"`
	TaxID     uuid.UUID `gorm:"primaryKey"`
	Name      string
	Rate      decimal.Decimal
	Base      decimal.Decimal
	Amount    decimal.Decimal
}

type billedPeriod struct {
	ServiceID   uuid.UUID `gorm:"primaryKey"`
	Party       string    `gorm:"primaryKey"`
	PeriodStart time.Time `gorm:"primaryKey;type:date"`
	InvoiceID   uuid.UUID
}

func (Invoice) TableName() string      { return "invoices" }
func (InvoiceLine) TableName() string  { return "invoice_lines" }
func (InvoiceTax) TableName() string   { return "invoice_taxes" }
func (billedPeriod) TableName() string { return "billed_periods" }

// Draft is an invoice before it is stored and numbered.
type Draft struct {
	Key             string
	VentureID       uuid.UUID
	IssuerPartnerID *uuid.UUID
	CustomerID      *uuid.UUID
	PartnerID       *uuid.UUID
	Kind            string
	PeriodStart     time.Time
	PeriodEnd       time.Time
	IssueDate       time.Time
	DueDate         time.Time
	Party           string
	Lines           []Line
	Taxes           map[uuid.UUID]Tax
	RunID           *uuid.UUID
	// Then runs in the storing transaction once the invoice is stored
	// (never for one found billed already).
	Then []func(tx *gorm.DB) error
	// Unclaimed invoices take no service period (overage bills are kept
	// apart by the overage window instead).
	Unclaimed bool
	// Overage is the overage windows this bill looked at, claimed for its
	// party whether or not storage went over.
	Overage []Window
}

// build turns a draft into rows; every service line's period is claimed for
// its party in billed_periods.
func (s *Service) build(d Draft) Invoice { return s.buildAs(uuid.New(), d) }

func (s *Service) buildAs(id uuid.UUID, d Draft) Invoice {
	now := s.now()
	sub, taxTotal, total, perTax := Totals(d.Lines, d.Taxes)
	inv := Invoice{ID: id, BillingKey: d.Key, VentureID: d.VentureID, IssuerPartnerID: d.IssuerPartnerID,
		CustomerID: d.CustomerID, PartnerID: d.PartnerID, Kind: d.Kind, Status: StatusUnpaid, Currency: s.currency,
		Subtotal: sub, TaxTotal: taxTotal, Total: total, IssueDate: &d.IssueDate, DueDate: &d.DueDate,
		PeriodStart: d.PeriodStart, PeriodEnd: d.PeriodEnd, BillingRunID: d.RunID, Version: 1, CreatedAt: now, UpdatedAt: now, then: d.Then, draft: &d}
	for _, w := range d.Overage {
		for _, sp := range w.Spans {
			inv.windows = append(inv.windows, overageClaim{ServiceID: w.ServiceID, Party: d.Party, FirstDay: sp.from, LastDay: sp.to, InvoiceID: &inv.ID})
		}
	}
	if total.IsZero() {
		inv.Status, inv.PaidAt = StatusPaid, &now
	}
	claimed := map[billedPeriod]bool{}
	for i, l := range d.Lines {
		detail, _ := json.Marshal(l.Detail)
		if l.Detail == nil {
			detail = []byte("{}")
		}
		ids := make(pq.StringArray, len(l.TaxIDs))
		for j, id := range l.TaxIDs {
			ids[j] = id.String()
		}
		inv.Lines = append(inv.Lines, InvoiceLine{ID: uuid.New(), InvoiceID: inv.ID, Position: i + 1, Kind: l.Kind, ServiceID: l.ServiceID,
			Description: l.Description, PeriodStart: l.PeriodStart, PeriodEnd: l.PeriodEnd, Quantity: l.Quantity,
			UnitPrice: l.UnitPrice, Amount: l.Amount, TaxIDs: ids, Detail: detail})
		if l.ServiceID != nil && !d.Unclaimed {
			bp := billedPeriod{ServiceID: *l.ServiceID, Party: d.Party, PeriodStart: d.PeriodStart, InvoiceID: inv.ID}
			if !claimed[bp] {
				claimed[bp] = true
				inv.bills = append(inv.bills, bp)
			}
		}
	}
	for _, t := range perTax {
		inv.Taxes = append(inv.Taxes, InvoiceTax{InvoiceID: inv.ID, TaxID: t.ID, Name: t.Name, Rate: t.Rate, Base: t.Base, Amount: t.Amount})
	}
	return inv
}

// numberScope is whose sequence an invoice takes: the partner issuing it,
// else its venture.
func numberScope(inv Invoice) string {
	if inv.IssuerPartnerID != nil {
		return "partner:" + inv.IssuerPartnerID.String()
	}
	return "venture:" + inv.VentureID.String()
}

// insert stores invoices in tx and numbers them gap-free, per issuer and
// year: the counter row is locked until tx ends, so a rollback takes the
// numbers back too. Invoices whose key is taken are skipped (already
// billed); it returns those stored.
func (s *Service) insert(ctx context.Context, tx *gorm.DB, invs []Invoice) ([]Invoice, error) {
	stored, _, err := s.insertRun(ctx, tx, invs, nil)
	return stored, err
}

// insertRun is insert for a run: skipped counts the invoices found made
// already by anything but this run (an earlier attempt of it counted them
// as its own). A bill is found made by its key only when every service
// period it claims is claimed already: a key taken by a bill that left one
// of them out fails the batch (period_left_unbilled) rather than leave that
// period unbilled as "skipped".
func (s *Service) insertRun(ctx context.Context, tx *gorm.DB, invs []Invoice, run *uuid.UUID) ([]Invoice, int, error) {
	if len(invs) == 0 {
		return nil, 0, nil
	}
	tx = tx.WithContext(ctx)
	keys := make([]string, len(invs))
	for i, inv := range invs {
		keys[i] = inv.BillingKey
	}
	var taken []struct {
		BillingKey   string
		BillingRunID *uuid.UUID
	}
	if err := tx.Model(&Invoice{}).Where("billing_key IN ?", keys).Select("billing_key, billing_run_id").Scan(&taken).Error; err != nil {
		return nil, 0, errs.Internal(err)
	}
	skip := map[string]bool{}
	skipped := 0
	for _, k := range taken {
		skip[k.BillingKey] = true
		if run == nil || k.BillingRunID == nil || *k.BillingRunID != *run {
			skipped++
		}
	}
	var fresh, found []Invoice
	for _, inv := range invs {
		if !skip[inv.BillingKey] {
			fresh = append(fresh, inv)
		} else {
			found = append(found, inv)
		}
	}
	if err := unclaimed(tx, found); err != nil {
		return nil, 0, err
	}
	if len(fresh) == 0 {
		return nil, skipped, nil
	}
	stored, err := s.storeFresh(ctx, tx, fresh)
	return stored, skipped, err
}

// unclaimed fails with period_left_unbilled when a bill found made (its
// key taken, or refused for a period claimed under another key) claims a
// service period (service, party, period start) that no invoice claims:
// the bill that was found does not bill it, and skipping this one would
// leave the period unbilled.
func unclaimed(tx *gorm.DB, found []Invoice) error {
	claim := func(bp billedPeriod) string {
		return bp.ServiceID.String() + " (" + bp.Party + ") from " + dateStr(bp.PeriodStart)
	}
	want := map[string]string{}
	var ids []uuid.UUID
	for _, inv := range found {
		for _, bp := range inv.bills {
			if _, ok := want[claim(bp)]; !ok {
				want[claim(bp)] = inv.BillingKey
				ids = append(ids, bp.ServiceID)
			}
		}
	}
	if len(want) == 0 {
		return nil
	}
	var have []billedPeriod
	if err := tx.Table("billed_periods").Where("service_id IN ?", ids).Select("service_id, party, period_start").Find(&have).Error; err != nil {
		return errs.Internal(err)
	}
	for _, bp := range have {
		delete(want, claim(bp))
	}
	if len(want) == 0 {
		return nil
	}
	var missing []string
	for c, key := range want {
		missing = append(missing, "service "+c+" (bill "+key+")")
	}
	sort.Strings(missing)
	return errs.Conflict("period_left_unbilled", "No invoice bills "+strings.Join(missing, "; ")+
		", yet the bill is found made: its key or another period is taken by an invoice that leaves this one out.")
}

// fits refuses invoices with an amount no money column can hold (a huge
// price times a quantity, a markup, a tax): 422 amount_too_large rather than
// the database's overflow. Callers that know the input at fault rename the
// field (money.TooLargeAs).
func fits(invs []Invoice) error {
	for _, inv := range invs {
		ok := money.Fits(inv.Subtotal) && money.Fits(inv.TaxTotal) && money.Fits(inv.Total)
		for _, l := range inv.Lines {
			ok = ok && money.Fits(l.UnitPrice) && money.Fits(l.Amount)
		}
		for _, t := range inv.Taxes {
			ok = ok && money.Fits(t.Base) && money.Fits(t.Amount)
		}
		if !ok {
			return money.TooLarge("total")
		}
	}
	return nil
}

// storeFresh numbers and stores invoices whose keys are free.
func (s *Service) storeFresh(ctx context.Context, tx *gorm.DB, fresh []Invoice) ([]Invoice, error) {
	fresh, err := s.reclaim(ctx, tx, fresh)
	if err != nil || len(fresh) == 0 {
		return nil, err
	}
	if err := fits(fresh); err != nil {
		return nil, err
	}
	apps, err := s.applyCredits(tx, fresh)
	if err != nil {
		return nil, err
	}
	if err := s.number(tx, fresh); err != nil {
		return nil, err
	}
	var lines []InvoiceLine
	var taxes []InvoiceTax
	var bills []billedPeriod
	var windows []overageClaim
	for _, inv := range fresh {
		lines = append(lines, inv.Lines...)
		taxes = append(taxes, inv.Taxes...)
		bills = append(bills, inv.bills...)
		windows = append(windows, inv.windows...)
	}
	if err := tx.CreateInBatches(fresh, 500).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if err := tx.CreateInBatches(lines, 500).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if len(taxes) > 0 {
		if err := tx.CreateInBatches(taxes, 500).Error; err != nil {
			return nil, errs.Internal(err)
		}
	}
	if len(bills) > 0 {
		// A period billed already (by another key) fails the batch: the
		// caller rolls back, so nothing is billed twice.
		if err := tx.CreateInBatches(bills, 500).Error; err != nil {
			return nil, errs.Conflict("already_billed", "A service period in this batch is billed already.")
		}
	}
	if len(windows) > 0 {
		// reclaim left out the days claimed already; an overlap here is
		// a path that claimed without the service's lock, and fails the
		// batch the same way.
		if err := tx.CreateInBatches(windows, 500).Error; err != nil {
			return nil, errs.Conflict("already_billed", "An overage window in this batch is billed already.")
		}
	}
	if len(apps) > 0 {
		if err := tx.CreateInBatches(apps, 500).Error; err != nil {
			return nil, errs.Internal(err)
		}
	}
	for _, inv := range fresh {
		for _, f := range inv.then {
			if err := f(tx); err != nil {
				return nil, errs.Internal(err)
			}
		}
	}
	if err := s.issued(ctx, tx, fresh); err != nil {
		return nil, err
	}
	// A bill born paid (a zero total, or credit covering it) settles here,
	// through the same path as a payment.
	for _, inv := range fresh {
		if inv.Status == StatusPaid {
			if err := s.settledTx(ctx, tx, inv); err != nil {
				return nil, err
			}
		}
	}
	return fresh, nil
}

func (s *Service) number(tx *gorm.DB, invs []Invoice) error {
	type scopeYear struct {
		scope string
		year  int
	}
	need := map[scopeYear]int{}
	var order []scopeYear
	for _, inv := range invs {
		k := scopeYear{numberScope(inv), inv.IssueDate.Year()}
		if need[k] == 0 {
			order = append(order, k)
		}
		need[k]++
	}
	// The prefixes first: the counter row below is held until the
	// transaction commits, so it is taken as late as it can be.
	prefixes, err := s.prefixes(tx, invs)
	if err != nil {
		return err
	}
	if err := s.claimPrefixes(tx, prefixes); err != nil {
		return err
	}
	next := map[scopeYear]int64{}
	for _, k := range order {
		var last int64
		err := tx.Raw(`INSERT INTO invoice_counters (scope, year, last) VALUES (?, ?, ?)
			ON CONFLICT (scope, year) DO UPDATE SET last = invoice_counters.last + EXCLUDED.last
			RETURNING last`, k.scope, k.year, need[k]).Scan(&last).Error
		if err != nil {
			return errs.Internal(err)
		}
		next[k] = last - int64(need[k]) + 1
	}
	for i := range invs {
		k := scopeYear{numberScope(invs[i]), invs[i].IssueDate.Year()}
		n := fmt.Sprintf("%s-%d-%06d", prefixes[k.scope], k.year, next[k])
		next[k]++
		invs[i].Number = &n
	}
	return nil
}

// claimPrefixes records each prefix as used by its scope, in the numbering
// transaction: from then on a venture's prefix is frozen and no other
// venture may take it. A prefix some other scope printed already fails the
// batch rather than repeat a number. A claim found committed is
// remembered (claims are never removed), so an issuer's later invoices
// skip the two statements.
func (s *Service) claimPrefixes(tx *gorm.DB, prefixes map[string]string) error {
	scopes := make([]string, 0, len(prefixes))
	for sc, p := range prefixes {
		if owner, ok := s.claimed.Load(p); !ok || owner != sc {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	sort.Strings(scopes) // one lock order for every batch
	now := s.now()
	values := make([]string, len(scopes))
	args := make([]any, 0, 3*len(scopes))
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		values[i] = "(?, ?, ?)"
		args = append(args, prefixes[sc], sc, now)
		names[i] = prefixes[sc]
	}
	// RETURNING names the rows this transaction inserts; the others were
	// there, committed (a conflicting insert in flight is waited for).
	var inserted []string
	if err := tx.Raw(`INSERT INTO used_invoice_prefixes (prefix, scope, first_used_at) VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (prefix) DO NOTHING RETURNING prefix`, args...).Scan(&inserted).Error; err != nil {
		return errs.Internal(err)
	}
	var owners []struct{ Prefix, Scope string }
	if err := tx.Raw(`SELECT prefix, scope FROM used_invoice_prefixes WHERE prefix IN ?`, names).Scan(&owners).Error; err != nil {
		return errs.Internal(err)
	}
	for _, o := range owners {
		for _, sc := range scopes {
			if prefixes[sc] == o.Prefix && o.Scope != sc {
				return errs.Conflict("invoice_prefix_taken", fmt.Sprintf("The invoice prefix %s was used by another issuer; its numbers cannot be reused.", o.Prefix))
			}
		}
		if !slices.Contains(inserted, o.Prefix) {
			s.claimed.Store(o.Prefix, o.Scope)
		}
	}
	return nil
}

// prefixes are the venture's invoice prefix, or for a partner "P" and the
// start of its id. The venture rows are share-locked until the invoices
// commit, so a prefix change either happens before (and is used) or waits
// and finds the prefix used.
func (s *Service) prefixes(tx *gorm.DB, invs []Invoice) (map[string]string, error) {
	out := map[string]string{}
	var ventures []uuid.UUID
	for _, inv := range invs {
		if inv.IssuerPartnerID != nil {
			out[numberScope(inv)] = "P" + strings.ToUpper(inv.IssuerPartnerID.String()[:8])
		} else {
			ventures = append(ventures, inv.VentureID)
		}
	}
	if len(ventures) > 0 {
		var rows []struct {
			ID            uuid.UUID
			InvoicePrefix string
		}
		if err := tx.Raw(`SELECT id, invoice_prefix FROM ventures WHERE id IN ? ORDER BY id FOR SHARE`, ventures).Scan(&rows).Error; err != nil {
			return nil, errs.Internal(err)
		}
		for _, r := range rows {
			out["venture:"+r.ID.String()] = r.InvoicePrefix
		}
	}
	return out, nil
}

// scoped limits invoices to the caller's: all for an admin; for a partner
// those it issued (its customers') and those billed to it; for a customer
// its own.
func scoped(q *gorm.DB, who auth.Principal) *gorm.DB {
	switch {
	case who.IsAdmin():
		return q
	case who.Role == auth.RolePartner && who.PartnerID != nil:
		return q.Where("(invoices.issuer_partner_id = ? OR invoices.partner_id = ?)", *who.PartnerID, *who.PartnerID)
	case who.Role == auth.RoleCustomer && who.CustomerID != nil:
		return q.Where("invoices.customer_id = ?", *who.CustomerID)
	default:
		return q.Where("false")
	}
}

// Get reads an invoice the caller may see, with its lines and taxes.
func (s *Service) Get(ctx context.Context, who auth.Principal, id uuid.UUID) (Invoice, error) {
	inv, err := page.Take[Invoice](scoped(s.db.WithContext(ctx), who), "invoices", id, "invoice", false)
	if err != nil {
		return Invoice{}, err
	}
	return inv, s.load(ctx, &inv)
}

func (s *Service) load(ctx context.Context, inv *Invoice) error {
	db := s.db.WithContext(ctx)
	if err := db.Where("invoice_id = ?", inv.ID).Order("position").Find(&inv.Lines).Error; err != nil {
		return errs.Internal(err)
	}
	if err := db.Where("invoice_id = ?", inv.ID).Order("name").Find(&inv.Taxes).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// Filter narrows a list.
type Filter struct {
	Status     *string
	CustomerID *uuid.UUID
	PartnerID  *uuid.UUID
	ServiceID  *uuid.UUID
}

// List pages through the invoices the caller may see (without lines).
func (s *Service) List(ctx context.Context, who auth.Principal, f Filter, r page.Request) ([]Invoice, string, error) {
	q := scoped(s.db.WithContext(ctx).Model(&Invoice{}), who)
	if f.Status != nil {
		q = q.Where("invoices.status = ?", *f.Status)
	}
	if f.CustomerID != nil {
		q = q.Where("invoices.customer_id = ?", *f.CustomerID)
	}
	if f.PartnerID != nil {
		q = q.Where("invoices.partner_id = ?", *f.PartnerID)
	}
	if f.ServiceID != nil {
		q = q.Where("EXISTS (SELECT 1 FROM invoice_lines l WHERE l.invoice_id = invoices.id AND l.service_id = ?)", *f.ServiceID)
	}
	return page.Find(q, "invoices", r, func(i Invoice) page.Key { return page.Key{CreatedAt: i.CreatedAt, ID: i.ID} })
}

// lockInvoice reads an invoice for update, scoped to the caller.
func lockInvoice(tx *gorm.DB, who auth.Principal, id uuid.UUID) (Invoice, error) {
	return page.Take[Invoice](scoped(tx, who).Clauses(clause.Locking{Strength: "NO KEY UPDATE"}), "invoices", id, "invoice", false)
}
