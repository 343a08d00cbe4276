// Package ratelimit counts requests in fixed windows kept in PostgreSQL, so
// every instance sees the same counts.
//
// A bucket (a string such as "anon:203.0.113.7") has one row per window
// start with its hit count. A window ends window-length after its start;
// rows of windows over an hour old are deleted by the maintenance job.
//
// Limiter writes every hit at once and is exact (login attempts). Batched
// counts most hits in memory and writes them behind in batches, exact on one
// instance and within MaxUnwritten per other instance (anonymous requests).
package ratelimit

import (
	"context"
	"math"
	"net/netip"
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

// Result is the state of a bucket after a hit.
type Result struct {
	Limit     int
	Hits      int
	Remaining int
	// Reset is how long until the window ends.
	Reset time.Duration
	// WindowStart identifies the window, for Undo.
	WindowStart time.Time
}

// Allowed reports whether the hit was within the limit.
func (r Result) Allowed() bool { return r.Hits <= r.Limit }

// ResetSeconds is Reset rounded up to whole seconds (at least 1).
func (r Result) ResetSeconds() int {
	s := int(math.Ceil(r.Reset.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// Err is the 429 for a hit over the limit, nil otherwise.
func (r Result) Err() error {
	if r.Allowed() {
		return nil
	}
	e := errs.E(errs.KindRateLimited, "rate_limited", "Too many attempts; retry later.")
	e.RetryAfter = r.ResetSeconds()
	e.Limit = r.Limit
	return e
}

// Hit records a hit on bucket and returns the bucket's state.
func (l *Limiter) Hit(ctx context.Context, bucket string, limit int, window time.Duration) (Result, error) {
	now := l.clk.Now()
	start := now.Truncate(window)
	var hits int
	err := l.db.WithContext(ctx).Raw(`
		INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, 1)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + 1
		RETURNING hits`, bucket, start).Scan(&hits).Error
	if err != nil {
		return Result{}, errs.Internal(err)
	}
	return result(limit, hits, start.Add(window).Sub(now), start), nil
}

// Peek returns the bucket's state without counting a hit.
func (l *Limiter) Peek(ctx context.Context, bucket string, limit int, window time.Duration) (Result, error) {
	now := l.clk.Now()
	start := now.Truncate(window)
	var hits int
	err := l.db.WithContext(ctx).Raw(`
		SELECT coalesce(max(hits), 0) FROM rate_limits WHERE bucket = ? AND window_start = ?`, bucket, start).Scan(&hits).Error
	if err != nil {
		return Result{}, errs.Internal(err)
	}
	return result(limit, hits, start.Add(window).Sub(now), start), nil
}

// Undo takes back one hit of the window a Hit returned, e.g. an attempt that
// turned out not to count (a successful login).
func (l *Limiter) Undo(ctx context.Context, bucket string, r Result) error {
	err := l.db.WithContext(ctx).Exec(`
		UPDATE rate_limits SET hits = hits - 1 WHERE bucket = ? AND window_start = ? AND hits > 0`,
		bucket, r.WindowStart).Error
	if err != nil {
		return errs.Internal(err)
	}
	return nil
}

func result(limit, hits int, reset time.Duration, start time.Time) Result {
	return Result{Limit: limit, Hits: hits, Remaining: max(0, limit-hits), Reset: reset, WindowStart: start}
}

// Allow records a hit on bucket and returns a 429 error once more than limit
// hits fall in the current window.
func (l *Limiter) Allow(ctx context.Context, bucket string, limit int, window time.Duration) error {
	r, err := l.Hit(ctx, bucket, limit, window)
	if err != nil {
		return err
	}
	return r.Err()
}

// ClientKey is the part of a client address a bucket is kept for: the
// address itself for IPv4, its /64 for IPv6 (one subscriber usually holds
// a whole /64, so single addresses would be free to rotate).
func ClientKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// DeleteOld drops windows that ended more than an hour ago.
func (l *Limiter) DeleteOld(ctx context.Context) (int64, error) {
	res := l.db.WithContext(ctx).Exec(`DELETE FROM rate_limits WHERE window_start < ?`, l.clk.Now().Add(-time.Hour))
	return res.RowsAffected, res.Error
}
