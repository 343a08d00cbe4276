package ratecard_test

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/clock"
)

// BenchmarkImport5000 times POST /v1/product-groups/{id}/rate-cards with a
// 5,000-row card through the API on loopback: the upload, reading and
// checking the workbook, storing the file, the card and its rows (each op
// a re-import of the month, so it also replaces the card before). Peak
// heap is the Go heap in use, sampled every 10 ms (base: before the run).
func BenchmarkImport5000(b *testing.B) {
	if os.Getenv("DATABASE_URL") == "" {
		b.Skip("DATABASE_URL not set")
	}
	const n = 5000
	env := apptest.New(b)
	admin, _ := env.Admin(b)
	group := newGroup(b, admin, oapi.Acronis)
	rows := [][]any{header}
	units := []string{"GB", "TB", "workstation", "server", "virtual machine", "mailbox", "seat"}
	for i := range n {
		rows = append(rows, []any{fmt.Sprintf("offering-item-%05d", i), fmt.Sprintf("Item %d of the vendor's price list", i),
			units[i%len(units)], float64(i%997) / 1000, []string{"usage", "quota", ""}[i%3]})
	}
	file := book(b, rows)
	f := goodForm(file)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stop := apptest.SampleHeap(10 * time.Millisecond)
	elapsed := clock.Stopwatch()
	ops := 0
	b.ResetTimer()
	for b.Loop() {
		res := importCard(b, admin, group, f)
		if res.StatusCode() != http.StatusCreated {
			b.Fatalf("import: %d %s", res.StatusCode(), res.Body)
		}
		ops++
	}
	b.StopTimer()
	took := elapsed()
	peak := stop()
	b.ReportMetric(float64(len(file))/1024, "xlsx_KiB")
	b.ReportMetric(float64(peak)/(1<<20), "peak_heap_MiB")
	b.ReportMetric(float64(peak-min(peak, base))/(1<<20), "heap_over_base_MiB")
	b.Logf("rate card import: %d rows, %.0f KiB xlsx, %.0f ms per import, peak heap %.1f MiB (base %.1f MiB)",
		n, float64(len(file))/1024, float64(took.Milliseconds())/float64(max(ops, 1)), float64(peak)/(1<<20), float64(base)/(1<<20))
}
