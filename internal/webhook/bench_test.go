package webhook_test

import (
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/webhook"
)

// BenchmarkWebhookDelivery times BENCH_WEBHOOKS (default 2,000) events,
// committed while no worker runs, delivered by the webhook queue's River
// workers (WEBHOOK_WORKERS' default, jobs.DefaultWebhookWorkers) to one
// loopback receiver that verifies each signature with the Standard
// Webhooks library. One op is the whole burst: use -benchtime=1x.
func BenchmarkWebhookDelivery(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL is not set")
	}
	n := 2000
	if v := os.Getenv("BENCH_WEBHOOKS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("BENCH_WEBHOOKS must be a positive whole number, got %q", v)
		}
	}
	var took time.Duration
	for range b.N {
		b.StopTimer()
		h := newHarnessWorkers(b, egress.Policy{}, jobs.DefaultWebhookWorkers)
		rcv := newReceiver(b, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) })
		ep, sec := h.endpoint(b, admin, rcv.URL)
		rcv.trust(sec)
		evs := make([]webhook.Event, 0, 500)
		for i := range n {
			evs = append(evs, event("invoice.issued", nil))
			if len(evs) == cap(evs) || i == n-1 {
				h.enqueue(b, evs...)
				evs = evs[:0]
			}
		}
		b.StartTimer()
		start := time.Now()
		h.start(b)
		for {
			var done int64
			require.NoError(b, h.db.Gorm.Model(&webhook.Delivery{}).
				Where("endpoint_id = ? AND status = ?", ep.ID, webhook.StatusSucceeded).Count(&done).Error)
			if done == int64(n) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		took += time.Since(start)
		b.StopTimer()
		got := rcv.requests()
		require.Len(b, got, n)
		for _, r := range got {
			require.Equal(b, []bool{true}, r.Verified)
		}
	}
	secs := took.Seconds()
	b.ReportMetric(float64(n*b.N)/secs, "deliveries/s")
	b.Logf("webhook delivery: %d deliveries in %.2f s = %.0f deliveries/s", n, secs/float64(b.N), float64(n*b.N)/secs)
}
