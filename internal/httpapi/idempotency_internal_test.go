package httpapi

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/idempotency"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/secret"
)

// TestIdempotencyFreesKeyAfterConcurrentChange: a creating POST whose
// transaction PostgreSQL gave up on (a deadlock) answers 409
// concurrent_change and frees its Idempotency-Key, so the same request
// sent again runs (and is replayed from then on), rather than getting the
// 409 back for good.
func TestIdempotencyFreesKeyAfterConcurrentChange(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, clock.Real{})
	box, err := secret.New(bytes.Repeat([]byte{7}, 32))
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(log)
	runs := 0
	e.POST("/things", func(c echo.Context) error {
		runs++
		if runs == 1 {
			return errs.Internal(fmt.Errorf("insert thing: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}))
		}
		return c.JSON(http.StatusCreated, map[string]int{"run": runs})
	}, idempotent(idempotency.New(db.Gorm, clock.Real{}, box), log))

	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/things", strings.NewReader(`{"name":"a"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "key-1")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}
	first := send()
	require.Equal(t, http.StatusConflict, first.Code, first.Body.String())
	require.Contains(t, first.Body.String(), `"concurrent_change"`)

	again := send()
	require.Equal(t, http.StatusCreated, again.Code, again.Body.String())
	require.Empty(t, again.Header().Get("Idempotent-Replayed"))
	require.JSONEq(t, `{"run":2}`, again.Body.String())

	replay := send()
	require.Equal(t, http.StatusCreated, replay.Code, replay.Body.String())
	require.Equal(t, "true", replay.Header().Get("Idempotent-Replayed"))
	require.JSONEq(t, `{"run":2}`, replay.Body.String())
	require.Equal(t, 2, runs)
}
