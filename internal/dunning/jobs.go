package dunning

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/acronis-platform/platform/internal/jobs"
)

// RunArgs is the job that does a requested dunning run.
type RunArgs struct {
	RunID uuid.UUID `json:"run_id"`
}

// Kind names the job.
func (RunArgs) Kind() string { return "dunning_run" }

// InsertOpts: a run is safe to repeat, so a few tries.
func (RunArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// RunWorker does RunArgs.
type RunWorker struct {
	river.WorkerDefaults[RunArgs]
	svc *Service
}

// Worker returns the run job's worker.
func (s *Service) Worker() *RunWorker { return &RunWorker{svc: s} }

// Work executes the run; a failure leaves it to River's retry, which goes
// on from what is done. The last failure marks the run failed.
func (w *RunWorker) Work(ctx context.Context, job *river.Job[RunArgs]) error {
	_, err := w.svc.Execute(ctx, job.Args.RunID)
	if err == nil {
		return nil
	}
	return jobs.Settle(ctx, job.Attempt, job.MaxAttempts, err, true, func(ctx context.Context) error {
		return w.svc.markFailed(ctx, job.Args.RunID, err)
	})
}
