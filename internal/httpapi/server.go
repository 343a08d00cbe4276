// Package httpapi is the transport: it maps the generated contract to the
// domain services and back, and nothing else.
package httpapi

import (
	"context"

	"github.com/getkin/kin-openapi/openapi3"

	"fmt"
	"github.com/acronis-platform/platform/api"
	"log/slog"
	"net/http"
	"time"

	"gorm.io/gorm"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/apikey"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/event"
	"github.com/acronis-platform/platform/internal/idempotency"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/margin"
	"github.com/acronis-platform/platform/internal/order"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/ratecard"
	"github.com/acronis-platform/platform/internal/reconcile"
	"github.com/acronis-platform/platform/internal/subscription"
	"github.com/acronis-platform/platform/internal/usage"
	"github.com/acronis-platform/platform/internal/usagereport"
	"github.com/acronis-platform/platform/internal/user"
	"github.com/acronis-platform/platform/internal/webhook"
)

// Deps are what the transport calls.
type Deps struct {
	Log       *slog.Logger
	Clock     clock.Clock
	Metrics   *Metrics
	Users     *user.Service
	Keys      *apikey.Service
	Catalog   *catalog.Service
	Partners  *partner.Service
	Customers *customer.Service
	Orders    *order.Service
	Services  *subscription.Service
	// Module is the SP's configured vendor account (username checks); nil
	// when none is configured.
	Module  provisioning.Module
	Billing *billing.Service
	Usage   *usage.Service
	// Mail is the outbox (GET /v1/notifications, resend).
	Mail *mail.Outbox
	// Webhooks manages webhook endpoints and their deliveries.
	Webhooks *webhook.Service
	Jobs     Enqueuer
	DB       *gorm.DB
	// Sandbox moves the sandbox clock (refusing outside sandbox mode).
	Sandbox func(ctx context.Context, d time.Duration) (Advanced, error)
	// SandboxClock reads the sandbox clock (refusing outside sandbox mode).
	SandboxClock func(ctx context.Context) (SandboxClock, error)
	BaseCurrency string
	// Vendor reads the SP's vendor account; nil when none is configured.
	Vendor      func(ctx context.Context) (provisioning.Offer, error)
	Idempotency *idempotency.Store
	Events      *event.Service
	// Dunning runs reminders, suspensions and credit-limit checks.
	Dunning *dunning.Service
	// Reconcile compares the vendor's reports with the platform.
	Reconcile *reconcile.Service
	// RateCards imports and reads the vendor's rate cards.
	RateCards *ratecard.Service
	// RateCardVendor reads the vendor's offering items for the rate card
	// template; nil when no vendor account is configured.
	RateCardVendor ratecard.VendorItems
	Authenticators Authenticators
	// Ready reports named checks and whether all pass.
	Ready             func(ctx context.Context) (map[string]string, bool)
	TrustProxyHeaders bool
	// CORS lets browser pages of other origins call the API; none by default.
	CORS CORS
	// Limiter and AnonLimits bound anonymous requests per client address.
	Limiter    Limiter
	AnonLimits AnonLimits
	// MetricsToken, when set, serves GET /metrics here to callers that send
	// it as bearer token; otherwise /metrics is only on the metrics listener.
	MetricsToken string
}

// Server implements the generated strict interface.
type Server struct {
	users        *user.Service
	catalog      *catalog.Service
	partners     *partner.Service
	customers    *customer.Service
	orders       *order.Service
	subs         *subscription.Service
	module       provisioning.Module
	billing      *billing.Service
	usage        *usage.Service
	mail         *mail.Outbox
	webhooks     *webhook.Service
	jobs         Enqueuer
	db           *gorm.DB
	sandbox      func(ctx context.Context, d time.Duration) (Advanced, error)
	sandboxClock func(ctx context.Context) (SandboxClock, error)
	currency     string
	vendor       func(ctx context.Context) (provisioning.Offer, error)
	keys         *apikey.Service
	clk          clock.Clock
	ready        func(ctx context.Context) (map[string]string, bool)
	events       *event.Service
	dunning      *dunning.Service
	usageReports *usagereport.Service
	reconcile    *reconcile.Service
	rateCards    *ratecard.Service
	margin       *margin.Service
	// rateCardVendor: nil without a vendor account.
	rateCardVendor ratecard.VendorItems
}

var _ oapi.StrictServerInterface = (*Server)(nil)

// New builds the HTTP handler: global middleware, then per operation
// authentication, validation against the spec and idempotency.
func New(d Deps) (*echo.Echo, error) {
	spec, err := oapi.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	// Operation ids as written (the embedded copy has them normalised), which
	// is what the generated router keys per-operation middleware by.
	raw, err := openapi3.NewLoader().LoadFromData(api.OpenAPIYAML)
	if err != nil {
		return nil, fmt.Errorf("load spec: %w", err)
	}
	ops, err := operations(raw)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log)
	e.IPExtractor = echo.ExtractIPDirect()
	if d.TrustProxyHeaders {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	e.Pre(headAsGet)
	e.Use(
		requestIDs,
		observe(d.Log, d.Metrics),
		recoverPanics(d.Log),
	)
	if mw := cors(d.CORS); mw != nil {
		e.Use(mw)
	}
	e.Use(
		// Uploads have their own limit (per operation, below).
		middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M", Skipper: isUpload}),
		withClientIP,
	)
	validate := validator(spec)
	produces := producing(raw)
	perOp := map[string][]echo.MiddlewareFunc{}
	for id, op := range ops {
		chain := []echo.MiddlewareFunc{authenticate(d.Authenticators, op), limitAnonymous(d.Limiter, d.AnonLimits, op)}
		if n, ok := uploadLimits[id]; ok {
			chain = append(chain, limitUpload(n))
		}
		chain = append(chain, validate)
		if offers, ok := produces[id]; ok {
			chain = append(chain, negotiate(offers))
		}
		if op.idempotent {
			chain = append(chain, idempotent(d.Idempotency, d.Log))
		}
		perOp[id] = chain
	}
	srv := &Server{users: d.Users, catalog: d.Catalog, partners: d.Partners, customers: d.Customers, orders: d.Orders, subs: d.Services, module: d.Module,
		billing: d.Billing, usage: d.Usage, mail: d.Mail, webhooks: d.Webhooks, jobs: d.Jobs, db: d.DB, sandbox: d.Sandbox, sandboxClock: d.SandboxClock, currency: d.BaseCurrency, vendor: d.Vendor, keys: d.Keys, clk: d.Clock, ready: d.Ready,
		events: d.Events, dunning: d.Dunning, reconcile: d.Reconcile, rateCards: d.RateCards, usageReports: usagereport.New(d.DB, d.Billing, d.BaseCurrency),
		margin: margin.New(d.DB, d.Billing.Today, d.Billing.Location(), d.BaseCurrency), rateCardVendor: d.RateCardVendor}
	oapi.RegisterHandlersWithOptions(e, oapi.NewStrictHandler(srv, nil), oapi.RegisterHandlersOptions{OperationMiddlewares: perOp})
	if d.MetricsToken != "" {
		e.GET("/metrics", echo.WrapHandler(d.Metrics.Handler()), metricsBearer(d.MetricsToken))
	}
	registerDocs(e)
	return e, nil
}

type clientIPKey struct{}

// withClientIP makes the client address available to handlers, which only
// see the request context.
func withClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), clientIPKey{}, c.RealIP())))
		return next(c)
	}
}

func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

var _ http.Handler = (*echo.Echo)(nil)
