package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/ratelimit"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// setup is one database and a manual clock in the middle of a minute.
func setup(t testing.TB) (*postgres.DB, *clock.Manual) {
	clk := clock.NewManual(time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC))
	return pgtest.Open(t, clk), clk
}

func stored(t testing.TB, db *postgres.DB, bucket string) int {
	t.Helper()
	var hits int
	require.NoError(t, db.Gorm.Raw(`SELECT coalesce(sum(hits), 0) FROM rate_limits WHERE bucket = ?`, bucket).Scan(&hits).Error)
	return hits
}

// TestBatchedCountsLikeTheExactLimiter: alone, an instance allows exactly
// limit hits a window with the right Remaining, and refuses the next with
// Retry-After; after a flush the row holds every hit.
func TestBatchedCountsLikeTheExactLimiter(t *testing.T) {
	t.Parallel()
	db, clk := setup(t)
	ctx := context.Background()
	for _, limit := range []int{1, 3, 4, 20, 120, 2000} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			t.Parallel()
			b := ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))
			bucket := "test:" + uuid.NewString()
			for i := range limit {
				r, err := b.Hit(ctx, bucket, limit, time.Minute)
				require.NoError(t, err)
				require.True(t, r.Allowed(), "hit %d", i+1)
				require.Equal(t, limit-i-1, r.Remaining, "hit %d", i+1)
				require.Equal(t, 30, r.ResetSeconds())
			}
			for range 3 {
				r, err := b.Hit(ctx, bucket, limit, time.Minute)
				require.NoError(t, err)
				require.False(t, r.Allowed())
				require.Equal(t, 0, r.Remaining)
				var e *errs.Error
				require.True(t, errors.As(r.Err(), &e))
				require.Equal(t, "rate_limited", e.Code)
				require.Equal(t, 30, e.RetryAfter)
			}
			require.NoError(t, b.Flush(ctx))
			require.Equal(t, limit+3, stored(t, db, bucket))
		})
	}
}

// TestBatchedInstancesShareALimit: two instances over one database, taking
// turns in several orders, allow every hit up to the limit and at most
// MaxUnwritten more (what one instance may have counted unseen by the
// other), never more.
func TestBatchedInstancesShareALimit(t *testing.T) {
	t.Parallel()
	db, clk := setup(t)
	ctx := context.Background()
	tests := []struct {
		name  string
		limit int
		steps []step
		// allowed is the exact count this order admits.
		allowed int
	}{
		{"alternating, small", 3, []step{{0, 1}, {1, 1}, {0, 1}, {1, 1}, {0, 1}, {1, 1}}, 3},
		{"alternating", 40, alternate(100), 40},
		{"one instance stale", 40, []step{{1, 1}, {0, 60}, {1, 10}}, 40 + ratelimit.MaxUnwritten(40)},
		{"one instance stale, large", 1000, []step{{1, 1}, {0, 1100}, {1, 100}}, 1000 + ratelimit.MaxUnwritten(1000)},
		// The first instance's last unwritten hit, then up to MaxUnwritten(100)-1
		// more it counts before its next write sees the total.
		{"halves", 100, []step{{0, 50}, {1, 50}, {0, 50}, {1, 50}}, 104},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			insts := []*ratelimit.Batched{ratelimit.NewBatched(ratelimit.New(db.Gorm, clk)), ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))}
			bucket := "test:" + uuid.NewString()
			allowed, total, refusedBefore := 0, 0, 0
			for _, s := range tt.steps {
				for range s.n {
					r, err := insts[s.inst].Hit(ctx, bucket, tt.limit, time.Minute)
					require.NoError(t, err)
					total++
					if r.Allowed() {
						allowed++
					} else if total <= tt.limit {
						refusedBefore++
					}
				}
			}
			require.Zero(t, refusedBefore, "a hit within the limit refused")
			require.LessOrEqual(t, allowed, tt.limit+ratelimit.MaxUnwritten(tt.limit), "the bound")
			require.Equal(t, tt.allowed, allowed, "allowed")
			for _, b := range insts {
				require.NoError(t, b.Flush(ctx))
			}
			require.Equal(t, total, stored(t, db, bucket))
		})
	}
}

// step is n hits in a row on one of two instances.
type step struct {
	inst int // 0 or 1
	n    int
}

// alternate is n hits taking turns.
func alternate(n int) []step {
	s := make([]step, n)
	for i := range s {
		s[i] = step{i % 2, 1}
	}
	return s
}

// TestBatchedConcurrentInstances: many goroutines on two instances at once
// (run with -race) admit at most limit + MaxUnwritten per other instance,
// and every hit reaches the database.
func TestBatchedConcurrentInstances(t *testing.T) {
	t.Parallel()
	db, clk := setup(t)
	ctx := context.Background()
	const limit, workers, each = 200, 8, 40
	insts := []*ratelimit.Batched{ratelimit.NewBatched(ratelimit.New(db.Gorm, clk)), ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))}
	bucket := "test:" + uuid.NewString()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			b := insts[w%2]
			for range each {
				r, err := b.Hit(ctx, bucket, limit, time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				if r.Allowed() {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				if w == 0 {
					_ = b.Flush(ctx) // flushes race with hits
				}
			}
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, allowed, limit)
	require.LessOrEqual(t, allowed, limit+ratelimit.MaxUnwritten(limit))
	for _, b := range insts {
		require.NoError(t, b.Flush(ctx))
	}
	require.Equal(t, workers*each, stored(t, db, bucket))
}

// TestBatchedFlush: hits counted here reach the database on Flush, and on
// Run's last flush when its context ends.
func TestBatchedFlush(t *testing.T) {
	t.Parallel()
	db, clk := setup(t)
	ctx := context.Background()
	const limit = 10000
	tests := []struct {
		name  string
		flush func(b *ratelimit.Batched)
	}{
		{"flush", func(b *ratelimit.Batched) { require.NoError(t, b.Flush(ctx)) }},
		{"run ends", func(b *ratelimit.Batched) {
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			b.FlushEvery = time.Hour
			go func() { b.Run(rctx, slog.New(slog.DiscardHandler)); close(done) }()
			cancel()
			<-done
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))
			buckets := []string{"test:" + uuid.NewString(), "test:" + uuid.NewString()}
			for _, bucket := range buckets {
				for range 30 {
					_, err := b.Hit(ctx, bucket, limit, time.Minute)
					require.NoError(t, err)
				}
			}
			for _, bucket := range buckets {
				require.Less(t, stored(t, db, bucket), 30, "written behind")
			}
			tt.flush(b)
			for _, bucket := range buckets {
				require.Equal(t, 30, stored(t, db, bucket))
			}
		})
	}
}

// TestBatchedWindowRollover: the next window starts from zero, and a
// flush forgets the ended one.
func TestBatchedWindowRollover(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	clk := clock.NewManual(time.Date(2026, 3, 1, 11, 0, 30, 0, time.UTC))
	ctx := context.Background()
	b := ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))
	bucket := "test:" + uuid.NewString()
	const limit = 50
	for range limit + 1 {
		_, err := b.Hit(ctx, bucket, limit, time.Minute)
		require.NoError(t, err)
	}
	r, err := b.Hit(ctx, bucket, limit, time.Minute)
	require.NoError(t, err)
	require.False(t, r.Allowed())
	clk.Advance(time.Minute)
	r, err = b.Hit(ctx, bucket, limit, time.Minute)
	require.NoError(t, err)
	require.True(t, r.Allowed())
	require.Equal(t, limit-1, r.Remaining)
	require.Equal(t, 2, b.Entries())
	require.NoError(t, b.Flush(ctx))
	require.NoError(t, b.Flush(ctx))
	require.Equal(t, 1, b.Entries(), "the ended window is forgotten")
	require.Equal(t, limit+3, stored(t, db, bucket))
}

// TestBatchedOverTheCap: beyond MaxEntries buckets, hits are written at once.
func TestBatchedOverTheCap(t *testing.T) {
	t.Parallel()
	db, clk := setup(t)
	ctx := context.Background()
	b := ratelimit.NewBatched(ratelimit.New(db.Gorm, clk))
	b.MaxEntries = 1
	kept, over := "test:"+uuid.NewString(), "test:"+uuid.NewString()
	for _, bucket := range []string{kept, over} {
		for range 5 {
			_, err := b.Hit(ctx, bucket, 1000, time.Minute)
			require.NoError(t, err)
		}
	}
	require.Equal(t, 1, stored(t, db, kept), "counted in memory")
	require.Equal(t, 5, stored(t, db, over), "written at once")
	require.Equal(t, 1, b.Entries())
}

// BenchmarkHit: parallel hits on one hot bucket, exact vs write-behind.
func BenchmarkHit(b *testing.B) {
	db := pgtest.Open(b, clock.Real{})
	l := ratelimit.New(db.Gorm, clock.Real{})
	batched := ratelimit.NewBatched(l)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go batched.Run(ctx, slog.New(slog.DiscardHandler))
	for _, bb := range []struct {
		name string
		hit  func(ctx context.Context, bucket string, limit int, window time.Duration) (ratelimit.Result, error)
	}{{"sync", l.Hit}, {"batched", batched.Hit}} {
		b.Run(bb.name, func(b *testing.B) {
			bucket := "bench:" + uuid.NewString()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := bb.hit(ctx, bucket, 100_000_000, time.Minute); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
