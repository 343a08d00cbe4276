package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/httpapi"
)

// advancer is a clock that can be moved forward: clock.Offset in serve,
// clock.Manual in tests.
type advancer interface{ Advance(d time.Duration) }

// Advanced is what moving the sandbox clock did.
type Advanced struct {
	From, To            time.Time
	Days                int
	UsageRows, Invoices int
	Runs                []uuid.UUID
	// DunningRuns are the dunning runs of the days passed, one a day.
	DunningRuns []uuid.UUID
}

// AdvanceClock moves the sandbox clock forward a day at a time, and for
// each day moves the vendor simulator's clock with it, syncs usage and runs
// billing as of that day: renewals, the 1st-of-month post-paid run and
// metered usage all happen as they would have; then dunning runs as of
// that day (reminders, suspensions, terminations, credit limits). It holds dailyLock
// throughout: a daily job under way finishes first, and one that starts
// meanwhile waits and then finds its day done, so when it returns nothing
// it ran or waited for is still running. Refused outside sandbox mode.
func (a *App) AdvanceClock(ctx context.Context, d time.Duration) (Advanced, error) {
	if a.sandbox == nil {
		return Advanced{}, errs.Forbidden("sandbox_disabled", "The clock moves only in sandbox mode (SANDBOX=true).")
	}
	unlock, err := lockDaily(ctx, a.DB)
	if err != nil {
		return Advanced{}, err
	}
	defer unlock()
	if _, err := a.loadClock(ctx); err != nil {
		return Advanced{}, err
	}
	out := Advanced{From: a.Clock.Now()}
	for d > 0 {
		step := min(d, 24*time.Hour)
		d -= step
		before := a.Billing.Today()
		if err := a.moveClock(ctx, step); err != nil {
			return out, err
		}
		a.advanceSimulators(ctx, step)
		if day := a.Billing.Today(); day.After(before) {
			if _, err := a.Services.ExpireTrials(ctx, a.Clock.Now()); err != nil {
				return out, err
			}
			sy, run, err := daily(ctx, a.Usage, a.Billing, day)
			if err != nil {
				return out, err
			}
			out.Days++
			out.UsageRows += sy.Rows
			out.Invoices += run.Invoices
			out.Runs = append(out.Runs, run.ID)
			dr, err := a.Dunning.RunNow(ctx, dunningSandbox, day)
			if err != nil {
				return out, err
			}
			out.DunningRuns = append(out.DunningRuns, dr.ID)
		}
	}
	out.To = a.Clock.Now()
	return out, nil
}

// clockChannel tells every instance that the sandbox clock moved.
const clockChannel = "sandbox_clock_moved"

// offsetSetter is a clock whose offset from the wall clock can be set:
// clock.Offset, the sandbox clock of serve. Tests' manual clocks only
// advance.
type offsetSetter interface{ SetOffset(d time.Duration) }

// loadClock reads the sandbox offset kept in the database (shared by every
// instance, kept across restarts) into this instance's clock.
func (a *App) loadClock(ctx context.Context) (time.Duration, error) {
	var us int64
	if err := a.DB.Gorm.WithContext(ctx).Raw("SELECT offset_us FROM sandbox_clock").Scan(&us).Error; err != nil {
		return 0, errs.Internal(err)
	}
	off := time.Duration(us) * time.Microsecond
	if s, ok := a.sandbox.(offsetSetter); ok {
		s.SetOffset(off)
	}
	return off, nil
}

// moveClock moves the shared sandbox clock forward by d, then this
// instance's; the others hear of it on clockChannel.
func (a *App) moveClock(ctx context.Context, d time.Duration) error {
	var us int64
	err := a.DB.Gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw("UPDATE sandbox_clock SET offset_us = offset_us + ?, updated_at = now() RETURNING offset_us",
			d.Microseconds()).Scan(&us).Error; err != nil {
			return err
		}
		return tx.Exec("SELECT pg_notify(?, '')", clockChannel).Error
	})
	if err != nil {
		return errs.Internal(err)
	}
	if s, ok := a.sandbox.(offsetSetter); ok {
		s.SetOffset(time.Duration(us) * time.Microsecond)
	} else {
		a.sandbox.Advance(d)
	}
	return nil
}

// ListenForClock keeps this instance on the shared sandbox clock: it reads
// the offset whenever any instance moves it (and on every reconnect). It
// returns when ctx ends; outside sandbox mode it returns at once.
func (a *App) ListenForClock(ctx context.Context) {
	if a.sandbox == nil {
		return
	}
	for ctx.Err() == nil {
		err := a.listenForClock(ctx)
		if ctx.Err() != nil {
			return
		}
		a.Log.Warn("sandbox clock listener reconnecting", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (a *App) listenForClock(ctx context.Context) error {
	conn, err := a.DB.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+clockChannel); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "UNLISTEN "+clockChannel) //nolint:errcheck
	for {
		if _, err := a.loadClock(ctx); err != nil {
			return err
		}
		if _, err := conn.Conn().WaitForNotification(ctx); err != nil {
			return err
		}
	}
}

// SandboxClock reads the sandbox clock: the platform's time, its offset
// from the wall clock and the SP day. Refused outside sandbox mode.
func (a *App) SandboxClock(ctx context.Context) (httpapi.SandboxClock, error) {
	if a.sandbox == nil {
		return httpapi.SandboxClock{}, errs.Forbidden("sandbox_disabled", "The clock moves only in sandbox mode (SANDBOX=true).")
	}
	off, err := a.loadClock(ctx)
	if err != nil {
		return httpapi.SandboxClock{}, err
	}
	return httpapi.SandboxClock{Now: a.Clock.Now(), Today: a.Billing.Today(), TimeZone: a.Cfg.Location().String(), Offset: off}, nil
}

// advance is AdvanceClock as the HTTP layer takes it.
func (a *App) advance(ctx context.Context, d time.Duration) (httpapi.Advanced, error) {
	r, err := a.AdvanceClock(ctx, d)
	return httpapi.Advanced{From: r.From, To: r.To, Days: r.Days, UsageRows: r.UsageRows, Invoices: r.Invoices, Runs: r.Runs,
		DunningRuns: r.DunningRuns}, err
}

// advanceSimulators moves the clock of every vendor simulator the platform
// talks to (a real datacenter has no such endpoint; the call is ignored).
func (a *App) advanceSimulators(ctx context.Context, d time.Duration) {
	// Plans' URLs go through the guarded client; ACRONIS_URL is the
	// operator's own.
	urls := map[string]*http.Client{}
	var more []string
	_ = a.DB.Gorm.WithContext(ctx).Table("plan_module_settings").Distinct().Pluck("datacenter_url", &more).Error
	for _, u := range more {
		urls[u] = a.vendorHTTP
	}
	if a.Cfg.AcronisURL != "" {
		urls[a.Cfg.AcronisURL] = http.DefaultClient
	}
	body, _ := json.Marshal(map[string]string{"advance": d.String()})
	for u, hc := range urls {
		if hc == nil {
			hc = http.DefaultClient
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"/_sim/clock", bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		if res, err := hc.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}
}
