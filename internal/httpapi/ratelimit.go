package httpapi

import (
	"context"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/ratelimit"
)

// AnonLimits are the per-client-address limits of anonymous requests.
type AnonLimits struct {
	// PerMinute bounds every anonymous request of an address.
	PerMinute int
	// VendorPerMinute bounds those that call the vendor (username checks,
	// orders), which cost the SP's vendor account.
	VendorPerMinute int
}

// Limiter counts hits per bucket (internal/ratelimit).
type Limiter interface {
	Hit(ctx context.Context, bucket string, limit int, window time.Duration) (ratelimit.Result, error)
}

// Anonymous operations that call the vendor, and probes that are never
// limited: load balancers poll them from one address, and liveness must not
// depend on the database.
var (
	vendorOps   = map[string]bool{"getUsernameAvailability": true, "placeStorefrontOrder": true}
	unlimitedOp = map[string]bool{"getHealth": true, "getReadiness": true}
)

// limitAnonymous counts an anonymous call to op against its client address
// and answers 429 over the limit. Every anonymous answer carries the
// RateLimit-* headers of the tightest bucket. Authenticated callers pass.
func limitAnonymous(l Limiter, limits AnonLimits, op operation) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if !op.public || unlimitedOp[op.id] || l == nil {
			return next
		}
		return func(c echo.Context) error {
			if _, ok := c.Get(principalKey).(auth.Principal); ok {
				return next(c)
			}
			ctx := c.Request().Context()
			ip := ratelimit.ClientKey(c.RealIP())
			r, err := l.Hit(ctx, "anon:"+ip, limits.PerMinute, time.Minute)
			if err != nil {
				return err
			}
			if vendorOps[op.id] {
				v, err := l.Hit(ctx, "anon-vendor:"+ip, limits.VendorPerMinute, time.Minute)
				if err != nil {
					return err
				}
				if tighter(v, r) {
					r = v
				}
			}
			h := c.Response().Header()
			h.Set("RateLimit-Limit", strconv.Itoa(r.Limit))
			h.Set("RateLimit-Remaining", strconv.Itoa(r.Remaining))
			h.Set("RateLimit-Reset", strconv.Itoa(r.ResetSeconds()))
			if err := r.Err(); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// tighter reports whether a leaves less room than b: refused first, then
// fewer remaining.
func tighter(a, b ratelimit.Result) bool {
	if a.Allowed() != b.Allowed() {
		return !a.Allowed()
	}
	return a.Remaining < b.Remaining
}
