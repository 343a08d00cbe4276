package billing

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/money"
	"github.com/acronis-platform/platform/internal/page"
)

// Run kinds.
const (
	RunAll      = "all"
	RunRenewals = "renewals"
	RunPostpaid = "postpaid"
)

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	// RunInterrupted: its worker stopped beating; what it stored stays.
	RunInterrupted = "interrupted"
)

// Run is one billing run and what it did.
type Run struct {
	ID          uuid.UUID `gorm:"primaryKey"`
	Kind        string
	AsOf        time.Time `gorm:"type:date"`
	Status      string
	Invoices    int
	Skipped     int
	Total       decimal.Decimal
	Failures    []byte `gorm:"type:jsonb"`
	RequestedBy string
	StartedAt   *time.Time
	HeartbeatAt *time.Time
	FinishedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName keeps GORM on the migration's table.
func (Run) TableName() string { return "billing_runs" }

// Failure is one thing a run could not bill.
type Failure struct {
	What   string `json:"what"`
	Reason string `json:"reason"`
}

// result is a run being done: its row gets the counts in each chunk's
// transaction; invoices is what this attempt stored.
type result struct {
	run      uuid.UUID
	invoices int
}

// count adds a chunk's outcome to the run row, in tx (the chunk's own
// transaction when it stored invoices), and beats the heartbeat: the row
// never shows less than is committed. A run wrongly taken for dead is
// running again.
func (res *result) count(tx *gorm.DB, now time.Time, invoices, skipped int, total decimal.Decimal) error {
	err := tx.Exec(`UPDATE billing_runs SET invoices = invoices + ?, skipped = skipped + ?, total = total + ?,
		status = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?`, invoices, skipped, total, RunRunning, now, now, res.run).Error
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// fail records a failure on the run row as it happens.
func (res *result) fail(db *gorm.DB, now time.Time, f Failure) error {
	j, _ := json.Marshal([]Failure{f})
	if err := db.Exec(`UPDATE billing_runs SET failures = failures || ?::jsonb, heartbeat_at = ?, updated_at = ? WHERE id = ?`,
		string(j), now, now, res.run).Error; err != nil {
		return errs.Internal(err)
	}
	return nil
}

// NewRun records a queued run.
func (s *Service) NewRun(ctx context.Context, tx *gorm.DB, who string, kind string, asOf time.Time) (Run, error) {
	now := s.now()
	r := Run{ID: uuid.New(), Kind: kind, AsOf: asOf, Status: RunQueued, Total: decimal.Zero, Failures: []byte("[]"),
		RequestedBy: who, CreatedAt: now, UpdatedAt: now}
	if err := tx.WithContext(ctx).Create(&r).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	return r, nil
}

// GetRun reads a run.
func (s *Service) GetRun(ctx context.Context, id uuid.UUID) (Run, error) {
	return page.Take[Run](s.db.WithContext(ctx), "billing_runs", id, "billing run", false)
}

// ListRuns pages through runs, newest last.
func (s *Service) ListRuns(ctx context.Context, r page.Request) ([]Run, string, error) {
	return page.Find(s.db.WithContext(ctx).Model(&Run{}), "billing_runs", r, func(v Run) page.Key { return page.Key{CreatedAt: v.CreatedAt, ID: v.ID} })
}

// Execute does a run: everything due up to its as-of date that is not
// billed yet. Each customer's (and partner's) invoices commit on their own,
// so a run killed halfway leaves whole invoices, and running it again
// bills only the rest.
func (s *Service) Execute(ctx context.Context, id uuid.UUID) (Run, error) {
	r, err := s.GetRun(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if r.Status == RunCompleted {
		return r, nil
	}
	// A retry goes on from what is committed: its counts stay, failures
	// are found again.
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{"status": RunRunning,
		"started_at": gorm.Expr("coalesce(started_at, ?)", now), "heartbeat_at": now, "failures": []byte("[]"), "updated_at": now}).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	res := result{run: r.ID}
	err = nil
	if r.Kind == RunAll || r.Kind == RunRenewals {
		err = s.renewals(ctx, r, &res)
	}
	if err == nil && (r.Kind == RunAll || r.Kind == RunPostpaid) {
		err = s.postpaid(ctx, r, &res)
	}
	if err != nil {
		if ctx.Err() != nil {
			// Stopped (shutdown, cancel): say so at once rather than
			// when the heartbeat goes stale.
			now := s.now()
			_ = s.db.WithContext(context.WithoutCancel(ctx)).Model(&Run{}).Where("id = ? AND status = ?", r.ID, RunRunning).
				Updates(map[string]any{"status": RunInterrupted, "updated_at": now}).Error
		}
		return Run{}, err
	}
	done := s.now()
	if err := s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{
		"status": RunCompleted, "heartbeat_at": done, "finished_at": done, "updated_at": done,
	}).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	return s.GetRun(ctx, r.ID)
}

// storeUnits stores units' invoices in one transaction (each party's
// drafted again there if its services changed since it was read) and
// counts the outcome in it; made is how many it stored.
func (s *Service) storeUnits(ctx context.Context, units []unit, res *result) (made int, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		invs, err := s.current(ctx, tx, units)
		if err != nil {
			return err
		}
		stored, skipped, err := s.insertRun(ctx, tx, invs, &res.run)
		made = len(stored)
		if err != nil {
			return err
		}
		return res.count(tx, s.now(), len(stored), skipped, sum(stored))
	})
	return made, err
}

// store issues one party's invoices in a transaction of their own and
// counts the outcome; a failure is recorded and the run goes on.
func (s *Service) store(ctx context.Context, u unit, res *result) error {
	n, err := s.storeUnits(ctx, []unit{u}, res)
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errs.CodeOf(err) == "already_billed":
		// Its period is billed under another key (overage windows
		// claimed meanwhile are left out as it is stored): found made,
		// unless a period it claims is claimed by no invoice, which
		// skipping would leave unbilled.
		if err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			invs, err := s.current(ctx, tx, []unit{u})
			if err != nil {
				return err
			}
			return unclaimed(tx, invs)
		}); err != nil {
			return res.fail(s.db.WithContext(ctx), s.now(), Failure{What: u.what, Reason: err.Error()})
		}
		return res.count(s.db.WithContext(ctx), s.now(), 0, len(u.drafts), decimal.Zero)
	case err != nil:
		return res.fail(s.db.WithContext(ctx), s.now(), Failure{What: u.what, Reason: err.Error()})
	}
	res.invoices += n
	return nil
}

func sum(invs []Invoice) decimal.Decimal {
	t := decimal.Zero
	for _, inv := range invs {
		t = t.Add(inv.Total)
	}
	return t
}

// chunk is how many parties' invoices share a transaction: committing each
// alone costs a disk flush apiece.
const chunk = 100

// storeAll stores units a chunk per transaction. A chunk that fails (a
// period billed meanwhile by another run, say) is stored again a unit at a
// time, so one bad party costs no other its invoice.
func (s *Service) storeAll(ctx context.Context, units []unit, res *result) error {
	for len(units) > 0 {
		n := min(chunk, len(units))
		part := units[:n]
		units = units[n:]
		before := res.invoices
		if s.beforeStore != nil {
			s.beforeStore()
		}
		made, err := s.storeUnits(ctx, part, res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			for _, u := range part {
				if err := s.store(ctx, u, res); err != nil {
					return err
				}
			}
			continue
		}
		res.invoices += made
		if err := s.refreshStats(ctx, before, res.invoices); err != nil {
			return err
		}
	}
	return nil
}

// refreshStats analyzes the invoice tables as a run fills them: tables
// analyzed while small (a new installation, the first big run) would
// otherwise be scanned for every key and foreign-key check.
func (s *Service) refreshStats(ctx context.Context, before, after int) error {
	for _, mark := range []int{2000, 20000, 200000} {
		if before < mark && after >= mark {
			if err := s.db.WithContext(ctx).Exec("ANALYZE invoices, invoice_lines, invoice_taxes, billed_periods").Error; err != nil {
				return errs.Internal(err)
			}
		}
	}
	return nil
}

// renewalWhere picks the prepaid services due to renew by a horizon.
const renewalWhere = `
	WHERE pr.billing_model = 'prepaid' AND NOT s.free_trial AND s.status IN ('active', 'suspended')
	  AND s.next_due_date <= ?`

// renewals bills the next period of prepaid services whose due date is at
// most DaysBeforeDue days after the as-of date, and the prepaid periods
// behind the due date that a void released.
func (s *Service) renewals(ctx context.Context, r Run, res *result) error {
	units, err := s.releasedUnits(ctx, s.db, r, nil)
	if err != nil {
		return err
	}
	if err := s.storeAll(ctx, units, res); err != nil {
		return err
	}
	horizon := r.AsOf.AddDate(0, 0, s.cfg.DaysBeforeDue)
	var after uuid.UUID
	for {
		var batch []billable
		err := s.db.WithContext(ctx).Raw(billableSelect+renewalWhere+` AND s.id > ?
			ORDER BY s.id LIMIT 500`, horizon, after).Scan(&batch).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(batch) == 0 {
			return nil
		}
		after = batch[len(batch)-1].ID
		units, err := s.renewalUnits(ctx, s.db, r, batch)
		if err != nil {
			return err
		}
		if err := s.storeAll(ctx, units, res); err != nil {
			return err
		}
	}
}

// renewalUnits drafts the renewals of due services, reading taxes and
// usage through db: per service its next period and, per party, the
// storage over quota since it was last billed, up to the run day.
func (s *Service) renewalUnits(ctx context.Context, db *gorm.DB, r Run, batch []billable) ([]unit, error) {
	groups := make([]uuid.UUID, len(batch))
	for i, b := range batch {
		groups[i] = b.ProductGroupID
	}
	taxes, err := s.taxesOf(ctx, db, groups)
	if err != nil {
		return nil, err
	}
	since := r.AsOf
	for _, b := range batch {
		for _, party := range []string{PartyCustomer, PartyPartner} {
			if w := overageWindow(b, party, time.Time{}, r.AsOf); len(w) > 0 && w[0].from.Before(since) {
				since = w[0].from
			}
		}
	}
	usage, err := s.usageIn(ctx, db, storageTenants(batch), since, r.AsOf)
	if err != nil {
		return nil, err
	}
	var units []unit
	for _, b := range batch {
		if b.AnchorDay == nil || b.NextDueDate == nil {
			continue
		}
		from := *b.NextDueDate
		to := AddCycle(from, b.months(), *b.AnchorDay).AddDate(0, 0, -1)
		key := fmt.Sprintf("renewal:%s:%s", b.ID, dateStr(from))
		t := taxes[b.ProductGroupID]
		ds := drafts(b, InvoiceRenewal, key, from, to, r.AsOf, from, false, t, &r.ID)
		for i := range ds {
			w := overageWindow(b, ds[i].Party, time.Time{}, r.AsOf)
			if len(w) == 0 {
				continue
			}
			days := usage[*b.VendorTenantID][*b.StorageItem]
			if l, ok := overageLine(b, ds[i].Party, w, days, t); ok {
				ds[i].Lines = append(ds[i].Lines, l)
			}
			ds[i].Overage = append(ds[i].Overage, window(b, w, days, t))
		}
		units = append(units, unit{what: "service " + b.ID.String(), drafts: ds, services: []billable{b}, redo: s.redoRenewal(r, b.ID)})
	}
	return units, nil
}

// redoRenewal drafts a service's renewal again from the service as it is:
// none if it is no longer due by the run's horizon (terminated, its term
// changed, its due date moved on), else at its current quantity and price.
func (s *Service) redoRenewal(r Run, id uuid.UUID) func(ctx context.Context, tx *gorm.DB) ([]Draft, error) {
	return func(ctx context.Context, tx *gorm.DB) ([]Draft, error) {
		var batch []billable
		if err := tx.WithContext(ctx).Raw(billableSelect+renewalWhere+` AND s.id = ?`,
			r.AsOf.AddDate(0, 0, s.cfg.DaysBeforeDue), id).Scan(&batch).Error; err != nil {
			return nil, errs.Internal(err)
		}
		units, err := s.renewalUnits(ctx, tx, r, batch)
		if err != nil || len(units) == 0 {
			return nil, err
		}
		return units[0].drafts, nil
	}
}

// releasedPeriods picks the prepaid periods (a first period or a renewal)
// of live services that a void released, that no bill of that party
// claims again and that lie behind the service's due date: the renewals
// bill only from the due date on, so such a period (a partner's bill at
// cost voided after its customer's renewal moved the due date on, the
// first invoice of a service already active) is billed again here.
const releasedPeriods = `
	SELECT DISTINCT ON (r.service_id, r.party, r.period_start) r.service_id, r.party, r.period_start, i.period_end, i.kind FROM released_periods r
	JOIN invoices i ON i.id = r.invoice_id AND i.kind IN ('prepaid', 'renewal')
	JOIN services s ON s.id = r.service_id
	WHERE s.status IN ('active', 'suspended') AND NOT s.free_trial AND r.period_start < s.next_due_date
	  AND NOT EXISTS (SELECT 1 FROM billed_periods b WHERE b.service_id = r.service_id AND b.party = r.party AND b.period_start = r.period_start)`

// releasedUnits drafts the periods releasedPeriods picks (of one service
// when only is set; a period voided more than once as its last void left
// it), each for its party only, at the terms in force now, issued and due
// on the run day.
func (s *Service) releasedUnits(ctx context.Context, db *gorm.DB, r Run, only *uuid.UUID) ([]unit, error) {
	q, args := releasedPeriods, []any{}
	if only != nil {
		q, args = q+` AND r.service_id = ?`, append(args, *only)
	}
	var rows []struct {
		ServiceID   uuid.UUID
		Party       string
		PeriodStart time.Time
		PeriodEnd   time.Time
		Kind        string
	}
	if err := db.WithContext(ctx).Raw(q+` ORDER BY r.service_id, r.party, r.period_start, i.voided_at DESC`, args...).Scan(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	ids := map[uuid.UUID]bool{}
	for _, row := range rows {
		ids[row.ServiceID] = true
	}
	var batch []billable
	if err := db.WithContext(ctx).Raw(billableSelect+` WHERE s.id IN ?`, keys(ids)).Scan(&batch).Error; err != nil {
		return nil, errs.Internal(err)
	}
	byID := map[uuid.UUID]billable{}
	groups := make([]uuid.UUID, 0, len(batch))
	for _, b := range batch {
		byID[b.ID] = b
		groups = append(groups, b.ProductGroupID)
	}
	taxes, err := s.taxesOf(ctx, db, groups)
	if err != nil {
		return nil, err
	}
	var units []unit
	for _, row := range rows {
		b, ok := byID[row.ServiceID]
		if !ok {
			continue
		}
		key := "prepaid:" + b.ID.String()
		if row.Kind == InvoiceRenewal {
			key = fmt.Sprintf("renewal:%s:%s", b.ID, dateStr(row.PeriodStart))
		}
		var ds []Draft
		for _, d := range drafts(b, row.Kind, key, row.PeriodStart, row.PeriodEnd, r.AsOf, r.AsOf, row.Kind == InvoicePrepaid,
			taxes[b.ProductGroupID], &r.ID) {
			if d.Party == row.Party {
				ds = append(ds, d)
			}
		}
		if len(ds) == 0 {
			continue
		}
		id := b.ID
		units = append(units, unit{what: "service " + b.ID.String() + " (" + row.Party + ") from " + dateStr(row.PeriodStart), drafts: ds,
			services: []billable{b}, redo: func(ctx context.Context, tx *gorm.DB) ([]Draft, error) {
				us, err := s.releasedUnits(ctx, tx, r, &id)
				if err != nil {
					return nil, err
				}
				for _, u := range us {
					if u.drafts[0].Party == row.Party && u.drafts[0].PeriodStart.Equal(row.PeriodStart) {
						return u.drafts, nil
					}
				}
				return nil, nil
			}})
	}
	return units, nil
}

// RenewDueTx issues, in tx, the renewal of a prepaid service due by the
// renewal horizon as the service becomes active. Runs renew active and
// suspended services only, so a service activated late (its order's first
// invoice paid after the period it bills had begun) would otherwise be
// active, past or near its due date, with nothing owed until the next run.
// It is the bill that run would make, under the same key: the run finds it
// made.
func (s *Service) RenewDueTx(ctx context.Context, tx *gorm.DB, serviceID uuid.UUID) error {
	tx = tx.WithContext(ctx)
	today := s.Today()
	var batch []billable
	if err := tx.Raw(billableSelect+renewalWhere+` AND s.id = ?`, today.AddDate(0, 0, s.cfg.DaysBeforeDue), serviceID).Scan(&batch).Error; err != nil {
		return errs.Internal(err)
	}
	if len(batch) == 0 {
		return nil
	}
	units, err := s.renewalUnits(ctx, tx, Run{AsOf: today}, batch)
	if err != nil {
		return err
	}
	var invs []Invoice
	for _, u := range units {
		for _, d := range u.drafts {
			d.RunID = nil
			invs = append(invs, s.build(d))
		}
	}
	_, err = s.insert(ctx, tx, invs)
	return err
}

// catchUpMonths bounds how far back a run looks for unbilled months.
const catchUpMonths = 12

// postpaid bills the months before the as-of date's month that are not
// billed yet: per customer, venture and issuer one invoice at the
// customer's prices; per partner and venture one at cost.
func (s *Service) postpaid(ctx context.Context, r Run, res *result) error {
	last := MonthStart(r.AsOf).AddDate(0, -1, 0)
	for m := last.AddDate(0, -catchUpMonths+1, 0); !m.After(last); m = m.AddDate(0, 1, 0) {
		for _, party := range []string{PartyCustomer, PartyPartner} {
			if err := s.postpaidMonth(ctx, r, m, party, res); err != nil {
				return err
			}
		}
	}
	return nil
}

// monthWhere picks the post-paid services active in a month (its last
// day, then its first); monthOrder is the order their lines take.
const (
	monthWhere = `
	WHERE pr.billing_model IN ('postpaid_fixed', 'postpaid_payg') AND NOT s.free_trial
	  AND s.status IN ('active', 'suspended', 'terminated') AND s.start_date <= ? AND (s.end_date IS NULL OR s.end_date >= ?)`
	monthOrder = `
	ORDER BY s.start_date, s.end_date NULLS FIRST, s.id`
)

// postpaidMonth bills month m for one party, a few hundred bill-to parties
// at a time.
func (s *Service) postpaidMonth(ctx context.Context, r Run, m time.Time, party string, res *result) error {
	from, to := m, MonthEnd(m)
	owner := "s.customer_id"
	if party == PartyPartner {
		owner = "s.partner_id"
	}
	// Most months (all but the last, catching up) have nothing left to bill.
	var due bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM services s JOIN plan_pricing pr ON pr.plan_id = s.plan_id
		WHERE pr.billing_model IN ('postpaid_fixed', 'postpaid_payg') AND NOT s.free_trial
		  AND s.status IN ('active', 'suspended', 'terminated') AND s.start_date <= ? AND (s.end_date IS NULL OR s.end_date >= ?)
		  AND `+owner+` IS NOT NULL
		  AND NOT EXISTS (SELECT 1 FROM billed_periods b WHERE b.service_id = s.id AND b.party = ? AND b.period_start = ?))`,
		to, from, party, from).Scan(&due).Error
	if err != nil {
		return errs.Internal(err)
	}
	if !due {
		if !m.Equal(MonthStart(r.AsOf).AddDate(0, -1, 0)) {
			return nil
		}
		// The run's own month, billed already: say so.
		var found int
		err := s.db.WithContext(ctx).Raw(`SELECT count(DISTINCT b.invoice_id) FROM billed_periods b JOIN invoices i ON i.id = b.invoice_id
			WHERE b.period_start = ? AND b.party = ? AND i.kind = ? AND i.billing_run_id IS DISTINCT FROM ?`,
			from, party, InvoicePostpaid, r.ID).Scan(&found).Error
		if err != nil {
			return errs.Internal(err)
		}
		return res.count(s.db.WithContext(ctx), s.now(), 0, found, decimal.Zero)
	}
	var after uuid.UUID
	for {
		// Walk the owners in order through the index, a page at a time
		// (a plain index range: joins here let the planner scan every
		// service per page); the page's services are then read, filtered,
		// in one query.
		var rows []uuid.UUID
		err = s.db.WithContext(ctx).Raw(`SELECT `+owner+` FROM services s
			WHERE s.status IN ('active', 'suspended', 'terminated') AND `+owner+` > ?
			ORDER BY 1 LIMIT 2000`, after).Scan(&rows).Error
		if err != nil {
			return errs.Internal(err)
		}
		if len(rows) == 0 {
			return nil
		}
		var owners []uuid.UUID
		for _, o := range rows {
			if len(owners) == 0 || owners[len(owners)-1] != o {
				if len(owners) == 500 {
					break
				}
				owners = append(owners, o)
			}
		}
		after = owners[len(owners)-1]
		var all []billable
		err = s.db.WithContext(ctx).Raw(billableSelect+monthWhere+` AND `+owner+` IN ?`+monthOrder, to, from, owners).Scan(&all).Error
		if err != nil {
			return errs.Internal(err)
		}
		// What is billed already is looked up by key, not anti-joined: a
		// table filling up during the run keeps the stats of its start.
		batch, found, err := s.unbilled(ctx, s.db, all, party, from, r.ID)
		if err != nil {
			return err
		}
		if found > 0 {
			if err := res.count(s.db.WithContext(ctx), s.now(), 0, found, decimal.Zero); err != nil {
				return err
			}
		}
		if len(batch) == 0 {
			continue
		}
		if err := s.billMonth(ctx, r, from, to, party, batch, res); err != nil {
			return err
		}
	}
}

func (s *Service) billMonth(ctx context.Context, r Run, from, to time.Time, party string, batch []billable, res *result) error {
	units, err := s.monthUnits(ctx, s.db, r, from, to, party, batch)
	if err != nil {
		return err
	}
	return s.storeAll(ctx, units, res)
}

// billGroup is whom a month's bill goes to: per customer, venture and
// issuer at the customer's prices; per partner and venture at cost.
// The issuer is a value (uuid.Nil for the SP): services of one customer
// and partner share a bill.
type billGroup struct {
	venture, owner, issuer uuid.UUID
}

// issuerOf is the group's issuing partner, nil for the SP.
func (g billGroup) issuerOf() *uuid.UUID {
	if g.issuer == uuid.Nil {
		return nil
	}
	i := g.issuer
	return &i
}

// monthUnits drafts month [from, to] of post-paid services for a party,
// reading prices, usage and quantity changes through db: a unit per bill.
func (s *Service) monthUnits(ctx context.Context, db *gorm.DB, r Run, from, to time.Time, party string, batch []billable) ([]unit, error) {
	groups := map[uuid.UUID]bool{}
	plans := map[uuid.UUID]bool{}
	tenants := storageTenants(batch)
	for _, b := range batch {
		groups[b.ProductGroupID] = true
		if b.BillingModel == catalog.PostpaidPAYG {
			plans[b.PlanID] = true
			if b.VendorTenantID != nil {
				tenants = append(tenants, *b.VendorTenantID)
			}
		}
	}
	taxes, err := s.taxesOf(ctx, db, keys(groups))
	if err != nil {
		return nil, err
	}
	charges, err := s.meteredCharges(ctx, db, keys(plans))
	if err != nil {
		return nil, err
	}
	// Usage from the month's start, or the first day a void released
	// before it that its overage window looks at.
	since := from
	for _, b := range batch {
		if w := overageWindow(b, party, from, to); len(w) > 0 && w[0].from.Before(since) {
			since = w[0].from
		}
	}
	usage, err := s.usageIn(ctx, db, tenants, since, to)
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(batch))
	for i, b := range batch {
		ids[i] = b.ID
	}
	changes, err := s.changesOf(ctx, db, ids)
	if err != nil {
		return nil, err
	}
	type group = billGroup
	byGroup := map[group][]Line{}
	windows := map[group][]Window{}
	gtaxes := map[group]map[uuid.UUID]Tax{}
	read := map[group][]billable{}
	var order []group
	for _, b := range batch {
		g := group{venture: b.VentureID, owner: b.CustomerID}
		if b.PartnerID != nil {
			g.issuer = *b.PartnerID
		}
		if party == PartyPartner {
			g = group{venture: b.VentureID, owner: *b.PartnerID}
		}
		if _, ok := byGroup[g]; !ok {
			order = append(order, g)
			gtaxes[g] = map[uuid.UUID]Tax{}
		}
		read[g] = append(read[g], b)
		t := taxes[b.ProductGroupID]
		for _, x := range t {
			gtaxes[g][x.ID] = x
		}
		byGroup[g] = append(byGroup[g], monthLines(b, party, from, to, t, charges[b.PlanID], usage, changes[b.ID])...)
		// The month's days not billed for overage already (on request),
		// and days before it a void released.
		if w := overageWindow(b, party, from, to); len(w) > 0 {
			days := usage[*b.VendorTenantID][*b.StorageItem]
			if l, ok := overageLine(b, party, w, days, t); ok {
				byGroup[g] = append(byGroup[g], l)
			}
			windows[g] = append(windows[g], window(b, w, days, t))
		}
	}
	month := from.Format("2006-01")
	units := make([]unit, 0, len(order))
	for _, g := range order {
		d := Draft{VentureID: g.venture, Kind: InvoicePostpaid, PeriodStart: from, PeriodEnd: to, IssueDate: r.AsOf,
			DueDate: r.AsOf.AddDate(0, 0, s.cfg.TermsDays), Party: party, Lines: byGroup[g], Taxes: gtaxes[g], RunID: &r.ID, Overage: windows[g]}
		owner := g.owner
		if party == PartyCustomer {
			d.CustomerID, d.IssuerPartnerID = &owner, g.issuerOf()
			d.Key = fmt.Sprintf("postpaid:%s:%s:customer:%s", month, g.venture, owner)
		} else {
			d.PartnerID = &owner
			d.Key = fmt.Sprintf("postpaid:%s:%s:partner:%s", month, g.venture, owner)
		}
		units = append(units, unit{what: party + " " + owner.String() + " " + month, drafts: []Draft{d}, services: read[g],
			redo: s.redoMonth(r, from, to, party, g)})
	}
	return units, nil
}

// redoMonth drafts a party's bill for month [from, to] again from its
// services as they are, leaving out those billed for the month since.
func (s *Service) redoMonth(r Run, from, to time.Time, party string, g billGroup) func(ctx context.Context, tx *gorm.DB) ([]Draft, error) {
	return func(ctx context.Context, tx *gorm.DB) ([]Draft, error) {
		q := billableSelect + monthWhere + ` AND p.venture_id = ? AND s.customer_id = ? AND s.partner_id IS NOT DISTINCT FROM ?` + monthOrder
		args := []any{to, from, g.venture, g.owner, g.issuerOf()}
		if party == PartyPartner {
			q = billableSelect + monthWhere + ` AND p.venture_id = ? AND s.partner_id = ?` + monthOrder
			args = args[:4]
		}
		var all []billable
		if err := tx.WithContext(ctx).Raw(q, args...).Scan(&all).Error; err != nil {
			return nil, errs.Internal(err)
		}
		batch, _, err := s.unbilled(ctx, tx, all, party, from, r.ID)
		if err != nil {
			return nil, err
		}
		units, err := s.monthUnits(ctx, tx, r, from, to, party, batch)
		if err != nil || len(units) == 0 {
			return nil, err
		}
		return units[0].drafts, nil
	}
}

func keys(m map[uuid.UUID]bool) []uuid.UUID {
	out := make([]uuid.UUID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// monthLines are a post-paid service's lines for a month: the recurring
// price for the days it was active (prorated by days when it started or
// ended inside the month), the setup fee in its first month, and each
// metered charge times the month's aggregated usage.
func monthLines(b billable, party string, from, to time.Time, taxes []Tax, charges []catalog.MeteredCharge, usage map[string]map[string][]dayValue,
	changes []quantityChange) []Line {
	start, end := from, to
	if b.StartDate != nil && b.StartDate.After(start) {
		start = *b.StartDate
	}
	if b.EndDate != nil && b.EndDate.Before(end) {
		end = *b.EndDate
	}
	unit, fee := b.UnitPrice, b.SetupFee
	if party == PartyPartner {
		unit, fee = *b.UnitCost, *b.SetupFeeCost
	}
	id := b.ID
	ids := taxIDs(taxes)
	// The price is per cycle: a month is the cycle's share by days, per
	// stretch of days at one quantity.
	cycleEnd := AddCycle(from, b.months(), 1).AddDate(0, 0, -1)
	inCycle := Days(from, cycleEnd)
	var detail map[string]any
	var lines []Line
	for _, seg := range segments(b, changes, start, end) {
		active := Days(seg.from, seg.to)
		qty := decimal.NewFromInt(int64(seg.quantity))
		detail = map[string]any{"service_id": id, "plan": b.PlanName, "frequency": b.Frequency, "unit_price": money.String(unit),
			"quantity": seg.quantity, "period": []string{dateStr(seg.from), dateStr(seg.to)}, "active_days": active, "days_in_period": inCycle}
		kind := KindRecurring
		if active < inCycle {
			kind = KindProration
		}
		if unit.IsPositive() {
			lines = append(lines, Line{Kind: kind, ServiceID: &id, Description: fmt.Sprintf("%s (%s) x %d, %s to %s", b.PlanName, b.Frequency, seg.quantity, dateStr(seg.from), dateStr(seg.to)),
				PeriodStart: day(seg.from), PeriodEnd: day(seg.to), Quantity: qty, UnitPrice: unit, Amount: Prorate(unit.Mul(qty), active, inCycle),
				TaxIDs: ids, Detail: detail})
		}
	}
	if b.StartDate != nil && !b.StartDate.Before(from) && !b.StartDate.After(to) && fee.IsPositive() {
		lines = append(lines, Line{Kind: KindSetup, ServiceID: &id, Description: "Setup fee: " + b.PlanName, PeriodStart: day(start), PeriodEnd: day(start),
			Quantity: decimal.NewFromInt(1), UnitPrice: fee, Amount: fee, TaxIDs: ids, Detail: map[string]any{"service_id": id, "setup_fee": money.String(fee)}})
	}
	for _, c := range charges {
		price := money.EndPrice(money.PartnerCost(c.UnitPrice, b.Discount), b.Markup)
		switch {
		case b.PartnerID == nil:
			price = c.UnitPrice
		case party == PartyPartner:
			price = money.PartnerCost(c.UnitPrice, b.Discount)
		}
		var days []dayValue
		if b.VendorTenantID != nil {
			for _, dv := range usage[*b.VendorTenantID][c.OfferingItem] {
				if !dv.Day.Before(start) && !dv.Day.After(end) {
					days = append(days, dv)
				}
			}
		}
		values := make([]decimal.Decimal, len(days))
		shown := make([][2]string, len(days))
		for i, dv := range days {
			values[i] = decimal.NewFromInt(BilledValue(dv.Value, dv.Unit))
			shown[i] = [2]string{dateStr(dv.Day), values[i].String()}
		}
		qty := Aggregate(c.Aggregation, values)
		lines = append(lines, Line{Kind: KindUsage, ServiceID: &id, Description: fmt.Sprintf("%s: %s of daily usage, %s to %s", c.OfferingItem, c.Aggregation, dateStr(start), dateStr(end)),
			PeriodStart: day(start), PeriodEnd: day(end), Quantity: qty, UnitPrice: price, Amount: money.Round2(qty.Mul(price)), TaxIDs: ids,
			Detail: map[string]any{"service_id": id, "offering_item": c.OfferingItem, "aggregation": c.Aggregation, "unit_price": money.String(price),
				"days": shown, "quantity": qty.String()}})
	}
	if len(lines) == 0 { // nothing to charge still marks the month billed
		lines = append(lines, Line{Kind: KindRecurring, ServiceID: &id, Description: fmt.Sprintf("%s (%s), %s to %s", b.PlanName, b.Frequency, dateStr(start), dateStr(end)),
			PeriodStart: day(start), PeriodEnd: day(end), Quantity: b.quantity(), UnitPrice: unit, Amount: decimal.Zero, TaxIDs: ids, Detail: detail})
	}
	return lines
}

func (s *Service) meteredCharges(ctx context.Context, db *gorm.DB, plans []uuid.UUID) (map[uuid.UUID][]catalog.MeteredCharge, error) {
	out := map[uuid.UUID][]catalog.MeteredCharge{}
	if len(plans) == 0 {
		return out, nil
	}
	var rows []catalog.MeteredCharge
	if err := db.WithContext(ctx).Where("plan_id IN ?", plans).Order("offering_item").Find(&rows).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, c := range rows {
		out[c.PlanID] = append(out[c.PlanID], c)
	}
	return out, nil
}

type dayValue struct {
	Day   time.Time
	Value int64
	Unit  string
}

// usage reads daily usage of tenants in [from, to], by tenant and item, in
// day order.
func (s *Service) usage(ctx context.Context, tenants []string, from, to time.Time) (map[string]map[string][]dayValue, error) {
	return s.usageIn(ctx, s.db, tenants, from, to)
}

// usageIn is usage read through db (a transaction).
func (s *Service) usageIn(ctx context.Context, db *gorm.DB, tenants []string, from, to time.Time) (map[string]map[string][]dayValue, error) {
	out := map[string]map[string][]dayValue{}
	if len(tenants) == 0 {
		return out, nil
	}
	var rows []struct {
		TenantID, Item, Unit string
		Day                  time.Time
		Value                int64
	}
	err := db.WithContext(ctx).Raw(`SELECT tenant_id, item, day, value, unit FROM usage_daily
		WHERE tenant_id IN ? AND day BETWEEN ? AND ? ORDER BY tenant_id, item, day`, tenants, from, to).Scan(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	for _, r := range rows {
		if out[r.TenantID] == nil {
			out[r.TenantID] = map[string][]dayValue{}
		}
		out[r.TenantID][r.Item] = append(out[r.TenantID][r.Item], dayValue{Day: r.Day, Value: r.Value, Unit: r.Unit})
	}
	for _, items := range out {
		for _, v := range items {
			sort.Slice(v, func(i, j int) bool { return v[i].Day.Before(v[j].Day) })
		}
	}
	return out, nil
}

// RunNow records a run and does it at once (the sandbox clock and the
// daily job use it). No job tries it again, so a run that stops on an
// error is failed at once rather than left running without a worker (a
// stopped one is interrupted).
func (s *Service) RunNow(ctx context.Context, who, kind string, asOf time.Time) (Run, error) {
	r, err := s.NewRun(ctx, s.db, who, kind, asOf)
	if err != nil {
		return Run{}, err
	}
	done, err := s.Execute(ctx, r.ID)
	if err != nil && ctx.Err() == nil {
		_ = s.markFailed(ctx, r.ID, err)
	}
	return done, err
}

// Request queues a run for the job queue (POST /v1/billing-runs).
func (s *Service) Request(ctx context.Context, who auth.Principal, kind string, asOf *time.Time, enqueue func(tx *gorm.DB, id uuid.UUID) error) (Run, error) {
	day := s.Today()
	if asOf != nil {
		day = *asOf
	}
	if day.After(s.Today()) {
		return Run{}, errs.Unprocessable("as_of_in_future", "A run bills what is due up to today at the latest.").WithField("as_of")
	}
	var r Run
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if r, err = s.NewRun(ctx, tx, string(who.Role)+":"+who.Scope(), kind, day); err != nil {
			return err
		}
		return enqueue(tx, r.ID)
	})
	if err != nil {
		return Run{}, err
	}
	return r, nil
}

// MarkInterrupted marks the runs whose worker has not beaten for staleAfter
// (its instance died or was killed): what they stored stays, and the job's
// retry, or a new run, bills the rest.
func (s *Service) MarkInterrupted(ctx context.Context, staleAfter time.Duration) (int64, error) {
	now := s.now()
	r := s.db.WithContext(ctx).Model(&Run{}).Where("status = ? AND heartbeat_at < ?", RunRunning, now.Add(-staleAfter)).
		Updates(map[string]any{"status": RunInterrupted, "updated_at": now})
	if r.Error != nil {
		return 0, errs.Internal(r.Error)
	}
	return r.RowsAffected, nil
}

// markFailed ends a run that could not finish, with the reason.
func (s *Service) markFailed(ctx context.Context, id uuid.UUID, cause error) error {
	f, _ := json.Marshal([]Failure{{What: "run", Reason: cause.Error()}})
	now := s.now()
	return s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND status <> ?", id, RunCompleted).
		Updates(map[string]any{"status": RunFailed, "failures": f, "finished_at": now, "updated_at": now}).Error
}

// storageTenants are the tenants of services with a storage item (whose
// usage overage is computed from).
func storageTenants(batch []billable) []string {
	var out []string
	for _, b := range batch {
		if b.StorageItem != nil && b.VendorTenantID != nil {
			out = append(out, *b.VendorTenantID)
		}
	}
	return out
}

// unbilled keeps the services whose period is not billed yet for a party;
// found is how many bills of them other runs made.
func (s *Service) unbilled(ctx context.Context, db *gorm.DB, all []billable, party string, from time.Time, run uuid.UUID) ([]billable, int, error) {
	if len(all) == 0 {
		return nil, 0, nil
	}
	ids := make([]uuid.UUID, len(all))
	for i, b := range all {
		ids[i] = b.ID
	}
	var billed []struct {
		ServiceID    uuid.UUID
		InvoiceID    uuid.UUID
		BillingRunID *uuid.UUID
	}
	if err := db.WithContext(ctx).Raw(`SELECT b.service_id, b.invoice_id, i.billing_run_id FROM billed_periods b JOIN invoices i ON i.id = b.invoice_id
		WHERE b.service_id IN ? AND b.party = ? AND b.period_start = ?`, ids, party, from).Scan(&billed).Error; err != nil {
		return nil, 0, errs.Internal(err)
	}
	done := make(map[uuid.UUID]bool, len(billed))
	invs := map[uuid.UUID]bool{}
	for _, b := range billed {
		done[b.ServiceID] = true
		if b.BillingRunID == nil || *b.BillingRunID != run {
			invs[b.InvoiceID] = true
		}
	}
	out := all[:0:0]
	for _, b := range all {
		if !done[b.ID] {
			out = append(out, b)
		}
	}
	return out, len(invs), nil
}
