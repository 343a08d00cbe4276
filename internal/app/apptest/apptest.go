// Package apptest runs the whole platform against the test package's
// database, behind httptest, and talks to it through the generated client.
package apptest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	oapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/user"
)

// Env is one running platform instance.
type Env struct {
	App    *app.App
	Server *httptest.Server
	Clock  *clock.Manual
	Cfg    config.Config
	// Logs holds every log line the instance wrote, at debug level, so
	// tests can check what never reaches a log.
	Logs *Logs
}

// Logs is a concurrency-safe log capture.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

// String is everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Config returns the test configuration: demo secrets, the package's
// database, a tight per-email login limit. Every test of a package shares
// its database and calls from 127.0.0.1, so the per-address limits are
// generous here; tests of those limits tighten them and send their own
// X-Forwarded-For (TRUST_PROXY_HEADERS).
func Config(t testing.TB) config.Config {
	t.Helper()
	env := map[string]string{
		"ENV":                                  "test",
		"DATABASE_URL":                         pgtest.URL(t),
		"DEMO_SECRETS":                         "true",
		"AUTH_RATE_LIMIT_PER_MINUTE":           "5",
		"AUTH_RATE_LIMIT_PER_IP_PER_MINUTE":    "100000",
		"AUTH_SLOW_AFTER_PER_EMAIL_PER_MINUTE": "5",
		"AUTH_SLOW_DELAY":                      "10ms",
		"ANON_RATE_LIMIT_PER_MINUTE":           "100000",
		"ANON_VENDOR_RATE_LIMIT_PER_MINUTE":    "100000",
		"METRICS_ADDR":                         "off",
		"LOG_LEVEL":                            "error",
		"ACRONIS_ATTEMPT_TIMEOUT":              "500ms",
	}
	cfg, err := config.Load(func(k string) string { return env[k] }, true)
	require.NoError(t, err)
	return cfg
}

// Epoch is where every test platform's clock starts: a fixed instant, so
// no expectation depends on the day the tests run (month ends, leap days).
// Tests about a given day set the clock there.
var Epoch = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)

// Start runs the platform (HTTP and jobs) with cfg until the test ends, on
// a manual clock set to Epoch.
func Start(t testing.TB, cfg config.Config) *Env {
	t.Helper()
	clk := clock.NewManual(Epoch)
	env := StartWithClock(t, cfg, clk)
	env.Clock = clk
	return env
}

// StartWithClock is Start on a clock of the caller's (Env.Clock is nil
// unless it is a manual clock), e.g. the sandbox's clock.Offset.
func StartWithClock(t testing.TB, cfg config.Config, clk clock.Clock) *Env {
	t.Helper()
	logs := &Logs{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := app.New(context.Background(), cfg, log, clk)
	require.NoError(t, err)
	srv := httptest.NewServer(a.HTTP)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	manual, _ := clk.(*clock.Manual)
	return &Env{App: a, Server: srv, Clock: manual, Cfg: cfg, Logs: logs}
}

// New is Start with the default test configuration.
func New(t testing.TB) *Env { return Start(t, Config(t)) }

// Client returns a generated client that sends token as its bearer.
func (e *Env) Client(t testing.TB, token string) *oapi.ClientWithResponses {
	t.Helper()
	opts := []oapi.ClientOption{}
	if token != "" {
		opts = append(opts, oapi.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	}
	c, err := oapi.NewClientWithResponses(e.Server.URL, opts...)
	require.NoError(t, err)
	return c
}

// Password is the password of every user made by NewUser.
const Password = "test-password-123"

// NewUser stores a user with a unique email and returns it.
func (e *Env) NewUser(t testing.TB, role auth.Role, partnerID, customerID *uuid.UUID) user.User {
	t.Helper()
	u, err := e.App.Users.Create(context.Background(), auth.Principal{Role: auth.RoleAdmin}, user.CreateInput{
		Email: uuid.NewString() + "@example.com", Name: "Test " + string(role), Password: Password,
		Role: role, PartnerID: partnerID, CustomerID: customerID,
	})
	require.NoError(t, err)
	return u
}

// Login returns a token for u.
func (e *Env) Login(t testing.TB, u user.User) string {
	t.Helper()
	res, err := e.Client(t, "").CreateTokenWithResponse(context.Background(), oapi.CreateTokenJSONRequestBody{
		Email: oapiEmail(u.Email), Password: ptr(Password),
	})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode(), string(res.Body))
	return res.JSON200.AccessToken
}

// Admin makes an admin and returns a client logged in as it.
func (e *Env) Admin(t testing.TB) (*oapi.ClientWithResponses, user.User) {
	t.Helper()
	u := e.NewUser(t, auth.RoleAdmin, nil, nil)
	return e.Client(t, e.Login(t, u)), u
}

func ptr[T any](v T) *T { return &v }

func oapiEmail(s string) oapi_types.Email { return oapi_types.Email(s) }
