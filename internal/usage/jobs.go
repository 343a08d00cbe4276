package usage

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
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

// Work executes the sync.
func (w *SyncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	_, err := w.svc.Execute(ctx, job.Args.SyncID)
	return err
}
