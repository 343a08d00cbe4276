// Package jobs runs the platform's background work on River: workers in
// every instance, periodic jobs enqueued by the elected leader.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/postgres"
)

// Config sizes the runner.
type Config struct {
	Workers             int
	MaintenanceInterval time.Duration
	// RescueAfter is how long a job may run before another instance takes
	// it as stuck (its runner died) and runs it again.
	RescueAfter time.Duration
	// FetchCooldown is the shortest wait between two fetches of new jobs
	// (River's default, 100ms, when zero).
	FetchCooldown time.Duration
}

// Runner owns River's clients.
type Runner struct {
	client *river.Client[pgx.Tx]
	// inserter enqueues on GORM's database/sql transactions, so a job
	// commits or rolls back with the data it concerns.
	inserter *river.Client[*sql.Tx]
}

// Domain is what the domain packages add: their workers and periodic jobs.
type Domain struct {
	Register func(*river.Workers)
	Periodic []*river.PeriodicJob
}

// New registers the workers and periodic jobs.
func New(db *postgres.DB, cfg Config, m Maintainer, log *slog.Logger, d Domain) (*Runner, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &cleanupWorker{m: m, log: log})
	if d.Register != nil {
		d.Register(workers)
	}
	periodic := []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(cfg.MaintenanceInterval),
			func() (river.JobArgs, *river.InsertOpts) {
				// One run per period even if leadership changes hands mid-period.
				return CleanupArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: cfg.MaintenanceInterval}}
			},
			&river.PeriodicJobOpts{ID: "maintenance_cleanup", RunOnStart: true}),
	}
	periodic = append(periodic, d.Periodic...)
	client, err := river.NewClient(riverpgxv5.New(db.Pool), &river.Config{
		Logger:               log,
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}},
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchCooldown:        cfg.FetchCooldown,
		// A job may take as long as it takes to be thought stuck: billing
		// runs over many services are long.
		JobTimeout:   cfg.RescueAfter,
		Workers:      workers,
		PeriodicJobs: periodic,
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	inserter, err := river.NewClient(riverdatabasesql.New(db.SQL), &river.Config{Logger: log, Workers: workers})
	if err != nil {
		return nil, fmt.Errorf("river inserter: %w", err)
	}
	return &Runner{client: client, inserter: inserter}, nil
}

// Start begins working jobs; it returns once River is running.
func (r *Runner) Start(ctx context.Context) error { return r.client.Start(ctx) }

// Stop lets running jobs finish (until ctx ends, then cancels them).
func (r *Runner) Stop(ctx context.Context) error {
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return r.client.StopAndCancel(context.Background())
	}
	return err
}

// InsertTx enqueues a job in the caller's GORM transaction.
func (r *Runner) InsertTx(ctx context.Context, tx *gorm.DB, args river.JobArgs, opts *river.InsertOpts) error {
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return errors.New("jobs: InsertTx needs a GORM transaction")
	}
	_, err := r.inserter.InsertTx(ctx, sqlTx, args, opts)
	return err
}

// InsertManyTx enqueues several jobs in the caller's GORM transaction in
// one batch.
func (r *Runner) InsertManyTx(ctx context.Context, tx *gorm.DB, params []river.InsertManyParams) error {
	if len(params) == 0 {
		return nil
	}
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		return errors.New("jobs: InsertManyTx needs a GORM transaction")
	}
	_, err := r.inserter.InsertManyTx(ctx, sqlTx, params)
	return err
}

// Insert enqueues a job outside any transaction.
func (r *Runner) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) error {
	_, err := r.client.Insert(ctx, args, opts)
	return err
}

// Settle decides how a job that failed ends. A stopping worker (ctx done)
// or an error another try may fix returns err, so River runs the job again,
// until the last try; otherwise fail records the failure for good and the
// job is cancelled.
func Settle(ctx context.Context, attempt, maxAttempts int, err error, retryable bool, fail func(context.Context) error) error {
	if attempt < maxAttempts && (ctx.Err() != nil || retryable) {
		return err
	}
	if ferr := fail(context.WithoutCancel(ctx)); ferr != nil {
		return ferr
	}
	return river.JobCancel(err)
}
