package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/google/uuid"

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
}

// AdvanceClock moves the sandbox clock forward a day at a time, and for
// each day moves the vendor simulator's clock with it, syncs usage and runs
// billing as of that day: renewals, the 1st-of-month post-paid run and
// metered usage all happen as they would have. Refused outside sandbox mode.
func (a *App) AdvanceClock(ctx context.Context, d time.Duration) (Advanced, error) {
	if a.sandbox == nil {
		return Advanced{}, errs.Forbidden("sandbox_disabled", "The clock moves only in sandbox mode (SANDBOX=true).")
	}
	out := Advanced{From: a.Clock.Now()}
	for d > 0 {
		step := min(d, 24*time.Hour)
		d -= step
		before := a.Billing.Today()
		a.sandbox.Advance(step)
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
		}
	}
	out.To = a.Clock.Now()
	return out, nil
}

// advance is AdvanceClock as the HTTP layer takes it.
func (a *App) advance(ctx context.Context, d time.Duration) (httpapi.Advanced, error) {
	r, err := a.AdvanceClock(ctx, d)
	return httpapi.Advanced{From: r.From, To: r.To, Days: r.Days, UsageRows: r.UsageRows, Invoices: r.Invoices, Runs: r.Runs}, err
}

// advanceSimulators moves the clock of every vendor simulator the platform
// talks to (a real datacenter has no such endpoint; the call is ignored).
func (a *App) advanceSimulators(ctx context.Context, d time.Duration) {
	urls := map[string]bool{}
	if a.Cfg.AcronisURL != "" {
		urls[a.Cfg.AcronisURL] = true
	}
	var more []string
	_ = a.DB.Gorm.WithContext(ctx).Table("plan_module_settings").Distinct().Pluck("datacenter_url", &more).Error
	for _, u := range more {
		urls[u] = true
	}
	body, _ := json.Marshal(map[string]string{"advance": d.String()})
	for u := range urls {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u+"/_sim/clock", bytes.NewReader(body))
		if err != nil {
			continue
		}
		req.Header.Set("Content-Type", "application/json")
		if res, err := http.DefaultClient.Do(req); err == nil {
			_ = res.Body.Close()
		}
	}
}
