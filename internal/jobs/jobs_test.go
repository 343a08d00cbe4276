package jobs_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type noop struct{}

func (noop) DeleteExpiredIdempotencyKeys(context.Context) (int64, error) { return 0, nil }
func (noop) DeleteOldRateLimits(context.Context) (int64, error)          { return 0, nil }

func TestInsertTxFollowsTheTransaction(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, clock.Real{})
	r, err := jobs.New(db, jobs.Config{Workers: 1, MaintenanceInterval: time.Hour, RescueAfter: time.Hour}, noop{}, slog.New(slog.DiscardHandler), jobs.Domain{})
	require.NoError(t, err)
	ctx := context.Background()
	count := func() int {
		var n int
		require.NoError(t, db.Gorm.Raw(`SELECT count(*) FROM river_job WHERE kind = 'maintenance_cleanup'`).Scan(&n).Error)
		return n
	}
	before := count()

	rollback := errors.New("rollback")
	err = db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		require.NoError(t, r.InsertTx(ctx, tx, jobs.CleanupArgs{}, nil))
		return rollback
	})
	require.ErrorIs(t, err, rollback)
	require.Equal(t, before, count(), "a rolled-back transaction drops its job")

	require.NoError(t, db.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return r.InsertTx(ctx, tx, jobs.CleanupArgs{}, nil)
	}))
	require.Equal(t, before+1, count(), "a committed transaction keeps its job")

	require.Error(t, r.InsertTx(ctx, db.Gorm, jobs.CleanupArgs{}, nil), "InsertTx outside a transaction is refused")
}

func TestSettle(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name          string
		ctx           context.Context
		attempt, max  int
		retryable     bool
		wantFailed    bool
		wantRunsAgain bool
	}{
		{"retryable, tries left", context.Background(), 1, 3, true, false, true},
		{"retryable, last try", context.Background(), 3, 3, true, true, false},
		{"not retryable", context.Background(), 1, 3, false, true, false},
		{"worker stopping", cancelled, 1, 3, false, false, true},
		{"worker stopping on the last try", cancelled, 3, 3, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			failed := false
			err := jobs.Settle(tt.ctx, tt.attempt, tt.max, boom, tt.retryable, func(ctx context.Context) error {
				require.NoError(t, ctx.Err(), "failure is recorded even while stopping")
				failed = true
				return nil
			})
			require.Equal(t, tt.wantFailed, failed)
			var cancelErr *river.JobCancelError
			require.Equal(t, !tt.wantRunsAgain, errors.As(err, &cancelErr), "%v", err)
			require.ErrorIs(t, err, boom)
		})
	}
}
