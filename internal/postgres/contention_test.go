package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// TestContentionIsAConflict: the errors of a transaction that met another
// one are a 409 concurrent_change, others are left alone.
func TestContentionIsAConflict(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code     string
		conflict bool
	}{
		{"40P01", true}, // deadlock_detected
		{"40001", true}, // serialization_failure
		{"55P03", true}, // lock_not_available
		{"23505", false},
		{"57014", false}, // query_canceled
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			err := errs.Internal(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: tc.code}))
			e := postgres.Contention(err)
			if !tc.conflict {
				require.Nil(t, e)
				return
			}
			require.NotNil(t, e)
			require.Equal(t, errs.KindConflict, e.Kind)
			require.Equal(t, "concurrent_change", e.Code)
		})
	}
	require.Nil(t, postgres.Contention(errors.New("not a database error")))
}

// TestDeadlockIsAConflict makes PostgreSQL break a real deadlock (two
// transactions locking two rows in opposite orders) and expects the
// victim's error to be a concurrent_change.
func TestDeadlockIsAConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t, false), 4, clock.Real{}, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	defer db.Close()
	g := db.Gorm
	require.NoError(t, g.Exec("CREATE TABLE rows (id int PRIMARY KEY, n int NOT NULL)").Error)
	require.NoError(t, g.Exec("INSERT INTO rows VALUES (1, 0), (2, 0)").Error)

	// Each transaction takes its first row, then both wait at the barrier
	// before they ask for the other's: one of them is the victim.
	var both sync.WaitGroup
	both.Add(2)
	errsOf := make([]error, 2)
	var wg sync.WaitGroup
	for i, order := range [][2]int{{1, 2}, {2, 1}} {
		wg.Go(func() {
			errsOf[i] = g.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec("UPDATE rows SET n = n + 1 WHERE id = ?", order[0]).Error; err != nil {
					both.Done()
					return err
				}
				both.Done()
				both.Wait()
				return tx.Exec("UPDATE rows SET n = n + 1 WHERE id = ?", order[1]).Error
			})
		})
	}
	wg.Wait()
	var victims int
	for _, err := range errsOf {
		if err == nil {
			continue
		}
		victims++
		e := postgres.Contention(errs.Internal(err))
		require.NotNil(t, e, "%v", err)
		require.Equal(t, "concurrent_change", e.Code)
	}
	require.Equal(t, 1, victims)
}
