// Package app is the composition root: config -> pool -> services -> jobs
// -> HTTP server.
package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/acronis"
	"github.com/acronis-platform/platform/internal/apikey"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/billing"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/customer"
	"github.com/acronis-platform/platform/internal/dunning"
	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/errs"
	"github.com/acronis-platform/platform/internal/event"
	"github.com/acronis-platform/platform/internal/httpapi"
	"github.com/acronis-platform/platform/internal/idempotency"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/mail"
	"github.com/acronis-platform/platform/internal/mail/smtpurl"
	"github.com/acronis-platform/platform/internal/notice"
	"github.com/acronis-platform/platform/internal/order"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/provisioning"
	"github.com/acronis-platform/platform/internal/ratecard"
	"github.com/acronis-platform/platform/internal/ratelimit"
	"github.com/acronis-platform/platform/internal/reconcile"
	"github.com/acronis-platform/platform/internal/secret"
	"github.com/acronis-platform/platform/internal/subscription"
	"github.com/acronis-platform/platform/internal/usage"
	"github.com/acronis-platform/platform/internal/user"
	"github.com/acronis-platform/platform/internal/webhook"
)

// App is one running instance of the platform.
type App struct {
	Cfg   config.Config
	Log   *slog.Logger
	Clock clock.Clock
	DB    *postgres.DB
	Users *user.Service
	Keys  *apikey.Service
	Jobs  *jobs.Runner
	// Idempotency is exposed for the clean-up job and tests.
	Idempotency *idempotency.Store
	Catalog     *catalog.Service
	Partners    *partner.Service
	Customers   *customer.Service
	Orders      *order.Service
	Services    *subscription.Service
	Billing     *billing.Service
	Usage       *usage.Service
	Dunning     *dunning.Service
	Reconcile   *reconcile.Service
	Events      *event.Service
	Webhooks    *webhook.Service
	// Mail is the outbox; domain changes enqueue mails on it in their
	// transaction (Mail.EnqueueTx).
	Mail *mail.Outbox
	HTTP *echo.Echo
	// Metrics serves GET /metrics on the metrics listener (METRICS_ADDR).
	Metrics http.Handler

	// anonLimiter counts anonymous requests, writing behind; Run flushes it.
	anonLimiter *ratelimit.Batched

	sandbox advancer // set in sandbox mode
	// vendorHTTP reaches plans' vendor accounts (guarded by internal/egress).
	vendorHTTP *http.Client
}

// NewLogger builds the JSON (or text) logger of the config.
func NewLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}

// New connects to the database and wires every service. ctx bounds
// background helpers such as the JWKS refresher.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, clk clock.Clock) (*App, error) {
	db, err := postgres.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, clk, log)
	if err != nil {
		return nil, err
	}
	a, err := wire(ctx, cfg, log, clk, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	return a, nil
}

// webhookDispatchEvery is how often deliveries written by events are
// looked for and queued: the latency it adds to a webhook, against a cheap
// indexed look-up per tick.
const webhookDispatchEvery = 100 * time.Millisecond

func wire(ctx context.Context, cfg config.Config, log *slog.Logger, clk clock.Clock, db *postgres.DB) (*App, error) {
	tokens, err := auth.NewTokens(ctx, auth.TokenConfig{
		Secret: []byte(cfg.JWTSecret), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.JWTTTL,
		JWKSURL: cfg.JWKSURL, ExtIssuer: cfg.JWKSIssuer, ExtAudience: cfg.JWKSAudience,
		RoleClaim: cfg.JWKSRoleClaim, PartnerClaim: cfg.JWKSPartnerClaim, CustomerClaim: cfg.JWKSCustomerClaim,
	}, clk)
	if err != nil {
		return nil, err
	}
	limiter := ratelimit.New(db.Gorm, clk)
	// Logins stay on the exact limiter; anonymous requests, far more of
	// them, on the write-behind one.
	anonLimiter := ratelimit.NewBatched(limiter)
	box, err := secret.New(cfg.EncryptionKeyBytes())
	if err != nil {
		return nil, fmt.Errorf("ENCRYPTION_KEY: %w", err)
	}
	idem := idempotency.New(db.Gorm, clk, box)
	users := user.NewService(db.Gorm, clk, tokens, limiter, user.LoginLimits{
		PerEmailIP: cfg.AuthRateLimit, PerIP: cfg.AuthRateLimitPerIP, SlowAfter: cfg.AuthSlowAfter, SlowDelay: cfg.AuthSlowDelay})
	keys := apikey.NewService(db.Gorm, clk)
	// Plans' vendor accounts are reached only at allowed addresses, checked
	// on save and on every connection.
	guard := egress.Policy{Production: cfg.Env == "production", AllowPrivate: cfg.VendorAllowPrivate}
	vendorHTTP := guard.Client()
	cat := catalog.NewService(db.Gorm, clk, box, func(ctx context.Context, c provisioning.Credentials) (provisioning.Offer, error) {
		return provisioning.InspectWith(ctx, c, clk, vendorHTTP)
	})
	cat.UseURLCheck(guard.CheckURL)
	var vendor func(ctx context.Context) (provisioning.Offer, error)
	var module provisioning.Module
	if cfg.AcronisURL != "" {
		cred := provisioning.Credentials{URL: cfg.AcronisURL, ClientID: cfg.AcronisClientID, ClientSecret: cfg.AcronisClientSecret}
		vendor = func(ctx context.Context) (provisioning.Offer, error) { return provisioning.Inspect(ctx, cred, clk) }
		c, err := acronis.New(acronis.Config{BaseURL: cred.URL, ClientID: cred.ClientID, ClientSecret: cred.ClientSecret, Clock: clk,
			AttemptTimeout: cfg.AcronisAttemptTimeout})
		if err != nil {
			return nil, fmt.Errorf("ACRONIS_URL: %w", err)
		}
		module = provisioning.NewAcronis(c)
	}
	partners := partner.NewService(db.Gorm, clk, users, cat, module, cfg.BaseCurrency)
	customers := customer.NewService(db.Gorm, clk, cfg.BaseCurrency)
	pool := provisioning.NewPool(clk, cfg.AcronisAttemptTimeout)
	pool.UseHTTPClient(vendorHTTP)
	bills := billing.NewService(db.Gorm, clk, billing.Config{Location: cfg.Location(), Currency: cfg.BaseCurrency,
		DaysBeforeDue: cfg.InvoiceDaysBeforeDue, TermsDays: cfg.InvoiceTermsDays})
	services := subscription.NewService(db.Gorm, clk, cat, pool, bills.Today)
	orders := order.NewService(db.Gorm, clk, cat, customers, services, pool, box, bills)
	// A run's claims outlast its heartbeat's staleness, so a live run's
	// action is never taken by another.
	dun := dunning.NewService(db.Gorm, clk, services, bills.Today, dunning.Config{Workers: cfg.DunningWorkers,
		Lease: max(2*cfg.RunStaleAfter, 10*time.Minute), Currency: cfg.BaseCurrency})
	// Events are recorded in each change's transaction; their hooks come
	// first, so invoice.paid precedes what paying causes.
	events := event.NewService(db.Gorm, clk)
	events.Watch(event.Sources{Billing: bills, Orders: orders, Services: services, Partners: partners, Dunning: dun},
		httpapi.EventRender(cfg.BaseCurrency, orders, services, bills))
	bills.OnPaid(bills.AdvanceOnRenewal)
	bills.OnPaid(orders.ApproveOnPayment)
	var spReader usage.Reader
	if module != nil {
		spReader = module.(*provisioning.Acronis)
	}
	usages := usage.NewService(db.Gorm, clk, cfg.Location(), cat, pool, spReader)
	recon := newReconcile(cfg, db, clk, cat, vendorHTTP)
	outbox, err := newOutbox(cfg, db, clk, box, log)
	if err != nil {
		return nil, err
	}
	notice.Watch(db.Gorm, outbox, notice.Sources{Billing: bills, Services: services, Dunning: dun})
	// Webhook endpoints have a policy of their own (WEBHOOK_ALLOW_PRIVATE).
	hooks := webhook.NewService(db.Gorm, clk, box, webhook.Config{
		Policy: egress.Policy{Production: cfg.Env == "production", AllowPrivate: cfg.WebhookAllowPrivate}})
	// Every event fans out to the endpoints that want it, in its transaction;
	// an endpoint disabled for failing is an event of the log too.
	events.OnRecord(func(ctx context.Context, tx *gorm.DB, ev event.Event) error {
		return hooks.Enqueue(ctx, tx, webhook.Event{ID: ev.ID, Type: ev.Type, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
			PartnerID: ev.PartnerID, CustomerID: ev.CustomerID, Payload: ev.Payload, CreatedAt: ev.CreatedAt})
	})
	hooks.UseRecorder(func(ctx context.Context, tx *gorm.DB, ev webhook.Event) error {
		_, err := events.Record(ctx, tx, event.Event{ID: ev.ID, Type: ev.Type, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID,
			PartnerID: ev.PartnerID, CustomerID: ev.CustomerID, Payload: ev.Payload, CreatedAt: ev.CreatedAt})
		return err
	})
	dw := &dailyWorker{usage: usages, billing: bills, services: services, clock: clk, db: db}
	runner, err := jobs.New(db, jobs.Config{Workers: cfg.JobWorkers, MailWorkers: cfg.MailWorkers, WebhookWorkers: cfg.WebhookWorkers,
		MaintenanceInterval: cfg.MaintenanceInterval, RescueAfter: cfg.JobRescueAfter, FetchCooldown: cfg.JobFetchCooldown},
		maintainer{idem, limiter}, log, jobs.Domain{
			Register: func(w *river.Workers) {
				river.AddWorker(w, partners.Worker())
				river.AddWorker(w, orders.Worker())
				river.AddWorker(w, bills.Worker())
				river.AddWorker(w, usages.Worker())
				river.AddWorker(w, dw)
				river.AddWorker(w, &staleWorker{usage: usages, billing: bills, dunning: dun, after: cfg.RunStaleAfter})
				river.AddWorker(w, dun.Worker())
				river.AddWorker(w, recon.Worker())
				river.AddWorker(w, &dunningDailyWorker{dunning: dun, db: db})
				river.AddWorker(w, services.Worker())
				river.AddWorker(w, services.OperationWorker())
				river.AddWorker(w, &opSweepWorker{services: services})
				river.AddWorker(w, outbox.Worker())
				river.AddWorker(w, hooks.Worker())
			},
			Periodic: []*river.PeriodicJob{dailyJob(bills), dunningDailyJob(bills), staleJob(cfg.RunStaleAfter), opSweepJob(cfg.ServiceOpSweep)},
			Loops:    []jobs.Loop{hooks.DispatchEvery(webhookDispatchEvery, log)},
		})
	if err != nil {
		return nil, err
	}
	partners.UseJobs(runner)
	orders.UseJobs(runner)
	outbox.UseJobs(runner)
	hooks.UseJobs(runner)
	services.UseOperations(runner, box, subscription.OpConfig{Wait: cfg.ServiceOpWait, Attempts: cfg.ServiceOpAttempts, MaxBackoff: cfg.ServiceOpBackoffMax})
	// Whatever settles a customer's invoice (paid, by credit, voided) may
	// leave a suspended service of any of its lines owing nothing: an
	// adjustment or overage invoice bills no period, so its services are
	// found by its lines.
	unsuspend := services.UnsuspendWhenPaid()
	settled := func(ctx context.Context, tx *gorm.DB, inv billing.Invoice, ids []uuid.UUID) error {
		if inv.CustomerID == nil {
			return nil
		}
		var lined []uuid.UUID
		if err := tx.WithContext(ctx).Raw(`SELECT DISTINCT service_id FROM invoice_lines WHERE invoice_id = ? AND service_id IS NOT NULL`,
			inv.ID).Scan(&lined).Error; err != nil {
			return errs.Internal(err)
		}
		all := append(slices.Clone(ids), lined...)
		slices.SortFunc(all, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
		return unsuspend(ctx, tx, true, slices.Compact(all))
	}
	bills.OnPaid(settled)
	bills.OnVoided(func(ctx context.Context, tx *gorm.DB, inv billing.Invoice) error { return settled(ctx, tx, inv, nil) })
	a := &App{Cfg: cfg, Log: log, Clock: clk, DB: db, Users: users, Keys: keys, Jobs: runner, Idempotency: idem,
		Catalog: cat, Partners: partners, Customers: customers, Orders: orders, Services: services, Billing: bills, Usage: usages, Dunning: dun, Reconcile: recon, Events: events,
		Mail: outbox, Webhooks: hooks, vendorHTTP: vendorHTTP, anonLimiter: anonLimiter}
	if adv, ok := clk.(advancer); ok && cfg.Sandbox {
		a.sandbox = adv
		if _, err := a.loadClock(ctx); err != nil {
			return nil, fmt.Errorf("sandbox clock: %w", err)
		}
	}
	metrics := httpapi.NewMetrics(db.Pool)
	e, err := httpapi.New(httpapi.Deps{
		Log: log, Clock: clk, Metrics: metrics,
		Users: users, Keys: keys, Catalog: cat, Partners: partners, Customers: customers, Orders: orders, Services: services, Module: module,
		Billing: bills, Usage: usages, Mail: outbox, Webhooks: hooks, Jobs: runner, DB: db.Gorm, Sandbox: a.advance, SandboxClock: a.SandboxClock,
		BaseCurrency: cfg.BaseCurrency, Vendor: vendor, Idempotency: idem, Events: events, Dunning: dun, Reconcile: recon,
		RateCards:      ratecard.New(db.Gorm, clk, cfg.Location(), cfg.BaseCurrency),
		RateCardVendor: rateCardVendor(cfg, clk),
		Authenticators: httpapi.Authenticators{
			Tokens: tokens, UserByID: users.PrincipalOf, APIKey: keys.Authenticate, IsAPIKey: apikey.IsKey,
		},
		Ready:             readiness(db),
		TrustProxyHeaders: cfg.TrustProxyHeaders,
		CORS:              httpapi.CORS{Origins: cfg.CORSOrigins(), MaxAge: cfg.CORSMaxAge},
		Limiter:           anonLimiter,
		AnonLimits:        httpapi.AnonLimits{PerMinute: cfg.AnonRateLimit, VendorPerMinute: cfg.AnonVendorLimit},
		MetricsToken:      cfg.MetricsToken,
	})
	if err != nil {
		return nil, err
	}
	a.HTTP = e
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler())
	a.Metrics = mux
	return a, nil
}

// newOutbox builds the outbox of SMTP_URL and MAIL_FROM (checked by
// config.Load); without SMTP_URL mails are held.
func newOutbox(cfg config.Config, db *postgres.DB, clk clock.Clock, box *secret.Box, log *slog.Logger) (*mail.Outbox, error) {
	mc := mail.Config{From: cfg.MailFrom, Attempts: cfg.MailAttempts, BackoffMax: cfg.MailBackoffMax}
	if cfg.SMTPURL != "" {
		srv, err := smtpurl.Parse(cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("SMTP_URL: %w", err)
		}
		mc.SMTP = &srv
		log.Info("mail goes to SMTP", "server", srv.String(), "from", cfg.MailFrom)
	} else {
		log.Info("no SMTP_URL: mails are kept in the outbox as held")
	}
	return mail.New(db.Gorm, clk, box, log, mc), nil
}

// Run starts the jobs and serves the API on ln (and the metrics on
// metricsLn, when not nil) until ctx ends, then shuts down gracefully:
// in-flight requests finish, running jobs finish, connections close.
func (a *App) Run(ctx context.Context, ln, metricsLn net.Listener) error {
	// River stops hard when its start context ends; Stop below lets jobs finish.
	if err := a.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("start jobs: %w", err)
	}
	srv := &http.Server{
		Handler:           a.HTTP,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	listenCtx, stopListening := context.WithCancel(ctx)
	defer stopListening()
	go a.Catalog.ListenForChanges(listenCtx, a.DB.Pool, a.Log)
	go a.ListenForClock(listenCtx)
	// The limiter's flusher outlives the server so it writes the hits of the
	// last requests.
	flushCtx, stopFlushing := context.WithCancel(context.WithoutCancel(ctx))
	flushed := make(chan struct{})
	go func() { a.anonLimiter.Run(flushCtx, a.Log); close(flushed) }()
	defer func() { stopFlushing(); <-flushed }()
	served := make(chan error, 2)
	go func() { served <- srv.Serve(ln) }()
	a.Log.Info("serving", "addr", ln.Addr().String())
	var msrv *http.Server
	if metricsLn != nil {
		msrv = &http.Server{Handler: a.Metrics, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 60 * time.Second,
			ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
		go func() { served <- msrv.Serve(metricsLn) }()
		a.Log.Info("serving metrics", "addr", metricsLn.Addr().String())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	a.Log.Info("shutting down", "timeout", a.Cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), a.Cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("http shutdown: %w", err))
	}
	if msrv != nil {
		if err := msrv.Shutdown(sctx); err != nil {
			serveErr = errors.Join(serveErr, fmt.Errorf("metrics shutdown: %w", err))
		}
	}
	if err := a.Jobs.Stop(sctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("jobs shutdown: %w", err))
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	a.Log.Info("stopped")
	return serveErr
}

// Close releases the database.
func (a *App) Close() { a.DB.Close() }

func readiness(db *postgres.DB) func(ctx context.Context) (map[string]string, bool) {
	return func(ctx context.Context) (map[string]string, bool) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		checks := map[string]string{"database": "ok", "migrations": "ok"}
		if err := db.Pool.Ping(ctx); err != nil {
			checks["database"], checks["migrations"] = "unreachable", "unknown"
			return checks, false
		}
		current, err := postgres.MigrationsCurrent(ctx, db)
		switch {
		case err != nil:
			checks["migrations"] = "unknown"
			return checks, false
		case !current:
			checks["migrations"] = "pending"
			return checks, false
		}
		return checks, true
	}
}

type maintainer struct {
	idem    *idempotency.Store
	limiter *ratelimit.Limiter
}

func (m maintainer) DeleteExpiredIdempotencyKeys(ctx context.Context) (int64, error) {
	return m.idem.DeleteExpired(ctx)
}

func (m maintainer) DeleteOldRateLimits(ctx context.Context) (int64, error) {
	return m.limiter.DeleteOld(ctx)
}
