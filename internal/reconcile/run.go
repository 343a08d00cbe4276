package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/subscription"
)

// service is a live service as the platform knows it.
type service struct {
	ID         uuid.UUID
	CustomerID uuid.UUID
	PartnerID  *uuid.UUID
	PlanID     uuid.UUID
	Quantity   int
	Status     string
	TenantID   string `gorm:"column:vendor_tenant_id"`
}

// Execute does a report: per selected account, the vendor's usage report,
// tenants and offering items against the platform's services, usage and
// invoices. A completed or failed report is returned as it is. A vendor
// failure (or any other) fails the report with the reason, without rows;
// only a stopped context leaves it to the job's retry, which starts clean.
func (s *Service) Execute(ctx context.Context, id uuid.UUID) (Report, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Report{}, err
	}
	if r.Status == StatusCompleted || r.Status == StatusFailed {
		return r, nil
	}
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&Report{}).Where("id = ?", r.ID).Updates(map[string]any{"status": StatusRunning,
		"started_at": gorm.Expr("coalesce(started_at, ?)", now), "heartbeat_at": now, "updated_at": now}).Error; err != nil {
		return Report{}, errs.Internal(err)
	}
	rows, accounts, err := s.compare(ctx, r)
	if err == nil {
		err = s.complete(ctx, r, rows, accounts)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Report{}, err
		}
		if ferr := s.markFailed(ctx, r.ID, err); ferr != nil {
			return Report{}, ferr
		}
	}
	return s.Get(ctx, r.ID)
}

// RunNow records a report over [from, to] and does it at once (benchmarks
// and tests).
func (s *Service) RunNow(ctx context.Context, who string, from, to time.Time) (Report, error) {
	if err := CheckPeriod(from, to, s.Today()); err != nil {
		return Report{}, err
	}
	st, err := s.GetSettings(ctx)
	if err != nil {
		return Report{}, err
	}
	now := s.now()
	r := Report{ID: uuid.New(), PeriodFrom: from, PeriodTo: to, Status: StatusQueued, Accounts: []byte("[]"),
		TolerancePercent: st.UsageTolerancePercent, RequestedBy: who, CreatedAt: now, UpdatedAt: now}
	if err := s.db.WithContext(ctx).Create(&r).Error; err != nil {
		return Report{}, errs.Internal(err)
	}
	return s.Execute(ctx, r.ID)
}

func (s *Service) markFailed(ctx context.Context, id uuid.UUID, cause error) error {
	reason := cause.Error()
	if e := errs.As(cause); e != nil && e.Kind == errs.KindInternal {
		reason = "internal error"
	}
	now := s.now()
	return s.db.WithContext(context.WithoutCancel(ctx)).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM reconciliation_rows WHERE report_id = ?`, id).Error; err != nil {
			return errs.Internal(err)
		}
		return tx.Exec(`UPDATE reconciliation_reports SET status = ?, reason = ?, finished_at = ?, updated_at = ?
			WHERE id = ? AND status <> ?`, StatusFailed, reason, now, now, id, StatusCompleted).Error
	})
}

// complete writes the rows and the totals in one transaction.
func (s *Service) complete(ctx context.Context, r Report, rows []Row, accounts []AccountRef) error {
	counts := map[string]int{}
	for i := range rows {
		rows[i].ReportID, rows[i].Position = r.ID, i+1
		if rows[i].Detail == nil {
			rows[i].Detail = []byte("{}")
		}
		counts[rows[i].Flag]++
	}
	acc, _ := json.Marshal(accounts)
	now := s.now()
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		// A retry after a crash starts clean.
		if err := tx.Exec(`DELETE FROM reconciliation_rows WHERE report_id = ?`, r.ID).Error; err != nil {
			return errs.Internal(err)
		}
		if len(rows) > 0 {
			if err := tx.CreateInBatches(rows, 2000).Error; err != nil {
				return errs.Internal(err)
			}
		}
		return tx.Exec(`UPDATE reconciliation_reports SET status = ?, accounts = ?::jsonb, rows_compared = ?, ok = ?, orphan_tenant = ?,
			missing_tenant = ?, status_mismatch = ?, quota_mismatch = ?, usage_mismatch = ?, edition_mismatch = ?, reason = NULL,
			heartbeat_at = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
			StatusCompleted, string(acc), len(rows), counts[FlagOK], counts[FlagOrphanTenant], counts[FlagMissingTenant],
			counts[FlagStatusMismatch], counts[FlagQuotaMismatch], counts[FlagUsageMismatch], counts[FlagEditionMismatch],
			now, now, now, r.ID).Error
	})
}

// beat keeps the heartbeat of a running report.
func (s *Service) beat(ctx context.Context, id uuid.UUID) {
	now := s.now()
	_ = s.db.WithContext(ctx).Exec(`UPDATE reconciliation_reports SET heartbeat_at = ?, updated_at = ? WHERE id = ? AND status = ?`,
		now, now, id, StatusRunning).Error
}

// world is what the platform knows, read once per report.
type world struct {
	services map[string]service // by tenant id: live services
	plans    map[uuid.UUID]catalog.ModuleSettings
	planAcc  map[uuid.UUID]string    // plan -> account key
	lines    map[string][]billedLine // by usageKey (usage lines) or overageKey (overage lines)
	stored   map[string]*storedUsage // by usageKey
	items    map[string][]string     // tenant -> items with stored usage, sorted
	aggs     map[string]string       // plan/item -> aggregation
	from     time.Time               // the period's first day
	days     int                     // the period's length in days
}

// billedLine is an invoice line that billed usage (or overage) of an item.
type billedLine struct {
	Start, End time.Time
	Number     string
}

// storedUsage is what the daily sync stored of a tenant's item in the
// period: a value per stored day (days as offsets from the period's
// first), in day order.
type storedUsage struct {
	Days   []int
	Values []int64
	Unit   string
}

func usageKey(tenant, item string) string { return tenant + "\x00" + item }

// overageKey files a service's storage overage lines (they name no item).
func overageKey(tenant string) string { return tenant + "\x00" }

func (s *Service) load(ctx context.Context, r Report) (*world, error) {
	db := s.db.WithContext(ctx)
	w := &world{services: map[string]service{}, plans: map[uuid.UUID]catalog.ModuleSettings{}, planAcc: map[uuid.UUID]string{},
		lines: map[string][]billedLine{}, stored: map[string]*storedUsage{}, items: map[string][]string{}, aggs: map[string]string{},
		from: r.PeriodFrom, days: dayIndex(r.PeriodFrom, r.PeriodTo) + 1}
	var svcs []service
	// An expired trial keeps its tenant, disabled, until it is moved to a
	// paid plan or terminated: it is live here, not an orphan there.
	if err := db.Raw(`SELECT id, customer_id, partner_id, plan_id, quantity, status, vendor_tenant_id FROM services
		WHERE vendor_tenant_id IS NOT NULL AND status IN ('active', 'suspended', 'expired') ORDER BY vendor_tenant_id`).Scan(&svcs).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, v := range svcs {
		w.services[v.TenantID] = v
	}
	var ms []catalog.ModuleSettings
	if err := db.Find(&ms).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, m := range ms {
		w.plans[m.PlanID] = m
		w.planAcc[m.PlanID] = AccountRef{URL: m.DatacenterURL, ClientID: m.ClientID}.key()
	}
	var charges []struct {
		PlanID       uuid.UUID
		OfferingItem string
		Aggregation  string
	}
	if err := db.Raw(`SELECT plan_id, offering_item, aggregation FROM plan_metered_charges`).Scan(&charges).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, c := range charges {
		w.aggs[c.PlanID.String()+"/"+c.OfferingItem] = c.Aggregation
	}
	// What billed usage per service and item: usage lines (and storage
	// overage lines) whose period meets the report's, on invoices not voided.
	var lines []struct {
		TenantID string
		Kind     string
		Item     string
		Start    time.Time
		End      time.Time
		Number   string
	}
	if err := db.Raw(`SELECT s.vendor_tenant_id AS tenant_id, l.kind, coalesce(l.detail->>'offering_item', '') AS item,
			l.period_start AS start, l.period_end AS "end", coalesce(i.number, '') AS number
		FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id JOIN services s ON s.id = l.service_id
		WHERE l.kind IN ('usage', 'overage') AND s.vendor_tenant_id IS NOT NULL AND i.status <> 'void'
		  AND l.period_start <= ? AND l.period_end >= ? AND i.number IS NOT NULL
		ORDER BY i.number, l.position`, r.PeriodTo, r.PeriodFrom).Scan(&lines).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, l := range lines {
		k := usageKey(l.TenantID, l.Item)
		if l.Kind == billing.KindOverage {
			k = overageKey(l.TenantID)
		} else if l.Item == "" {
			continue
		}
		w.lines[k] = append(w.lines[k], billedLine{Start: l.Start, End: l.End, Number: l.Number})
	}
	// What the daily sync stored in the period, day by day: what billing
	// bills from.
	rows, err := db.Raw(`SELECT tenant_id, item, day, value, unit FROM usage_daily
		WHERE day BETWEEN ? AND ? ORDER BY tenant_id, item, day`, r.PeriodFrom, r.PeriodTo).Rows()
	if err != nil {
		return nil, errs.Internal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var u struct {
			TenantID, Item, Unit string
			Day                  time.Time
			Value                int64
		}
		if err := rows.Scan(&u.TenantID, &u.Item, &u.Day, &u.Value, &u.Unit); err != nil {
			return nil, errs.Internal(err)
		}
		if _, ok := w.services[u.TenantID]; !ok {
			continue // no live service to compare it for
		}
		k := usageKey(u.TenantID, u.Item)
		su := w.stored[k]
		if su == nil {
			su = &storedUsage{Unit: u.Unit}
			w.stored[k] = su
			w.items[u.TenantID] = append(w.items[u.TenantID], u.Item)
		}
		su.Days = append(su.Days, dayIndex(r.PeriodFrom, u.Day))
		su.Values = append(su.Values, u.Value)
	}
	if err := rows.Err(); err != nil {
		return nil, errs.Internal(err)
	}
	return w, nil
}

// dayIndex is day's offset in days from from (both dates).
func dayIndex(from, day time.Time) int {
	f := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	d := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	return int(d.Sub(f).Hours() / 24)
}

// vendorData is what one account's vendor says.
type vendorData struct {
	daily   map[string]*vendorDays    // by usageKey: items the platform stored usage of
	names   map[string]string         // tenant names from the report
	order   []string                  // tenants in report order
	orphans map[string][]string       // items reported of tenants no live service owns
	tenants map[string]acronis.Tenant // live tenants of the platform's services
	items   map[string][]acronis.OfferingItem
}

// vendorDays is the vendor's value of an item per day of the period
// (-1: not reported that day).
type vendorDays struct {
	Values []int64
	Unit   string
}

// compare builds every row of a report.
func (s *Service) compare(ctx context.Context, r Report) ([]Row, []AccountRef, error) {
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, nil, err
	}
	accs, err := s.accounts(ctx, st, true)
	if err != nil {
		return nil, nil, err
	}
	w, err := s.load(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	var rows []Row
	var used []AccountRef
	claimed := map[string]bool{} // tenants compared under an account already
	for _, a := range accs {
		if !a.Selected {
			continue
		}
		used = append(used, a.AccountRef)
		// The services this account serves: those of its plans.
		var mine []service
		for _, v := range w.services {
			if w.planAcc[v.PlanID] == a.key() && !claimed[v.TenantID] {
				mine = append(mine, v)
			}
		}
		sort.Slice(mine, func(i, j int) bool { return mine[i].TenantID < mine[j].TenantID })
		vd, err := s.read(ctx, r, a, w, mine)
		if err != nil {
			return nil, nil, fmt.Errorf("vendor account %s (client %s): %w", a.URL, a.ClientID, err)
		}
		s.beat(ctx, r.ID)
		rows = append(rows, s.rowsOf(r, a, w, vd, mine, claimed)...)
	}
	if used == nil {
		used = []AccountRef{}
	}
	return rows, used, nil
}

// read asks one account's vendor for its usage report and for the
// services' tenants and their offering items.
func (s *Service) read(ctx context.Context, r Report, a Account, w *world, mine []service) (*vendorData, error) {
	// Plans' accounts are reached through the egress guard; the SP's own,
	// configured by the operator, as the rest of the platform reaches it.
	hc := s.cfg.HTTPClient
	if a.SP {
		hc = nil
	}
	c, err := acronis.New(acronis.Config{BaseURL: a.cred.URL, ClientID: a.cred.ClientID, ClientSecret: a.cred.ClientSecret,
		HTTPClient: hc, Clock: s.clk, AttemptTimeout: s.cfg.AttemptTimeout})
	if err != nil {
		return nil, err
	}
	me, err := c.WhoAmI(ctx)
	if err != nil {
		return nil, err
	}
	// The vendor's daily usage over the period, read row by row: only the
	// values of items the platform stored usage of are kept, one int64
	// per day.
	rep, err := c.CreateReport(ctx, acronis.ReportRequest{TenantID: me.TenantID, Level: "all_customers", Kind: acronis.ReportDaily,
		Formats: []string{acronis.FormatCSV}, Start: r.PeriodFrom.Format(time.DateOnly), End: r.PeriodTo.Format(time.DateOnly)})
	if err != nil {
		return nil, fmt.Errorf("creating the usage report: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, s.cfg.ReportTimeout)
	stored, err := c.WaitReport(wctx, rep.ID, acronis.FormatCSV, s.cfg.Poll)
	cancel()
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("the vendor did not finish the usage report within %s", s.cfg.ReportTimeout)
		}
		return nil, fmt.Errorf("waiting for the usage report: %w", err)
	}
	vd := &vendorData{daily: map[string]*vendorDays{}, names: map[string]string{}, orphans: map[string][]string{},
		tenants: map[string]acronis.Tenant{}, items: map[string][]acronis.OfferingItem{}}
	dates := map[string]int{} // report date -> day of the period (-1 outside it)
	scan := func(u acronis.UsageRow) error {
		if u.TenantKind != "" && u.TenantKind != acronis.KindCustomer {
			return nil
		}
		if _, ok := vd.names[u.TenantID]; !ok {
			vd.order = append(vd.order, u.TenantID)
			vd.names[u.TenantID] = u.TenantName
		}
		if _, ok := w.services[u.TenantID]; !ok {
			if !slices.Contains(vd.orphans[u.TenantID], u.Name) {
				vd.orphans[u.TenantID] = append(vd.orphans[u.TenantID], u.Name)
			}
			return nil
		}
		k := usageKey(u.TenantID, u.Name)
		if w.stored[k] == nil {
			return nil // nothing stored here to compare it with
		}
		i, ok := dates[u.Date]
		if !ok {
			i = -1
			if d, err := time.Parse(time.DateOnly, u.Date); err == nil {
				if i = dayIndex(w.from, d); i < 0 || i >= w.days {
					i = -1
				}
			}
			dates[u.Date] = i
		}
		if i < 0 {
			return nil
		}
		vv := vd.daily[k]
		if vv == nil {
			vv = &vendorDays{Values: make([]int64, w.days), Unit: u.MeasurementUnit}
			for j := range vv.Values {
				vv.Values[j] = -1
			}
			vd.daily[k] = vv
		}
		vv.Values[i] = u.Absolute.Total.IntPart()
		return nil
	}
	err = c.StreamReport(ctx, rep.ID, stored.ID, func(body io.Reader) error { return acronis.ScanCSV(body, scan) })
	if err != nil {
		return nil, fmt.Errorf("reading the usage report: %w", err)
	}
	_ = c.DeleteReport(ctx, rep.ID, rep.Version) // tidy; it expires anyway
	for i := 0; i < len(mine); i += acronis.MaxTenantsPerRead {
		var ids []string
		for _, v := range mine[i:min(i+acronis.MaxTenantsPerRead, len(mine))] {
			ids = append(ids, v.TenantID)
		}
		got, err := c.TenantsByID(ctx, ids)
		if err != nil {
			return nil, fmt.Errorf("reading tenants: %w", err)
		}
		for id, t := range got {
			vd.tenants[id] = t
		}
	}
	// Each live tenant's offering items, a few at a time.
	var ids []string
	for _, v := range mine {
		if _, ok := vd.tenants[v.TenantID]; ok {
			ids = append(ids, v.TenantID)
		}
	}
	var mu sync.Mutex
	var first error
	next := make(chan string)
	var wg sync.WaitGroup
	for range min(s.cfg.Workers, max(len(ids), 1)) {
		wg.Go(func() {
			for id := range next {
				items, err := c.OfferingItems(ctx, id)
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("reading the offering items of tenant %s: %w", id, err)
				}
				vd.items[id] = items
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		next <- id
	}
	close(next)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return vd, nil
}

// rowsOf compares one account's vendor data with its services.
func (s *Service) rowsOf(r Report, a Account, w *world, vd *vendorData, mine []service, claimed map[string]bool) []Row {
	var rows []Row
	acc := a.URL
	tol := r.TolerancePercent
	// A plan's quotas at a quantity, decoded once.
	type pq struct {
		plan uuid.UUID
		qty  int
	}
	quotas := map[pq]subscription.Quotas{}
	for _, v := range mine {
		claimed[v.TenantID] = true
		sid, cid, pid := v.ID, v.CustomerID, v.PlanID
		base := Row{Account: acc, TenantID: v.TenantID, TenantName: vd.names[v.TenantID], ServiceID: &sid, CustomerID: &cid,
			PartnerID: v.PartnerID, PlanID: &pid}
		t, ok := vd.tenants[v.TenantID]
		if !ok {
			row := base
			row.Flag, row.PlatformValue, row.VendorValue = FlagMissingTenant, v.Status, "absent"
			rows = append(rows, row)
			continue
		}
		if base.TenantName == "" {
			base.TenantName = t.Name
		}
		if (v.Status == "active" && !t.Enabled) || (v.Status != "active" && t.Enabled) {
			row := base
			row.Flag, row.PlatformValue, row.VendorValue = FlagStatusMismatch, v.Status, map[bool]string{true: "enabled", false: "disabled"}[t.Enabled]
			rows = append(rows, row)
		}
		m := w.plans[v.PlanID]
		items := vd.items[v.TenantID]
		byName := map[string]acronis.OfferingItem{}
		var editions []string
		for _, o := range items {
			byName[o.Name] = o
			if o.Enabled() && o.Edition != nil && *o.Edition != "" && *o.Edition != m.Edition && !slices.Contains(editions, *o.Edition) {
				editions = append(editions, *o.Edition)
			}
		}
		if len(editions) > 0 && m.Edition != "" {
			sort.Strings(editions)
			row := base
			row.Flag, row.PlatformValue, row.VendorValue = FlagEditionMismatch, m.Edition, strings.Join(editions, ", ")
			rows = append(rows, row)
		}
		// Per item: the plan's quotas and what the vendor reports usage of.
		q, ok := quotas[pq{v.PlanID, v.Quantity}]
		if !ok {
			q = subscription.QuotasOf(m, v.Quantity)
			quotas[pq{v.PlanID, v.Quantity}] = q
		}
		type check struct{ quota, usage *Row }
		checks := map[string]*check{}
		var names []string
		get := func(n string) *check {
			c, ok := checks[n]
			if !ok {
				c = &check{}
				checks[n] = c
				names = append(names, n)
			}
			return c
		}
		for n, want := range q.Items {
			o, has := byName[n]
			pv, vv := quotaStr(want), "disabled"
			if has && o.Enabled() {
				vv = quotaStr(vendorQuota(o.Quota, false))
			}
			if pv != vv {
				row := base
				row.Item, row.Flag, row.PlatformValue, row.VendorValue = n, FlagQuotaMismatch, pv, vv
				get(n).quota = &row
			} else {
				get(n)
			}
		}
		if q.StorageGB != nil {
			for _, o := range items {
				if o.UsageName == "storage" && o.Type == "infra" && o.Edition != nil && *o.Edition == m.Edition {
					pv := storageStr(*q.StorageGB, q.OverageGB)
					vv := "disabled"
					if o.Enabled() {
						vv = storageStr(vendorQuota(o.Quota, true), vendorOverage(o.Quota))
					}
					if pv != vv {
						row := base
						row.Item, row.Flag, row.PlatformValue, row.VendorValue = o.Name, FlagQuotaMismatch, pv, vv
						get(o.Name).quota = &row
					} else {
						get(o.Name)
					}
				}
			}
		}
		for _, item := range w.items[v.TenantID] {
			agg := w.aggs[v.PlanID.String()+"/"+item]
			if agg == "" {
				agg = billing.AggMax
			}
			row := usageRow(w, vd, v.TenantID, item, agg, tol)
			row.Account, row.TenantID, row.TenantName, row.ServiceID = base.Account, base.TenantID, base.TenantName, base.ServiceID
			row.CustomerID, row.PartnerID, row.PlanID = base.CustomerID, base.PartnerID, base.PlanID
			get(item).usage = &row
		}
		sort.Strings(names)
		for _, n := range names {
			c := checks[n]
			switch {
			case c.quota != nil && c.usage != nil && c.usage.Flag == FlagUsageMismatch:
				rows = append(rows, *c.quota, *c.usage)
			case c.quota != nil:
				rows = append(rows, *c.quota)
			case c.usage != nil:
				rows = append(rows, *c.usage)
			default:
				row := base
				row.Item, row.Flag = n, FlagOK
				if qv, ok := q.Items[n]; ok {
					row.PlatformValue, row.VendorValue = quotaStr(qv), quotaStr(qv)
				} else if q.StorageGB != nil {
					row.PlatformValue = storageStr(*q.StorageGB, q.OverageGB)
					row.VendorValue = row.PlatformValue
				}
				rows = append(rows, row)
			}
		}
	}
	// Tenants the vendor reports that no live service owns.
	for _, id := range vd.order {
		if _, ok := w.services[id]; ok {
			continue
		}
		if claimed[id] {
			continue
		}
		claimed[id] = true
		items := vd.orphans[id]
		if items == nil {
			items = []string{}
		}
		dj, _ := json.Marshal(map[string]any{"items": items})
		rows = append(rows, Row{Account: acc, TenantID: id, TenantName: vd.names[id], Flag: FlagOrphanTenant,
			PlatformValue: "absent", VendorValue: "customer", Detail: dj})
	}
	return rows
}

// shownDays is how many differing days a usage_mismatch row names.
const shownDays = 5

// usageRow compares one tenant's item over the days the platform stored
// usage of: the plan's aggregation of the stored values against the same
// aggregation of the vendor's values of those days, each as billing counts
// it (storage in whole GB, rounded up).
func usageRow(w *world, vd *vendorData, tenant, item, agg string, tol decimal.Decimal) Row {
	k := usageKey(tenant, item)
	su, vv := w.stored[k], vd.daily[k]
	unit := su.Unit
	platform := make([]decimal.Decimal, len(su.Days))
	vendor := make([]decimal.Decimal, len(su.Days))
	type dayDiff struct {
		Day      string `json:"day"`
		Platform int64  `json:"platform"`
		Vendor   *int64 `json:"vendor"` // null: not in the vendor's report
	}
	var differ []int
	var shown []dayDiff
	for i, d := range su.Days {
		p := billing.BilledValue(su.Values[i], unit)
		var v *int64
		if vv != nil && vv.Values[d] >= 0 {
			vu := vv.Unit
			if vu == "" {
				vu = unit
			}
			x := billing.BilledValue(vv.Values[d], vu)
			v = &x
		}
		platform[i] = decimal.NewFromInt(p)
		if v != nil {
			vendor[i] = decimal.NewFromInt(*v)
		}
		if v == nil || *v != p {
			differ = append(differ, d)
			if len(shown) < shownDays {
				shown = append(shown, dayDiff{Day: w.from.AddDate(0, 0, d).Format(time.DateOnly), Platform: p, Vendor: v})
			}
		}
	}
	pa, va := billing.Aggregate(agg, platform), billing.Aggregate(agg, vendor)
	detail := map[string]any{"source": "usage_sync", "aggregation": agg, "unit": unitOf(unit), "tolerance_percent": tol.String(),
		"days_compared": len(su.Days)}
	row := Row{Item: item, PlatformValue: pa.String(), VendorValue: va.String(), Flag: FlagOK}
	if beyond(va, pa, tol) {
		row.Flag = FlagUsageMismatch
		detail["days_differing"] = len(differ)
		detail["differing_days"] = shown
		// The invoices that billed the differing days: usage lines of the
		// item and, for storage, overage lines.
		billed := w.lines[k]
		if unit == "bytes" {
			billed = append(slices.Clone(billed), w.lines[overageKey(tenant)]...)
		}
		nums := []string{}
		for _, l := range billed {
			if slices.Contains(nums, l.Number) {
				continue
			}
			s, e := dayIndex(w.from, l.Start), dayIndex(w.from, l.End)
			for _, d := range differ {
				if d >= s && d <= e {
					nums = append(nums, l.Number)
					break
				}
			}
		}
		sort.Strings(nums)
		detail["invoices"] = nums
	}
	row.Detail, _ = json.Marshal(detail)
	return row
}

// beyond reports whether vendor differs from platform by more than tol
// percent of the platform's figure.
func beyond(vendor, platform, tol decimal.Decimal) bool {
	diff := vendor.Sub(platform).Abs()
	return diff.GreaterThan(platform.Abs().Mul(tol).Div(decimal.NewFromInt(100)))
}

func unitOf(u string) string {
	if u == "bytes" {
		return "GB"
	}
	return u
}

// vendorQuota is an item's soft quota, -1 when unlimited; storage in GB.
func vendorQuota(q *acronis.Quota, gb bool) int64 {
	if q == nil || q.Value == nil {
		return -1
	}
	if gb {
		return *q.Value >> 30
	}
	return *q.Value
}

func vendorOverage(q *acronis.Quota) *int64 {
	if q == nil || q.Overage == nil {
		return nil
	}
	v := *q.Overage >> 30
	return &v
}

func quotaStr(v int64) string {
	if v < 0 {
		return "unlimited"
	}
	return fmt.Sprint(v)
}

func storageStr(soft int64, overage *int64) string {
	if soft < 0 {
		return "unlimited"
	}
	s := fmt.Sprintf("%d GB", soft)
	if overage != nil && *overage >= 0 {
		s += fmt.Sprintf(" + %d GB overage", *overage)
	}
	return s
}
