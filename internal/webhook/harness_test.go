package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/acronis-platform/platform/internal/auth"
	"github.com/acronis-platform/platform/internal/clock"
	"github.com/acronis-platform/platform/internal/egress"
	"github.com/acronis-platform/platform/internal/jobs"
	"github.com/acronis-platform/platform/internal/partner"
	"github.com/acronis-platform/platform/internal/postgres"
	"github.com/acronis-platform/platform/internal/postgres/pgtest"
	"github.com/acronis-platform/platform/internal/secret"
	"github.com/acronis-platform/platform/internal/webhook"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var (
	epoch = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)
	admin = auth.Principal{Role: auth.RoleAdmin, Kind: auth.KindUser, Subject: "test"}
)

func partnerPrincipal(id uuid.UUID) auth.Principal {
	return auth.Principal{Role: auth.RolePartner, Kind: auth.KindUser, Subject: "p-" + id.String(), PartnerID: &id}
}

// harness is a webhook service on a database of its own, with a River
// runner that is started only when the test says so (no other test's
// runner can take its jobs).
type harness struct {
	db     *postgres.DB
	clk    *clock.Manual
	svc    *webhook.Service
	runner *jobs.Runner
}

type noMaintenance struct{}

func (noMaintenance) DeleteExpiredIdempotencyKeys(context.Context) (int64, error) { return 0, nil }
func (noMaintenance) DeleteOldRateLimits(context.Context) (int64, error)          { return 0, nil }

func newHarness(t testing.TB, policy egress.Policy) *harness {
	t.Helper()
	return newHarnessWorkers(t, policy, 4)
}

func newHarnessWorkers(t testing.TB, policy egress.Policy, workers int) *harness {
	t.Helper()
	clk := clock.NewManual(epoch)
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t, true), 10, clk, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(db.Close)
	box, err := secret.New(bytes.Repeat([]byte{9}, 32))
	require.NoError(t, err)
	// Retries come at once: the tests move the platform clock themselves.
	svc := webhook.NewService(db.Gorm, clk, box, webhook.Config{Policy: policy, Backoff: func(int) time.Duration { return time.Millisecond }})
	runner, err := jobs.New(db, jobs.Config{Workers: workers, WebhookWorkers: workers, MaintenanceInterval: time.Hour, RescueAfter: time.Minute}, noMaintenance{},
		slog.New(slog.DiscardHandler), jobs.Domain{Register: func(w *river.Workers) { river.AddWorker(w, svc.Worker()) },
			Loops: []jobs.Loop{svc.DispatchEvery(50*time.Millisecond, slog.New(slog.DiscardHandler))}})
	require.NoError(t, err)
	svc.UseJobs(runner)
	return &harness{db: db, clk: clk, svc: svc, runner: runner}
}

// start runs the delivery workers until the test ends.
func (h *harness) start(t testing.TB) {
	t.Helper()
	require.NoError(t, h.runner.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		_ = h.runner.Stop(ctx)
	})
}

// newPartner stores an active partner.
func (h *harness) newPartner(t testing.TB) uuid.UUID {
	t.Helper()
	id := uuid.New()
	now := h.clk.Now()
	tenant := "tenant-" + id.String()
	require.NoError(t, h.db.Gorm.Create(&partner.Partner{ID: id, Name: "Partner " + id.String()[:8], Email: id.String() + "@partner.example",
		VendorLogin: "p-" + id.String(), Status: partner.StatusActive, VendorTenantID: &tenant, Version: 1, CreatedAt: now, UpdatedAt: now}).Error)
	return id
}

// endpoint creates an endpoint and returns it with its secret.
func (h *harness) endpoint(t testing.TB, p auth.Principal, url string, types ...string) (webhook.Endpoint, string) {
	t.Helper()
	in := webhook.Input{URL: &url}
	if len(types) > 0 {
		in.EventTypes = &types
	}
	ep, sec, err := h.svc.Create(context.Background(), p, in)
	require.NoError(t, err)
	return ep, sec
}

// event is a synthetic event of the log.
func event(typ string, partnerID *uuid.UUID) webhook.Event {
	id := uuid.New()
	payload, _ := json.Marshal(map[string]any{"id": id, "object": typ})
	return webhook.Event{ID: uuid.New(), Type: typ, ResourceType: "test", ResourceID: id, PartnerID: partnerID,
		Payload: payload, CreatedAt: epoch}
}

// enqueue records ev in a committed transaction.
func (h *harness) enqueue(t testing.TB, evs ...webhook.Event) {
	t.Helper()
	require.NoError(t, h.db.Gorm.Transaction(func(tx *gorm.DB) error {
		for _, ev := range evs {
			if err := h.svc.Enqueue(context.Background(), tx, ev); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (h *harness) deliveries(t testing.TB, endpointID uuid.UUID) []webhook.Delivery {
	t.Helper()
	var ds []webhook.Delivery
	require.NoError(t, h.db.Gorm.Where("endpoint_id = ?", endpointID).Order("created_at, id").Find(&ds).Error)
	return ds
}

func (h *harness) endpointRow(t testing.TB, id uuid.UUID) webhook.Endpoint {
	t.Helper()
	var ep webhook.Endpoint
	require.NoError(t, h.db.Gorm.Take(&ep, "id = ?", id).Error)
	return ep
}

// waitStatus waits until the delivery of ev to the endpoint has status.
func (h *harness) waitStatus(t testing.TB, endpointID, eventID uuid.UUID, status webhook.Status) webhook.Delivery {
	t.Helper()
	var d webhook.Delivery
	require.Eventually(t, func() bool {
		err := h.db.Gorm.Take(&d, "endpoint_id = ? AND event_id = ?", endpointID, eventID).Error
		return err == nil && d.Status == status
	}, 60*time.Second, 20*time.Millisecond, "delivery of %s never %s", eventID, status)
	return d
}

// received is one request a receiver got.
type received struct {
	ID, Timestamp, Signature string
	Body                     []byte
	// Verified lists which of the receiver's secrets verify it.
	Verified []bool
}

// receiver verifies every request with the Standard Webhooks library
// under each of its secrets, and answers with respond (204 when nil).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []received
	secrets []string
	respond func(n int, w http.ResponseWriter)
}

func newReceiver(t testing.TB, respond func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{respond: respond}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		rec := received{ID: req.Header.Get("webhook-id"), Timestamp: req.Header.Get("webhook-timestamp"),
			Signature: req.Header.Get("webhook-signature"), Body: body}
		for _, s := range r.secrets {
			wh, err := standardwebhooks.NewWebhook(s)
			rec.Verified = append(rec.Verified, err == nil && wh.Verify(body, req.Header) == nil)
		}
		r.got = append(r.got, rec)
		n := len(r.got)
		r.mu.Unlock()
		if r.respond != nil {
			r.respond(n, w)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// trust sets the secrets every request is verified with.
func (r *receiver) trust(secrets ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = secrets
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}
