package app_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// The daily job and the sandbox clock do the same work. Moving the clock
// while the daily job (here the one enqueued at start) syncs usage waits
// for it, so when the move answers nothing is queued or running; a daily
// job for a day the clock has passed finds that day done and does nothing.
func TestSandboxClockAndDailyJobTakeTurns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	vendor := apptest.StartVendor(t)
	cfg := apptest.Config(t)
	cfg.Sandbox = true
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AcronisURL, cfg.AcronisClientID, cfg.AcronisClientSecret = vendor.URL, "sp-client", "sp-secret"
	env := apptest.Start(t, cfg)
	db := env.App.DB.Gorm
	admin, _ := env.Admin(t)
	start := env.App.Billing.Today()

	// A tenant to read and a slow vendor: the daily job's sync takes a
	// few rounds.
	env.NewPartner(t)
	vendor.SetFault(sim.Fault{Method: http.MethodGet, PathPrefix: "/api/2/tenants/usages", Rate: 1, Latency: 300 * time.Millisecond})
	jctx, cancel := context.WithCancel(ctx)
	require.NoError(t, env.App.Jobs.Start(jctx))
	t.Cleanup(func() {
		cancel()
		_ = env.App.Jobs.Stop(context.Background())
	})

	active := func(table string) int64 {
		var n int64
		require.NoError(t, db.Table(table).Where("status IN ('queued', 'running')").Count(&n).Error)
		return n
	}
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, db.Table("usage_syncs").Where("requested_by = 'system:daily' AND status = 'running'").Count(&n).Error)
		return n > 0
	}, 15*time.Second, 10*time.Millisecond, "the daily job's sync never started")

	res, err := admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: new(1)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	require.Zero(t, active("usage_syncs"), "a usage sync is still queued or running after the move answered")
	require.Zero(t, active("billing_runs"), "a billing run is still queued or running after the move answered")
	var daily int64
	require.NoError(t, db.Table("usage_syncs").Where("requested_by = 'system:daily'").Count(&daily).Error)

	// The start day's job again (a retry, a late one): the clock has
	// passed it, the sandbox ran its work, so it syncs and bills nothing.
	vendor.ClearFaults()
	require.NoError(t, env.App.Jobs.Insert(ctx, app.DailyArgs{Day: start.Format(time.DateOnly)}, nil))
	require.Eventually(t, func() bool {
		var n int64
		require.NoError(t, db.Table("river_job").Where("kind = 'daily_billing' AND state <> 'completed'").Count(&n).Error)
		return n == 0
	}, 15*time.Second, 10*time.Millisecond, "the daily job did not complete")
	var after int64
	require.NoError(t, db.Table("usage_syncs").Where("requested_by = 'system:daily'").Count(&after).Error)
	require.Equal(t, daily, after, "a daily job for a day the sandbox passed synced again")
	require.Zero(t, active("usage_syncs"))
	require.Zero(t, active("billing_runs"))
}
