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
