package simulation

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// A seed replays the same run. Four things make it so:
//   - the platform is quiescent after every change the harness makes (see
//     quiesce), so a background job never runs in the middle of the next
//     action, and jobs run one at a time per queue (JOB_WORKERS,
//     MAIL_WORKERS and WEBHOOK_WORKERS 1);
//   - ids come from the seed: the process's UUID source is a generator
//     seeded per run (installed once the platform's start-up jobs are done
//     and every later id is made in one order), so lists ordered by id and
//     the order a billing run bills in, and with it invoice numbers, repeat;
//   - vendor faults are per call (sim.Fault.PerCall): which calls fail
//     depends on the seed, the call and its count, not on the order
//     concurrent jobs reach the simulator in;
//   - a vendor call is given its full time (ACRONIS_ATTEMPT_TIMEOUT 10 s),
//     so a slow machine does not add retries.
//
// The run's log (each action's picks and answers, spells, breaks) and its
// final state are digested; TestSimulationReplay runs one seed twice and
// compares them.

// seededReader is a UUID source fixed by a seed; safe for concurrent use.
type seededReader struct {
	mu  sync.Mutex
	gen *rand.ChaCha8
}

func (r *seededReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gen.Read(p)
}

// seedUUIDs makes uuid.New draw from the seed until the test ends.
func seedUUIDs(t *testing.T, seed int64) {
	var key [32]byte
	copy(key[:], fmt.Sprintf("simulation-ids-%d", seed))
	uuid.SetRand(&seededReader{gen: rand.NewChaCha8(key)})
	t.Cleanup(func() { uuid.SetRand(nil) })
}

// reads are the API calls that change nothing: no wait for jobs after them.
func mutates(what string) bool {
	return !strings.HasPrefix(what, "get_") && !strings.HasPrefix(what, "list_")
}

// quiesce waits until no job of the platform's domain is available,
// running or waiting to run. A job waiting for a retry (after a vendor
// fault) or a snooze is made due at once, as if its wait had passed, and
// runs before the next action rather than at a wall-clock moment in the
// middle of one. The wait is bounded: what never settles is left to the
// invariants (ops_converge, orders_complete, runs_finish).
//
// Mails and webhook deliveries (outbound) are not waited for here: they
// change nothing an action reads or a replay compares and make no ids, so
// they run beside the next action; settle waits for them before the
// checks. Waiting for them after every change would cost each change a
// flush of River's batched completions (up to 250 ms).
func (s *sim) quiesce() { s.waitJobs(false) }

// outboundJobs are the job kinds quiesce leaves running.
var outboundJobs = []string{"mail_send", "webhook_delivery"}

func (s *sim) waitJobs(outbound bool) {
	skip := outboundJobs
	if outbound {
		skip = []string{}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		var busy, waiting int
		// By state, through River's fetching index: finished jobs stay in the
		// table (a day's retention on the wall clock) and would be scanned
		// on every poll.
		err := s.rw.QueryRow(s.ctx, `SELECT count(*) FILTER (WHERE state IN ('available', 'running')),
			count(*) FILTER (WHERE state IN ('retryable', 'scheduled')) FROM river_job
			WHERE state IN ('available', 'running', 'retryable', 'scheduled') AND kind <> ALL ($1)`, skip).Scan(&busy, &waiting)
		require.NoError(s.t, err, "reading jobs")
		switch {
		case busy+waiting == 0:
			return
		case time.Now().After(deadline):
			s.t.Logf("day %d: jobs still busy (%d) or waiting (%d) after 90 s", s.day, busy, waiting)
			return
		case busy == 0:
			// One statement, so the jobs keep their order (by id).
			_, err := s.rw.Exec(s.ctx, `WITH due AS (UPDATE river_job SET state = 'available', scheduled_at = now()
				WHERE state IN ('retryable', 'scheduled') AND kind <> ALL ($1) RETURNING 1)
				SELECT pg_notify(current_schema() || '.river_insert', '{"queue": "default"}') FROM (SELECT 1 FROM due LIMIT 1) d`, skip)
			require.NoError(s.t, err, "making retries due")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// startup waits for the jobs River runs when it starts (the day's billing,
// maintenance, the stale-run check), so none of them makes ids while the
// harness does.
func (s *sim) startup() {
	ok := waitFor(60*time.Second, func() bool {
		var started, left int
		err := s.rw.QueryRow(s.ctx, `SELECT count(DISTINCT kind) FILTER (WHERE kind IN ('daily_billing', 'maintenance_cleanup', 'stale_runs')),
			count(*) FILTER (WHERE state NOT IN ('completed', 'cancelled', 'discarded')) FROM river_job`).Scan(&started, &left)
		require.NoError(s.t, err, "reading jobs")
		return started == 3 && left == 0
	})
	require.True(s.t, ok, "River's start-up jobs did not finish")
}

// note adds a line to the run's log.
func (s *sim) note(format string, args ...any) {
	s.log = append(s.log, fmt.Sprintf("d%d ", s.day)+fmt.Sprintf(format, args...))
}

// state is the shop at the end of a run, as lines of stable keys and values.
func (s *sim) state() []string {
	var out []string
	add := func(what, q string) {
		s.rows("replay", q, func(c []string) { out = append(out, what+" "+strings.Join(c, " ")) })
	}
	add("invoice", `SELECT coalesce(number, '-'), kind, status, subtotal::text, tax_total::text, total::text, amount_paid::text, coalesce(issue_date::text, '-'),
		(SELECT count(*) FROM invoice_lines l WHERE l.invoice_id = i.id)::text FROM invoices i ORDER BY number NULLS LAST, total, kind, status`)
	add("service", `SELECT v.username, p.name, v.status, v.quantity::text, v.frequency, v.free_trial::text, coalesce(v.next_due_date::text, '-'),
		(v.vendor_tenant_id IS NOT NULL)::text FROM services v JOIN plans p ON p.id = v.plan_id ORDER BY v.username`)
	add("order", `SELECT o.username, o.status FROM orders o ORDER BY o.username, o.status`)
	add("operation", `SELECT v.username, o.kind, o.status FROM service_operations o JOIN services v ON v.id = o.service_id ORDER BY v.username, o.seq`)
	add("credit", `SELECT coalesce(v.username, '-'), c.amount::text, c.remaining::text FROM credits c LEFT JOIN services v ON v.id = c.service_id
		ORDER BY 1, c.amount, c.remaining`)
	return out
}

// digest is a run's log and final state, and their hashes.
type digest struct {
	log, state []string
}

func (d digest) String() string {
	return fmt.Sprintf("log %x (%d lines), state %x (%d lines)", hash(d.log), len(d.log), hash(d.state), len(d.state))
}

func hash(lines []string) []byte {
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l + "\n"))
	}
	return h.Sum(nil)[:8]
}

// firstDiff is where two lists of lines part, for the failure message.
func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("line %d: %q vs %q", i+1, a[i], b[i])
		}
	}
	return fmt.Sprintf("one has %d lines, the other %d", len(a), len(b))
}

// TestSimulationReplay runs one seed twice over a short horizon and
// requires the same run: the same actions on the same targets with the
// same answers, the same spells (with as many vendor calls failed) and
// breaks, and the same shop at the end (invoices by number with their
// totals, services with status and quantity, orders, operations, credits).
// SIM_REPLAY_SEED (default 6: two spells of vendor errors, a third of the
// vendor calls failing, in the first ten days) and SIM_REPLAY_DAYS
// (default 12) choose the run.
func TestSimulationReplay(t *testing.T) {
	cfg := loadSettings(t)
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		require.NoError(t, err, name)
		return n
	}
	cfg.days = num("SIM_REPLAY_DAYS", 12)
	seed := int64(num("SIM_REPLAY_SEED", 6))
	var got [2]digest
	for i := range got {
		t.Run(fmt.Sprintf("seed=%d/run=%d", seed, i+1), func(t *testing.T) {
			s := run(t, seed, cfg)
			got[i] = digest{log: s.log, state: s.state()}
			t.Logf("%s", got[i])
		})
	}
	require.Equal(t, hash(got[0].log), hash(got[1].log), "the action logs differ at %s", firstDiff(got[0].log, got[1].log))
	require.Equal(t, hash(got[0].state), hash(got[1].state), "the final states differ at %s", firstDiff(got[0].state, got[1].state))
	require.NotEmpty(t, got[0].state)
}
