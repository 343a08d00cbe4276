package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/subscription"
	"github.com/acronis-platform/platform/internal/usage"
)

// DailyArgs is the day's usage sync and billing run. It is unique per SP
// day, so however often the leader enqueues it (hourly, and again after a
// leader change) each day runs once; a day missed is caught up by the next,
// as a run bills everything due up to its day. It takes turns with the
// sandbox clock (dailyLock), and does nothing for a day whose work is done.
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
	db       *postgres.DB
}

// Work ends the free trials whose time is up, syncs usage (which post-paid
// metered lines read), then bills. It waits while the sandbox clock moves,
// and skips a day the sandbox (or an earlier try) has already billed.
func (w *dailyWorker) Work(ctx context.Context, job *river.Job[DailyArgs]) error {
	day, err := time.Parse(time.DateOnly, job.Args.Day)
	if err != nil {
		return river.JobCancel(err)
	}
	unlock, err := lockDaily(ctx, w.db)
	if err != nil {
		return err
	}
	defer unlock()
	if done, err := dayDone(ctx, w.db, day); err != nil || done {
		return err
	}
	if _, err := w.services.ExpireTrials(ctx, w.clock.Now()); err != nil {
		return err
	}
	if _, err := w.usage.RunNow(ctx, "system:daily"); err != nil {
		return err
	}
	_, err = w.billing.RunNow(ctx, "system:daily", billing.RunAll, day)
	return err
}

// dailyLock is the advisory lock the daily job and the sandbox clock hold
// while they sync and bill, so the two never do it at once: a clock move
// waits for a daily job under way, and a daily job waits for the move.
const dailyLock int64 = 0x6461696c79 // "daily"

// lockDaily waits for dailyLock on a connection of its own, kept until
// unlock; if the process dies the session, and the lock, end with it.
func lockDaily(ctx context.Context, db *postgres.DB) (unlock func(), err error) {
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		return nil, errs.Internal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", dailyLock); err != nil {
		_ = conn.Hijack().Close(context.WithoutCancel(ctx))
		return nil, errs.Internal(err)
	}
	return func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", dailyLock); err != nil {
			// Closing the session lets the lock go.
			_ = conn.Hijack().Close(context.WithoutCancel(ctx))
			return
		}
		conn.Release()
	}, nil
}

// dayDone says whether a day's work (a sync, then a run of everything) has
// completed as of day or later: the sandbox clock passed it, or an earlier
// try of the job got that far.
func dayDone(ctx context.Context, db *postgres.DB, day time.Time) (bool, error) {
	var done bool
	err := db.Gorm.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM billing_runs WHERE kind = ? AND status = ? AND as_of >= ?
		AND requested_by IN ('system:daily', 'system:sandbox'))`, billing.RunAll, billing.RunCompleted, day).Scan(&done).Error
	if err != nil {
		return false, errs.Internal(err)
	}
	return done, nil
}

// dailyJob is enqueued hourly, unique by day.
func dailyJob(b *billing.Service) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
		return DailyArgs{Day: b.Today().Format(time.DateOnly)}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	}, &river.PeriodicJobOpts{ID: "daily_billing", RunOnStart: true})
}

// daily runs the day's work at once (the sandbox clock, per day it passes,
// holding dailyLock).
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
	dunning *dunning.Service
	after   time.Duration
}

// Work marks runs and syncs without a heartbeat for w.after interrupted.
func (w *staleWorker) Work(ctx context.Context, _ *river.Job[StaleArgs]) error {
	if _, err := w.billing.MarkInterrupted(ctx, w.after); err != nil {
		return err
	}
	if w.dunning != nil {
		if _, err := w.dunning.MarkInterrupted(ctx, w.after); err != nil {
			return err
		}
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

// DunningArgs is the day's dunning run: unique per SP day like DailyArgs,
// enqueued hourly. A run acts on everything due as of its day (the latest
// reminder reached, suspensions and terminations past their day), so a
// day missed is caught up by the next. It takes turns with the sandbox
// clock and the day's billing (dailyLock), and does nothing for a day a
// run (daily or the sandbox's) has completed.
type DunningArgs struct {
	Day string `json:"day"` // YYYY-MM-DD in the SP's zone
}

// Kind names the job.
func (DunningArgs) Kind() string { return "daily_dunning" }

type dunningDailyWorker struct {
	river.WorkerDefaults[DunningArgs]
	dunning *dunning.Service
	db      *postgres.DB
}

// Work runs dunning as of the job's day, unless done.
func (w *dunningDailyWorker) Work(ctx context.Context, job *river.Job[DunningArgs]) error {
	day, err := time.Parse(time.DateOnly, job.Args.Day)
	if err != nil {
		return river.JobCancel(err)
	}
	unlock, err := lockDaily(ctx, w.db)
	if err != nil {
		return err
	}
	defer unlock()
	if done, err := w.dunning.DayDone(ctx, day, dunningDaily, dunningSandbox); err != nil || done {
		return err
	}
	_, err = w.dunning.RunNow(ctx, dunningDaily, day)
	return err
}

// Who runs dunning on its own.
const (
	dunningDaily   = "system:daily"
	dunningSandbox = "system:sandbox"
)

// dunningDailyJob is enqueued hourly, unique by day.
func dunningDailyJob(b *billing.Service) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
		return DunningArgs{Day: b.Today().Format(time.DateOnly)}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	}, &river.PeriodicJobOpts{ID: "daily_dunning", RunOnStart: true})
}
