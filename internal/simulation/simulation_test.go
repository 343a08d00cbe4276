package simulation

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/acronis-platform/platform/api/oapi"
	"github.com/acronis-platform/platform/internal/acronis"
	acsim "github.com/acronis-platform/platform/internal/acronis/sim"
	"github.com/acronis-platform/platform/internal/app"
	"github.com/acronis-platform/platform/internal/app/apptest"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/config"
	"github.com/acronis-platform/platform/internal/mail/mailtest"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
)

// start is the fixed first day of every run: a month end in a leap year,
// so renewals clamp (30 Jan -> 29 Feb -> 30 Mar) from the first month on.
var start = time.Date(2028, 1, 30, 9, 0, 0, 0, time.UTC)

type settings struct {
	seeds     []int64
	days      int
	customers int
	keepGoing bool
}

func loadSettings(t *testing.T) settings {
	t.Helper()
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		require.NoError(t, err, name)
		return n
	}
	s := settings{days: num("SIM_DAYS", 90), customers: num("SIM_CUSTOMERS", 12), keepGoing: os.Getenv("SIM_KEEP_GOING") == "1"}
	seeds := os.Getenv("SIM_SEEDS")
	if seeds == "" {
		seeds = strconv.Itoa(num("SIM_SEED", 1))
	}
	for _, f := range strings.Split(seeds, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		require.NoError(t, err, "SIM_SEEDS")
		s.seeds = append(s.seeds, n)
	}
	return s
}

func TestSimulation(t *testing.T) {
	cfg := loadSettings(t)
	var days int
	began := time.Now()
	for _, seed := range cfg.seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			days += run(t, seed, cfg).day
		})
	}
	el := time.Since(began)
	t.Logf("simulated %d days over %d seeds in %.1f s = %.0f days/min", days, len(cfg.seeds), el.Seconds(), float64(days)/el.Minutes())
}

// run simulates one seed; the sim's day is the last day it got through.
func run(t *testing.T, seed int64, cfg settings) *sim {
	s := newSim(t, seed, cfg)
	s.build()
	for s.day = 1; s.day <= cfg.days; s.day++ {
		s.beginDay()
		s.rateCards()
		n := s.rng.IntN(2 + cfg.customers/3)
		for range n {
			s.act()
		}
		s.actOutbound()
		s.advance()
		s.check()
		if s.endDay() {
			return s
		}
	}
	s.day = cfg.days
	s.summary()
	return s
}

// failure is one broken invariant.
type failure struct {
	day       int
	date      string
	invariant string
	detail    string
}

// sim is one simulated shop.
type sim struct {
	t      *testing.T
	ctx    context.Context
	seed   int64
	cfg    settings
	rng    *rand.Rand
	orng   *rand.Rand // the outbound actions' own (see actOutbound)
	env    *apptest.Env
	vendor *acsim.Server
	vurl   string
	vc     *acronis.Client
	ro     *pgxpool.Pool // read-only SQL for what the API does not show
	rw     *pgxpool.Pool // River's table only: retries made due (quiesce)

	admin     *actor
	partners  []*seller
	plans     []*plan
	groups    []uuid.UUID // the product groups, module acronis
	customers []*customer
	ventures  []uuid.UUID
	location  string

	day   int
	spell *spell // vendor faults now on
	// faultsAtRun: vendor faults were on when the clock last moved (and
	// its dunning run acted); an action may have failed.
	faultsAtRun bool
	calmSince   time.Time
	retried     map[uuid.UUID]bool
	users       int

	breaks   []failure // the day's
	failures []failure
	reported map[string]bool
	answers  map[string]int             // by action and status
	checked  map[uuid.UUID]oapi.Invoice // invoice details by id, refreshed when the version moves
	metadata map[string]oapi.Metadata   // what each order was placed with, by username

	credited   map[uuid.UUID]decimal.Decimal // credits the changes of a service answered with
	unreported map[uuid.UUID]bool            // services with a change answered without its outcome

	log []string // picks, answers of changes, spells and breaks: what a replay repeats

	// How the platform speaks outward (outbound_test.go).
	mailpit         *mailtest.Server
	mailSeen        map[string]bool // Message-IDs of mails found in Mailpit
	mailpitTotal    int             // the messages Mailpit held at the last check
	resets          map[uuid.UUID]int
	receiver        *receiver
	hookFaultsUntil int               // the first day the receiver fails nothing again
	events          map[string]logged // the event log as read so far, by id
	eventSeq        int64             // the last seq read

	// Reports (usagereport_test.go, reconcile_test.go).
	customerUsers map[uuid.UUID]*actor
	quantities    map[uuid.UUID]map[string]int // each service's quantity at the end of each day
}

func newSim(t *testing.T, seed int64, cfg settings) *sim {
	t.Helper()
	ctx := context.Background()
	wall := time.Now()
	v := acsim.New(acsim.Options{ClientID: "sp-client", ClientSecret: "sp-secret", AdminLogin: "sp-admin", AdminPassword: "sp-admin-password",
		Seed: seed, Clock: func() time.Time { return start.Add(time.Since(wall)) }})
	vs := newHTTPServer(t, v)
	c := apptest.Config(t)
	c.DatabaseURL = pgtest.NewDatabase(t, true)
	c.AcronisURL, c.AcronisClientID, c.AcronisClientSecret = vs, "sp-client", "sp-secret"
	c.Sandbox = true
	c.AuthRateLimit = 1 << 20
	// One job at a time, each vendor call given its full time: see replay_test.go.
	c.JobWorkers, c.MailWorkers, c.WebhookWorkers, c.DunningWorkers = 1, 1, 1, 1
	c.AcronisAttemptTimeout = 10 * time.Second
	// Jobs come in chains (a change, its mails, its webhook deliveries) and
	// run one at a time: each would otherwise wait River's default 100 ms.
	c.JobFetchCooldown = fetchCooldown()
	// Mail goes to a Mailpit of the run's own; a retry is due after 1 s at
	// most (quiesce makes it due at once anyway).
	mp := mailtest.New(t)
	c.SMTPURL, c.MailFrom, c.MailBackoffMax = mp.SMTPURL(), mailFrom, time.Second
	env := startApp(t, c)
	jctx, cancel := context.WithCancel(ctx)
	require.NoError(t, env.App.Jobs.Start(jctx))
	t.Cleanup(func() {
		cancel()
		_ = env.App.Jobs.Stop(context.Background())
	})
	rw, err := pgxpool.New(ctx, c.DatabaseURL)
	require.NoError(t, err)
	t.Cleanup(rw.Close)
	vc, err := acronis.New(acronis.Config{BaseURL: vs, ClientID: "sp-client", ClientSecret: "sp-secret"})
	require.NoError(t, err)
	pc, err := pgxpool.ParseConfig(c.DatabaseURL)
	require.NoError(t, err)
	pc.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	ro, err := pgxpool.NewWithConfig(ctx, pc)
	require.NoError(t, err)
	t.Cleanup(ro.Close)
	s := &sim{t: t, ctx: ctx, seed: seed, cfg: cfg, rng: rand.New(rand.NewPCG(uint64(seed), 0x5eed)), orng: rand.New(rand.NewPCG(uint64(seed), 0x0b0b)),
		env: env, vendor: v, vurl: vs, vc: vc, ro: ro, rw: rw,
		calmSince: start, retried: map[uuid.UUID]bool{}, reported: map[string]bool{}, answers: map[string]int{}, checked: map[uuid.UUID]oapi.Invoice{},
		credited: map[uuid.UUID]decimal.Decimal{}, unreported: map[uuid.UUID]bool{}, metadata: map[string]oapi.Metadata{},
		mailpit: mp, mailSeen: map[string]bool{}, resets: map[uuid.UUID]int{}, events: map[string]logged{},
		customerUsers: map[uuid.UUID]*actor{}, quantities: map[uuid.UUID]map[string]int{}}
	s.receiver = newReceiver(s)
	s.startup()
	seedUUIDs(t, seed)
	s.admin = s.newActor(env.NewUser(t, "admin", nil, nil).Email, apptest.Password)
	return s
}

// startApp runs the platform on a manual clock set to the fixed start; it
// logs errors only (the run's own report says what broke).
func startApp(t *testing.T, c config.Config) *apptest.Env {
	t.Helper()
	clk := clock.NewManual(start)
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	a, err := app.New(context.Background(), c, log, clk)
	require.NoError(t, err)
	srv := httptest.NewServer(a.HTTP)
	t.Cleanup(func() {
		srv.Close()
		a.Close()
	})
	return &apptest.Env{App: a, Server: srv, Clock: clk, Cfg: c}
}

// now is the platform's time; date its SP day.
func (s *sim) now() time.Time { return s.env.Clock.Now() }
func (s *sim) date() time.Time {
	n := s.now()
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
}

// fail records a broken invariant; subject names what broke it, so a
// lasting break is reported on the day it appears and not every day after.
func (s *sim) fail(invariant, subject, format string, args ...any) {
	key := invariant + "/" + subject
	if s.reported[key] {
		return
	}
	s.reported[key] = true
	s.breaks = append(s.breaks, failure{s.day, s.date().Format(time.DateOnly), invariant, fmt.Sprintf(format, args...)})
}

// endDay reports the day's breaks; it says whether the run stops here.
func (s *sim) endDay() bool {
	if len(s.breaks) == 0 {
		return false
	}
	slices.SortFunc(s.breaks, func(a, b failure) int { return strings.Compare(a.invariant+a.detail, b.invariant+b.detail) })
	for _, f := range s.breaks {
		s.note("break %s", f.invariant)
	}
	s.failures = append(s.failures, s.breaks...)
	if s.cfg.keepGoing {
		for _, f := range s.breaks {
			s.t.Logf("day %d (%s) %s: %s", f.day, f.date, f.invariant, f.detail)
		}
		s.breaks = nil
		return false
	}
	s.t.Errorf("%s", s.report(s.breaks))
	return true
}

// summary fails the test with every break seen (SIM_KEEP_GOING=1).
func (s *sim) summary() {
	s.logRefusals()
	s.logOutbound()
	if len(s.failures) == 0 {
		return
	}
	first := map[string]failure{}
	count := map[string]int{}
	var names []string
	for _, f := range s.failures {
		if _, ok := first[f.invariant]; !ok {
			first[f.invariant] = f
			names = append(names, f.invariant)
		}
		count[f.invariant]++
	}
	var b strings.Builder
	for _, n := range names {
		f := first[n]
		fmt.Fprintf(&b, "  %s: %d breaks, first on day %d (%s): %s\n", n, count[n], f.day, f.date, f.detail)
	}
	s.t.Errorf("seed %d: %d invariant breaks over %d days\n%sreplay the first: SIM_SEED=%d SIM_DAYS=%d go test ./internal/simulation -run 'TestSimulation$' -v",
		s.seed, len(s.failures), s.cfg.days, b.String(), s.seed, s.failures[0].day)
}

func (s *sim) report(fs []failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant broken: seed %d, day %d (%s)\n", s.seed, s.day, s.date().Format(time.DateOnly))
	for _, f := range fs {
		fmt.Fprintf(&b, "  [%s] %s\n", f.invariant, f.detail)
	}
	s.logRefusals()
	fmt.Fprintf(&b, "replay: SIM_SEED=%d SIM_DAYS=%d go test ./internal/simulation -run 'TestSimulation$' -v", s.seed, s.day)
	return b.String()
}

func (s *sim) logRefusals() {
	keys := make([]string, 0, len(s.answers))
	for k := range s.answers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, s.answers[k])
	}
	s.t.Logf("seed %d answers by action:%s", s.seed, b.String())
}

// fetchCooldown is JOB_FETCH_COOLDOWN for the run (SIM_FETCH_COOLDOWN, 5ms by default).
func fetchCooldown() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SIM_FETCH_COOLDOWN")); err == nil {
		return d
	}
	return 5 * time.Millisecond
}
