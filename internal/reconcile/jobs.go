package reconcile

import (
	"context"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
)

// ReportArgs is the job that does a requested reconciliation report.
type ReportArgs struct {
	ReportID uuid.UUID `json:"report_id"`
}

// Kind names the job.
func (ReportArgs) Kind() string { return "reconciliation_report" }

// InsertOpts: a report fails on its own on a vendor failure (a new request
// is the rerun); a retry only follows a stop or a crash, and starts clean.
func (ReportArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// ReportWorker does ReportArgs.
type ReportWorker struct {
	river.WorkerDefaults[ReportArgs]
	svc *Service
}

// Worker returns the report job's worker.
func (s *Service) Worker() *ReportWorker { return &ReportWorker{svc: s} }

// Work executes the report. Only an error Execute could not record (a
// stop, the database) is left to River's retry; the last one fails it.
func (w *ReportWorker) Work(ctx context.Context, job *river.Job[ReportArgs]) error {
	_, err := w.svc.Execute(ctx, job.Args.ReportID)
	if err != nil && job.Attempt >= job.MaxAttempts {
		_ = w.svc.markFailed(context.WithoutCancel(ctx), job.Args.ReportID, err)
	}
	return err
}
