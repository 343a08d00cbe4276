package reconcile_test

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/reconcile"
)

// BenchmarkReconciliation times one reconciliation over
// BENCH_RECON_TENANTS (default 10,000) customer tenants at the simulator
// (in-process), each with a service of an Acronis plan (storage and
// workstations with quotas, as provisioning leaves them) and its usage
// stored by a daily sync; 1 % of them were disabled at the vendor behind
// the platform's back. The run reads the vendor's daily usage report over
// the 30 days (streamed, row by row), the
// tenants in batches of 100 and every tenant's offering items, compares
// and writes the rows. One op is one whole report: use -benchtime=1x.
// rows/s is rows compared and written per second of the run; the
// vendor's report takes at least the simulator's 2 s to be ready, which
// the time includes.
func BenchmarkReconciliation(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set")
	}
	n := 10000
	if v := os.Getenv("BENCH_RECON_TENANTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_RECON_TENANTS must be a positive whole number, got %q", v)
		}
	}
	ctx := context.Background()
	var took time.Duration
	var peak, base uint64
	var last reconcile.Report
	for range b.N {
		b.StopTimer()
		w := newWorld(b, func(c *config.Config) { c.AcronisAttemptTimeout = 20 * time.Second })
		tenants := w.tenants(b, "bench", n)
		w.services(b, tenants)
		disabled := n / 100
		for _, id := range tenants[:disabled] {
			_, err := w.vc.SetTenantEnabled(ctx, id, false)
			require.NoError(b, err)
		}
		_, err := w.env.App.Usage.RunNow(ctx, "bench")
		require.NoError(b, err)
		_, err = w.env.App.DB.Pool.Exec(ctx, "ANALYZE customers, services, usage_daily")
		require.NoError(b, err)
		today := w.env.App.Billing.Today()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base = max(base, ms.HeapInuse)
		stop := apptest.SampleHeap(50 * time.Millisecond)
		b.StartTimer()
		start := time.Now()
		r, err := w.env.App.Reconcile.RunNow(ctx, "bench", today.AddDate(0, 0, -29), today)
		took += time.Since(start)
		b.StopTimer()
		peak = max(peak, stop())
		require.NoError(b, err)
		require.Equal(b, reconcile.StatusCompleted, r.Status, "reason: %v", r.Reason)
		// Storage and workstations of each tenant, each ok, but the
		// disabled tenants' status.
		require.Equal(b, disabled, r.StatusMismatch)
		require.Equal(b, 2*n, r.OK)
		require.Equal(b, 2*n+disabled, r.RowsCompared)
		require.Zero(b, r.OrphanTenant+r.MissingTenant+r.QuotaMismatch+r.UsageMismatch+r.EditionMismatch)
		last = r
	}
	secs := took.Seconds() / float64(b.N)
	b.ReportMetric(float64(n), "tenants")
	b.ReportMetric(float64(last.RowsCompared)/secs, "rows/s")
	b.ReportMetric(float64(n)/secs, "tenants/s")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	b.ReportMetric(float64(base)/(1<<20), "base_heap_MiB")
	b.Logf("reconciliation: %d tenants, %d rows compared in %.1f s = %.0f rows/s (%.0f tenants/s); peak heap %.1f MiB "+
		"(%.1f MiB before it: the simulator's tenants, the seed)",
		n, last.RowsCompared, secs, float64(last.RowsCompared)/secs, float64(n)/secs, float64(peak)/(1<<20), float64(base)/(1<<20))
}
