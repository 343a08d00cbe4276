// Package clock is the only source of "now" in the platform, so that tests
// and the sandbox can move time and billing days follow it.
package clock

import (
	"sync"
	"time"
)

// Epoch and Horizon bound every date the API accepts: nothing was billed
// before the platform existed, and a date past the horizon is a typo (or a
// probe), not a plan. Both are days, inclusive of Epoch, exclusive of Horizon.
var (
	Epoch   = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	Horizon = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock, in UTC.
type Real struct{}

// Now returns the current UTC time.
func (Real) Now() time.Time { return time.Now().UTC() }

// Manual is a clock that moves only when told. Safe for concurrent use.
type Manual struct {
	mu  sync.Mutex
	now time.Time
}

// NewManual returns a manual clock set to t.
func NewManual(t time.Time) *Manual { return &Manual{now: t.UTC()} }

// Now returns the clock's time.
func (m *Manual) Now() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.now
}

// Set moves the clock to t.
func (m *Manual) Set(t time.Time) {
	m.mu.Lock()
	m.now = t.UTC()
	m.mu.Unlock()
}

// Advance moves the clock forward by d.
func (m *Manual) Advance(d time.Duration) {
	m.mu.Lock()
	m.now = m.now.Add(d)
	m.mu.Unlock()
}

// Offset is the wall clock moved forward by an offset: the sandbox clock.
// The platform keeps the offset in its database (every instance and every
// restart share it) and sets it here. Safe for concurrent use.
type Offset struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the wall clock plus the offset, in UTC.
func (o *Offset) Now() time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return time.Now().UTC().Add(o.offset)
}

// Advance moves the clock forward by d (never back).
func (o *Offset) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	o.mu.Lock()
	o.offset += d
	o.mu.Unlock()
}

// SetOffset puts the clock d ahead of the wall clock: the offset that
// every instance shares, read from where it is kept.
func (o *Offset) SetOffset(d time.Duration) {
	o.mu.Lock()
	o.offset = d
	o.mu.Unlock()
}

// Offset is how far ahead of the wall clock it is.
func (o *Offset) Offset() time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.offset
}

// Stopwatch measures elapsed wall time, for latencies: the platform clock
// may jump (the sandbox, tests), a latency may not.
func Stopwatch() func() time.Duration {
	start := time.Now()
	return func() time.Duration { return time.Since(start) }
}

// Wall is the machine's clock, for schedules kept by others on it (River
// compares a job's scheduled time with the database's clock).
func Wall() time.Time { return time.Now() }
