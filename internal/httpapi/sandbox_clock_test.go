package httpapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// The sandbox clock lives in the database: an instance started later, or
// after a restart, runs on the same time, and a running instance follows
// another's moves.
func TestSandboxClockIsSharedAndSurvivesRestarts(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t)
	cfg.Sandbox = true
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	ctx := context.Background()
	day := 24 * time.Hour

	first := apptest.StartWithClock(t, cfg, &clock.Offset{})
	admin, _ := first.Admin(t)
	start, err := admin.GetSandboxClockWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, start.StatusCode(), string(start.Body))
	require.Zero(t, start.JSON200.OffsetSeconds)
	require.WithinDuration(t, time.Now(), start.JSON200.Now, time.Minute)

	adv, err := admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(40), Hours: ptr(5)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, adv.StatusCode(), string(adv.Body))
	ahead := 40*day + 5*time.Hour

	// Another instance (or this one restarted) starts on the same time.
	second := apptest.StartWithClock(t, cfg, &clock.Offset{})
	require.WithinDuration(t, time.Now().Add(ahead), second.App.Clock.Now(), time.Minute)
	admin2, _ := second.Admin(t)
	got, err := admin2.GetSandboxClockWithResponse(ctx)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, got.StatusCode(), string(got.Body))
	require.Equal(t, int64(ahead/time.Second), got.JSON200.OffsetSeconds)
	require.WithinDuration(t, time.Now().Add(ahead), got.JSON200.Now, time.Minute)
	require.Equal(t, billing.Day(got.JSON200.Now, cfg.Location()).Format(time.DateOnly), got.JSON200.Today.Format(time.DateOnly))
	require.Equal(t, cfg.Location().String(), got.JSON200.TimeZone)

	// A running instance follows a move made elsewhere, without a request.
	lctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	go second.App.ListenForClock(lctx)
	time.Sleep(100 * time.Millisecond) // let it listen
	admin, _ = first.Admin(t)          // tokens issued 40 days ago have expired
	more, err := admin.AdvanceSandboxClockWithResponse(ctx, oapi.SandboxClockAdvance{Days: ptr(3)})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, more.StatusCode(), string(more.Body))
	require.Eventually(t, func() bool {
		return second.App.Clock.Now().Sub(time.Now().Add(ahead+3*day)).Abs() < time.Minute
	}, 5*time.Second, 20*time.Millisecond)
	require.WithinDuration(t, first.App.Clock.Now(), second.App.Clock.Now(), time.Second)
}

func TestSandboxClockRefusedOutsideSandbox(t *testing.T) {
	t.Parallel()
	env := apptest.New(t)
	admin, _ := env.Admin(t)
	res, err := admin.GetSandboxClockWithResponse(context.Background())
	require.NoError(t, err)
	requireProblem(t, res.StatusCode(), res.HTTPResponse.Header, res.Body, http.StatusForbidden, "sandbox_disabled")
	_, partnerToken := env.PartnerUser(t, nil)
	res, err = env.Client(t, partnerToken).GetSandboxClockWithResponse(context.Background())
	require.NoError(t, err)
	require.Equal(t, http.StatusForbidden, res.StatusCode())
}
