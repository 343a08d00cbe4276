// Package config reads the platform's settings from environment variables and
// validates them, naming each bad value.
package config

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/go-playground/validator/v10"

	"github.com/acronis-platform/platform/internal/mail/smtpurl"
)

// Demo secrets, used only when DEMO_SECRETS=true (make run, tests, bench).
// serve refuses them when ENV=production.
const (
	DemoJWTSecret     = "demo-jwt-secret-do-not-use-in-production-0123456789"
	DemoEncryptionKey = "ZGVtby1lbmNyeXB0aW9uLWtleS0zMi1ieXRlcy0hISE=" // 32 bytes
	DemoAdminEmail    = "admin@example.com"
	DemoAdminPassword = "demo-admin-password"
)

// Config is every setting the platform reads. The env tag names the variable,
// default its value when unset, doc the README line.
type Config struct {
	Env        string `env:"ENV" default:"development" validate:"oneof=development test production" doc:"development, test or production; production refuses demo secrets"`
	ListenAddr string `env:"LISTEN_ADDR" default:"127.0.0.1:8080" validate:"hostname_port" doc:"address the HTTP server listens on"`
	LogLevel   string `env:"LOG_LEVEL" default:"info" validate:"oneof=debug info warn error" doc:"debug, info, warn or error"`
	LogFormat  string `env:"LOG_FORMAT" default:"json" validate:"oneof=json text" doc:"json or text"`

	DatabaseURL       string        `env:"DATABASE_URL" validate:"required,startswith=postgres" doc:"PostgreSQL URL (make run and make test start a private cluster and set it)"`
	DBMaxConns        int           `env:"DB_MAX_CONNS" default:"20" validate:"min=2,max=500" doc:"connection pool size per instance"`
	DemoSecrets       bool          `env:"DEMO_SECRETS" default:"false" doc:"fill unset secrets with demo values (make run, tests); refused in production"`
	JWTSecret         string        `env:"JWT_SECRET" secret:"true" validate:"omitempty,min=32" doc:"HS256 signing secret, at least 32 bytes (required)"`
	JWTIssuer         string        `env:"JWT_ISSUER" default:"acronis-platform" validate:"required" doc:"iss of issued tokens, checked on every request"`
	JWTAudience       string        `env:"JWT_AUDIENCE" default:"acronis-platform-api" validate:"required" doc:"aud of issued tokens, checked on every request"`
	JWTTTL            time.Duration `env:"JWT_TTL" default:"15m" validate:"min=1m,max=24h" doc:"lifetime of issued tokens"`
	JWKSURL           string        `env:"JWKS_URL" validate:"omitempty,url" doc:"external identity provider's JWKS; when set, its RS256/ES256 tokens are accepted"`
	JWKSIssuer        string        `env:"JWKS_ISSUER" validate:"required_with=JWKSURL" doc:"required iss of external tokens"`
	JWKSAudience      string        `env:"JWKS_AUDIENCE" validate:"required_with=JWKSURL" doc:"required aud of external tokens"`
	JWKSRoleClaim     string        `env:"JWKS_ROLE_CLAIM" default:"role" validate:"required" doc:"claim holding the role (admin, partner, customer) in external tokens"`
	JWKSPartnerClaim  string        `env:"JWKS_PARTNER_CLAIM" default:"partner_id" validate:"required" doc:"claim holding the partner id in external tokens"`
	JWKSCustomerClaim string        `env:"JWKS_CUSTOMER_CLAIM" default:"customer_id" validate:"required" doc:"claim holding the customer id in external tokens"`
	EncryptionKey     string        `env:"ENCRYPTION_KEY" secret:"true" validate:"omitempty,base64" doc:"base64 of 32 random bytes; AES-256-GCM key for secrets at rest (required)"`

	AuthRateLimit      int           `env:"AUTH_RATE_LIMIT_PER_MINUTE" default:"10" validate:"min=1" doc:"failed token requests per minute per email and client address; more are 429, from that address only"`
	AuthRateLimitPerIP int           `env:"AUTH_RATE_LIMIT_PER_IP_PER_MINUTE" default:"60" validate:"min=1" doc:"failed token requests per minute per client address, whatever the email; more are 429"`
	AuthSlowAfter      int           `env:"AUTH_SLOW_AFTER_PER_EMAIL_PER_MINUTE" default:"30" validate:"min=1" doc:"failed token requests per minute per email, from every address, after which each attempt on that email waits AUTH_SLOW_DELAY (never refused)"`
	AuthSlowDelay      time.Duration `env:"AUTH_SLOW_DELAY" default:"1s" validate:"min=0s,max=10s" doc:"the wait of a token request on an email over AUTH_SLOW_AFTER_PER_EMAIL_PER_MINUTE"`
	AnonRateLimit      int           `env:"ANON_RATE_LIMIT_PER_MINUTE" default:"120" validate:"min=1" doc:"anonymous requests (storefront offers, usernames, orders, order reads, token requests) per minute per client address; more are 429"`
	AnonVendorLimit    int           `env:"ANON_VENDOR_RATE_LIMIT_PER_MINUTE" default:"20" validate:"min=1" doc:"anonymous requests that call the vendor (username checks, orders) per minute per client address; more are 429"`
	TrustProxyHeaders  bool          `env:"TRUST_PROXY_HEADERS" default:"false" doc:"take the client address from X-Forwarded-For (only behind a trusted proxy)"`

	MetricsAddr  string `env:"METRICS_ADDR" default:"127.0.0.1:9090" validate:"hostname_port|eq=off" doc:"address of the separate listener serving GET /metrics (off: none); keep it private"`
	MetricsToken string `env:"METRICS_TOKEN" secret:"true" validate:"omitempty,min=16" doc:"when set, GET /metrics is also served on LISTEN_ADDR to callers sending it as bearer token; without it /metrics there is 404"`

	VendorAllowPrivate bool `env:"VENDOR_ALLOW_PRIVATE" default:"false" doc:"let plans' datacenter_url reach private, loopback and link-local addresses (a vendor inside your network); off, only public https addresses (and loopback http outside production)"`

	WebhookAllowPrivate bool `env:"WEBHOOK_ALLOW_PRIVATE" default:"false" doc:"let webhook endpoints be private, loopback and link-local addresses (receivers inside your network); off, only public https addresses (and loopback http outside production)"`

	CORSAllowedOrigins string        `env:"CORS_ALLOWED_ORIGINS" doc:"comma-separated origins (https://console.example.com) whose browser pages may call the API; * for any; none by default (no CORS headers). Credentials are never allowed"`
	CORSMaxAge         time.Duration `env:"CORS_MAX_AGE" default:"1h" validate:"min=0s,max=24h" doc:"how long browsers may cache a CORS preflight answer"`

	AcronisURL            string        `env:"ACRONIS_URL" validate:"omitempty,url" doc:"the SP's vendor datacenter (make run points it at the simulator); used for vendor look-ups"`
	AcronisClientID       string        `env:"ACRONIS_CLIENT_ID" validate:"required_with=AcronisURL" doc:"the SP's vendor API client id"`
	AcronisClientSecret   string        `env:"ACRONIS_CLIENT_SECRET" secret:"true" validate:"required_with=AcronisURL" doc:"the SP's vendor API client secret"`
	AcronisAttemptTimeout time.Duration `env:"ACRONIS_ATTEMPT_TIMEOUT" default:"20s" validate:"min=100ms,max=5m" doc:"how long one vendor call may take before it is retried"`

	BaseCurrency string `env:"BASE_CURRENCY" default:"USD" validate:"len=3,uppercase" doc:"the SP base currency of every price (ISO 4217); not to be changed once prices exist"`
	TimeZone     string `env:"TIME_ZONE" default:"UTC" validate:"required" doc:"the SP's IANA time zone: billing days, the 1st of the month and due dates are counted in it"`
	// InvoiceDaysBeforeDue and InvoiceTermsDays shape billing dates.
	InvoiceDaysBeforeDue int  `env:"INVOICE_DAYS_BEFORE_DUE" default:"7" validate:"min=0,max=60" doc:"a prepaid renewal is invoiced this many days before the next due date"`
	InvoiceTermsDays     int  `env:"INVOICE_TERMS_DAYS" default:"14" validate:"min=0,max=120" doc:"a post-paid invoice is due this many days after it is issued"`
	Sandbox              bool `env:"SANDBOX" default:"false" doc:"enables POST /v1/sandbox/clock, which moves the platform clock forward and runs what falls due (refused with ENV=production)"`

	ShutdownTimeout     time.Duration `env:"SHUTDOWN_TIMEOUT" default:"20s" validate:"min=1s,max=10m" doc:"how long in-flight requests and jobs get on SIGTERM"`
	JobWorkers          int           `env:"JOB_WORKERS" default:"10" validate:"min=1,max=1000" doc:"concurrent background jobs per instance"`
	MailWorkers         int           `env:"MAIL_WORKERS" default:"10" validate:"min=1,max=1000" doc:"concurrent mail sends per instance, on a queue of their own beside JOB_WORKERS; each holds a database connection through its SMTP conversation, so it must be below DB_MAX_CONNS"`
	WebhookWorkers      int           `env:"WEBHOOK_WORKERS" default:"50" validate:"min=1,max=1000" doc:"concurrent webhook deliveries per instance, on a queue of their own beside JOB_WORKERS (a delivery holds no database connection while it waits on the receiver)"`
	MaintenanceInterval time.Duration `env:"MAINTENANCE_INTERVAL" default:"1h" validate:"min=1s,max=24h" doc:"period of the clean-up job (expired idempotency keys, rate-limit windows)"`
	ServiceOpWait       time.Duration `env:"SERVICE_OP_WAIT" default:"10s" validate:"min=0s,max=50s" doc:"how long a service change (suspend, terminate, credentials, quantity, plan) waits for the vendor before it answers 202 with the operation to poll"`
	ServiceOpAttempts   int           `env:"SERVICE_OP_ATTEMPTS" default:"25" validate:"min=1,max=100" doc:"tries of a service operation before it ends failed (with SERVICE_OP_BACKOFF_MAX, 25 tries give the vendor about an hour and a half)"`
	ServiceOpBackoffMax time.Duration `env:"SERVICE_OP_BACKOFF_MAX" default:"5m" validate:"min=1s,max=1h" doc:"longest wait between two tries of a service operation (the wait starts at 1s and doubles)"`
	ServiceOpSweep      time.Duration `env:"SERVICE_OP_SWEEP" default:"15m" validate:"min=1s,max=24h" doc:"period of the sweep that queues again each failed service operation a later try may fix (vendor unreachable, 5xx, 429, timeouts), once per period, while it is still the service's latest of its kind"`
	JobFetchCooldown    time.Duration `env:"JOB_FETCH_COOLDOWN" default:"100ms" validate:"min=1ms,max=1s" doc:"shortest wait between two fetches of new jobs by a worker pool: a job enqueued right after another waits up to this long (the simulation, running one job at a time, sets it low)"`
	JobRescueAfter      time.Duration `env:"JOB_RESCUE_AFTER" default:"1h" validate:"min=1s,max=24h" doc:"a job running this long is taken as stuck (its instance died) and run again; also the longest a job may run"`
	RunStaleAfter       time.Duration `env:"RUN_STALE_AFTER" default:"5m" validate:"min=1s,max=1h" doc:"a billing run, usage sync or dunning run whose worker has not reported for this long is marked interrupted (its instance died)"`
	DunningWorkers      int           `env:"DUNNING_WORKERS" default:"8" validate:"min=1,max=200" doc:"actions (reminders, alerts, vendor-first suspensions and terminations) a dunning run carries out at once"`

	SMTPURL        string        `env:"SMTP_URL" secret:"true" doc:"where mail goes: smtp://user:pass@host:port?starttls=mandatory|opportunistic|none or smtps://user:pass@host:port (STARTTLS mandatory by default when credentials are given); unset, mails stay in the outbox as held (make run points it at Mailpit)"`
	MailFrom       string        `env:"MAIL_FROM" validate:"required_with=SMTPURL,omitempty,email" doc:"From address of every mail (the issuer's name is the display name); required with SMTP_URL"`
	MailAttempts   int           `env:"MAIL_ATTEMPTS" default:"25" validate:"min=1,max=100" doc:"SMTP tries of a mail before it ends failed (a recipient the server refuses fails at once)"`
	MailBackoffMax time.Duration `env:"MAIL_BACKOFF_MAX" default:"1h" validate:"min=1s,max=24h" doc:"longest wait between two tries of a mail (the wait starts at 1s and doubles)"`

	SeedAdminEmail    string `env:"SEED_ADMIN_EMAIL" default:"admin@example.com" validate:"email" doc:"admin created or updated by platform seed"`
	SeedAdminPassword string `env:"SEED_ADMIN_PASSWORD" secret:"true" default:"demo-admin-password" validate:"min=12" doc:"that admin's password"`
	SeedDemo          bool   `env:"SEED_DEMO" default:"false" doc:"platform seed also makes a demo catalog: an Acronis plan on the ACRONIS_URL account with its order URL (make run sets it)"`
}

// Load reads the configuration through getenv (os.Getenv in main).
// withSecrets also requires the signing and encryption secrets.
func Load(getenv func(string) string, withSecrets bool) (Config, error) {
	var cfg Config
	var problems []string
	v := reflect.ValueOf(&cfg).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("env")
		raw := strings.TrimSpace(getenv(name))
		if raw == "" {
			raw = f.Tag.Get("default")
		}
		if raw == "" {
			continue
		}
		if err := set(v.Field(i), raw); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %v", name, err))
		}
	}
	if cfg.DemoSecrets {
		if cfg.JWTSecret == "" {
			cfg.JWTSecret = DemoJWTSecret
		}
		if cfg.EncryptionKey == "" {
			cfg.EncryptionKey = DemoEncryptionKey
		}
	}
	problems = append(problems, validate(cfg)...)
	if withSecrets {
		problems = append(problems, cfg.checkSecrets()...)
	}
	if _, err := time.LoadLocation(cfg.TimeZone); err != nil {
		problems = append(problems, fmt.Sprintf("TIME_ZONE: %q is not an IANA time zone", cfg.TimeZone))
	}
	if _, err := parseOrigins(cfg.CORSAllowedOrigins); err != nil {
		problems = append(problems, "CORS_ALLOWED_ORIGINS: "+err.Error())
	}
	if cfg.SMTPURL != "" {
		if _, err := smtpurl.Parse(cfg.SMTPURL); err != nil {
			problems = append(problems, "SMTP_URL: "+err.Error()+" (value is secret, not shown)")
		}
	}
	if cfg.MailWorkers >= cfg.DBMaxConns {
		problems = append(problems, fmt.Sprintf("MAIL_WORKERS: %d sends would hold all %d database connections (DB_MAX_CONNS) through their SMTP conversations; keep it below", cfg.MailWorkers, cfg.DBMaxConns))
	}
	if cfg.Sandbox && cfg.Env == "production" {
		problems = append(problems, "SANDBOX: not allowed with ENV=production")
	}
	if len(problems) > 0 {
		return cfg, errors.New("invalid configuration:\n  " + strings.Join(problems, "\n  "))
	}
	return cfg, nil
}

func (c Config) checkSecrets() []string {
	var p []string
	if c.JWTSecret == "" {
		p = append(p, "JWT_SECRET: required (at least 32 bytes), or DEMO_SECRETS=true outside production")
	}
	if c.EncryptionKey == "" {
		p = append(p, "ENCRYPTION_KEY: required (base64 of 32 bytes), or DEMO_SECRETS=true outside production")
	} else if k, err := base64.StdEncoding.DecodeString(c.EncryptionKey); err != nil || len(k) != 32 {
		p = append(p, "ENCRYPTION_KEY: must be base64 of exactly 32 bytes")
	}
	if c.Env == "production" {
		if c.DemoSecrets {
			p = append(p, "DEMO_SECRETS: must not be true when ENV=production")
		}
		if c.JWTSecret == DemoJWTSecret {
			p = append(p, "JWT_SECRET: the demo secret is refused when ENV=production")
		}
		if c.EncryptionKey == DemoEncryptionKey {
			p = append(p, "ENCRYPTION_KEY: the demo key is refused when ENV=production")
		}
	}
	return p
}

// EncryptionKeyBytes returns the decoded AES key.
func (c Config) EncryptionKeyBytes() []byte {
	k, _ := base64.StdEncoding.DecodeString(c.EncryptionKey)
	return k
}

func set(f reflect.Value, raw string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(raw)
	case bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("not a boolean: %q", raw)
		}
		f.SetBool(b)
	case int:
		n, err := strconv.Atoi(raw)
		if err != nil {
			return fmt.Errorf("not an integer: %q", raw)
		}
		f.SetInt(int64(n))
	case time.Duration:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("not a duration (like 30s, 15m): %q", raw)
		}
		f.SetInt(int64(d))
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}

func validate(cfg Config) []string {
	val := validator.New(validator.WithRequiredStructEnabled())
	err := val.Struct(cfg)
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		return nil
	}
	t := reflect.TypeOf(cfg)
	var out []string
	for _, fe := range verrs {
		f, _ := t.FieldByName(fe.StructField())
		name := f.Tag.Get("env")
		shown := fmt.Sprintf("%q", fmt.Sprint(fe.Value()))
		if f.Tag.Get("secret") == "true" {
			shown = "(secret, not shown)"
		}
		out = append(out, fmt.Sprintf("%s: fails %q%s (value %s)", name, fe.Tag(), param(fe.Param()), shown))
	}
	return out
}

func param(p string) string {
	if p == "" {
		return ""
	}
	return " " + p
}

// Doc describes one variable for the README table.
type Doc struct{ Name, Default, Meaning string }

// Docs lists every variable with its default and meaning.
func Docs() []Doc {
	t := reflect.TypeOf(Config{})
	out := make([]Doc, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		out = append(out, Doc{f.Tag.Get("env"), f.Tag.Get("default"), f.Tag.Get("doc")})
	}
	return out
}

// Location is the SP's time zone (checked by Load).
func (c Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// CORSOrigins lists the origins of CORS_ALLOWED_ORIGINS (checked by Load):
// none when unset, "*" for any.
func (c Config) CORSOrigins() []string {
	o, _ := parseOrigins(c.CORSAllowedOrigins)
	return o
}

// parseOrigins reads a comma list of origins: scheme and host (and port),
// nothing else, since browsers send exactly that in Origin.
func parseOrigins(raw string) ([]string, error) {
	var out []string
	for _, o := range strings.Split(raw, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || strings.Contains(u.Host, "*") {
			return nil, fmt.Errorf("%q is not an origin like https://console.example.com", o)
		}
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	return out, nil
}
