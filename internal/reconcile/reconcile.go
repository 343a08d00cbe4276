// Package reconcile compares what the vendor reports with what the
// platform knows and billed, per tenant and offering item
// (POST /v1/reconciliation/reports, a River job).
//
// Entities: Settings (the one row of reconciliation_settings: which vendor
// accounts to read, the default period, the usage tolerance), Report (a
// row of reconciliation_reports: a period, its status and counts per flag)
// and Row (a row of reconciliation_rows: one finding about a tenant, or
// one of its items).
//
// Accounts are the SP's configured account and each Acronis plan's
// datacenter credentials, distinct by URL and client id; secrets stay on
// the plans (and in the configuration), the settings only pick accounts.
//
// States: a report queued -> running -> completed | failed. A vendor
// failure fails the report with its reason; a new request starts clean.
//
// Invariants:
//   - A report's rows are written once, in the transaction that completes
//     it; a completed report and its rows never change (the database
//     refuses it), and a failed report has no rows.
//   - A live service is one that keeps a tenant: active, suspended, or an
//     expired free trial (its tenant disabled until it moves to a paid plan).
//   - Every row carries exactly one flag: orphan_tenant (a customer tenant
//     in the vendor's report that no live service owns), missing_tenant (a
//     live service whose tenant the vendor no longer has), status_mismatch
//     (disabled there and active here, or enabled there and suspended or
//     expired here), edition_mismatch (an enabled item of another edition than the
//     plan's), quota_mismatch (an item's quota is not the plan's times the
//     quantity), usage_mismatch (the vendor's figure differs from the
//     platform's by more than the tolerance percent of the platform's), or
//     ok (an item compared and found equal).
//   - Usage is compared per tenant and item the daily sync stored usage of
//     in the period (usage_daily: what billing bills from), over the days
//     it stored, and only those: the platform's figure is the plan's
//     aggregation of the item (its metered charge's, else max) over the
//     stored values, the vendor's the same aggregation over its
//     usage_daily report's values of the same days, each day as billing
//     counts it (storage in whole GB, rounded up). So a peak billed and
//     since fallen agrees, and a past day the vendor revised does not; a
//     mismatch names the days that differ and the invoices whose usage or
//     overage lines of the service cover them. Items with no stored day
//     are not compared.
//   - The vendor's report is read row by row; per tenant, item and day only
//     an int64 is kept, and only for items the platform stored usage of.
package reconcile

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Report statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
)

// Flags, in the order reports list them.
const (
	FlagOK              = "ok"
	FlagOrphanTenant    = "orphan_tenant"
	FlagMissingTenant   = "missing_tenant"
	FlagStatusMismatch  = "status_mismatch"
	FlagQuotaMismatch   = "quota_mismatch"
	FlagUsageMismatch   = "usage_mismatch"
	FlagEditionMismatch = "edition_mismatch"
)

// Flags lists every flag.
var Flags = []string{FlagOK, FlagOrphanTenant, FlagMissingTenant, FlagStatusMismatch, FlagQuotaMismatch, FlagUsageMismatch, FlagEditionMismatch}

// Default periods.
const (
	PeriodPreviousMonth = "previous_month"
	PeriodCurrentMonth  = "current_month"
	PeriodLast30Days    = "last_30_days"
)

// MaxPeriodDays bounds a report's period.
const MaxPeriodDays = 366

// AccountRef names a vendor account: its datacenter URL and API client id.
type AccountRef struct {
	URL      string `json:"url"`
	ClientID string `json:"client_id"`
}

func (a AccountRef) key() string { return a.URL + " " + a.ClientID }

// Settings say what a reconciliation reads and how it compares.
type Settings struct {
	ID                    int             `gorm:"primaryKey"`
	Accounts              []byte          `gorm:"type:jsonb"` // null: all
	DefaultPeriod         string          //
	UsageTolerancePercent decimal.Decimal //
	Version               int64
	UpdatedAt             time.Time
}

// TableName keeps GORM on the migration's table.
func (Settings) TableName() string { return "reconciliation_settings" }

// Selected returns the chosen accounts, or nil for all of them.
func (s Settings) Selected() []AccountRef {
	if len(s.Accounts) == 0 || string(s.Accounts) == "null" {
		return nil
	}
	var out []AccountRef
	_ = json.Unmarshal(s.Accounts, &out)
	return out
}

// Report is one reconciliation and its totals.
type Report struct {
	ID               uuid.UUID `gorm:"primaryKey"`
	PeriodFrom       time.Time `gorm:"type:date"`
	PeriodTo         time.Time `gorm:"type:date"`
	Status           string
	Accounts         []byte `gorm:"type:jsonb"`
	TolerancePercent decimal.Decimal
	RowsCompared     int
	OK               int `gorm:"column:ok"`
	OrphanTenant     int
	MissingTenant    int
	StatusMismatch   int
	QuotaMismatch    int
	UsageMismatch    int
	EditionMismatch  int
	Reason           *string
	RequestedBy      string
	StartedAt        *time.Time
	HeartbeatAt      *time.Time
	FinishedAt       *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// TableName keeps GORM on the migration's table.
func (Report) TableName() string { return "reconciliation_reports" }

// Counts are the report's totals per flag.
func (r Report) Counts() map[string]int {
	return map[string]int{FlagOK: r.OK, FlagOrphanTenant: r.OrphanTenant, FlagMissingTenant: r.MissingTenant,
		FlagStatusMismatch: r.StatusMismatch, FlagQuotaMismatch: r.QuotaMismatch, FlagUsageMismatch: r.UsageMismatch,
		FlagEditionMismatch: r.EditionMismatch}
}

// Row is one finding of a report.
type Row struct {
	ReportID      uuid.UUID `gorm:"primaryKey"`
	Position      int       `gorm:"primaryKey"`
	Account       string
	TenantID      string
	TenantName    string
	ServiceID     *uuid.UUID
	CustomerID    *uuid.UUID
	PartnerID     *uuid.UUID
	PlanID        *uuid.UUID
	Item          string
	Flag          string
	PlatformValue string
	VendorValue   string
	Detail        []byte `gorm:"type:jsonb"`
}

// TableName keeps GORM on the migration's table.
func (Row) TableName() string { return "reconciliation_rows" }

// Config tunes the service.
type Config struct {
	// Location is the SP's time zone: periods are its days.
	Location *time.Location
	// SP is the SP's configured vendor account; nil when none.
	SP *provisioning.Credentials
	// HTTPClient reaches the vendor (the egress-guarded client).
	HTTPClient *http.Client
	// AttemptTimeout bounds one vendor call (0: the client's default).
	AttemptTimeout time.Duration
	// Poll is how often a vendor report is polled (default 1s).
	Poll time.Duration
	// ReportTimeout bounds the wait for one vendor report (default 10 min).
	ReportTimeout time.Duration
	// Workers read tenants' offering items in parallel (default 8).
	Workers int
}

// Service runs reconciliations.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	catalog *catalog.Service
	cfg     Config
}

// NewService wires the service.
func NewService(db *gorm.DB, clk clock.Clock, cat *catalog.Service, cfg Config) *Service {
	if cfg.Location == nil {
		cfg.Location = time.UTC
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.ReportTimeout <= 0 {
		cfg.ReportTimeout = 10 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	return &Service{db: db, clk: clk, catalog: cat, cfg: cfg}
}

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Today is the SP's current day.
func (s *Service) Today() time.Time {
	y, m, d := s.clk.Now().In(s.cfg.Location).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Account is a vendor account the settings may pick.
type Account struct {
	AccountRef
	// SP is set for the SP's configured account.
	SP bool
	// Plans are the plans whose module settings use it.
	Plans    []uuid.UUID
	Selected bool
	cred     provisioning.Credentials
}

// Accounts lists every account there is, distinct by URL and client id,
// the SP's first, each marked selected or not by the settings.
func (s *Service) Accounts(ctx context.Context) ([]Account, error) {
	st, err := s.GetSettings(ctx)
	if err != nil {
		return nil, err
	}
	return s.accounts(ctx, st, false)
}

func (s *Service) accounts(ctx context.Context, st Settings, withSecrets bool) ([]Account, error) {
	var out []*Account
	by := map[string]*Account{}
	if s.cfg.SP != nil {
		a := &Account{AccountRef: AccountRef{URL: s.cfg.SP.URL, ClientID: s.cfg.SP.ClientID}, SP: true, Plans: []uuid.UUID{}, cred: *s.cfg.SP}
		out, by[a.key()] = append(out, a), a
	}
	var ms []struct {
		PlanID        uuid.UUID
		DatacenterURL string
		ClientID      string
	}
	if err := s.db.WithContext(ctx).Raw(`SELECT m.plan_id, m.datacenter_url, m.client_id FROM plan_module_settings m
		ORDER BY m.datacenter_url, m.client_id, m.plan_id`).Scan(&ms).Error; err != nil {
		return nil, errs.Internal(err)
	}
	for _, m := range ms {
		ref := AccountRef{URL: m.DatacenterURL, ClientID: m.ClientID}
		a, ok := by[ref.key()]
		if !ok {
			a = &Account{AccountRef: ref, Plans: []uuid.UUID{}}
			out, by[ref.key()] = append(out, a), a
		}
		a.Plans = append(a.Plans, m.PlanID)
		if withSecrets && a.cred.ClientSecret == "" {
			_, c, err := s.catalog.Credentials(ctx, m.PlanID)
			if err != nil {
				return nil, err
			}
			a.cred = c
		}
	}
	sel := st.Selected()
	res := make([]Account, 0, len(out))
	for _, a := range out {
		a.Selected = sel == nil
		for _, r := range sel {
			if r == a.AccountRef {
				a.Selected = true
			}
		}
		res = append(res, *a)
	}
	return res, nil
}

// GetSettings reads the settings.
func (s *Service) GetSettings(ctx context.Context) (Settings, error) {
	var st Settings
	if err := s.db.WithContext(ctx).Take(&st, "id = 1").Error; err != nil {
		return Settings{}, errs.Internal(err)
	}
	return st, nil
}

// SettingsInput is a PUT of the settings; nil Accounts means all of them.
type SettingsInput struct {
	Accounts              *[]AccountRef
	DefaultPeriod         string
	UsageTolerancePercent decimal.Decimal
	IfMatch               *int64
}

// PutSettings replaces the settings. Every account named must exist.
func (s *Service) PutSettings(ctx context.Context, in SettingsInput) (Settings, error) {
	switch in.DefaultPeriod {
	case PeriodPreviousMonth, PeriodCurrentMonth, PeriodLast30Days:
	default:
		return Settings{}, errs.Invalid("default_period", "invalid_period_kind", "default_period is previous_month, current_month or last_30_days")
	}
	if in.UsageTolerancePercent.IsNegative() || in.UsageTolerancePercent.GreaterThan(decimal.NewFromInt(100)) ||
		!in.UsageTolerancePercent.Equal(in.UsageTolerancePercent.Round(2)) {
		return Settings{}, errs.Unprocessable("tolerance_out_of_range", "usage_tolerance_percent is between 0 and 100, with at most 2 decimals.").
			WithField("usage_tolerance_percent")
	}
	var accounts []byte = []byte("null")
	if in.Accounts != nil {
		cur, err := s.accounts(ctx, Settings{}, false)
		if err != nil {
			return Settings{}, err
		}
		known := map[AccountRef]bool{}
		for _, a := range cur {
			known[a.AccountRef] = true
		}
		seen := map[AccountRef]bool{}
		list := []AccountRef{}
		for i, r := range *in.Accounts {
			if !known[r] {
				return Settings{}, errs.Unprocessable("unknown_account", "No plan or SP configuration uses this vendor account.").
					WithField("accounts[" + itoa(i) + "]")
			}
			if !seen[r] {
				seen[r] = true
				list = append(list, r)
			}
		}
		sort.Slice(list, func(i, j int) bool { return list[i].key() < list[j].key() })
		accounts, _ = json.Marshal(list)
	}
	var out Settings
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT * FROM reconciliation_settings WHERE id = 1 FOR NO KEY UPDATE`).Scan(&out).Error; err != nil {
			return errs.Internal(err)
		}
		if in.IfMatch != nil && *in.IfMatch != out.Version {
			return errs.VersionMismatch()
		}
		return tx.Raw(`UPDATE reconciliation_settings SET accounts = ?::jsonb, default_period = ?, usage_tolerance_percent = ?,
			version = version + 1, updated_at = ? WHERE id = 1 RETURNING *`, string(accounts), in.DefaultPeriod, in.UsageTolerancePercent, s.now()).
			Scan(&out).Error
	})
	if err != nil {
		if e := errs.As(err); e != nil {
			return Settings{}, e
		}
		return Settings{}, errs.Internal(err)
	}
	return out, nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// Period returns the default period of kind as of today.
func Period(kind string, today time.Time) (time.Time, time.Time) {
	first := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	switch kind {
	case PeriodCurrentMonth:
		return first, today
	case PeriodLast30Days:
		return today.AddDate(0, 0, -29), today
	default:
		return first.AddDate(0, -1, 0), first.AddDate(0, 0, -1)
	}
}

// CheckPeriod applies the period rules: to not before from, not in the
// future, at most MaxPeriodDays days.
func CheckPeriod(from, to, today time.Time) error {
	switch {
	case to.Before(from):
		return errs.Unprocessable("invalid_period", "to is before from.").WithField("to")
	case to.After(today):
		return errs.Unprocessable("period_in_future", "The period ends today at the latest.").WithField("to")
	case int(to.Sub(from).Hours()/24)+1 > MaxPeriodDays:
		return errs.Unprocessable("period_too_long", "A period is at most 366 days.").WithField("to")
	}
	return nil
}

// Request queues a report over [from, to] (the settings' default period
// where absent), enqueueing its job in the same transaction.
func (s *Service) Request(ctx context.Context, who auth.Principal, from, to *time.Time, enqueue func(tx *gorm.DB, id uuid.UUID) error) (Report, error) {
	st, err := s.GetSettings(ctx)
	if err != nil {
		return Report{}, err
	}
	today := s.Today()
	f, t := Period(st.DefaultPeriod, today)
	switch {
	case from != nil && to != nil:
		f, t = *from, *to
	case from != nil:
		f = *from
		t = today
	case to != nil:
		t = *to
		f = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	if err := CheckPeriod(f, t, today); err != nil {
		return Report{}, err
	}
	now := s.now()
	r := Report{ID: uuid.New(), PeriodFrom: f, PeriodTo: t, Status: StatusQueued, Accounts: []byte("[]"),
		TolerancePercent: st.UsageTolerancePercent, RequestedBy: string(who.Role) + ":" + who.Scope(), CreatedAt: now, UpdatedAt: now}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&r).Error; err != nil {
			return errs.Internal(err)
		}
		return enqueue(tx, r.ID)
	})
	return r, err
}

// Get reads a report.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Report, error) {
	return page.Take[Report](s.db.WithContext(ctx), "reconciliation_reports", id, "reconciliation report", false)
}

// List pages through reports, oldest first; from/to keep those whose
// period overlaps [from, to].
func (s *Service) List(ctx context.Context, from, to *time.Time, r page.Request) ([]Report, string, error) {
	q := s.db.WithContext(ctx).Model(&Report{})
	if from != nil {
		q = q.Where("period_to >= ?", *from)
	}
	if to != nil {
		q = q.Where("period_from <= ?", *to)
	}
	return page.Find(q, "reconciliation_reports", r, func(v Report) page.Key { return page.Key{CreatedAt: v.CreatedAt, ID: v.ID} })
}

// Rows pages through a report's rows in position order, those of flag
// only when given; after is the last position seen.
func (s *Service) Rows(ctx context.Context, id uuid.UUID, flag *string, after, limit int) ([]Row, bool, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, false, err
	}
	q := s.db.WithContext(ctx).Where("report_id = ? AND position > ?", id, after)
	if flag != nil {
		q = q.Where("flag = ?", *flag)
	}
	var rows []Row
	if err := q.Order("position").Limit(limit + 1).Find(&rows).Error; err != nil {
		return nil, false, errs.Internal(err)
	}
	more := len(rows) > limit
	if more {
		rows = rows[:limit]
	}
	return rows, more, nil
}
