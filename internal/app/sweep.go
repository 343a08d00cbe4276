package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/subscription"
)

// OpSweepArgs queues again the failed service operations a later try may
// fix. It is unique per sweep period (its start, on the wall clock), so
// however often the leader enqueues it each period sweeps once, and an
// operation is queued again at most once per period.
type OpSweepArgs struct {
	Period time.Time `json:"period"`
}

// Kind names the job.
func (OpSweepArgs) Kind() string { return "service_operation_sweep" }

type opSweepWorker struct {
	river.WorkerDefaults[OpSweepArgs]
	services *subscription.Service
}

// Work sweeps the period's failed operations; a sweep cut short is taken
// up again by its retry or the next period.
func (w *opSweepWorker) Work(ctx context.Context, job *river.Job[OpSweepArgs]) error {
	_, err := w.services.SweepOperations(ctx, job.Args.Period)
	return err
}

// opSweepJob is enqueued every period by the leader, and once at start, so
// what fell due while no instance ran is caught up.
func opSweepJob(every time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return OpSweepArgs{Period: clock.Wall().UTC().Truncate(every)}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}
	}, &river.PeriodicJobOpts{ID: "service_operation_sweep", RunOnStart: true})
}
