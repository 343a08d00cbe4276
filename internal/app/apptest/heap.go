package apptest

import (
	"runtime"
	"time"
)

// SampleHeap polls the Go heap in use every so often until the returned
// stop is called, which gives the highest figure seen (benchmarks report
// it as their peak heap).
func SampleHeap(every time.Duration) (stop func() uint64) {
	done := make(chan struct{})
	out := make(chan uint64, 1)
	go func() {
		var ms runtime.MemStats
		var peak uint64
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-done:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-out }
}
