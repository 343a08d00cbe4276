// Package jobs runs the platform's background work on River: workers in
// every instance, periodic jobs enqueued by the elected leader.
//
// Three queues, each with workers of its own: the default one (billing
// runs, usage syncs, provisioning, service operations; Config.Workers),
// QueueMail (mail sends; Config.MailWorkers) and QueueWebhooks (webhook
// deliveries; Config.WebhookWorkers). The last two are short I/O-bound
// jobs that come in bursts (10,000 invoices on the 1st): on queues of
// their own they never hold back billing and billing's long jobs never
// hold them back. Mail has its own count because a send holds a database
// connection through its SMTP conversation (its outbox row stays locked),
// so it must stay well under the pool; a delivery holds none while it
// waits on the receiver.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/postgres"
)

// The queues of the outbound jobs; their job args name them in InsertOpts.
const (
	QueueMail     = "mail"
	QueueWebhooks = "webhooks"
)

// Worker counts used when Config leaves them zero.
const (
	DefaultMailWorkers    = 10
	DefaultWebhookWorkers = 50
)

// mailFetchCooldown is how often the mail queue may fetch while mails
// keep coming. River's default (100 ms), fetching at most the free slots,
// caps a queue at its worker count per 100 ms (10 workers: 100 mails/s)
// when a send takes a few milliseconds. Each fetch is one small query, so
// 10 ms costs at most 100 a second, and only under a burst (an idle queue
// waits for LISTEN/NOTIFY or the 1 s poll). The webhook queue keeps the
// default: its 50 workers per 100 ms are plenty, and fewer fetches weigh
// less on the requests whose events they deliver.
const mailFetchCooldown = 10 * time.Millisecond

// Config sizes the runner.
type Config struct {
	// Workers run the default queue's jobs.
	Workers int
	// MailWorkers and WebhookWorkers run QueueMail's and QueueWebhooks'
	// jobs (DefaultMailWorkers and DefaultWebhookWorkers when zero).
	MailWorkers         int
	WebhookWorkers      int
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
	loops    []Loop
	stop     context.CancelFunc
	done     sync.WaitGroup
}

// Loop is background work that runs while the runner does, in every
// instance, until ctx ends: it turns rows written by requests into jobs
// (so the request's transaction inserts no job of its own). It must be
// safe beside the same loop in other instances.
type Loop func(ctx context.Context)

// Domain is what the domain packages add: their workers and periodic jobs.
type Domain struct {
	Register func(*river.Workers)
	Periodic []*river.PeriodicJob
	Loops    []Loop
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
		Logger: log,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Workers},
			QueueMail:          {MaxWorkers: cmp.Or(cfg.MailWorkers, DefaultMailWorkers), FetchCooldown: mailFetchCooldown},
			QueueWebhooks:      {MaxWorkers: cmp.Or(cfg.WebhookWorkers, DefaultWebhookWorkers)},
		},
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
	return &Runner{client: client, inserter: inserter, loops: d.Loops}, nil
}

// Start begins working jobs; it returns once River is running.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return err
	}
	lctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	r.stop = stop
	for _, l := range r.loops {
		r.done.Add(1)
		go func() { defer r.done.Done(); l(lctx) }()
	}
	return nil
}

// Stop lets running jobs finish (until ctx ends, then cancels them).
func (r *Runner) Stop(ctx context.Context) error {
	if r.stop != nil {
		r.stop()
		r.done.Wait()
	}
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
