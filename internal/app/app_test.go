package app_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	openapi_types "github.com/oapi-codegen/runtime/types"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/catalog"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// running is an instance serving on a real listener, as `serve` does.
type running struct {
	app        *app.App
	url        string
	metricsURL string
	stop       context.CancelFunc
	done       chan error
}

func run(t *testing.T, cfg config.Config) *running {
	t.Helper()
	a, err := app.New(context.Background(), cfg, app.NewLogger(cfg), clock.Real{})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	mln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: a, url: "http://" + ln.Addr().String(), metricsURL: "http://" + mln.Addr().String(),
		stop: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(ctx, ln, mln) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
		a.Close()
	})
	return r
}

func TestReadiness(t *testing.T) {
	t.Parallel()
	unreachable := pgtest.NewDatabase(t, true)
	tests := []struct {
		name       string
		dbURL      string
		breakDB    bool
		want       int
		database   string
		migrations string
	}{
		{"migrated", pgtest.NewDatabase(t, true), false, http.StatusOK, "ok", "ok"},
		{"migrations pending", pgtest.NewDatabase(t, false), false, http.StatusServiceUnavailable, "ok", "pending"},
		{"database unreachable", unreachable, true, http.StatusServiceUnavailable, "unreachable", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := apptest.Config(t)
			cfg.DatabaseURL = tt.dbURL
			env := apptest.Start(t, cfg)
			if tt.breakDB {
				name := pgtest.DatabaseName(tt.dbURL)
				pgtest.Exec(t, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS false")
				pgtest.Exec(t, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
				t.Cleanup(func() { pgtest.Exec(t, "ALTER DATABASE "+name+" WITH ALLOW_CONNECTIONS true") })
			}
			res, err := env.Client(t, "").GetReadinessWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, tt.want, res.StatusCode(), string(res.Body))
			body := res.JSON200
			if body == nil {
				body = res.JSON503
			}
			require.Equal(t, tt.database, body.Checks["database"])
			require.Equal(t, tt.migrations, body.Checks["migrations"])

			live, err := env.Client(t, "").GetHealthWithResponse(context.Background())
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, live.StatusCode(), "liveness does not depend on the database")
		})
	}
}

func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t)
	r := run(t, cfg)
	env := &apptest.Env{App: r.app}
	u := env.NewUser(t, auth.RoleAdmin, nil, nil)

	body := fmt.Sprintf(`{"email":%q,"password":%q}`, u.Email, apptest.Password)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.url, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	// Send the headers and half the body, then ask the server to stop.
	_, err = fmt.Fprintf(conn, "POST /v1/auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:len(body)/2])
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	r.stop()
	select {
	case err := <-r.done:
		t.Fatalf("server stopped with a request in flight: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	_, err = conn.Write([]byte(body[len(body)/2:]))
	require.NoError(t, err)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode, "the in-flight request completed")
	select {
	case err := <-r.done:
		require.NoError(t, err)
		r.done <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop after its last request")
	}
	// New connections are refused once it has stopped.
	_, err = net.DialTimeout("tcp", strings.TrimPrefix(r.url, "http://"), time.Second)
	require.Error(t, err)
}

func TestTwoInstancesShareOneDatabase(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.MaintenanceInterval = time.Second
	// Jobs are counted from the instances' start, so the time is too.
	start := time.Now()
	a, b := run(t, cfg), run(t, cfg)
	env := &apptest.Env{App: a.app}
	u := env.NewUser(t, auth.RoleAdmin, nil, nil)

	// A token from one instance works on the other: nothing lives in memory.
	ca, err := oapi.NewClientWithResponses(a.url)
	require.NoError(t, err)
	pw := apptest.Password
	tok, err := ca.CreateTokenWithResponse(context.Background(), oapi.TokenRequest{Email: openapi_types.Email(u.Email), Password: &pw})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, tok.StatusCode())
	for _, inst := range []*running{a, b} {
		req, _ := http.NewRequest("GET", inst.url+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok.JSON200.AccessToken)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
	}

	// The periodic clean-up runs once per period, not once per instance.
	time.Sleep(4500 * time.Millisecond)
	elapsed := time.Since(start)
	var rows []struct {
		Second int64
		Runs   int
	}
	require.NoError(t, a.app.DB.Gorm.Raw(`
		SELECT extract(epoch FROM date_trunc('second', created_at))::bigint AS second, count(*) AS runs
		FROM river_job WHERE kind = 'maintenance_cleanup' GROUP BY 1 ORDER BY 1`).Scan(&rows).Error)
	total := 0
	for _, r := range rows {
		require.Equal(t, 1, r.Runs, "two runs in the period starting at %d", r.Second)
		total += r.Runs
	}
	require.GreaterOrEqual(t, total, 2)
	require.LessOrEqual(t, total, int(elapsed.Seconds())+3)
	var completed int
	require.NoError(t, a.app.DB.Gorm.Raw(`SELECT count(*) FROM river_job WHERE kind = 'maintenance_cleanup' AND state = 'completed'`).Scan(&completed).Error)
	require.GreaterOrEqual(t, completed, 1)
	var leaders int
	require.NoError(t, a.app.DB.Gorm.Raw(`SELECT count(*) FROM river_leader`).Scan(&leaders).Error)
	require.Equal(t, 1, leaders, "one instance schedules periodic jobs")
}

func TestOfferCacheIsClearedOnEveryInstance(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	a, b := run(t, cfg), run(t, cfg)
	ctx := context.Background()
	cat := a.app.Catalog
	v, err := cat.CreateVenture(ctx, "V", "OFFERS")
	require.NoError(t, err)
	pt, err := cat.CreateProductType(ctx, "T")
	require.NoError(t, err)
	p, err := cat.CreateProduct(ctx, pt.ID, "P")
	require.NoError(t, err)
	name, module := "G", catalog.ModuleNone
	g, err := cat.CreateProductGroup(ctx, catalog.GroupInput{ProductID: &p.ID, Name: &name, Module: &module, TaxIDs: &[]uuid.UUID{}})
	require.NoError(t, err)
	planName := "Cached"
	plan, err := cat.CreatePlan(ctx, catalog.PlanInput{VentureID: &v.ID, ProductTypeID: &pt.ID, ProductID: &p.ID, ProductGroupID: &g.ID, Name: &planName})
	require.NoError(t, err)
	_, err = cat.SetPricing(ctx, plan.ID, catalog.Pricing{BillingModel: catalog.Prepaid, Cycles: []catalog.Cycle{{Frequency: "monthly", Price: decimal.NewFromInt(10)}}})
	require.NoError(t, err)
	urls, err := cat.OrderURLs(ctx, auth.Principal{Role: auth.RoleAdmin}, plan.ID)
	require.NoError(t, err)
	require.Len(t, urls, 1)
	offerURL := b.url + "/v1/storefront/offers/" + urls[0].Token

	status := func() int {
		res, err := http.Get(offerURL)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode
	}
	require.Equal(t, http.StatusOK, status()) // now cached on b
	require.Equal(t, http.StatusOK, status())

	retired := catalog.PlanRetired
	_, err = cat.UpdatePlan(ctx, plan.ID, catalog.PlanInput{Status: &retired}, nil) // on a
	require.NoError(t, err)
	require.Eventually(t, func() bool { return status() == http.StatusGone }, 3*time.Second, 20*time.Millisecond,
		"the other instance drops its cached offer")
}

// TestPublicEdgesOnRealListeners: anonymous limits are counted in the
// database, so instances share them; /metrics is on the metrics listener,
// not on the API's, and the metrics listener serves nothing else.
func TestPublicEdgesOnRealListeners(t *testing.T) {
	t.Parallel()
	cfg := apptest.Config(t)
	cfg.DatabaseURL = pgtest.NewDatabase(t, true)
	cfg.AnonRateLimit = 3
	a, b := run(t, cfg), run(t, cfg)
	get := func(url string) (int, http.Header) {
		res, err := http.Get(url)
		require.NoError(t, err)
		res.Body.Close()
		return res.StatusCode, res.Header
	}
	offer := "/v1/storefront/offers/no-such-token-0123456789"
	tests := []struct {
		name      string
		url       string
		status    int
		remaining string
	}{
		{"first instance", a.url + offer, http.StatusNotFound, "2"},
		{"second instance", b.url + offer, http.StatusNotFound, "1"},
		{"first again", a.url + offer, http.StatusNotFound, "0"},
		{"second, over the shared limit", b.url + offer, http.StatusTooManyRequests, "0"},
		{"metrics on the API port", a.url + "/metrics", http.StatusNotFound, ""},
		{"metrics on the metrics listener", a.metricsURL + "/metrics", http.StatusOK, ""},
		{"the API on the metrics listener", a.metricsURL + "/healthz", http.StatusNotFound, ""},
	}
	for _, tt := range tests { // in order: they count
		status, h := get(tt.url)
		require.Equal(t, tt.status, status, tt.name)
		require.Equal(t, tt.remaining, h.Get("RateLimit-Remaining"), tt.name)
	}
}
