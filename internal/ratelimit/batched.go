package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/acronis-platform/platform/internal/errs"
)

// Batched counts hits like Limiter but writes most of them behind, in one
// statement for every bucket, so a busy bucket is not one hot row written
// per request.
//
// Per bucket and window it keeps known (the count PostgreSQL last returned)
// and unwritten (hits counted here and not yet written). A hit goes to
// PostgreSQL at once, with every unwritten hit of its bucket, when the
// bucket is cold here (its first hit of the window), when its count is
// within Margin of the limit, or when MaxUnwritten hits are already waiting;
// otherwise it is counted here as known+unwritten+1. A hit is refused here
// without a write once known+unwritten has reached the limit: counts only
// grow within a window, so such a refusal is always right.
//
// Exactness: one instance alone counts exactly. Hits are admitted beyond
// the limit only by other instances' hits it has not seen yet, at most
// MaxUnwritten per other instance, so a window admits at most
// limit + (instances-1) * MaxUnwritten(limit) hits. A hit within the limit
// is never refused. Hits counted here and not yet written (those of the
// last FlushEvery) are lost if the process dies; Run writes them on a clean
// stop.
type Batched struct {
	l *Limiter
	// MaxEntries caps the buckets kept in memory; beyond it hits are
	// written at once.
	MaxEntries int
	// FlushEvery is how often Run writes the unwritten hits.
	FlushEvery time.Duration

	mu      sync.Mutex
	entries map[entryKey]*entry
}

type entryKey struct {
	bucket string
	start  int64 // window start, Unix nanoseconds
}

type entry struct {
	start time.Time
	end   time.Time
	// wmu is held while this entry's hits are written, so a write's delta
	// is subtracted once.
	wmu       sync.Mutex
	read      bool // known came from PostgreSQL in this window
	known     int
	unwritten int
}

// NewBatched returns a write-behind limiter over l's database.
func NewBatched(l *Limiter) *Batched {
	return &Batched{l: l, MaxEntries: 100_000, FlushEvery: 100 * time.Millisecond, entries: map[entryKey]*entry{}}
}

// Margin is how close to limit a count goes to PostgreSQL on every hit.
func Margin(limit int) int { return max(2, limit/10) }

// MaxUnwritten is how many hits of a bucket an instance counts before the
// next one writes them: a twentieth of the limit, so a bucket is shared
// within 5% per instance however high its limit.
func MaxUnwritten(limit int) int { return max(1, limit/20) }

// Hit records a hit on bucket and returns the bucket's state.
func (b *Batched) Hit(ctx context.Context, bucket string, limit int, window time.Duration) (Result, error) {
	now := b.l.clk.Now()
	start := now.Truncate(window)
	reset := start.Add(window).Sub(now)
	k := entryKey{bucket, start.UnixNano()}

	b.mu.Lock()
	e := b.entries[k]
	if e == nil {
		if len(b.entries) >= b.MaxEntries {
			b.mu.Unlock()
			return b.l.Hit(ctx, bucket, limit, window)
		}
		e = &entry{start: start, end: start.Add(window)}
		b.entries[k] = e
	}
	if hits, ok := e.countHere(limit); ok {
		b.mu.Unlock()
		return result(limit, hits, reset, start), nil
	}
	b.mu.Unlock()

	// Written at once, with the bucket's unwritten hits. A write that ran
	// while this one waited may have made room to count it here after all:
	// many hits waiting on one write do not each write.
	e.wmu.Lock()
	defer e.wmu.Unlock()
	b.mu.Lock()
	if hits, ok := e.countHere(limit); ok {
		b.mu.Unlock()
		return result(limit, hits, reset, start), nil
	}
	d := e.unwritten
	b.mu.Unlock()
	hits, err := b.l.add(ctx, bucket, start, d+1)
	if err != nil {
		return Result{}, err
	}
	b.mu.Lock()
	e.unwritten -= d
	e.known = max(e.known, hits)
	e.read = true
	b.mu.Unlock()
	return result(limit, hits, reset, start), nil
}

// countHere counts a hit in memory when that is safe and returns its count.
// b.mu is held.
func (e *entry) countHere(limit int) (int, bool) {
	if !e.read {
		return 0, false
	}
	est := e.known + e.unwritten
	if est >= limit || // refused whatever the others counted
		est < limit-Margin(limit) && e.unwritten < MaxUnwritten(limit) {
		e.unwritten++
		return est + 1, true
	}
	return 0, false
}

// Flush writes every unwritten hit in one statement, refreshes the counts
// it returns, and forgets windows that have ended.
func (b *Batched) Flush(ctx context.Context) error {
	now := b.l.clk.Now()
	var (
		batch   []*entry
		buckets []string
		starts  []time.Time
		deltas  []int32
	)
	b.mu.Lock()
	for k, e := range b.entries {
		if e.unwritten == 0 {
			if !e.end.After(now) {
				delete(b.entries, k)
			}
			continue
		}
		if !e.wmu.TryLock() { // being written by a hit, which takes these too
			continue
		}
		batch = append(batch, e)
		buckets = append(buckets, k.bucket)
		starts = append(starts, e.start)
		deltas = append(deltas, int32(e.unwritten))
	}
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	defer func() {
		for _, e := range batch {
			e.wmu.Unlock()
		}
	}()

	sqlDB, err := b.l.db.DB()
	if err != nil {
		return errs.Internal(err)
	}
	// The rows come back in no set order; ordinality ties them to the batch.
	rows, err := sqlDB.QueryContext(ctx, `
		WITH d AS (
			SELECT bucket, window_start, hits, i FROM unnest($1::text[], $2::timestamptz[], $3::int[]) WITH ORDINALITY AS t(bucket, window_start, hits, i)
		), up AS (
			INSERT INTO rate_limits (bucket, window_start, hits)
			SELECT bucket, window_start, hits FROM d ORDER BY bucket, window_start
			ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + EXCLUDED.hits
			RETURNING bucket, window_start, hits
		)
		SELECT d.i, up.hits FROM up JOIN d USING (bucket, window_start)`, buckets, starts, deltas)
	if err != nil {
		return errs.Internal(err)
	}
	defer rows.Close()
	got := make([]int, len(batch))
	for rows.Next() {
		var i int64
		var hits int
		if err := rows.Scan(&i, &hits); err != nil {
			return errs.Internal(err)
		}
		got[i-1] = hits
	}
	if err := rows.Err(); err != nil {
		return errs.Internal(err)
	}
	b.mu.Lock()
	for i, e := range batch {
		e.unwritten -= int(deltas[i])
		e.known = max(e.known, got[i])
		e.read = true
	}
	b.mu.Unlock()
	return nil
}

// Run flushes every FlushEvery until ctx ends, then once more so no counted
// hit is lost on shutdown.
func (b *Batched) Run(ctx context.Context, log *slog.Logger) {
	t := time.NewTicker(b.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := b.Flush(fctx); err != nil {
				log.Warn("rate limit flush on shutdown", "err", err)
			}
			return
		case <-t.C:
			if err := b.Flush(ctx); err != nil && ctx.Err() == nil {
				log.Warn("rate limit flush", "err", err)
			}
		}
	}
}

// add adds n hits to bucket's window and returns its count.
func (l *Limiter) add(ctx context.Context, bucket string, start time.Time, n int) (int, error) {
	var hits int
	err := l.db.WithContext(ctx).Raw(`
		INSERT INTO rate_limits (bucket, window_start, hits) VALUES (?, ?, ?)
		ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_limits.hits + EXCLUDED.hits
		RETURNING hits`, bucket, start, n).Scan(&hits).Error
	if err != nil {
		return 0, errs.Internal(err)
	}
	return hits, nil
}
