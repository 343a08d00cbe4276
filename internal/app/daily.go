package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/subscription"
	"github.com/acronis-platform/platform/internal/usage"
)

// DailyArgs is the day's usage sync and billing run. It is unique per SP
// day, so however often the leader enqueues it (hourly, and again after a
// leader change) each day runs once; a day missed is caught up by the next,
// as a run bills everything due up to its day.
type DailyArgs struct {
	Day string `json:"day"` // YYYY-MM-DD in the SP's zone
}

// Kind names the job.
func (DailyArgs) Kind() string { return "daily_billing" }

type dailyWorker struct {
	river.WorkerDefaults[DailyArgs]
	usage    *usage.Service
	billing  *billing.Service
	services *subscription.Service
	clock    clock.Clock
}

// Work ends the free trials whose time is up, syncs usage (which post-paid
// metered lines read), then bills.
func (w *dailyWorker) Work(ctx context.Context, job *river.Job[DailyArgs]) error {
	if _, err := w.services.ExpireTrials(ctx, w.clock.Now()); err != nil {
		return err
	}
	if _, err := w.usage.RunNow(ctx, "system:daily"); err != nil {
		return err
	}
	day, err := time.Parse(time.DateOnly, job.Args.Day)
	if err != nil {
		return river.JobCancel(err)
	}
	_, err = w.billing.RunNow(ctx, "system:daily", billing.RunAll, day)
	return err
}

// dailyJob is enqueued hourly, unique by day.
func dailyJob(b *billing.Service) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
		return DailyArgs{Day: b.Today().Format(time.DateOnly)}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	}, &river.PeriodicJobOpts{ID: "daily_billing", RunOnStart: true})
}

// daily runs the day's work at once (the sandbox clock, per day it passes).
func daily(ctx context.Context, u *usage.Service, b *billing.Service, day time.Time) (usage.Sync, billing.Run, error) {
	// No waiting between rounds: a day of sandbox time is seconds long.
	sy, err := u.With(u.BatchSize, 1, 0).RunNow(ctx, "system:sandbox")
	if err != nil {
		return usage.Sync{}, billing.Run{}, err
	}
	r, err := b.RunNow(ctx, "system:sandbox", billing.RunAll, day)
	return sy, r, err
}

// StaleArgs looks for billing runs and usage syncs whose worker stopped.
type StaleArgs struct{}

// Kind names the job.
func (StaleArgs) Kind() string { return "stale_runs" }

type staleWorker struct {
	river.WorkerDefaults[StaleArgs]
	usage   *usage.Service
	billing *billing.Service
	after   time.Duration
}

// Work marks runs and syncs without a heartbeat for w.after interrupted.
func (w *staleWorker) Work(ctx context.Context, _ *river.Job[StaleArgs]) error {
	if _, err := w.billing.MarkInterrupted(ctx, w.after); err != nil {
		return err
	}
	_, err := w.usage.MarkInterrupted(ctx, w.after)
	return err
}

// staleJob checks a few times per stale period, so a dead run is marked
// within about 1.2 times RUN_STALE_AFTER.
func staleJob(after time.Duration) *river.PeriodicJob {
	every := max(after/5, time.Second)
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return StaleArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{ID: "stale_runs", RunOnStart: true})
}
