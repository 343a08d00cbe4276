package postgres_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestMigrationsApplyFromEmptyAndAreCurrent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t, false), 4, clock.Real{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer db.Close()

	current, err := postgres.MigrationsCurrent(ctx, db)
	require.NoError(t, err)
	require.False(t, current, "an empty database is not current")

	require.NoError(t, postgres.Migrate(ctx, db))
	current, err = postgres.MigrationsCurrent(ctx, db)
	require.NoError(t, err)
	require.True(t, current)

	require.NoError(t, postgres.Migrate(ctx, db), "migrating again is a no-op")
	for _, table := range []string{"users", "api_keys", "idempotency_keys", "rate_limits", "river_job", "river_leader"} {
		var n int
		require.NoError(t, db.Gorm.Raw("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", table).Scan(&n).Error)
		require.Equal(t, 1, n, table)
	}
}

func TestOpenRefusesBadURLWithoutEchoingIt(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(context.Background(), "postgres://user:s3cret@[::1", 2, clock.Real{}, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret")
}
