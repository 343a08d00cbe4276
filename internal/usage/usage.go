// Package usage keeps the vendor's daily usage of every customer and
// partner tenant: one row per tenant, item and day, for metered billing
// and reports.
package usage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/page"
	"github.com/acronis-platform/platform/internal/provisioning"
)

// Sync statuses.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusPartial   = "partial"
	StatusFailed    = "failed"
	// StatusInterrupted: its worker stopped beating; the rows it stored stay.
	StatusInterrupted = "interrupted"
)

// Sync is one usage sync and what it did.
type Sync struct {
	ID          uuid.UUID `gorm:"primaryKey"`
	Day         time.Time `gorm:"type:date"`
	Status      string
	Tenants     int
	Rows        int
	Failures    []byte `gorm:"type:jsonb"`
	RequestedBy string
	StartedAt   *time.Time
	HeartbeatAt *time.Time
	FinishedAt  *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// TableName keeps GORM on the migration's table.
func (Sync) TableName() string { return "usage_syncs" }

// Row is one day's usage of a tenant's item.
type Row struct {
	TenantID string    `gorm:"primaryKey"`
	Item     string    `gorm:"primaryKey"`
	Day      time.Time `gorm:"primaryKey;type:date"`
	Value    int64
	Unit     string
	SyncedAt time.Time
}

// TableName keeps GORM on the migration's table.
func (Row) TableName() string { return "usage_daily" }

// Reader reads usage from one vendor account.
type Reader interface {
	Usage(ctx context.Context, tenantIDs []string) (map[string][]provisioning.Reading, error)
}

// Service is the usage sync's unit of work.
type Service struct {
	db      *gorm.DB
	clk     clock.Clock
	loc     *time.Location
	catalog *catalog.Service
	pool    *provisioning.Pool
	sp      Reader // the SP's configured account, for partner tenants; may be nil
	// BatchSize is how many tenants one vendor call reads.
	BatchSize int
	// Rounds is how many times failed batches are tried within one sync.
	Rounds int
	// Pause is the wait between rounds.
	Pause time.Duration
}

// NewService wires the service.
func NewService(db *gorm.DB, clk clock.Clock, loc *time.Location, cat *catalog.Service, pool *provisioning.Pool, sp Reader) *Service {
	return &Service{db: db, clk: clk, loc: loc, catalog: cat, pool: pool, sp: sp, BatchSize: 100, Rounds: 3, Pause: time.Second}
}

// With is a copy of the service that reads batch tenants a call and tries
// failed batches in up to rounds rounds, pause apart.
func (s *Service) With(batch, rounds int, pause time.Duration) *Service {
	c := *s
	c.BatchSize, c.Rounds, c.Pause = batch, rounds, pause
	return &c
}

func (s *Service) now() time.Time { return s.clk.Now().Truncate(time.Microsecond) }

// Today is the SP's current day.
func (s *Service) Today() time.Time {
	y, m, d := s.clk.Now().In(s.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// New records a queued sync of today.
func (s *Service) New(ctx context.Context, tx *gorm.DB, who string) (Sync, error) {
	now := s.now()
	v := Sync{ID: uuid.New(), Day: s.Today(), Status: StatusQueued, Failures: []byte("[]"), RequestedBy: who, CreatedAt: now, UpdatedAt: now}
	if err := tx.WithContext(ctx).Create(&v).Error; err != nil {
		return Sync{}, errs.Internal(err)
	}
	return v, nil
}

// Get reads a sync.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (Sync, error) {
	return page.Take[Sync](s.db.WithContext(ctx), "usage_syncs", id, "usage sync", false)
}

// account is a vendor account and the tenants read through it.
type account struct {
	name    string
	reader  Reader
	tenants []string
}

// accounts groups every live customer tenant by its plan's vendor account,
// and partner tenants under the SP's account.
func (s *Service) accounts(ctx context.Context) ([]account, error) {
	var rows []struct {
		PlanID         uuid.UUID
		VendorTenantID string
	}
	err := s.db.WithContext(ctx).Raw(`SELECT plan_id, vendor_tenant_id FROM services
		WHERE vendor_tenant_id IS NOT NULL AND status IN ('active', 'suspended') ORDER BY plan_id, vendor_tenant_id`).Scan(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	byKey := map[string]*account{}
	creds := map[uuid.UUID]provisioning.Credentials{}
	var order []string
	for _, r := range rows {
		cred, ok := creds[r.PlanID]
		if !ok {
			_, c, err := s.catalog.Credentials(ctx, r.PlanID)
			if err != nil {
				return nil, err
			}
			cred, creds[r.PlanID] = c, c
		}
		key := cred.URL + " " + cred.ClientID
		a, ok := byKey[key]
		if !ok {
			m, err := s.pool.Module(cred)
			if err != nil {
				return nil, errs.Internal(err)
			}
			a = &account{name: cred.URL, reader: m}
			byKey[key] = a
			order = append(order, key)
		}
		a.tenants = append(a.tenants, r.VendorTenantID)
	}
	out := make([]account, 0, len(order)+1)
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	if s.sp != nil {
		var partners []string
		if err := s.db.WithContext(ctx).Table("partners").Where("vendor_tenant_id IS NOT NULL").Order("vendor_tenant_id").
			Pluck("vendor_tenant_id", &partners).Error; err != nil {
			return nil, errs.Internal(err)
		}
		if len(partners) > 0 {
			out = append(out, account{name: "partners", reader: s.sp, tenants: partners})
		}
	}
	return out, nil
}

// Failure is a batch that could not be read.
type Failure struct {
	Account string   `json:"account"`
	Tenants []string `json:"tenants"`
	Reason  string   `json:"reason"`
}

type batch struct {
	acc     account
	tenants []string
}

// Execute runs a sync: every tenant's usage, read in batches and stored as
// the sync day's rows (a second sync of the day writes the same rows). A
// batch that fails is tried again in later rounds; the others are kept.
func (s *Service) Execute(ctx context.Context, id uuid.UUID) (Sync, error) {
	v, err := s.Get(ctx, id)
	if err != nil {
		return Sync{}, err
	}
	if v.Status == StatusCompleted {
		return v, nil
	}
	// A retry reads every tenant again, so it counts from zero.
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&Sync{}).Where("id = ?", v.ID).Updates(map[string]any{"status": StatusRunning,
		"started_at": gorm.Expr("coalesce(started_at, ?)", now), "heartbeat_at": now, "rows": 0, "failures": []byte("[]"), "updated_at": now}).Error; err != nil {
		return Sync{}, errs.Internal(err)
	}
	v, err = s.sync(ctx, v)
	if err != nil && ctx.Err() != nil {
		// Stopped (shutdown, cancel): say so at once.
		_ = s.db.WithContext(context.WithoutCancel(ctx)).Model(&Sync{}).Where("id = ? AND status = ?", id, StatusRunning).
			Updates(map[string]any{"status": StatusInterrupted, "updated_at": s.now()}).Error
	}
	return v, err
}

func (s *Service) sync(ctx context.Context, v Sync) (Sync, error) {
	accs, err := s.accounts(ctx)
	if err != nil {
		return Sync{}, err
	}
	var pending []batch
	tenants := 0
	for _, a := range accs {
		tenants += len(a.tenants)
		for i := 0; i < len(a.tenants); i += s.BatchSize {
			pending = append(pending, batch{acc: a, tenants: a.tenants[i:min(i+s.BatchSize, len(a.tenants))]})
		}
	}
	if err := s.db.WithContext(ctx).Model(&Sync{}).Where("id = ?", v.ID).Updates(map[string]any{"tenants": tenants, "updated_at": s.now()}).Error; err != nil {
		return Sync{}, errs.Internal(err)
	}
	rows := 0
	var failures []Failure
	for round := 0; round < s.Rounds && len(pending) > 0; round++ {
		if round > 0 {
			select {
			case <-ctx.Done():
				return Sync{}, ctx.Err()
			case <-time.After(s.Pause):
			}
		}
		failures = nil
		var again []batch
		for len(pending) > 0 {
			b := pending[0]
			pending = pending[1:]
			n, err := s.readBatch(ctx, v.ID, v.Day, b)
			if ctx.Err() != nil {
				return Sync{}, ctx.Err()
			}
			if err != nil && len(b.tenants) > 1 && !retryable(err) {
				// One tenant the vendor refuses (deleted, moved) must not
				// cost the others their usage: split the batch.
				half := len(b.tenants) / 2
				pending = append(pending, batch{acc: b.acc, tenants: b.tenants[:half]}, batch{acc: b.acc, tenants: b.tenants[half:]})
				continue
			}
			if err != nil {
				again = append(again, b)
				failures = append(failures, Failure{Account: b.acc.name, Tenants: b.tenants, Reason: err.Error()})
				continue
			}
			rows += n
		}
		pending = again
	}
	failed := 0
	for _, f := range failures {
		failed += len(f.Tenants)
	}
	status := StatusCompleted
	switch {
	case failed > 0 && failed == tenants:
		status = StatusFailed
	case len(failures) > 0:
		status = StatusPartial
	}
	fj, _ := json.Marshal(failures)
	if failures == nil {
		fj = []byte("[]")
	}
	done := s.now()
	v.Status, v.Tenants, v.Rows, v.Failures, v.FinishedAt, v.UpdatedAt = status, tenants, rows, fj, &done, done
	err = s.db.WithContext(ctx).Model(&Sync{}).Where("id = ?", v.ID).Updates(map[string]any{
		"status": status, "tenants": tenants, "failures": fj, "heartbeat_at": done, "finished_at": done, "updated_at": done}).Error
	if err != nil {
		return Sync{}, errs.Internal(err)
	}
	return s.Get(ctx, v.ID)
}

// retryable reports whether another try may read a failed batch.
func retryable(err error) bool {
	var ve *acronis.Error
	if errors.As(err, &ve) {
		return ve.Retryable
	}
	return true
}

// readBatch reads a batch and stores its rows; the sync's row count and
// heartbeat move in the same transaction.
func (s *Service) readBatch(ctx context.Context, syncID uuid.UUID, day time.Time, b batch) (int, error) {
	got, err := b.acc.reader.Usage(ctx, b.tenants)
	if err != nil {
		return 0, fmt.Errorf("%d tenants: %w", len(b.tenants), err)
	}
	now := s.now()
	var rows []Row
	for tenant, readings := range got {
		for _, r := range readings {
			rows = append(rows, Row{TenantID: tenant, Item: r.Item, Day: day, Value: r.Value, Unit: r.Unit, SyncedAt: now})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		return rows[i].TenantID < rows[j].TenantID || (rows[i].TenantID == rows[j].TenantID && rows[i].Item < rows[j].Item)
	})
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if len(rows) > 0 {
			// The latest reading of the day wins; reading the same again changes nothing.
			if err := tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "tenant_id"}, {Name: "item"}, {Name: "day"}},
				DoUpdates: clause.Assignments(map[string]any{"value": gorm.Expr("EXCLUDED.value"), "unit": gorm.Expr("EXCLUDED.unit")}),
				Where:     clause.Where{Exprs: []clause.Expression{gorm.Expr("usage_daily.value <> EXCLUDED.value OR usage_daily.unit <> EXCLUDED.unit")}},
			}).CreateInBatches(rows, 1000).Error; err != nil {
				return err
			}
		}
		return tx.Exec(`UPDATE usage_syncs SET rows = rows + ?, status = ?, heartbeat_at = ?, updated_at = ? WHERE id = ?`,
			len(rows), StatusRunning, now, now, syncID).Error
	})
	if err != nil {
		return 0, errors.Join(errors.New("storing usage"), err)
	}
	return len(rows), nil
}

// MarkInterrupted marks the syncs whose worker has not beaten for
// staleAfter; the rows they stored stay.
func (s *Service) MarkInterrupted(ctx context.Context, staleAfter time.Duration) (int64, error) {
	now := s.now()
	r := s.db.WithContext(ctx).Model(&Sync{}).Where("status = ? AND heartbeat_at < ?", StatusRunning, now.Add(-staleAfter)).
		Updates(map[string]any{"status": StatusInterrupted, "updated_at": now})
	if r.Error != nil {
		return 0, errs.Internal(r.Error)
	}
	return r.RowsAffected, nil
}

// markFailed ends a sync that could not finish, with the reason.
func (s *Service) markFailed(ctx context.Context, id uuid.UUID, cause error) error {
	f, _ := json.Marshal([]Failure{{Account: "sync", Reason: cause.Error()}})
	now := s.now()
	return s.db.WithContext(ctx).Model(&Sync{}).Where("id = ? AND status <> ?", id, StatusCompleted).
		Updates(map[string]any{"status": StatusFailed, "failures": f, "finished_at": now, "updated_at": now}).Error
}

// RunNow records a sync and does it at once (the sandbox clock and the
// daily job use it). No job tries it again, so a sync that stops on an
// error is failed at once rather than left running without a worker (a
// stopped one is interrupted).
func (s *Service) RunNow(ctx context.Context, who string) (Sync, error) {
	v, err := s.New(ctx, s.db, who)
	if err != nil {
		return Sync{}, err
	}
	done, err := s.Execute(ctx, v.ID)
	if err != nil && ctx.Err() == nil {
		_ = s.markFailed(ctx, v.ID, err)
	}
	return done, err
}

// Rows reads a tenant's usage rows in [from, to].
func (s *Service) Rows(ctx context.Context, tenantID string, from, to time.Time) ([]Row, error) {
	var rows []Row
	err := s.db.WithContext(ctx).Where("tenant_id = ? AND day BETWEEN ? AND ?", tenantID, from, to).Order("item, day").Find(&rows).Error
	if err != nil {
		return nil, errs.Internal(err)
	}
	return rows, nil
}
