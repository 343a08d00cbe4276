package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"
)

// Maintainer is what the clean-up job deletes through.
type Maintainer interface {
	DeleteExpiredIdempotencyKeys(ctx context.Context) (int64, error)
	DeleteOldRateLimits(ctx context.Context) (int64, error)
}

// CleanupArgs is the periodic clean-up: expired idempotency keys and old
// rate-limit windows. It deletes whatever is due, so a missed period is
// caught up by the next run.
type CleanupArgs struct{}

// Kind names the job in River.
func (CleanupArgs) Kind() string { return "maintenance_cleanup" }

type cleanupWorker struct {
	river.WorkerDefaults[CleanupArgs]
	m   Maintainer
	log *slog.Logger
}

func (w *cleanupWorker) Work(ctx context.Context, _ *river.Job[CleanupArgs]) error {
	keys, err := w.m.DeleteExpiredIdempotencyKeys(ctx)
	if err != nil {
		return err
	}
	windows, err := w.m.DeleteOldRateLimits(ctx)
	if err != nil {
		return err
	}
	w.log.Info("maintenance cleanup", "idempotency_keys_deleted", keys, "rate_limit_windows_deleted", windows)
	return nil
}
