package dunning

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/memo"
	"github.com/acronis-platform/platform/internal/page"
)

// NewRun records a queued run in tx.
func (s *Service) NewRun(ctx context.Context, tx *gorm.DB, who string, asOf time.Time) (Run, error) {
	now := s.now()
	r := Run{ID: uuid.New(), AsOf: asOf, Status: RunQueued, Failures: []byte("[]"), RequestedBy: who, CreatedAt: now, UpdatedAt: now}
	if err := tx.WithContext(ctx).Create(&r).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	return r, nil
}

// GetRun reads a run.
func (s *Service) GetRun(ctx context.Context, id uuid.UUID) (Run, error) {
	return page.Take[Run](s.db.WithContext(ctx), "dunning_runs", id, "dunning run", false)
}

// ListRuns pages through runs, oldest first.
func (s *Service) ListRuns(ctx context.Context, r page.Request) ([]Run, string, error) {
	return page.Find(s.db.WithContext(ctx).Model(&Run{}), "dunning_runs", r, func(v Run) page.Key { return page.Key{CreatedAt: v.CreatedAt, ID: v.ID} })
}

// ActionFilter narrows a run's actions.
type ActionFilter struct {
	Kind       *string
	Result     *string
	ServiceID  *uuid.UUID
	CustomerID *uuid.UUID
}

// ListActions pages through what a run did, action by action, in the
// order it did it; an unknown run is not found.
func (s *Service) ListActions(ctx context.Context, runID uuid.UUID, f ActionFilter, r page.Request) ([]RunAction, string, error) {
	if _, err := s.GetRun(ctx, runID); err != nil {
		return nil, "", err
	}
	q := s.db.WithContext(ctx).Table("dunning_run_actions").
		Select(`dunning_run_actions.*, a.key, a.kind, a.service_id, a.customer_id, a.partner_id, a.invoice_id`).
		Joins("JOIN dunning_actions a ON a.id = dunning_run_actions.action_id").
		Where("dunning_run_actions.run_id = ?", runID)
	if f.Kind != nil {
		q = q.Where("a.kind = ?", *f.Kind)
	}
	if f.Result != nil {
		q = q.Where("dunning_run_actions.result = ?", *f.Result)
	}
	if f.ServiceID != nil {
		q = q.Where("a.service_id = ?", *f.ServiceID)
	}
	if f.CustomerID != nil {
		q = q.Where("a.customer_id = ?", *f.CustomerID)
	}
	return page.Find(q, "dunning_run_actions", r, func(v RunAction) page.Key { return page.Key{CreatedAt: v.CreatedAt, ID: v.ID} })
}

// RunNow records a run as of day and does it at once (the daily job and
// the sandbox clock). A run that stops on an error is failed at once (one
// stopped by its context is interrupted).
func (s *Service) RunNow(ctx context.Context, by string, day time.Time) (Run, error) {
	r, err := s.NewRun(ctx, s.db, by, day)
	if err != nil {
		return Run{}, err
	}
	done, err := s.Execute(ctx, r.ID)
	if err != nil && ctx.Err() == nil {
		_ = s.markFailed(context.WithoutCancel(ctx), r.ID, err)
	}
	return done, err
}

// Request queues a run as of asOf (today when nil; never a future day),
// enqueueing its job in the same transaction (POST /v1/dunning-runs).
func (s *Service) Request(ctx context.Context, who auth.Principal, asOf *time.Time, enqueue func(tx *gorm.DB, id uuid.UUID) error) (Run, error) {
	day := s.today()
	if asOf != nil {
		day = *asOf
	}
	if day.After(s.today()) {
		return Run{}, errs.Unprocessable("as_of_in_future", "A dunning run acts on what is due up to today at the latest.").WithField("as_of")
	}
	var r Run
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if r, err = s.NewRun(ctx, tx, string(who.Role)+":"+who.Scope(), day); err != nil {
			return err
		}
		return enqueue(tx, r.ID)
	})
	return r, err
}

// Execute does a run: everything due as of its day. A run already
// completed is returned as it is; a retry goes on from what is done (done
// actions are never done again).
func (s *Service) Execute(ctx context.Context, id uuid.UUID) (Run, error) {
	r, err := s.GetRun(ctx, id)
	if err != nil {
		return Run{}, err
	}
	if r.Status == RunCompleted {
		return r, nil
	}
	now := s.now()
	if err := s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{"status": RunRunning,
		"started_at": gorm.Expr("coalesce(started_at, ?)", now), "heartbeat_at": now, "failures": []byte("[]"), "updated_at": now}).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	x := &exec{s: s, run: r}
	defer x.release()
	// What every action reads again (plans' settings and templates,
	// issuers' names) is read once per run.
	ctx = memo.With(ctx)
	err = x.do(ctx)
	if err == nil {
		err = x.flush(ctx)
	}
	if err != nil {
		if ctx.Err() != nil {
			_ = x.flush(context.WithoutCancel(ctx))
			_ = s.db.WithContext(context.WithoutCancel(ctx)).Model(&Run{}).Where("id = ? AND status = ?", r.ID, RunRunning).
				Updates(map[string]any{"status": RunInterrupted, "updated_at": s.now()}).Error
		}
		return Run{}, err
	}
	done := s.now()
	if err := s.db.WithContext(ctx).Model(&Run{}).Where("id = ?", r.ID).Updates(map[string]any{
		"status": RunCompleted, "heartbeat_at": done, "finished_at": done, "updated_at": done}).Error; err != nil {
		return Run{}, errs.Internal(err)
	}
	return s.GetRun(ctx, r.ID)
}

// MarkInterrupted marks the runs whose worker has not beaten for
// staleAfter: what they did stays, their claims expire with their lease.
func (s *Service) MarkInterrupted(ctx context.Context, staleAfter time.Duration) (int64, error) {
	now := s.now()
	res := s.db.WithContext(ctx).Model(&Run{}).Where("status = ? AND heartbeat_at < ?", RunRunning, now.Add(-staleAfter)).
		Updates(map[string]any{"status": RunInterrupted, "updated_at": now})
	if res.Error != nil {
		return 0, errs.Internal(res.Error)
	}
	return res.RowsAffected, nil
}

// DayDone tells whether a run by one of whom completed as of day or later.
func (s *Service) DayDone(ctx context.Context, day time.Time, whom ...string) (bool, error) {
	var done bool
	err := s.db.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM dunning_runs WHERE status = ? AND as_of >= ? AND requested_by IN ?)`,
		RunCompleted, day, whom).Scan(&done).Error
	if err != nil {
		return false, errs.Internal(err)
	}
	return done, nil
}

func (s *Service) markFailed(ctx context.Context, id uuid.UUID, cause error) error {
	f, _ := json.Marshal([]Failure{{What: "run", Reason: cause.Error()}})
	now := s.now()
	return s.db.WithContext(ctx).Model(&Run{}).Where("id = ? AND status <> ?", id, RunCompleted).
		Updates(map[string]any{"status": RunFailed, "failures": gorm.Expr("failures || ?::jsonb", string(f)), "finished_at": now, "updated_at": now}).Error
}

// counts is what a run did since its row was last written.
type counts struct {
	checked, reminders, suspended, terminated, unsuspended, alerts, skipped, failed int
	failures                                                                        []Failure
}

// exec is a run being done.
type exec struct {
	s   *Service
	run Run

	mu sync.Mutex
	c  counts
}

func (x *exec) add(f func(c *counts)) {
	x.mu.Lock()
	defer x.mu.Unlock()
	f(&x.c)
}

// flush adds the counts gathered to the run row and beats its heartbeat.
func (x *exec) flush(ctx context.Context) error {
	x.mu.Lock()
	c := x.c
	x.c = counts{}
	x.mu.Unlock()
	fs := c.failures
	if fs == nil {
		fs = []Failure{}
	}
	j, _ := json.Marshal(fs)
	now := x.s.now()
	err := x.s.db.WithContext(ctx).Exec(`UPDATE dunning_runs SET checked = checked + ?, reminders = reminders + ?, suspended = suspended + ?,
		terminated = terminated + ?, unsuspended = unsuspended + ?, credit_alerts = credit_alerts + ?, skipped = skipped + ?, failed = failed + ?,
		failures = failures || ?::jsonb, heartbeat_at = ?, updated_at = ? WHERE id = ?`,
		c.checked, c.reminders, c.suspended, c.terminated, c.unsuspended, c.alerts, c.skipped, c.failed, string(j), now, now, x.run.ID).Error
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

// release lets go of the claims the run still holds (stopped halfway),
// so the next run need not wait for their lease.
func (x *exec) release() {
	_ = x.s.db.WithContext(context.Background()).Exec(`UPDATE dunning_actions SET claimed_by = NULL, claimed_until = NULL
		WHERE claimed_by = ? AND status <> ?`, x.run.ID, ActionDone).Error
}
