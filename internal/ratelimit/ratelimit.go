// Package ratelimit counts requests in fixed windows kept in PostgreSQL, so
// every instance sees the same counts.
package ratelimit

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
)

// Limiter counts hits per bucket and window.
type Limiter struct {
	db  *gorm.DB
	clk clock.Clock
}

// New returns a limiter over db.
func New(db *gorm.DB, clk clock.Clock) *Limiter { return &Limiter{db: db, clk: clk} }

// Allow records a hit on bucket and returns a 429 error once more than limit
// hits fall in the current window.
func (l *Limiter) Allow(ctx context.Context, bucket string, limit int, window time.Duration) error {
	now := l.clk.Now()
	start := now.Truncate(window)
	var hits int
	err := l.db.WithContext(ctx).Raw(`
		INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
		RETURNING hits`, bucket, start).Scan(&hits).Error
	if err != nil {
		return errs.Internal(err)
	}
	if hits > limit {
		e := errs.E(errs.KindRateLimited, "rate_limited", "Too many attempts; retry later.")
		e.RetryAfter = int(start.Add(window).Sub(now).Seconds()) + 1
		return e
	}
	return nil
}

// DeleteOld drops windows that ended more than an hour ago.
func (l *Limiter) DeleteOld(ctx context.Context) (int64, error) {
	res := l.db.WithContext(ctx).Exec(`DELETE FROM rate_limits WHERE window_start < ?`, l.clk.Now().Add(-time.Hour))
	return res.RowsAffected, res.Error
}
