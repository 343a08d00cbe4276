package usage

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"

	"github.com/acronis-platform/platform/internal/jobs"
)

// SyncArgs is the job that does a requested usage sync.
type SyncArgs struct {
	SyncID uuid.UUID `json:"sync_id"`
}

// Kind names the job.
func (SyncArgs) Kind() string { return "usage_sync" }

// InsertOpts: a sync is safe to repeat.
func (SyncArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// SyncWorker does SyncArgs.
type SyncWorker struct {
	river.WorkerDefaults[SyncArgs]
	svc *Service
}

// Worker returns the sync job's worker.
func (s *Service) Worker() *SyncWorker { return &SyncWorker{svc: s} }

// Work executes the sync; the last failure marks it failed.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	_, err := w.svc.Execute(ctx, job.Args.SyncID)
	if err == nil {
		return nil
	}
	return jobs.Settle(ctx, job.Attempt, job.MaxAttempts, err, true, func(ctx context.Context) error {
		return w.svc.markFailed(ctx, job.Args.SyncID, err)
	})
}
